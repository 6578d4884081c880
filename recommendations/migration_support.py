"""What the recommendations app's migrations share: changing an index without stalling writes.

``ALTER INDEX ... SET`` takes a moment's exclusive lock on the index, which
every insert into its table needs too. Queued behind a long reader of the table
(a retrain's read of the signal log or of the page log), it would hold every
insert up, signal batches or homepages, for as long as that read runs. So the
lock is asked for with a short ``lock_timeout``, a few times, and the migration
fails, naming the reason, rather than wait (:mod:`config.migration_locks`).
"""

from __future__ import annotations

from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from config.migration_locks import run_giving_way


def alter_index_giving_way(
    schema_editor: BaseDatabaseSchemaEditor, sql: str, *, index: str, table: str, writes: str
) -> None:
    """Run ``sql`` (an ALTER of ``index``) on PostgreSQL, giving way to readers of ``table``.

    ``writes`` names what an insert into the table is, for the error. Other
    databases are left alone: there the project's BRIN indexes are B-trees
    (``PortableBrinIndex``), with no such options.
    """
    if schema_editor.connection.vendor != "postgresql":
        return
    run_giving_way(
        schema_editor,
        lambda: schema_editor.execute(sql),
        locked=index,
        holder=f"a transaction reading {table}, most likely a retrain's read",
        held_up=f"every {writes}",
    )
