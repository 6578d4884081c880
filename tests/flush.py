"""Transactional tests end by emptying the tables with DELETE, not TRUNCATE.

Django's ``TransactionTestCase`` (pytest-django's ``transaction=True``) ends each test
with ``flush``, one ``TRUNCATE`` of all 55 tables. PostgreSQL gives every truncated
table new files, so that statement took 0.3-0.8 s on a quiet machine and 1.2-2.7 s
beside other work, for tables holding a test's few rows; a ``DELETE`` of each took
0.05 s with the ``post_migrate`` that follows (``call_command("flush")`` timed in
``manage.py shell``, December 2026). With about 150 such tests that was two to three
minutes of worker time in a suite of ten to twelve minutes on two workers; the suite
took 5:52 on a quiet machine after it.

``DELETE`` empties the same tables in the same transaction: the project's foreign keys
are all Django's, ``DEFERRABLE INITIALLY DEFERRED`` (``test_flush`` holds that), so the
order does not matter, and there are no triggers for it to fire. A flush that resets
sequences (``reset_sequences=True``) keeps Django's ``TRUNCATE ... RESTART IDENTITY``.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.postgresql.operations import DatabaseOperations


@contextmanager
def flush_by_delete() -> Iterator[None]:
    """While open, PostgreSQL's ``flush`` deletes rows instead of truncating tables."""
    truncate = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences:
            return truncate(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            f"{style.SQL_KEYWORD('DELETE')} {style.SQL_KEYWORD('FROM')} "
            f"{style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ]

    DatabaseOperations.sql_flush = sql_flush
    try:
        yield
    finally:
        DatabaseOperations.sql_flush = truncate
