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

from django.db import DatabaseError

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
        """Write every noted time (one UPDATE per 500 tokens); return how many tokens."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._flushed_at = time.monotonic()
        if not pending:
            return 0
        tokens = [ApiToken(pk=pk, last_used_at=at) for pk, at in pending.items()]
        try:
            ApiToken.objects.bulk_update(tokens, ["last_used_at"], batch_size=_BATCH)
        except DatabaseError:
            # A bookkeeping write must never fail the request that happened to carry it;
            # the times are kept for the next flush.
            logger.warning("Could not write the last-used times of %d tokens", len(tokens))
            with self._lock:
                for pk, at in pending.items():
                    self._pending.setdefault(pk, at)
            return 0
        return len(tokens)

    def pending(self) -> int:
        return len(self._pending)


token_usage = TokenUsage()
