"""Re-running a ratings import beside its first run, on a fresh database.

    python bench/import_rerun.py [--users 11000] [--titles 3000] [--against main]

Writes a MovieLens-style catalogue and ratings file (seeded: the same files every
run), imports the catalogue and then the ratings into a fresh database, and
imports the ratings again: the re-run stores nothing (every signal is a
duplicate) but reads and checks every row, and looks up every returning
profile's stored signals and states. Reported: both runs' seconds and the
ratio re-run / first run, and with ``--against`` the re-runs' ratio, this
checkout's to REV's.

The re-run must stay well under the first run. Its per-chunk lookups run as
prepared statements, and from the eighth chunk on with their generic plan
(docs/recommendations.md, "Importing data sets"), so the file is made of more
than ten chunks (of about 20,000 ratings) for that plan to show.

With ``--against REV`` the same runs of REV's checkout (a ``git worktree``)
follow on the same database, recreated, and their figures are printed beside
these. Each command runs in a process of its own, timed inside it (without
Django's start-up); the database's statistics are taken after the first run, as
autovacuum would after its commit (this machine's PostgreSQL runs without it).
"""

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    ROOT,
    bench_database_url,
    django_env,
    ensure_database,
    print_table,
    work_tree,
)

DATABASE = "tonight_bench_rerun"

# One run of a management command in the checkout it is started in, timed inside.
_TIMED_COMMAND = """
import sys, time
import django
django.setup()
from django.core.management import call_command
start = time.perf_counter()
call_command(*sys.argv[1:])
print(f"seconds: {time.perf_counter() - start:.3f}", file=sys.stderr)
"""

_REGION = """
import django
django.setup()
from catalog.models import Language
from regions.models import Region
english = Language.objects.create(code="en", name="English", native_name="English")
Region.objects.create(code="US", name="United States", default_language=english,
                      time_zone="America/New_York")
"""


def write_data_set(folder: Path, *, users: int, titles: int, per_user: int) -> int:
    """``movies.csv`` and ``ratings.csv`` as MovieLens lays them out; returns the ratings.

    Each user rates about ``per_user`` titles (at least half that, a long tail
    above), popular titles more often, at increasing times, on a 0.5 to 5 scale.
    """
    rng = random.Random(11)
    with (folder / "movies.csv").open("w") as movies:
        movies.write("movieId,title,genres\n")
        for t in range(1, titles + 1):
            movies.write(f"{t},Film {t} ({1950 + t % 70}),Drama|Comedy\n")
    ids = list(range(1, titles + 1))
    popularity = [1 / (rank + 10) for rank in range(titles)]
    rows = 0
    with (folder / "ratings.csv").open("w") as ratings:
        ratings.write("userId,movieId,rating,timestamp\n")
        for user in range(1, users + 1):
            wanted = per_user // 2 + int(rng.expovariate(2 / per_user))
            moment = 1_300_000_000 + rng.randrange(200_000_000)
            for title in sorted(set(rng.choices(ids, popularity, k=wanted))):
                moment += rng.randrange(1, 600)
                ratings.write(f"{user},{title},{rng.randrange(1, 11) / 2},{moment}\n")
                rows += 1
    return rows


def _python(tree: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *args], cwd=tree, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed in {tree}:\n{done.stderr[-3000:]}")
    return done


def _timed(tree: Path, env: dict[str, str], *command: str) -> tuple[float, str]:
    done = _python(tree, env, "-c", _TIMED_COMMAND, *command, "--verbosity", "0")
    seconds = float(done.stderr.rsplit("seconds: ", 1)[1])
    return seconds, done.stdout


def first_run_and_rerun(tree: Path, database_url: str, folder: Path) -> tuple[float, float]:
    """Seconds of the first import of the ratings and of its re-run, on a fresh database."""
    ensure_database(database_url, fresh=True)
    env = django_env(database_url) | {
        "PYTHONPATH": str(tree),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    _python(tree, env, "manage.py", "migrate", "-v0")
    _python(tree, env, "-c", _REGION)
    _timed(tree, env, "import_catalogue", str(folder / "movies.csv"), "--region", "US")
    ratings = str(folder / "ratings.csv")
    first, summary = _timed(tree, env, "import_interactions", ratings, "--region", "US")
    if "duplicates (already stored): 0." not in summary:
        raise SystemExit(f"the first run found signals stored already:\n{summary}")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    again, summary = _timed(tree, env, "import_interactions", ratings, "--region", "US")
    if "Signals stored: 0;" not in summary:
        raise SystemExit(f"the re-run stored signals:\n{summary}")
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=11_000)
    parser.add_argument("--titles", type=int, default=3_000)
    parser.add_argument("--per-user", type=int, default=20, help="ratings of a user, about")
    parser.add_argument("--against", help="a revision to run the same imports of, after these")
    parser.add_argument("--database", default=DATABASE, help="recreated for each revision")
    args = parser.parse_args()

    url = bench_database_url(args.database)
    folder = ROOT / "var" / "bench" / args.database
    folder.mkdir(parents=True, exist_ok=True)
    ratings = write_data_set(folder, users=args.users, titles=args.titles, per_user=args.per_user)
    started = time.perf_counter()
    figures = {"this checkout": first_run_and_rerun(ROOT, url, folder)}
    if args.against:
        with work_tree(args.against) as (tree, label):
            figures[label] = first_run_and_rerun(tree, url, folder)

    rows = [
        (f"seconds, {name}", f"{again:.1f}", f"{first:.1f}", f"{again / first:.2f}")
        for name, (first, again) in figures.items()
    ]
    if args.against:
        (_, mine), (_, theirs) = figures.values()
        rows.append(
            (
                f"re-run, this checkout vs {label}",
                f"{mine:.1f}",
                f"{theirs:.1f}",
                f"{mine / theirs:.2f}",
            )
        )
    print_table(
        f"Importing {ratings:,} ratings of {args.users:,} users, then the same file again "
        f"({time.perf_counter() - started:.0f} s in all)",
        rows,
        headers=("measure", "re-run", "first run", "ratio"),
    )


if __name__ == "__main__":
    main()
