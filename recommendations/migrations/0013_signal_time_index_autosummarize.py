"""The signal log's BRIN index on ``occurred_at`` asks autovacuum to summarise each range it fills.

Without ``autosummarize`` a block range written since the last vacuum has no
summary until one comes (on this append-only table, after 20% growth: weeks
of signals), and every scan of the index by time reads all of them whatever
the times asked for. With it, an insert that starts a new range queues the
previous one for autovacuum's next pass. Nothing else summarises this index:
unlike the page log, the signal log has no prune that would.

The option is set in place (``ALTER INDEX ... SET``: a moment's lock on the
index, no rebuild) rather than by dropping and re-creating the index, which
would block every signal batch's insert for the length of a scan of the
table. That moment's lock is an exclusive one on the index, which every
insert into the table needs too: queued behind a long reader of the table (a
retrain's signal read), it would hold ingest up for as long as that read
runs. So it is asked for with a short ``lock_timeout``, a few times, and the
migration fails, naming the reason, rather than wait
(:mod:`recommendations.migration_support`). The model's state
changes as Django's own remove-and-add would; on other databases the index is
a plain B-tree (``PortableBrinIndex``), which has no such option, so nothing
is done there.
"""

from django.db import migrations

import recommendations.models
from recommendations.migration_support import alter_index_giving_way


def _alter(schema_editor, sql: str) -> None:
    alter_index_giving_way(
        schema_editor,
        sql,
        index="signal_time_brin",
        table="the signal log",
        writes="signal insert",
    )


def forward(apps, schema_editor) -> None:
    _alter(schema_editor, "ALTER INDEX signal_time_brin SET (autosummarize = on)")


def backward(apps, schema_editor) -> None:
    _alter(schema_editor, "ALTER INDEX signal_time_brin RESET (autosummarize)")


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0012_page_log_time_index_autosummarize")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward, elidable=False)],
            state_operations=[
                migrations.RemoveIndex(model_name="signal", name="signal_time_brin"),
                migrations.AddIndex(
                    model_name="signal",
                    index=recommendations.models.PortableBrinIndex(
                        autosummarize=True, fields=["occurred_at"], name="signal_time_brin"
                    ),
                ),
            ],
        ),
    ]
