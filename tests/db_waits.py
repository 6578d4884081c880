"""Races between two database sessions, made to happen rather than hoped for."""

import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from config import migration_locks


def hold_until_waited_on(blocked: threading.Event, *, seconds: float = 30) -> None:
    """Keep this session's transaction open until another session waits on one of its locks.

    Sets ``blocked`` once a session is seen waiting on this one (not merely on some
    lock), so that the test knows its other side really raced this transaction;
    gives up after ``seconds``, leaving ``blocked`` unset for the test to report.
    """
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
            if cursor.fetchone()[0]:
                blocked.set()
                return
            time.sleep(0.05)


@contextlib.contextmanager
def reader_holding(read: str, *, ends_after: float = 10.0) -> Iterator[threading.Event]:
    """Another session that ran ``read`` and keeps its transaction open for the block.

    Its locks (on the tables and indexes read) stay held, as a retrain's long read or
    a signal import holds them. It lets go after ``ends_after`` seconds in any case, so
    that a statement that waits for it shows as a failure rather than a hung test; the
    event yielded is set just before it lets go, so a statement that got its lock can
    tell whether it waited.
    """
    reader = connections.create_connection("default")
    reader.ensure_connection()
    raw = reader.connection
    raw.autocommit = False
    raw.execute(read)
    ended = threading.Event()

    def end() -> None:
        ended.set()
        raw.rollback()

    timer = threading.Timer(ends_after, end)
    timer.start()
    try:
        yield ended
    finally:
        timer.cancel()
        raw.rollback()
        reader.close()


def migration_waits_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make :mod:`config.migration_locks` give up after two waits of 200 ms (0.5 s in all).

    Twenty times shorter than :func:`reader_holding`'s 10 s, which is less than the
    unpatched waits (14 s): a migration that waits for the reader outlasts it.
    """
    monkeypatch.setattr(migration_locks, "LOCK_TIMEOUT_MS", 200)
    monkeypatch.setattr(migration_locks, "ATTEMPTS", 2)
    monkeypatch.setattr(migration_locks, "PAUSE_SECONDS", 0.1)
