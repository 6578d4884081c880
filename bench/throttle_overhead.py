"""What a per-household request limit costs a homepage, beside the same request without one.

    REDIS_URL=redis://127.0.0.1:6379/9 python bench/throttle_overhead.py [--number 500]

In one process, no database, against the Redis of ``REDIS_URL`` (the project's cache,
Django's ``RedisCache``): each limiter's ``allow_request`` for one account, as DRF calls it
before the view, beside a request that no limiter sees. The candidates: DRF's stock
``UserRateThrottle`` and ``ScopedRateThrottle`` (a list of request times, read and written
back: two round trips and a pickle that grows with the window's requests, so measured with
the window empty and nearly full), this project's (``config.api.throttling``: a count in
the process's memory for an account within its allowance, a tenth of the rate, and past it
a fixed window counted in Redis by a Lua script, one round trip), the same window counted
by ``INCR`` and ``EXPIRE`` pipelined instead (one round trip), and a count in the process's
memory only (no round trip ever, but each gunicorn worker counts alone). A homepage costs
about 6 ms of CPU: the difference from the baseline is the figure to hold against that.
CPU time, and the wall clock beside it: a worker waits out the round trip without spending
CPU, but it does wait.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")

#: The homepage's default rate: DRF's throttles keep up to this many times per account.
RATE = "1200/hour"
#: The rate this project's limiter is measured at: one whose local allowance (a tenth) no
#: run of the bench spends, so that its two paths can be measured apart: within the
#: allowance, and past it (every request counted in Redis).
OURS_RATE = "100000/hour"


def measure(number: int, repeat: int) -> list[tuple[str, float, float]]:
    """(case, CPU us, wall us) per call, each the best of ``repeat`` runs of ``number`` calls:
    on a shared machine the best is the one least disturbed by the others' work."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache
    from django.test import RequestFactory
    from rest_framework.request import Request
    from rest_framework.settings import api_settings
    from rest_framework.throttling import ScopedRateThrottle, UserRateThrottle
    from rest_framework.views import APIView

    from accounts.authentication import AccountPrincipal
    from accounts.models import Account
    from config.api.throttling import (
        LOCAL_SHARE,
        HouseholdRateThrottle,
        cache_outage,
        local_counts,
    )

    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        sys.exit("Set REDIS_URL=redis://...: the limits count in the project's Redis cache.")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "user": RATE,
            "bench": RATE,
            "bench_ours": OURS_RATE,
        },
    }
    api_settings.reload()
    UserRateThrottle.THROTTLE_RATES = ScopedRateThrottle.THROTTLE_RATES = (
        api_settings.DEFAULT_THROTTLE_RATES
    )

    class View(APIView):
        throttle_scope = "bench"
        throttle_scopes = {"GET": "bench_ours"}

    view = View()
    account = Account(pk=987_654_321, name="bench")
    request = Request(RequestFactory().get("/api/v1/profiles/7/homepage/", {"device": "tv"}))
    request.user = AccountPrincipal(account)

    in_process: dict[str, int] = {}

    def pipelined() -> bool:
        key = cache.make_and_validate_key(f"bench_pipe_{account.pk}_{int(time.time() // 3600)}")
        pipe = cache._cache.get_client(key, write=True).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, 7200)
        return pipe.execute()[0] <= 1200

    def process_count() -> bool:
        key = f"{account.pk}_{int(time.time() // 3600)}"
        in_process[key] = used = in_process.get(key, 0) + 1
        return used <= 1200

    def stock(throttle_class: type, history: int):
        """DRF's throttle, its list holding ``history`` times of this window before each run
        (a new throttle per request, as DRF makes them)."""

        def setup() -> None:
            throttle = throttle_class()
            key = (
                throttle.get_cache_key(request, view)
                if throttle_class is UserRateThrottle
                else (throttle.cache_format % {"scope": "bench", "ident": request.user.pk})
            )
            now = time.time()
            cache.set(key, [now - i * 0.001 for i in range(history)], 3600)

        def call() -> bool:
            allowed = throttle_class().allow_request(request, view)
            assert allowed, "the bench's rate was reached: lower --number"
            return allowed

        return call, setup

    def ours() -> bool:
        allowed = HouseholdRateThrottle().allow_request(request, view)
        assert allowed, "the bench's rate was reached: lower --number"
        return allowed

    def ours_within() -> None:
        local_counts.clear()

    def ours_past() -> None:
        """The account's allowance spent in this process: every request goes to Redis."""
        allowance = HouseholdRateThrottle.rate("bench_ours")[0] // LOCAL_SHARE
        for _ in range(allowance):
            local_counts.add(scope="bench_ours", window=int(time.time() // 3600), account_id=pk)
        cache.delete_many([key for key in cache_keys()])

    pk = account.pk

    def cache_keys() -> list[str]:
        window = int(time.time() // 3600)
        return [f"throttle_bench_ours_account_{pk}_3600_{window}"]

    cache_outage.clear()
    full = 1200 - number  # the last calls of a run fill the window to the rate
    cases: dict[str, tuple] = {
        "no limit (baseline)": (lambda: True, None),
        f"DRF UserRateThrottle, 0-{number} in window": stock(UserRateThrottle, 0),
        f"DRF UserRateThrottle, {full}-{full + number} in window": stock(UserRateThrottle, full),
        f"DRF ScopedRateThrottle, 0-{number} in window": stock(ScopedRateThrottle, 0),
        f"DRF ScopedRateThrottle, {full}-{full + number} in window": stock(
            ScopedRateThrottle, full
        ),
        "chosen: within the process's allowance": (ours, ours_within),
        "chosen: past it, a Lua script (EVAL)": (ours, ours_past),
        "fixed window, INCR+EXPIRE pipelined": (pipelined, None),
        "fixed window, this process's memory only": (process_count, None),
        "reference: one Redis PING": (lambda: cache._cache.get_client(write=True).ping(), None),
    }
    figures = []
    for name, (call, setup) in cases.items():
        per_clock = []
        for clock in (time.process_time, time.perf_counter):
            best = min(timeit.repeat(call, setup or "pass", clock, number=number, repeat=repeat))
            per_clock.append(best / number * 1e6)
        figures.append((name, *per_clock))
    client = cache._cache.get_client(write=True)
    client.delete(*client.keys(cache.make_key("throttle_*")), *client.keys("*bench_pipe_*"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--number", type=int, default=500, help="calls per repeat (below 600: the rate's half)"
    )
    parser.add_argument("--repeat", type=int, default=30, help="repeats; the best counts")
    args = parser.parse_args()
    figures = measure(args.number, args.repeat)
    base_cpu, base_wall = figures[0][1], figures[0][2]
    print(f"rate {RATE}; us per request, best of {args.repeat} x {args.number}")
    print(f"{'':46} {'CPU':>8} {'+CPU':>8} {'wall':>8} {'+wall':>8}")
    for name, cpu, wall in figures:
        print(f"{name:46} {cpu:8.2f} {cpu - base_cpu:8.2f} {wall:8.2f} {wall - base_wall:8.2f}")


if __name__ == "__main__":
    main()
