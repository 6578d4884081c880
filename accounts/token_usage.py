"""When each API token was last used, noted in memory and written in batches.

"Is this device still in use?" needs minute precision, not a write on every
request: written inline, the first request of each token in each minute was a
second database write on the homepage (whose only write is meant to be its
page log), and with many devices that is most requests. So authentication
notes the time here and a process writes what it noted at most once per
``FLUSH_SECONDS``, all tokens in one statement, from whichever request comes
due, and when a gunicorn worker exits (``config/gunicorn.py``).

What an operator sees in admin can therefore lag by up to ``FLUSH_SECONDS``
plus the resolution, and by longer for a process that serves no further
request until it exits; it is never ahead of the truth.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.db import DatabaseError, connection

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
        """Remember that the token was used ``now``; write the batch when one is due."""
        if stored is not None and (now - stored).total_seconds() <= RESOLUTION_SECONDS:
            return
        with self._lock:
            self._pending[token_pk] = now
            due = time.monotonic() - self._flushed_at >= self.flush_seconds
        if due:
            self.flush()

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
            # A bookkeeping write must never fail the request that happened to carry it;
            # the times are kept for the next flush.
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
