"""What the metrics cost a homepage request, beside the same request without them.

    python bench/metrics_overhead.py [--number 20000] [--repeat 30]

In one process, no database: the middleware's timing and the homepage counter
(``config.metrics``) around a view that returns at once, beside that view called
bare; then the request histogram's observation alone, with its buckets and with
prometheus_client's default fifteen. Run twice: values in this process's memory (no
``PROMETHEUS_MULTIPROC_DIR``, runserver and the tests) and in memory-mapped files (the
variable set, as compose's web runs), the second in a child process because
prometheus_client chooses the mode when first imported. A homepage costs about 6 ms of
CPU: the difference is the figure to hold against that.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")


#: The process's CPU time, not the wall clock: a page's budget is CPU (about 6 ms), and on a
#: machine shared with other work the wall clock also counts the time others held the core.
CPU = time.process_time


def measure(number: int, repeat: int) -> list[tuple[str, float]]:
    """CPU microseconds per call of each case, the best of ``repeat`` runs of ``number`` calls:
    on a shared machine the best is the one least disturbed by the others' work."""
    import django

    django.setup()
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve
    from prometheus_client import CollectorRegistry, Histogram

    from config.metrics.instruments import DURATION_BUCKETS, homepage_served
    from config.metrics.middleware import Metrics

    path = "/api/v1/profiles/7/homepage/"
    request = RequestFactory().get(path, {"device": "tv"})
    request.resolver_match = resolve(path)  # as the view's routing leaves it
    response = HttpResponse(b"{}")

    def view(request):  # the rest of the chain: here nothing, so the overhead stands alone
        return response

    def counted_view(request):
        homepage_served(device="tv")
        return response

    timed = Metrics(counted_view)
    timed_only = Metrics(view)
    registry = CollectorRegistry()
    ours = Histogram("bench_ours", "", ["route"], buckets=DURATION_BUCKETS, registry=registry)
    default = Histogram("bench_default", "", ["route"], registry=registry)
    ours_child, default_child = ours.labels("r"), default.labels("r")
    cases = {
        "view alone (before)": lambda: view(request),
        "middleware (request histogram) alone": lambda: timed_only(request),
        "middleware + homepage counter (after)": lambda: timed(request),
        f"histogram observe, {len(DURATION_BUCKETS)} buckets": lambda: ours_child.observe(0.03),
        "histogram observe, default 15 buckets": lambda: default_child.observe(0.03),
        "counter inc": lambda: homepage_served(device="tv"),
    }
    return [
        (name, min(timeit.repeat(case, CPU, number=number, repeat=repeat)) / number * 1e6)
        for name, case in cases.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=20_000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=30, help="repeats; the best counts")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        for name, micros in measure(args.number, args.repeat):
            print(f"{name}\t{micros}")
        return
    figures = {}
    with tempfile.TemporaryDirectory(prefix="tonight-metrics-") as folder:
        for mode, extra in (
            ("single process", {}),
            ("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": folder}),
        ):
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    f"--number={args.number}",
                    f"--repeat={args.repeat}",
                ],
                env={**env, **extra},
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            figures[mode] = dict(line.split("\t") for line in out.splitlines())
    names = list(figures["single process"])
    print(f"{'us per call':45} {'single process':>15} {'multiprocess':>15}")
    for name in names:
        print(
            f"{name:45} {float(figures['single process'][name]):15.2f} "
            f"{float(figures['multiprocess'][name]):15.2f}"
        )
    for mode in figures:
        before = float(figures[mode]["view alone (before)"])
        after = float(figures[mode]["middleware + homepage counter (after)"])
        print(f"overhead per homepage, {mode}: {after - before:.2f} us")


if __name__ == "__main__":
    main()
