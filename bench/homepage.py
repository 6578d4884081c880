"""Homepages through the real API (gunicorn, PostgreSQL) beside a minimal DRF endpoint.

    python bench/homepage.py [--seconds 20] [--profiles 2000] [--template tonight_h2big]

The database is a copy of ``--template`` (15,000 titles, 100,000 profiles, 10M
signals from ``seed_demo``), migrated and trained once; ``--reuse`` keeps an
existing copy. Homepages/s and p50/p99 at concurrency 4 and 16, next to a DRF
view returning a JSON body of the same size (``bench/floor_urls.py``) in the same run.
The homepage and the floor take turns in ``--rounds`` short windows, so the
machine's drift during the run weighs on both alike.

gunicorn runs as in production, ``-c config/gunicorn.py``: the master loads the
app and warms serving (every served model version, its tables, the artwork
state) before forking the workers. That start-up is timed and reported, as is
the first request of a server started cold (``TONIGHT_WARM_ON_START=0``), and
neither is inside the measured windows: they start with the first request
the warm-started server receives, with no warm-up traffic before it.

Beside throughput and latency, each window reports the CPU the server
(gunicorn's master and workers) and the database's backends spent per request,
which moves much less than wall-clock figures when other work shares the two
cores (the load average at the end is printed). The floor is stock DRF (its
``JSONRenderer``); the same floor with the project's orjson renderer is
printed as one more row.

At concurrency 4 a third side takes its turns too: the page's skeleton
(``SkeletonView``), which authenticates, reads the profile and its history,
logs a page and renders it like the homepage but serves a page built once
instead of computing one. It separates what a page's computation costs (the
homepage beyond the skeleton) from what the reads and the write every page
must make cost (the skeleton beyond the floor).
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    Server,
    bench_database_url,
    database_cpu,
    django_env,
    gunicorn_server,
    print_table,
    process_tree_cpu,
    setup_django,
)

DATABASE = "tonight_bench_home"
DEVICES = ("tv", "mobile", "tablet", "web")


def prepare(template: str, *, reuse: bool, database: str = DATABASE) -> str:
    """``database`` as a copy of ``template``, migrated and trained; with ``reuse``, an
    existing copy is kept and only migrated. Its models go to its own media directory
    (``bench_media_root``)."""
    url = bench_database_url(database)
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
    env = django_env(url)
    manage = [sys.executable, "manage.py"]
    if not (exists and reuse):
        if exists:
            subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", database], check=True)
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-U", "postgres", "-T", template, database], check=True
        )
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
        subprocess.run([*manage, "train_models", "-v0"], env=env, check=True)
    else:  # a reused copy still gets the migrations committed since it was made
        subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True)
    return url


def tokens(n_profiles: int) -> list[tuple[int, str]]:
    """(profile id, token key) of ``n_profiles`` random profiles, one token per account."""
    from accounts.services import api_token_create
    from profiles.models import Profile

    rng = random.Random(7)
    ids = list(Profile.objects.filter(pin_hash="").values_list("pk", "account_id")[:200_000])
    chosen = rng.sample(ids, min(n_profiles, len(ids)))
    keys: dict[int, str] = {}
    out = []
    for pk, account_id in chosen:
        if account_id not in keys:
            from accounts.models import Account

            keys[account_id] = api_token_create(
                account=Account.objects.get(pk=account_id), name="bench"
            )[1]
        out.append((pk, keys[account_id]))
    return out


def measured_load(
    server, database_url: str, requests: list[tuple[str, dict]], *, concurrency: int, seconds: float
) -> dict:
    """:func:`load`, plus the CPU the server (gunicorn and its workers) and the
    database's backends spent per request: on a shared, noisy machine CPU per
    request moves far less than wall-clock throughput does."""
    app_before, db_before = process_tree_cpu(server.pid), database_cpu(database_url)
    result = load(server.port, requests, concurrency=concurrency, seconds=seconds)
    n = max(1, result["n"])
    result["app_cpu_ms"] = 1000 * (process_tree_cpu(server.pid) - app_before) / n
    result["db_cpu_ms"] = 1000 * (database_cpu(database_url) - db_before) / n
    return result


def load(port: int, requests: list[tuple[str, dict]], *, concurrency: int, seconds: float):
    latencies: list[float] = []
    sizes: list[int] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        i = offset
        mine, my_sizes = [], []
        while time.monotonic() < stop:
            path, headers = requests[i % len(requests)]
            i += concurrency
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            body = response.read()
            mine.append(time.perf_counter() - started)
            my_sizes.append(len(body))
            if response.status != 200:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)
            sizes.extend(my_sizes)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50": 1000 * latencies[n // 2],
        "p99": 1000 * latencies[min(n - 1, int(n * 0.99))],
        "bytes": sum(sizes) / max(n, 1),
        "errors": errors[0],
        "n": n,
        "elapsed": elapsed,
        "latencies": latencies,
    }


def alternating_loads(
    database_url: str,
    sides: list[tuple[Server, list[tuple[str, dict]]]],
    *,
    concurrency: int,
    seconds: float,
    rounds: int,
) -> list[dict]:
    """:func:`measured_load` of each (server, requests) side, taking turns in ``rounds`` short
    windows, each side's windows added up.

    A shared machine's speed drifts by 10-20% within a minute; one long window
    per side lets that drift into the ratio, while alternating short windows
    spreads it over every side alike.
    """
    parts: list[list[dict]] = [[] for _ in sides]
    window = seconds / rounds
    for _ in range(rounds):
        for k, (server, requests) in enumerate(sides):
            figures = measured_load(
                server, database_url, requests, concurrency=concurrency, seconds=window
            )
            parts[k].append(figures)
    return [_added(windows) for windows in parts]


def _added(windows: list[dict]) -> dict:
    n = sum(w["n"] for w in windows)
    latencies = sorted(t for w in windows for t in w["latencies"])
    return {
        "rps": n / sum(w["elapsed"] for w in windows),
        "p50": 1000 * latencies[n // 2],
        "p99": 1000 * latencies[min(n - 1, int(n * 0.99))],
        "errors": sum(w["errors"] for w in windows),
        "n": n,
        "app_cpu_ms": sum(w["app_cpu_ms"] * w["n"] for w in windows) / max(n, 1),
        "db_cpu_ms": sum(w["db_cpu_ms"] * w["n"] for w in windows) / max(n, 1),
        "window_rps": [w["rps"] for w in windows],
    }


def timed_get(port: int, request: tuple[str, dict]) -> tuple[float, int, int]:
    """One request on a fresh connection: (milliseconds, status, body bytes)."""
    path, headers = request
    conn = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = 1000 * (time.perf_counter() - started)
    conn.close()
    return elapsed, response.status, len(body)


def side_rows(name: str, side: dict, floor: dict, c: str) -> list[tuple[str, str, str, str]]:
    """The table's rows for one side of a run, each figure beside the floor's."""
    return [
        (f"{name}: per second {c}", f"{side['rps']:.0f}", f"{floor['rps']:.0f}",
         f"{side['rps'] / floor['rps']:.0%}"),
        (f"{name}: p50 ms {c}", f"{side['p50']:.1f}", f"{floor['p50']:.1f}", ""),
        (f"{name}: p99 ms {c}", f"{side['p99']:.1f}", f"{floor['p99']:.1f}", ""),
        (f"{name}: server CPU ms/request {c}", f"{side['app_cpu_ms']:.1f}",
         f"{floor['app_cpu_ms']:.1f}",
         f"{side['app_cpu_ms'] / max(floor['app_cpu_ms'], 1e-9):.1f}x"),
        (f"{name}: database CPU ms/request {c}", f"{side['db_cpu_ms']:.1f}", "", ""),
        (f"{name}: errors {c}", str(side["errors"]), str(floor["errors"]), ""),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="tonight_h2big")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--database",
        default=DATABASE,
        help="the copy of --template to serve (another name keeps another catalogue's copy)",
    )
    parser.add_argument("--profiles", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="windows per side, taking turns; --seconds is each side's total",
    )
    args = parser.parse_args()

    url = prepare(args.template, reuse=args.reuse, database=args.database)
    setup_django(url)
    pairs = tokens(args.profiles)
    rng = random.Random(3)
    homepages = [
        (
            f"/api/v1/profiles/{pk}/homepage/?device={rng.choice(DEVICES)}",
            {"Authorization": f"Token {key}"},
        )
        for pk, key in pairs
    ]
    # Connections kept for the whole run: a backend that exits takes its CPU figure
    # with it, and the database CPU per request is read from the live backends.
    env = {"ROOT_URLCONF": "bench.floor_urls", "CONN_MAX_AGE": "3600"}
    configured = env | {"GUNICORN_CMD_ARGS": "--config config/gunicorn.py"}
    rows = []

    # Cold: what the first visitors of an unwarmed worker wait for (never in the windows).
    cold = env | {"TONIGHT_WARM_ON_START": "0"}
    with gunicorn_server(url, workers=1, extra_env=cold) as server:
        cold_first = timed_get(server.port, homepages[0])
        cold_second = timed_get(server.port, homepages[1])

    started = time.perf_counter()
    with gunicorn_server(url, workers=args.workers, extra_env=configured) as server:
        start_seconds = time.perf_counter() - started
        warm_first = timed_get(server.port, homepages[2])
        # The floor's body size: the mean of homepages not used in the windows below.
        probe = [timed_get(server.port, homepages[-1 - k]) for k in range(20)]
        body = int(sum(size for _, _, size in probe) / len(probe))
        measured = homepages[3:-20]
        floor_requests = [(f"/bench/floor/?bytes={body}", {})]
        skeletons = [
            (path.replace("/api/v1/profiles/", "/bench/skeleton/").replace("/homepage/", "/"), h)
            for path, h in measured
        ]
        for concurrency in (4, 16):
            sides = [(server, measured), (server, floor_requests)]
            if concurrency == 4:
                sides.append((server, skeletons))
            home, floor, *skeleton = alternating_loads(
                url, sides, concurrency=concurrency, seconds=args.seconds, rounds=args.rounds
            )
            c = f"c={concurrency}"
            rows += side_rows("homepages", home, floor, c)
            for bare in skeleton:
                rows += side_rows("skeleton (nothing computed)", bare, floor, c)
        orjson_floor = load(
            server.port,
            [(f"/bench/floor-orjson/?bytes={body}", {})],
            concurrency=4,
            seconds=args.seconds / 2,
        )
        rows.append(
            (
                "floor with the project's orjson renderer, requests/s c=4",
                f"{orjson_floor['rps']:.0f}",
                "",
                "",
            )
        )
    load_average = os.getloadavg()
    rows += [
        (
            "load average (1, 5, 15 min) at the end",
            " ".join(f"{x:.1f}" for x in load_average),
            "",
            "",
        ),
        ("first request, cold worker ms", f"{cold_first[0]:.0f}", "", ""),
        ("second request, cold worker ms", f"{cold_second[0]:.0f}", "", ""),
        ("start-up with warm-up s", f"{start_seconds:.1f}", "", ""),
        ("first request, warm-started ms", f"{warm_first[0]:.0f}", "", ""),
    ]
    failed = [r for r in (cold_first, cold_second, warm_first, *probe) if r[1] != 200]
    if failed:
        rows.append(("errors outside the windows", str(len(failed)), "", ""))
    print_table(
        f"Homepage API vs a minimal DRF endpoint, same {body} B body "
        f"({args.workers} gunicorn workers; goal: p50 < 25 ms, p99 < 80 ms at c=4, >= 35%)",
        rows,
    )
    print(
        json.dumps(
            {
                "body_bytes": body,
                "cold_first_ms": round(cold_first[0], 1),
                "startup_with_warmup_s": round(start_seconds, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
