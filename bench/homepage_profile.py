"""Where a homepage's CPU goes, in one process, beside the floor endpoint's.

    python bench/homepage_profile.py [--pages 400] [--top 35]

Complements ``bench/homepage.py`` (which measures throughput and latency
through gunicorn and cannot say why): the same requests go through Django's
full handler (middleware, DRF authentication, the view, rendering) in this
process, first timed, then under ``cProfile``. Prints the mean wall time of a
homepage next to the floor view's with a body of the same size, the time of
each stage of the request path (wall, and CPU of the request's thread, which
a busy machine moves less), and the functions with the most cumulative time
per page. Needs the database
``bench/homepage.py`` prepares (``tonight_bench_home``; run that once first).
The database's own CPU (PostgreSQL runs on the same two cores under load) is
not in these figures: only the client side of each query.
"""

import argparse
import cProfile
import gc
import io
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import bench_database_url, print_table, setup_django

DEVICES = ("tv", "mobile", "tablet", "web")


#: (module, attribute, label) of the request path's stages, outermost first; a label's
#: leading spaces show nesting. Timed by wrapping the attribute where callers look it up.
STAGES = (
    ("profiles.authentication", "ProfileTokenAuthentication.token_read", "token and profile read"),
    ("recommendations.services.homepage", "homepage_build", "homepage_build"),
    ("recommendations.serving.homepage", "profile_serving", "  profile_serving"),
    ("recommendations.serving.recommend", "profile_history_rows", "    history read (1 query)"),
    ("recommendations.serving.homepage", "rank_profile", "  rank_profile"),
    ("recommendations.serving.scoring", "profile_confidence_row", "    history as confidence"),
    ("recommendations.serving.scoring", "generate_candidates", "    generate_candidates"),
    ("recommendations.serving.scoring", "ranking_features", "    ranking_features"),
    ("recommendations.serving.homepage", "_propose_rows", "  row generators"),
    ("recommendations.serving.homepage", "profile_row_engagement", "  row engagement"),
    ("recommendations.serving.homepage", "artwork_choose", "  artwork_choose"),
    ("recommendations.services.homepage", "page_log_create", "page log insert"),
    ("recommendations.apis.homepage", "page_body", "response body"),
    ("config.api.renderers", "OrjsonRenderer.render", "rendering"),
)


class StageTimers:
    """Wall and thread-CPU time spent in each of :data:`STAGES`, until :meth:`remove`."""

    def __init__(self) -> None:
        import importlib

        self._wall = {label: 0.0 for _, _, label in STAGES}
        self._cpu = dict.fromkeys(self._wall, 0.0)
        self._undo = []
        for module_name, attribute, label in STAGES:
            owner = importlib.import_module(module_name)
            *path, name = attribute.split(".")
            for part in path:
                owner = getattr(owner, part)
            original = getattr(owner, name)
            setattr(owner, name, self._timed(original, label))
            self._undo.append((owner, name, original))

    def _timed(self, function, label):
        wall, cpu = self._wall, self._cpu

        def timed(*args, **kwargs):
            started, started_cpu = time.perf_counter(), time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                wall[label] += time.perf_counter() - started
                cpu[label] += time.thread_time() - started_cpu

        return timed

    def remove(self) -> None:
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)

    def totals(self) -> list[tuple[str, float, float]]:
        return [(label, self._wall[label], self._cpu[label]) for label in self._wall]


def warmed_homepage_requests(
    database: str, count: int, *, seed: int
) -> tuple[Callable[..., int], list[tuple[str, str]], int]:
    """Django set up on ``database``, serving warmed as gunicorn's master warms it.

    Returns a ``get(path, auth=None)`` through Django's full handler (the
    floor view at ``/bench/floor/?bytes=N`` included) that returns the body's
    size and fails on any status but 200; ``count`` homepage requests (path,
    Authorization header) of random profiles on random devices, after 20 that
    warmed the code paths; and those 20 pages' mean body size.
    """
    os.environ["ROOT_URLCONF"] = "bench.floor_urls"
    setup_django(bench_database_url(database))
    from django.test import Client

    from bench.homepage import tokens
    from recommendations.serving.warmup import serving_warm

    serving_warm()
    gc.freeze()  # as config/wsgi.py does after warming
    rng = random.Random(seed)
    requests = [
        (f"/api/v1/profiles/{pk}/homepage/?device={rng.choice(DEVICES)}", f"Token {key}")
        for pk, key in tokens(count + 20)
    ]
    client = Client(HTTP_HOST="127.0.0.1")

    def get(path: str, auth: str | None = None) -> int:
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        response = client.get(path, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
        return len(response.content)

    sizes = [get(path, auth) for path, auth in requests[:20]]  # warm the code paths
    return get, requests[20:], sum(sizes) // len(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="tonight_bench_home")
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", default="cumulative", help="cumulative or tottime")
    parser.add_argument(
        "--callees", nargs="*", default=[], help="functions whose callees to list (rank_profile)"
    )
    args = parser.parse_args()

    get, requests, body = warmed_homepage_requests(args.database, args.pages * 2, seed=5)
    timed, profiled = requests[: args.pages], requests[args.pages :]

    gc_seconds = [0.0, 0.0, 0.0]
    gc_started = [0.0]

    def gc_timer(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_seconds[info["generation"]] += time.perf_counter() - gc_started[0]

    gc.callbacks.append(gc_timer)
    tracked = len(gc.get_objects())
    stages = StageTimers()
    started = time.perf_counter()
    for path, auth in timed:
        get(path, auth)
    page_ms = 1000 * (time.perf_counter() - started) / len(timed)
    stages.remove()
    gc.callbacks.remove(gc_timer)
    gc_ms = [1000 * seconds / len(timed) for seconds in gc_seconds]
    started = time.perf_counter()
    for _ in timed:
        get(f"/bench/floor/?bytes={body}")
    floor_ms = 1000 * (time.perf_counter() - started) / len(timed)

    profiler = cProfile.Profile()
    profiler.enable()
    for path, auth in profiled:
        get(path, auth)
    profiler.disable()

    print_table(
        f"One process, Django test client, {len(timed)} pages, {body} B body",
        [
            (
                "ms per request (baseline: floor view)",
                f"{page_ms:.2f}",
                f"{floor_ms:.2f}",
                f"{page_ms / floor_ms:.1f}x",
            ),
            *(
                (f"of which garbage collection, generation {g}", f"{ms:.2f}", "", "")
                for g, ms in enumerate(gc_ms)
            ),
            ("objects the collector tracks", str(tracked), "", ""),
        ],
    )
    print_table(
        "Stages of the request path, ms per page (wall, and CPU of the request's thread), "
        "nested stages indented; the timed pages above",
        [
            (name, f"{1000 * wall / len(timed):.2f}", f"{1000 * cpu / len(timed):.2f}", "")
            for name, wall, cpu in stages.totals()
        ],
        headers=("stage", "wall ms", "CPU ms", ""),
    )
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    # Per page rather than in total: divide the cumulative column by the page count.
    print(f"cProfile over {len(profiled)} pages (cumulative seconds are for all of them):")
    print(out.getvalue())
    for name in args.callees:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_callees(name)
        print(out.getvalue())


if __name__ == "__main__":
    main()
