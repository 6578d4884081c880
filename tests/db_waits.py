"""Races between two database sessions, made to happen rather than hoped for."""

import threading
import time

from django.db import connection


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
