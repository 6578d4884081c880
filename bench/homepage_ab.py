"""Homepages served by this checkout beside another revision's, in one run, taking turns.

    python bench/homepage_ab.py [--against 080c78e] [--seconds 30] [--rounds 10]

What ``bench/homepage.py`` measures, the same requests on the same database
(``tonight_bench_home``, which that benchmark prepares), but the baseline is
the homepage of another revision rather than the floor endpoint: the answer to
"did this change make pages cheaper?" on a machine whose speed drifts by 10-20%
from one minute to the next (a new shared machine each session), where two
runs of ``bench/homepage.py`` minutes apart cannot tell a 5% change.

Both revisions are served at once by their own gunicorn (the other revision
from a ``git worktree`` of it, sharing this checkout's ``var/`` for the model
artefacts and this interpreter's packages), and they take turns: ``--rounds``
windows each, alternating, at concurrency 4. Reported per revision: pages/s,
p50/p99, and the CPU that its gunicorn and the database's backends spent per
page. Migrations must be the same in both revisions (the database is shared).
"""

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    bench_database_url,
    gunicorn_server,
    print_table,
    setup_django,
    work_tree,
)
from bench.homepage import DATABASE, DEVICES, alternating_loads, timed_get, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD~1", help="the baseline revision")
    parser.add_argument("--seconds", type=float, default=30.0, help="each revision's total")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--database", default=DATABASE, help="a database bench/homepage.py made")
    args = parser.parse_args()

    url = bench_database_url(args.database)
    setup_django(url)
    rng = random.Random(3)
    homepages = [
        (
            f"/api/v1/profiles/{pk}/homepage/?device={rng.choice(DEVICES)}",
            {"Authorization": f"Token {key}"},
        )
        for pk, key in tokens(args.profiles)
    ]
    env = {"ROOT_URLCONF": "bench.floor_urls", "CONN_MAX_AGE": "3600"}
    env |= {"GUNICORN_CMD_ARGS": "--config config/gunicorn.py"}
    with (
        work_tree(args.against) as (tree, label),
        gunicorn_server(url, extra_env=env) as this,
        gunicorn_server(url, extra_env=env, root=tree) as other,
    ):
        for server in (this, other):
            statuses = {timed_get(server.port, request)[1] for request in homepages[:5]}
            if statuses != {200}:
                raise SystemExit(f"a server answered {statuses} before the windows")
        mine, theirs = alternating_loads(
            url,
            [(this, homepages), (other, homepages)],
            concurrency=args.concurrency,
            seconds=args.seconds,
            rounds=args.rounds,
        )

    def row(measure: str, key: str, digits: int, ratio: bool = False) -> tuple:
        figure, baseline = mine[key], theirs[key]
        return (
            measure,
            f"{figure:.{digits}f}",
            f"{baseline:.{digits}f}",
            f"{figure / baseline:.2f}x" if ratio and baseline else "",
        )

    # Each round's pair of windows ran within seconds of each other: the spread of their
    # ratios says how far the machine's drift reaches into the ratio of the totals.
    ratios = sorted(
        a / b for a, b in zip(mine["window_rps"], theirs["window_rps"], strict=True) if b
    )
    quartiles = ratios[len(ratios) // 4], ratios[len(ratios) // 2], ratios[3 * len(ratios) // 4]
    c = f"c={args.concurrency}"
    print_table(
        f"Homepages of this checkout vs {label}, the same requests taking turns "
        f"({args.rounds} windows each, {args.seconds:.0f} s each in all)",
        [
            row(f"pages/s {c}", "rps", 0, ratio=True),
            (
                "  ratio of each round's windows: quartiles",
                "",
                "",
                " / ".join(f"{q:.2f}x" for q in quartiles),
            ),
            row(f"p50 ms {c}", "p50", 1),
            row(f"p99 ms {c}", "p99", 1),
            row(f"server CPU ms/page {c}", "app_cpu_ms", 2, ratio=True),
            row(f"database CPU ms/page {c}", "db_cpu_ms", 2, ratio=True),
            ("errors", str(mine["errors"]), str(theirs["errors"]), ""),
        ],
        headers=("measure", "this checkout", label, "ratio"),
    )


if __name__ == "__main__":
    main()
