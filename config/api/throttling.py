"""Per-household request limits on the API's household operations, at almost no cost a page.

A looping client app, or a leaked token, could otherwise fill the page log and the
signals that the rankers and the artwork policy learn from (the rankers sample
``RANKER_MAX_PAGES`` pages uniformly: one household's million pages would be most of
them). Each limited operation names a scope (``throttle_scopes`` on the view, by method)
whose rate is a setting (``DEFAULT_THROTTLE_RATES``), counted per account: every device of
a household holds the account's token, and a household's budget must not grow with the
tokens it is given, nor depend on the addresses its devices come from.

DRF's own ``UserRateThrottle`` keeps every request's time in a cached list that it reads,
unpickles, trims, pickles and writes back: two round trips and a pickle of up to the
whole rate's times on every request, about 200 us of CPU at 1,200/hour
(``bench/throttle_overhead.py``), where a whole homepage is about 6 ms; and the homepage
made no call to Redis at all. Here each process counts an account's requests in its own
memory first (:class:`LocalCounts`, about 2 us) and asks Redis only once the account has
spent a tenth of the rate in that process, which no household within its budget does;
from then on every request of the account is counted in a fixed window in Redis, one Lua
script a request (70 to 80 us). A fixed window lets a burst of twice the rate through
across a boundary, which for limits a household never meets is no loss.

While the cache is down the limit is not applied (the request is served): it guards the
training data against a runaway client, not a secret, and a homepage refused for want of a
counter is a household's evening lost. The wrong-PIN limit does the opposite
(``profiles.unlock``): a PIN checked uncounted is a guess for free. The first failure is
logged, and the cache is not asked again by this process for :data:`CACHE_DOWN_SECONDS`,
so that an outage is a line a minute rather than a line and a connect timeout (2 s, on an
unreachable host) on every request past an allowance.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from accounts.authentication import AccountPrincipal
from config.cache_scripts import cache_script_run

if TYPE_CHECKING:  # rest_framework.views reads DEFAULT_THROTTLE_CLASSES as it is imported
    from rest_framework.views import APIView

logger = logging.getLogger(__name__)

#: The scopes of the household's reads, by method, for a view's ``throttle_scopes``: one
#: budget for them all, ``HOUSEHOLD_READS_RATE``. HEAD too, which Django answers with GET.
HOUSEHOLD_READS = {"GET": "household_reads", "HEAD": "household_reads"}

#: Each scope's setting, as the schema names it in the 429's description.
SCOPE_SETTINGS = {
    "homepage": "HOMEPAGE_RATE",
    "signals": "SIGNALS_RATE",
    "household_reads": "HOUSEHOLD_READS_RATE",
}

#: How long a process serves without counting after the cache failed it, before asking it
#: again; also how often an outage is logged (at most once in it, per process).
CACHE_DOWN_SECONDS = 60.0

#: Attempts at counting in a window whose key is deleted under it, on a cache other than
#: Redis (Django's ``incr`` of a missing key is an error).
_COUNT_TRIES = 3


class CacheOutage:
    """Whether this process counts requests now, or serves them uncounted after a failure.

    ``clock`` is a monotonic clock in seconds, given by tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()  # a gthread worker answers on several threads
        self._until: float | None = None

    def counting(self) -> bool:
        """Whether to ask the cache: not within :data:`CACHE_DOWN_SECONDS` of a failure."""
        until = self._until
        return until is None or self.clock() >= until

    def failed(self, error: Exception) -> None:
        """Note a failure: logged once, and the cache left alone for a while."""
        with self._lock:
            now = self.clock()
            if self._until is not None and now < self._until:
                return  # another thread of this process noted it already
            self._until = now + CACHE_DOWN_SECONDS
        logger.warning(
            "request limits not applied for %.0f s: the cache is unreachable (%s: %s)",
            CACHE_DOWN_SECONDS,
            type(error).__name__,
            (str(error).strip().splitlines() or [""])[0],
        )

    def clear(self) -> None:
        self._until = None


#: This process's view of the cache's health, for the request limits.
cache_outage = CacheOutage()


#: The share of a scope's rate that a process lets an account spend before it counts the
#: account's requests in the cache: a tenth. A household within it in every process (every
#: real one: the defaults are far above what one makes) costs no round trip at all.
LOCAL_SHARE = 10


class LocalCounts:
    """This process's count of each account's requests, per scope, in the window now.

    The previous window's counts are dropped as a new window starts, so the memory held is
    one entry per account seen in the present window. A lost update between two threads
    of a gthread worker miscounts by one, which the allowance's slack absorbs.
    """

    def __init__(self) -> None:
        self._by_scope: dict[str, tuple[int, dict[int, int]]] = {}

    def add(self, *, scope: str, window: int, account_id: int) -> int:
        """Count one request; the account's count in this process's window with it."""
        held = self._by_scope.get(scope)
        if held is None or held[0] != window:
            held = self._by_scope[scope] = (window, {})
        counts = held[1]
        counts[account_id] = used = counts.get(account_id, 0) + 1
        return used

    def clear(self) -> None:
        self._by_scope = {}


#: This process's counts, for the allowance each account spends before the cache counts it.
local_counts = LocalCounts()


class HouseholdRateThrottle(BaseThrottle):
    """Limits a household's requests to one operation to its scope's rate, per fixed window.

    The view names its scopes by method (``throttle_scopes = {"GET": "homepage"}``); a
    method without one, or a request that is not a household's (staff, no token: refused
    by authentication first anyway), is not counted. The rate is read at each request, so
    that a changed setting applies.

    Each process first counts an account's requests in its own memory, and serves the
    first tenth of the rate (:data:`LOCAL_SHARE`) without asking the cache; past that it
    adds what it counted to the cache's count and counts every further request there, so
    that a runaway client, whichever workers answer it, is refused once the household's
    requests in all of them pass the rate. Until then requests a process served from its
    allowance are not in the cache's count: with ``W`` processes, a household may make up
    to the rate plus ``W`` tenths of it before one is refused; one process, as the tests
    run, refuses exactly the request after the rate.
    """

    timer = time.time
    #: Rates parsed once: DRF's parse is a split and a dict look-up, but on every page.
    _parsed: dict[str, tuple[int, int]] = {}

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        scope = getattr(view, "throttle_scopes", {}).get(request.method)
        user = request.user
        if scope is None or not isinstance(user, AccountPrincipal):
            return True
        limit, duration = self.rate(scope)
        now = self.timer()
        window = int(now // duration)
        account_id = user.account.pk
        here = local_counts.add(scope=scope, window=window, account_id=account_id)
        allowance = limit // LOCAL_SHARE
        if here <= allowance or not cache_outage.counting():
            return True
        key = f"throttle_{scope}_account_{account_id}_{duration}_{window}"
        try:
            # The first request past the allowance brings those it followed with it.
            used = window_count(key=key, seconds=duration, by=here if here == allowance + 1 else 1)
        except RedisError as error:
            cache_outage.failed(error)
            return True
        if used > limit:
            self.wait_seconds = (window + 1) * duration - now
            return False
        return True

    def wait(self) -> float | None:
        return self.wait_seconds

    @classmethod
    def rate(cls, scope: str) -> tuple[int, int]:
        """The scope's (requests, seconds), from ``DEFAULT_THROTTLE_RATES``."""
        text = api_settings.DEFAULT_THROTTLE_RATES[scope]
        parsed = cls._parsed.get(text)
        if parsed is None:
            # DRF's parse reads nothing of its instance (config.environment checked the text).
            parsed = cls._parsed[text] = SimpleRateThrottle.parse_rate(None, text)
        return parsed


#: Counts ``ARGV[1]`` requests in a window (``KEYS[1]``) and returns its count; a count
#: without an expiry (new) is given one, ``ARGV[2]`` seconds. One script, as the wrong-PIN
#: and delivery counts are (config.cache_scripts): nothing comes between the two steps, and
#: it measured no dearer than the same two commands pipelined (bench/throttle_overhead.py).
_COUNT_SCRIPT = """
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return used
"""


def window_count(*, key: str, seconds: int, by: int = 1) -> int:
    """Count ``by`` requests in the window at ``key``; the window's count with them.

    The key names its window; it is kept twice the window, so that it outlives the window
    it counts. On Redis one script (:data:`_COUNT_SCRIPT`), one round trip. On another
    cache (the demo's per-process one) ``add`` then ``incr``, as the wrong-PIN limit counts
    there.
    """
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return int(
            cache_script_run(cache=cache, script=_COUNT_SCRIPT, keys=[key], args=[by, 2 * seconds])
        )
    for _ in range(_COUNT_TRIES):
        cache.add(key, 0, timeout=2 * seconds)
        with contextlib.suppress(ValueError):
            return cache.incr(key, by)
    return 0  # deleted under every try: served uncounted, as with the cache down
