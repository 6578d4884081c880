"""What the recommendations app's migrations share: changing an index without stalling writes.

``ALTER INDEX ... SET`` takes a moment's exclusive lock on the index, which
every insert into its table needs too. Queued behind a long reader of the table
(a retrain's read of the signal log or of the page log), it would hold every
insert up, signal batches or homepages, for as long as that read runs. So the
lock is asked for with a short ``lock_timeout``, a few times, and the migration
fails, naming the reason, rather than wait.
"""

from __future__ import annotations

import time

from django.db import OperationalError, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

#: How long each attempt may wait for the index's lock, queuing inserts behind it.
LOCK_TIMEOUT_MS = 2000
ATTEMPTS = 5
PAUSE_SECONDS = 1.0
_LOCK_NOT_AVAILABLE = "55P03"


def alter_index_giving_way(
    schema_editor: BaseDatabaseSchemaEditor, sql: str, *, index: str, table: str, writes: str
) -> None:
    """Run ``sql`` (an ALTER of ``index``) on PostgreSQL, giving way to readers of ``table``.

    ``writes`` names what an insert into the table is, for the error. Other
    databases are left alone: there the project's BRIN indexes are B-trees
    (``PortableBrinIndex``), with no such options.
    """
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
            if getattr(error.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            if attempt == ATTEMPTS:
                raise OperationalError(
                    f"{index} stayed locked ({ATTEMPTS} waits of {LOCK_TIMEOUT_MS} ms) by a "
                    f"transaction reading {table}, most likely a retrain's read; run the "
                    f"migration again when it has finished. Waiting longer would hold up "
                    f"every {writes} behind this statement."
                ) from error
            time.sleep(PAUSE_SECONDS)
