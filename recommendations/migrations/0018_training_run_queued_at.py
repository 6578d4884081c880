"""When a training run was last queued, which the reaper counts its queued time from.

It counted from the request (``created_at``): a run put back to queued for its task's
retry, hours after its request (a database restart in the middle of a retrain that had
waited its turn), was failed as "never started" at the reaper's next pass, and the retry
then found it failed and did nothing.

The column has a database default (``Now()``, which Django writes as PostgreSQL's
stable ``STATEMENT_TIMESTAMP()``, so PostgreSQL 11+ stores it in the
catalog and rewrites nothing) for the release still serving while this runs, whose inserts
do not name it. The runs already there were last queued, as far as anyone knows, when they
were asked for: a few rows a cluster a night, updated in one statement.
"""

from typing import Any

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def forward(apps: Any, schema_editor: Any) -> None:
    runs = apps.get_model("recommendations", "TrainingRun")
    runs.objects.update(queued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("recommendations", "0017_training_run_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="queued_at",
            field=models.DateTimeField(
                db_default=django.db.models.functions.datetime.Now(),
                default=django.utils.timezone.now,
                help_text=(
                    "When it was last handed to the broker: its request, or its task's retry "
                    "after an interruption. Still queued RETRAIN_QUEUED_SECONDS after this, "
                    "the reaper fails it."
                ),
                verbose_name="queued at",
            ),
        ),
        migrations.RunPython(forward, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="trainingrun",
            name="created_at",
            field=models.DateTimeField(
                auto_now_add=True,
                db_index=True,
                help_text="When it was asked for.",
                verbose_name="requested at",
            ),
        ),
    ]
