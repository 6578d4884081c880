"""The rankers' training rows from logged pages, this checkout beside another revision.

    python bench/ranker_examples.py [--against HEAD~1] [--rounds 3] [--database NAME]

Times :func:`~recommendations.services.ranker_training.logged_examples_load`,
what every retrain and ``train_models`` runs before fitting the title and row
rankers: a sample of up to ``TONIGHT["RANKER_MAX_PAGES"]`` (3,000) logged pages,
each page's history as of its moment, its features. The baseline is the same
call in another revision (a ``git worktree`` of it, this interpreter's
packages), on the same database, in a process of its own; the two take turns,
``--rounds`` runs each, after an untimed run each that also counts their
queries. Reported per revision: the best and median wall time, CPU of the
process, CPU of the database's backends, queries, and a digest of the rows
(both revisions must print the same one: the change was to the cost, not to
what is learnt). Then, in this process, the part that changed alone: the same
pages' history reads, a statement a page (``profile_history_rows``, what the
baseline runs) beside 200 pages a statement (``profiles_history_rows``), taking
turns.

The database (``tonight_bench_examples`` unless ``--database``) is prepared on
first use, or again with ``--fresh``: ``seed_demo --titles 600 --profiles 800``
as of 2026-12-01, ``train_models``, then ``simulate_traffic`` of 200 profiles
x 16 visits over 4 days (3,200 pages: the sample is full). About a minute.
Figures move by 10-20% with the shared machine's load; the ratio of runs taken
in turns moves much less.
"""

import argparse
import json
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from bench._harness import (
    ROOT,
    bench_database_url,
    database_cpu,
    django_env,
    ensure_database,
    print_table,
    setup_django,
    work_tree,
)

DATABASE = "tonight_bench_examples"
AS_OF = "2026-12-01"
#: The moment the rows are loaded as of: the simulated days' pages are all closed by then.
AT = "2026-12-01T12:00:00+00:00"

#: Run in a process of its own under the revision's tree: one untimed run (counting the
#: queries), then one timed run per line read from stdin, each answered with a JSON line.
WORKER = textwrap.dedent(
    """
    import datetime as dt, hashlib, json, sys, time
    import django
    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from recommendations.services.ranker_training import logged_examples_load

    at = dt.datetime.fromisoformat(sys.argv[1])
    with CaptureQueriesContext(connection) as queries:
        examples = logged_examples_load(region_code=None, at=at)
    digest = hashlib.sha256()
    for name in ("title_features", "title_labels", "title_weights", "title_pages",
                 "row_features", "row_labels", "row_pages"):
        digest.update(getattr(examples, name).tobytes())
    print(json.dumps({"queries": len(queries), "pages": examples.pages,
                      "rows": int(examples.title_labels.shape[0]),
                      "digest": digest.hexdigest()[:16]}), flush=True)
    for _ in sys.stdin:
        wall, cpu = time.perf_counter(), time.process_time()
        logged_examples_load(region_code=None, at=at)
        print(json.dumps({"wall": time.perf_counter() - wall,
                          "cpu": time.process_time() - cpu}), flush=True)
    """
)


def prepare(url: str, *, fresh: bool) -> None:
    """The demo world with its logged pages, unless the database holds them already."""
    ensure_database(url, fresh=fresh)
    with psycopg.connect(url) as conn:
        has_pages = (
            conn.execute("SELECT to_regclass('recommendations_pagelog') IS NOT NULL").fetchone()[0]
            and conn.execute("SELECT count(*) FROM recommendations_pagelog").fetchone()[0]
        )
    if has_pages:
        return
    env = django_env(url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    steps = [
        ["migrate", "-v0"],
        ["seed_demo", "--titles=600", "--profiles=800", "--history=60", "--seed=5",
         "--artwork-images=shared", f"--as-of={AS_OF}", "-v0"],
        ["train_models", f"--at={AS_OF}T00:00Z", "-v0"],
        ["simulate_traffic", "--profiles=200", "--sessions=16", "--days=4", "--seed=1",
         f"--until={AS_OF}", "-v0"],
    ]  # fmt: skip
    for step in steps:
        print("preparing:", step[0], file=sys.stderr)
        subprocess.run([*manage, *step], env=env, cwd=ROOT, check=True)


class Worker:
    """A revision's worker process (see :data:`WORKER`)."""

    def __init__(self, root: Path, url: str) -> None:
        env = django_env(url) | {"PYTHONPATH": str(root)}
        env["DJANGO_SETTINGS_MODULE"] = "config.settings"
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, AT],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.first = self._answer()
        self.runs: list[dict] = []
        self.database_cpu = 0.0

    def _answer(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"a worker exited ({self.process.wait()})")
        return json.loads(line)

    def run(self, url: str) -> None:
        before = database_cpu(url)
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.runs.append(self._answer())
        self.database_cpu += database_cpu(url) - before

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def history_reads(url: str, rounds: int) -> tuple[dict[str, float], dict[str, float], int]:
    """The history reads of a full sample, read page by page and in batches, in turns:
    (batched, page by page, pages), each {"best", "median"} wall seconds."""
    setup_django(url)
    import datetime as dt

    from recommendations.services import ranker_training
    from recommendations.serving import recommend

    reads: list = []

    def recorded(batch: list) -> list:
        reads.extend(batch)
        return recommend.profiles_history_rows(batch)

    ranker_training.profiles_history_rows = recorded
    ranker_training.logged_examples_load(region_code=None, at=dt.datetime.fromisoformat(AT))
    ranker_training.profiles_history_rows = recommend.profiles_history_rows
    batch = ranker_training._PageHistories.BATCH

    def batched() -> None:
        for start in range(0, len(reads), batch):
            recommend.profiles_history_rows(reads[start : start + batch])

    def one_by_one() -> None:
        for read in reads:
            recommend.profile_history_rows(
                profile_id=read.profile_id,
                at=read.at,
                unread_pages=read.unread_pages,
                with_states=False,
            )

    times: dict[str, list[float]] = {"batched": [], "one": []}
    for _ in range(rounds):
        for name, run in (("batched", batched), ("one", one_by_one)):
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    summary = {
        name: {"best": min(walls), "median": statistics.median(walls)}
        for name, walls in times.items()
    }
    return summary["batched"], summary["one"], len(reads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD~1", help="the baseline revision")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--fresh", action="store_true", help="prepare the database again")
    args = parser.parse_args()

    url = bench_database_url(args.database)
    prepare(url, fresh=args.fresh)
    with work_tree(args.against) as (tree, label):
        mine, theirs = Worker(ROOT, url), Worker(tree, url)
        try:
            for _ in range(args.rounds):
                mine.run(url)
                theirs.run(url)
        finally:
            mine.close()
            theirs.close()

    def figures(worker: Worker) -> dict[str, float]:
        walls = [run["wall"] for run in worker.runs]
        return {
            "best": min(walls),
            "median": statistics.median(walls),
            "cpu": statistics.median(run["cpu"] for run in worker.runs),
            "db": worker.database_cpu / len(worker.runs),
        }

    a, b = figures(mine), figures(theirs)

    def row(measure: str, key: str) -> tuple[str, str, str, str]:
        return measure, f"{a[key]:.2f}", f"{b[key]:.2f}", f"{a[key] / b[key]:.2f}x"

    same = "same" if mine.first["digest"] == theirs.first["digest"] else "DIFFERENT"
    print_table(
        f"logged_examples_load of {mine.first['pages']} pages, this checkout vs {label} "
        f"({args.rounds} runs each, taking turns)",
        [
            row("wall s, best", "best"),
            row("wall s, median", "median"),
            row("process CPU s, median", "cpu"),
            row("database CPU s, mean", "db"),
            ("queries", str(mine.first["queries"]), str(theirs.first["queries"]), ""),
            ("title rows", str(mine.first["rows"]), str(theirs.first["rows"]), ""),
            ("rows' digest", mine.first["digest"], theirs.first["digest"], same),
        ],
        headers=("measure", "this checkout", label, "ratio"),
    )

    together, alone, pages = history_reads(url, args.rounds)
    print_table(
        f"The {pages} pages' history reads alone, in this process ({args.rounds} runs each, "
        "taking turns)",
        [
            (
                f"wall s, {key}",
                f"{together[key]:.2f}",
                f"{alone[key]:.2f}",
                f"{together[key] / alone[key]:.2f}x",
            )
            for key in ("best", "median")
        ],
        headers=("measure", "200 pages a statement", "a statement a page", "ratio"),
    )


if __name__ == "__main__":
    main()
