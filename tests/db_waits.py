"""Races between two database sessions, made to happen rather than hoped for."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from django.db import DatabaseError, connection, connections

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


@contextlib.contextmanager
def row_writes_held(
    *, name: str, table: str, event: str, key: tuple[int, int], when: str = "true"
) -> Iterator[tuple[Callable[..., int], Callable[[], None]]]:
    """Make another session's ``event`` (INSERT, UPDATE, DELETE) of the ``table`` rows that
    ``when`` picks wait; "wait for that" (its pid, within ``timeout`` seconds) and "let go".

    A ``BEFORE`` trigger (``name``) takes the advisory lock ``key`` shared, which this
    test's session holds exclusively: the writer stops there with every lock it took before
    (a row it deletes is locked before the trigger runs). The trigger and the lock go with
    the block.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_advisory_xact_lock_shared({key[0]}, {key[1]});
                RETURN COALESCE(NEW, OLD);  -- NULL would skip the row's write
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER {name} BEFORE {event} ON {table}
                FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}();
            SELECT pg_advisory_lock({key[0]}, {key[1]});
            """
        )

    def held(timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                # This database's: pg_locks lists the whole server's, and another suite on
                # it may hold the same key in its own database.
                cursor.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
                    " AND objid = %s AND NOT granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())",
                    list(key),
                )
                row = cursor.fetchone()
            if row:
                return row[0]
            time.sleep(0.05)
        raise AssertionError(f"no session reached the held {event} on {table} in {timeout}s")

    def let_go() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(key))

    try:
        yield held, let_go
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT pg_advisory_unlock_all(); DROP TRIGGER IF EXISTS {name} ON {table};"
                f" DROP FUNCTION IF EXISTS {name}();"
            )


def waited_on(pid: int, timeout: float = 30) -> bool:
    """Whether another session comes to wait on session ``pid`` within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [pid],
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def on_its_own_connection(outcome: dict, work: Callable[[], object]) -> None:
    """Run ``work`` as a task or a request would, keeping what it returned or raised."""
    try:
        outcome["result"] = work()
    except DatabaseError as error:
        outcome["error"] = error
    finally:
        connection.close()


@dataclass
class Race:
    """What :func:`race_while_held` came to: each side's outcome (``result`` or ``error``)
    and whether the other side was seen waiting on the held one."""

    held: dict
    other: dict
    waited: bool


def race_while_held(
    work: Callable[[], object],
    other: Callable[[], object],
    hold: contextlib.AbstractContextManager[tuple[Callable[..., int], Callable[[], None]]],
) -> Race:
    """Run ``work`` on its own connection until ``hold`` (:func:`row_writes_held`) stops it,
    start ``other`` on another, let ``work`` go once ``other`` waits on it (or after the
    wait's timeout), and let both end."""
    race = Race(held={}, other={}, waited=False)
    working = threading.Thread(target=on_its_own_connection, args=[race.held, work])
    racing = threading.Thread(target=on_its_own_connection, args=[race.other, other])
    with hold as (held, let_go):
        working.start()
        try:
            pid = held()
            racing.start()
            race.waited = waited_on(pid)
            let_go()
        finally:
            working.join()
            if racing.ident is not None:
                racing.join()
    return race
