"""Signal ingest through the real API (gunicorn, PostgreSQL) beside a raw COPY of the same rows.

    python bench/ingest.py [--batches 240] [--batch-size 500] [--concurrency 4]

The API figure includes HTTP, authentication, JSON parsing, validation of every
event, reference checks, the idempotency check, the derived-state update and
the insert; COPY is the floor for getting the same rows into the same table.
The load generator runs on the same two cores as gunicorn and PostgreSQL.
"""

import argparse
import datetime as dt
import http.client
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._harness import (
    ROOT,
    bench_database_url,
    database_cpu,
    django_env,
    ensure_database,
    gunicorn_server,
    print_table,
    process_tree_cpu,
    setup_django,
)


def build_fixture(n_titles: int, n_profiles: int) -> tuple[list[int], list[tuple[int, str]]]:
    """Titles available in IN and profiles with tokens; returns title ids and (profile, key)."""
    from accounts.models import Account
    from accounts.services import api_token_create
    from catalog.models import Language, Title
    from profiles.models import Profile
    from regions.models import Availability, Region

    hindi, _ = Language.objects.get_or_create(
        code="hi", defaults={"name": "Hindi", "native_name": "हिन्दी"}
    )
    region, _ = Region.objects.get_or_create(
        code="IN",
        defaults={"name": "India", "default_language": hindi, "time_zone": "Asia/Kolkata"},
    )
    titles = Title.objects.bulk_create(
        Title(
            kind="film",
            original_name=f"Bench {i}",
            original_language=hindi,
            release_date=dt.date(2020, 1, 1),
            runtime_minutes=100,
        )
        for i in range(n_titles)
    )
    Availability.objects.bulk_create(Availability(title=t, region=region) for t in titles)
    profiles = []
    for a in range(n_profiles):
        account = Account.objects.create(name=f"Bench household {a}", home_region=region)
        profile = Profile.objects.create(account=account, name="Main", slot=1)
        profiles.append((profile.pk, api_token_create(account=account)[1]))
    return [t.pk for t in titles], profiles


def make_batch(rng: random.Random, title_ids: list[int], size: int) -> list[dict]:
    """What one profile's app sends after a browsing session: a realistic mix, not uniform noise.

    Mostly impressions of the titles on the pages it rendered, hovers on some,
    a handful of titles played with progress checkpoints, the odd completion
    and thumbs, and one fast scroll past a row.
    """
    now = dt.datetime.now(dt.UTC)
    session_start = now - dt.timedelta(seconds=rng.randrange(3_600, 86_400 * 7))
    device = rng.choice(("tv", "mobile", "tablet", "web"))
    shown = rng.sample(title_ids, 240)
    played = rng.sample(shown, 4)
    events: list[dict] = []

    def add(kind: str, title: int | None, **extra: object) -> None:
        seconds = len(events) * 3 + rng.randrange(3)
        events.append(
            {
                "kind": kind,
                "title": title,
                "device": device,
                "occurred_at": (session_start + dt.timedelta(seconds=seconds)).isoformat(),
                "client_event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                **extra,
            }
        )

    page_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    skips = 0
    # As the client contract has it: a tile on screen once per page (the service stores no
    # repeat); a batch that has reported every tile of its page goes on with a new page.
    unseen = rng.sample(range(240), 240)
    while len(events) < size:
        roll = rng.random()
        if roll < 0.62:
            if not unseen:
                page_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                unseen = rng.sample(range(240), 240)
            position = unseen.pop()
            add(
                "impression",
                shown[position],
                page_id=page_id,
                row=f"row-{position // 20}",
                position=position % 20,
            )
        elif roll < 0.80:
            add("hover", rng.choice(shown), value=rng.randrange(200, 4000))
        elif roll < 0.83:
            add("play_start", rng.choice(played))
        elif roll < 0.97:
            add("progress", rng.choice(played), value=rng.randrange(1, 100))
        elif roll < 0.98:
            add("complete", rng.choice(played))
        elif roll < 0.99:
            add(rng.choice(("thumbs_up", "thumbs_down")), rng.choice(played))
        else:
            # As the client contract has it: the page and a row of it, once per row.
            skips += 1
            add("row_scroll_past", None, page_id=page_id, row=f"row-{skips}")
    return [{k: v for k, v in e.items() if v is not None} for e in events]


def send_all(port: int, jobs: list[tuple[int, str, bytes]], concurrency: int) -> tuple[float, int]:
    """POST every job over keep-alive connections; return elapsed seconds and events stored."""
    lock = threading.Lock()
    queue = list(reversed(jobs))
    stored = [0]
    failures: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                profile_id, key, body = queue.pop()
            conn.request(
                "POST",
                f"/api/v1/profiles/{profile_id}/signals/",
                body=body,
                headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            payload = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {payload[:300]!r}")
                continue
            with lock:
                stored[0] += json.loads(payload)["new"]
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, first: {failures[0]}")
    return elapsed, stored[0]


def copy_rate(database_url: str, jobs: list[tuple[int, str, bytes]]) -> tuple[float, int]:
    """COPY the same events into the same table (after emptying it), timing only the COPY."""
    import psycopg

    rows = []
    now = dt.datetime.now(dt.UTC)
    for profile_id, _, body in jobs:
        for e in json.loads(body)["events"]:
            rows.append(
                (
                    profile_id,
                    e.get("title"),
                    e["kind"],
                    e.get("value"),
                    e["device"],
                    e["occurred_at"],
                    now,
                    e["client_event_id"],
                    e.get("page_id"),
                    e.get("row", ""),
                    e.get("position"),
                    False,
                )
            )
    with psycopg.connect(database_url) as conn:
        conn.execute("TRUNCATE recommendations_signal")
        conn.commit()
        start = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY recommendations_signal (profile_id, title_id, kind, value, device, "
                "occurred_at,"
                " received_at, client_event_id, page_id, row, position, is_rewatch) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - start
    return elapsed, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    database_url = bench_database_url("tonight_bench_ingest")
    ensure_database(database_url, fresh=True)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"],
        cwd=ROOT,
        env=django_env(database_url),
        check=True,
    )
    setup_django(database_url)
    title_ids, profiles = build_fixture(n_titles=3000, n_profiles=max(8, args.batches // 4))
    # A live catalogue has planner statistics; tables filled a moment ago have none (autovacuum
    # has not come round yet), and the reference check would be planned for empty tables.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    rng = random.Random(7)
    jobs = []
    for i in range(args.batches):
        profile_id, key = profiles[i % len(profiles)]
        body = json.dumps({"events": make_batch(rng, title_ids, args.batch_size)}).encode()
        jobs.append((profile_id, key, body))
    warmup, jobs = jobs[: args.concurrency * 2], jobs[args.concurrency * 2 :]

    with gunicorn_server(database_url, workers=args.workers) as server:
        send_all(server.port, warmup, args.concurrency)
        web_before, db_before = process_tree_cpu(server.pid), database_cpu(database_url)
        client_before = time.process_time()
        api_seconds, stored = send_all(server.port, jobs, args.concurrency)
        web_cpu = process_tree_cpu(server.pid) - web_before
        db_cpu = database_cpu(database_url) - db_before
        client_cpu = time.process_time() - client_before
    events = sum(len(json.loads(b)["events"]) for _, _, b in jobs)
    assert stored == events, f"stored {stored} of {events} events"
    copy_seconds, copied = copy_rate(database_url, jobs)

    api_rate = events / api_seconds
    copy_per_s = copied / copy_seconds
    print_table(
        f"Signal ingest: {events:,} events in batches of {args.batch_size}, "
        f"concurrency {args.concurrency}, gunicorn workers {args.workers}",
        [
            (
                "events/s (API vs raw COPY)",
                f"{api_rate:,.0f}",
                f"{copy_per_s:,.0f}",
                f"{api_rate / copy_per_s:.3f}",
            ),
            (
                "ms per batch of 500",
                f"{api_seconds / len(jobs) * 1000 * args.concurrency:.1f}",
                f"{copy_seconds / len(jobs) * 1000:.1f}",
                "",
            ),
        ],
    )
    per_batch = 1000 / len(jobs)
    print(
        f"  CPU per batch of {args.batch_size}: gunicorn {web_cpu * per_batch:.1f} ms, "
        f"PostgreSQL (this database's backends) {db_cpu * per_batch:.1f} ms, "
        f"load generator {client_cpu * per_batch:.1f} ms"
    )
    print(
        "  goal: >= 20,000 events/s through the API -> "
        + ("met" if api_rate >= 20_000 else "NOT met")
    )


if __name__ == "__main__":
    main()
