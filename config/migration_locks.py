"""Schema changes that give way to the transactions holding their table, rather than queue.

An ``ALTER`` needs a moment's exclusive lock (of a table, or of an index, which
every insert into its table needs too). Queued behind a long transaction that
holds the table (a retrain's read of the signal log, a signal import locking
profile rows), it would hold up every request that needs the table behind
itself, for as long as that transaction runs. So the lock is asked for with a
short ``lock_timeout``, a few times, and the migration fails, naming the reason,
rather than wait. Shared by every app's migrations that alter a busy table.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db import OperationalError, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

#: How long each attempt may wait for the lock, queuing the table's users behind it.
LOCK_TIMEOUT_MS = 2000
ATTEMPTS = 5
PAUSE_SECONDS = 1.0
_LOCK_NOT_AVAILABLE = "55P03"


def run_giving_way(
    schema_editor: BaseDatabaseSchemaEditor,
    change: Callable[[], None],
    *,
    locked: str,
    holder: str,
    held_up: str,
) -> None:
    """Run ``change`` (its statements through ``schema_editor``) giving way on PostgreSQL.

    The error names what stayed ``locked``, by what (``holder``), and what waiting
    would have held up (``held_up``: "every signal batch", say). Other databases
    run ``change`` as it is: they have no lock queue to stall.
    """
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        change()
        return
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic(using=connection.alias):
                schema_editor.execute(
                    "SELECT set_config('lock_timeout', %s, true)", [f"{LOCK_TIMEOUT_MS}ms"]
                )
                change()
                schema_editor.execute("SET LOCAL lock_timeout TO DEFAULT")
            return
        except OperationalError as error:
            if getattr(error.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                raise
            if attempt == ATTEMPTS:
                raise OperationalError(
                    f"{locked} stayed locked ({ATTEMPTS} waits of {LOCK_TIMEOUT_MS} ms) by "
                    f"{holder}; run the migration again when it has finished. Waiting "
                    f"longer would hold up {held_up} behind this statement."
                ) from error
            time.sleep(PAUSE_SECONDS)
