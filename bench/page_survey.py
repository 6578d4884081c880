"""What the demo's homepages are made of: rows a page, and how much rows repeat each other.

    make demo-data        # or any seeded, trained database
    python bench/page_survey.py [--profiles 800] [--rows 12] [--items 20]

Not a speed figure: the product side of a change to how rows are chosen, on
the database ``DATABASE_URL`` names (the demo's SQLite by default). The page
of each of the first ``--profiles`` profiles is built, not logged, on every
device class at three moments of next Tuesday (8, 14 and 21 h in the
profile's region), through the code the API and the console use. Printed:
rows a page; the rows below the first screen by how many titles they bring
that no row above them shows (none, one to three, four or more), for the
rows that explain themselves ("Because you watched/liked X") and the rest;
and the pages holding two rows that share over 80% of the shorter one's
titles, with the row types most often in such a pair. The figures quoted in
docs/recommendations.md ("Below the first screen") come from here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import django

django.setup()

from django.utils import timezone  # noqa: E402
from tqdm import tqdm  # noqa: E402

from console.moments import local_moment, region_zone  # noqa: E402
from profiles.models import Profile  # noqa: E402
from recommendations.engine.ranking import DEVICE_CLASSES  # noqa: E402
from recommendations.serving.homepage import FIRST_SCREEN_ROWS, Page, homepage_build  # noqa: E402

#: Next Tuesday's morning, afternoon and evening, local time.
MOMENTS = ((1, 8), (1, 14), (1, 21))
EXPLAINING = frozenset({"because_you_watched", "because_you_liked"})
#: Two rows "share" titles when this much of the shorter one is in the other.
OVERLAP = 0.8


def _new_counts(page: Page) -> list[tuple[str, int]]:
    """Each row below the first screen: its type and how many titles no row above shows."""
    above = {item.title_id for row in page.rows[:FIRST_SCREEN_ROWS] for item in row.items}
    counts = []
    for row in page.rows[FIRST_SCREEN_ROWS:]:
        titles = {item.title_id for item in row.items}
        counts.append((row.type, len(titles - above)))
        above |= titles
    return counts


def _overlapping_pairs(page: Page) -> list[tuple[str, str]]:
    rows = [(row.type, {item.title_id for item in row.items}) for row in page.rows]
    pairs = []
    for i, (type_a, a) in enumerate(rows):
        for type_b, b in rows[i + 1 :]:
            if a and b and len(a & b) > OVERLAP * min(len(a), len(b)):
                pairs.append(tuple(sorted((type_a, type_b))))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=800)
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    profiles = list(Profile.objects.select_related("account__home_region").order_by("pk"))
    profiles = profiles[: args.profiles]
    now = timezone.now()
    n_pages = n_rows = 0
    below: Counter[tuple[str, str]] = Counter()
    pages_with_pair = 0
    pair_types: Counter[tuple[str, str]] = Counter()
    with tqdm(total=len(profiles) * len(MOMENTS) * len(DEVICE_CLASSES), unit="page") as bar:
        for profile in profiles:
            zone = region_zone(profile.account.home_region)
            for weekday, hour in MOMENTS:
                at = local_moment(weekday=weekday, hour=hour, zone=zone, now=now)
                for device in DEVICE_CLASSES:
                    page = homepage_build(
                        profile=profile, device=device, at=at, n_rows=args.rows, n_items=args.items
                    )
                    n_pages += 1
                    n_rows += len(page.rows)
                    for row_type, new in _new_counts(page):
                        kind = "explaining" if row_type in EXPLAINING else "other"
                        band = "none" if new == 0 else "1-3" if new < 4 else "4+"
                        below[kind, band] += 1
                    pairs = _overlapping_pairs(page)
                    pages_with_pair += bool(pairs)
                    pair_types.update(pairs)
                    bar.update()
    print(
        f"\n{n_pages:,} pages ({len(profiles)} profiles, {len(DEVICE_CLASSES)} devices, "
        f"{len(MOMENTS)} moments), rows={args.rows}, items={args.items}"
    )
    print(f"rows a page: {n_rows / n_pages:.2f}")
    print("rows below the first screen, by titles no row above shows:")
    print(f"  {'':<36} {'none':>7} {'1-3':>7} {'4+':>7}")
    for kind, label in (("explaining", "Because you watched/liked"), ("other", "every other row")):
        counts = [below[kind, band] for band in ("none", "1-3", "4+")]
        print(f"  {label:<36} {counts[0]:>7,} {counts[1]:>7,} {counts[2]:>7,}")
    print(f"pages with two rows sharing over {OVERLAP:.0%} of titles: {pages_with_pair:,}")
    for (type_a, type_b), count in pair_types.most_common(5):
        print(f"  {type_a} + {type_b}: {count:,}")


if __name__ == "__main__":
    main()
