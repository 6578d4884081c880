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
migration fails, naming the reason, rather than wait. The model's state
changes as Django's own remove-and-add would; on other databases the index is
a plain B-tree (``PortableBrinIndex``), which has no such option, so nothing
is done there.
"""

import time

from django.db import OperationalError, migrations, transaction

import recommendations.models

#: How long each attempt may wait for the index's lock, queuing signal inserts behind it.
LOCK_TIMEOUT_MS = 2000
ATTEMPTS = 5
PAUSE_SECONDS = 1.0


def _alter_without_holding_up_ingest(schema_editor, sql: str) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic(using=connection.alias):
                schema_editor.execute(
                    "SELECT set_config('lock_timeout', %s, true)", [f"{LOCK_TIMEOUT_MS}ms"]
                )
                schema_editor.execute(sql)
                schema_editor.execute("SET LOCAL lock_timeout TO DEFAULT")
            return
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            if attempt == ATTEMPTS:
                raise OperationalError(
                    f"signal_time_brin stayed locked ({ATTEMPTS} waits of {LOCK_TIMEOUT_MS} ms) "
                    "by a transaction reading the signal log, most likely a retrain's read; "
                    "run the migration again when it has finished. Waiting longer would hold "
                    "up every signal insert behind this statement."
                ) from error
            time.sleep(PAUSE_SECONDS)


def forward(apps, schema_editor) -> None:
    _alter_without_holding_up_ingest(
        schema_editor, "ALTER INDEX signal_time_brin SET (autosummarize = on)"
    )


def backward(apps, schema_editor) -> None:
    _alter_without_holding_up_ingest(
        schema_editor, "ALTER INDEX signal_time_brin RESET (autosummarize)"
    )


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
