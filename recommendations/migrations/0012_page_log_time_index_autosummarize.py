"""The page log's BRIN index on ``generated_at`` asks autovacuum to summarise each range it fills.

Without ``autosummarize`` a block range written since the last vacuum has no
summary until one comes (on an insert-only table, after 20% growth: weeks of
pages), and every scan of the index by time reads all of them whatever the
times asked for. With it, an insert that starts a new range queues the
previous one for autovacuum's next pass.

The option is set in place (``ALTER INDEX ... SET``: a moment's lock on the
index, no rebuild) rather than by dropping and re-creating the index, which
would block every homepage's page log insert for the length of a scan of the
table. Even that moment's lock would, queued behind a long reader of the page
log (a retrain's read), so it gives way instead
(:mod:`recommendations.migration_support`). The model's state changes as
Django's own remove-and-add would; on other databases the index is a plain B-tree (``PortableBrinIndex``), which has
no such option, so nothing is done there.
"""

from django.db import migrations

import recommendations.models
from recommendations.migration_support import alter_index_giving_way


def _alter(schema_editor, sql: str) -> None:
    alter_index_giving_way(
        schema_editor, sql, index="page_time_brin", table="the page log", writes="page log insert"
    )


def forward(apps, schema_editor) -> None:
    _alter(schema_editor, "ALTER INDEX page_time_brin SET (autosummarize = on)")


def backward(apps, schema_editor) -> None:
    _alter(schema_editor, "ALTER INDEX page_time_brin RESET (autosummarize)")


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0011_title_state_playback_at")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward, elidable=False)],
            state_operations=[
                migrations.RemoveIndex(model_name="pagelog", name="page_time_brin"),
                migrations.AddIndex(
                    model_name="pagelog",
                    index=recommendations.models.PortableBrinIndex(
                        autosummarize=True, fields=["generated_at"], name="page_time_brin"
                    ),
                ),
            ],
        ),
    ]
