"""When each API token was last used, noted in memory and written in batches.

"Is this device still in use?" needs minute precision, not a write on every
request: written inline, the first request of each token in each minute was a
second database write on the homepage (whose only write is meant to be its
page log), and with many devices that is most requests. So authentication
notes the time here, and a process writes what it noted at most once per
``FLUSH_SECONDS``, all tokens in one statement.

The write is never part of a page. Noting never writes: the batch is written
when a request has finished (Django's ``request_finished``, sent when the server
closes the response, after its body is written out: gunicorn's workers have
sent the last byte and logged the request's time by then), by whichever request
finishes once the batch is due, and when a gunicorn worker exits
(``config/gunicorn.py``). It runs before Django's ``close_old_connections`` on
the same signal, so it uses the request's connection while that is still open
and checked, and a connection it leaves broken is closed as any other.
Authentication is the only caller of :meth:`TokenUsage.note`; code that noted
outside a request would have to call :meth:`TokenUsage.flush` itself.

What an operator sees in admin can therefore lag by up to ``FLUSH_SECONDS``
plus the resolution, and by longer for a process that serves no further
request until it exits; it is never ahead of the truth.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.core.signals import request_finished
from django.db import DatabaseError, close_old_connections, connection

from .models import ApiToken

logger = logging.getLogger(__name__)

#: A token whose stored time is younger than this is not noted again.
RESOLUTION_SECONDS = 60
#: How often a process writes the times it noted.
FLUSH_SECONDS = 60
_BATCH = 500


class TokenUsage:
    """The last-used times of one process, waiting to be written."""

    def __init__(self, *, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._pending: dict[int, dt.datetime] = {}
        self._flushed_at = time.monotonic()

    def note(self, *, token_pk: int, stored: dt.datetime | None, now: dt.datetime) -> None:
        """Remember that the token was used ``now``; the write waits for the request's end."""
        if stored is not None and (now - stored).total_seconds() <= RESOLUTION_SECONDS:
            return
        with self._lock:
            self._pending[token_pk] = now

    def flush_if_due(self) -> int:
        """Write the batch if ``flush_seconds`` have passed since the last; return how many."""
        if not self._pending:  # every request ends here: most have nothing to look at
            return 0
        with self._lock:
            due = time.monotonic() - self._flushed_at >= self.flush_seconds
        return self.flush() if due else 0

    def flush(self) -> int:
        """Write every noted time in one statement; return how many tokens."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed_at = time.monotonic()
        if not pending:
            return 0
        try:
            _write(pending)
        except DatabaseError:
            # A bookkeeping write must never fail the request that happened to carry it
            # (nor, at its end, skip the receivers after this one); the times are kept
            # for the next flush.
            logger.warning("Could not write the last-used times of %d tokens", len(pending))
            with self._lock:
                for pk, at in pending.items():
                    self._pending.setdefault(pk, at)
            return 0
        return len(pending)

    def pending(self) -> int:
        return len(self._pending)


def _write(times: dict[int, dt.datetime]) -> None:
    """One UPDATE for all tokens: on PostgreSQL from two arrays, elsewhere the ORM's.

    ``bulk_update`` builds a CASE with a branch per token: for the two thousand
    tokens a busy process notes in a minute, that took about a second of the
    request that carried the flush, and PostgreSQL as long again to plan it.
    """
    if connection.vendor != "postgresql":
        tokens = [ApiToken(pk=pk, last_used_at=at) for pk, at in times.items()]
        ApiToken.objects.bulk_update(tokens, ["last_used_at"], batch_size=_BATCH)
        return
    quote = connection.ops.quote_name
    table, pk, column = quote(ApiToken._meta.db_table), quote("id"), quote("last_used_at")
    # Every process flushes about once a minute, often the same tokens (a household's
    # devices hit every worker): rows are locked in id order so two flushes queue
    # behind each other instead of deadlocking (which PostgreSQL detects only after
    # deadlock_timeout, a second in which both processes' requests stall), and a
    # time never moves backwards. Only quoted identifiers are interpolated.
    sql = (
        "WITH used AS (SELECT * FROM unnest(%s::bigint[], %s::timestamptz[]) AS u(id, at)), "  # noqa: S608
        f"locked AS MATERIALIZED (SELECT t.{pk} FROM {table} t JOIN used ON t.{pk} = used.id "
        f"ORDER BY t.{pk} FOR UPDATE OF t) "
        f"UPDATE {table} AS t SET {column} = GREATEST(t.{column}, used.at) FROM used "
        f"WHERE t.{pk} = used.id AND t.{pk} IN (SELECT {pk} FROM locked)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(times), list(times.values())])


token_usage = TokenUsage()


def _flush_when_due(**kwargs: object) -> None:
    token_usage.flush_if_due()


def token_usage_flush_after_requests() -> None:
    """Write due batches as requests finish, ahead of ``close_old_connections``.

    Receivers run in the order they were connected, and Django connected
    ``close_old_connections`` when ``django.db`` was imported: after it, a flush
    would find a connection past ``CONN_MAX_AGE`` closed and open one of its own,
    left open until the next request, and would pay a second health check for a
    connection already checked. So it is connected again after this receiver
    (Django's test client does the same around each of its requests).
    """
    request_finished.connect(_flush_when_due, dispatch_uid=__name__)
    request_finished.disconnect(close_old_connections)
    request_finished.connect(close_old_connections)
