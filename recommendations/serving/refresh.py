"""Per-process tables that are re-read on a timer without making a request wait for it.

Serving keeps catalogue-wide tables in memory (availability windows, names,
artwork) and re-reads them every few seconds or minutes, because staff edit
them without a retrain. Re-reading takes hundreds of milliseconds to seconds
at catalogue scale; done inside a request, that request (and every one queued
behind it on a sync worker) pays it, which is what a homepage's p99 is made
of. So once a table exists, a stale one keeps serving while one background
thread reads its successor, and the swap is a single reference assignment.

A ``max_age`` of 0 means "read on every use", synchronously, as the settings
document it; tests use it to see an edit at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connections

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: After a failed background re-read of an expired value, the next one is tried this much
#: later, twice as long after each further failure, at most ``max_age``. An expired value
#: holds facts known to have changed (a title re-rated above a kids profile's limit, a
#: licence ended), so it is not served as fresh for another ``max_age`` (five minutes for
#: the catalogue arrays) because the database blinked once; nor is a re-read (a second of
#: work for the catalogue arrays) started on every request, or every few seconds for
#: good, while reads keep failing.
FAILED_READ_RETRY_SECONDS = 5.0


class Refreshing(Generic[T]):
    """One value read by ``load()``, re-read in the background when older than ``max_age``.

    Thread-safe: the first read happens under a lock (concurrent first
    requests read once), and at most one background re-read runs at a time.
    A failed background read is logged and the stale value keeps serving; the
    next use after ``max_age`` tries again, or after
    ``FAILED_READ_RETRY_SECONDS`` (doubling with each further failure, up to
    ``max_age``) for a value :meth:`expire` made stale, which stays stale until
    a read started after the expiry succeeds.
    """

    def __init__(self, load: Callable[[], T], *, name: str) -> None:
        self._load = load
        self._name = name
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded_at = 0.0
        self._stale_before = 0.0  # a value read before this moment is stale, whatever its age
        self._refreshing = False
        self._retry_at = 0.0  # after a failed re-read of an expired value: not before this
        self._failures = 0  # failed re-reads of an expired value in a row

    @property
    def refreshing(self) -> bool:
        """Whether a background re-read is under way."""
        return self._refreshing

    def expire(self) -> None:
        """Make the current value stale now: the next use starts a background re-read.

        For a change the timer would otherwise take ``max_age`` to notice. A
        re-read already under way may have read before the change, so only a
        read started from now on makes the value fresh again.
        """
        self._stale_before = time.monotonic()

    def get(self, max_age: float, *, not_before: float = 0.0) -> T:
        """The current value; a stale one starts a background re-read and is returned.

        A value read before ``not_before`` (``time.monotonic()``) is re-read
        now: a model version loaded after it must not be served with tables
        older than itself.
        """
        value = self._value
        if value is None or max_age <= 0 or self._loaded_at < not_before:
            return self._read_now(value, max_age, not_before)
        stale = time.monotonic() - self._loaded_at > max_age or self._loaded_at < self._stale_before
        if stale and not self._refreshing and time.monotonic() >= self._retry_at:
            with self._lock:
                if self._refreshing:
                    return value
                self._refreshing = True
            name = f"refresh {self._name}"
            threading.Thread(target=self._refresh, args=(max_age,), name=name, daemon=True).start()
        return value

    def _read_now(self, seen: T | None, max_age: float, not_before: float) -> T:
        with self._lock:
            current = self._value
            if (
                current is not None
                and current is not seen
                and max_age > 0
                and self._loaded_at >= not_before
            ):
                return current  # another thread read it while this one waited
            started = time.monotonic()
            value = self._load()
            self._value, self._loaded_at = value, started
            return value

    def _refresh(self, max_age: float) -> None:
        started = time.monotonic()
        try:
            value = self._load()
            with self._lock:
                if started >= self._loaded_at:  # a newer synchronous read wins
                    self._value, self._loaded_at = value, started
            self._failures = 0
        except Exception:
            logger.exception("Re-reading %s failed; the previous copy keeps serving", self._name)
            if self._loaded_at < self._stale_before:
                # Expired (by a change, not by age): it stays so, and is tried again soon.
                wait = FAILED_READ_RETRY_SECONDS * 2.0 ** min(self._failures, 30)
                self._retry_at = time.monotonic() + min(wait, max_age)
                self._failures += 1
            else:
                self._loaded_at = started  # retry after another max_age, not on every request
        finally:
            self._refreshing = False
            connections.close_all()  # this thread's own connections, never a request's


class RefreshingByKey(Generic[T]):
    """A :class:`Refreshing` per key (a title index), at most ``max_keys`` of them kept.

    Beyond ``max_keys`` the least recently used key is forgotten: only the
    indexes of the versions being served matter, and they are few.
    """

    def __init__(self, *, name: str, max_keys: int = 8) -> None:
        self._name = name
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._entries: dict[str, Refreshing[T]] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __contains__(self, key: str) -> bool:
        """Whether a value is kept (or being read for the first time) under ``key``."""
        return key in self._entries

    def expire(self) -> None:
        """:meth:`Refreshing.expire` every key's value."""
        for entry in list(self._entries.values()):
            entry.expire()

    def get(self, key: str, load: Callable[[], T], max_age: float, *, not_before: float = 0.0) -> T:
        """The value under ``key``; ``load`` reads it (first use, and each refresh)."""
        entry = self._entries.get(key)
        if entry is None:
            with self._lock:
                entry = self._entries.get(key)
                if entry is None:
                    entry = self._entries[key] = Refreshing(load, name=self._name)
                    while len(self._entries) > self.max_keys:
                        del self._entries[next(iter(self._entries))]
        elif next(reversed(self._entries)) != key:
            with self._lock:  # mark as most recently used
                if key in self._entries:
                    self._entries[key] = self._entries.pop(key)
        return entry.get(max_age, not_before=not_before)


__all__ = ["Refreshing", "RefreshingByKey"]
