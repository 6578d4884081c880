"""Whether the demo's profiles with one dominant language get that language's row.

    make demo-data        # or any seeded, trained demo database
    python bench/language_rows.py [--profiles 800] [--rows 12] [--items 20]

Not a speed figure: the product side of how language rows are filled, on the
database ``DATABASE_URL`` names (the demo's SQLite by default). A profile's
dominant language is the top language of its planted taste (the demo's
hidden tastes, ``seed_demo``: 55-80% of its plays go to it); Kids profiles
are left out (their pages are a handful of titles within their limit). The page of
each profile is built, not logged, on every device class at three moments of
next Tuesday (8, 14 and 21 h in the profile's region), through the code the
API and the console use, with the row trace (:class:`RowTrace`) saying why a
proposed row is not on the page. Printed: how many profiles get a row of their
dominant language on no page, on some, on every one, why the row was missing
where it was (not proposed, or the trace's reason for dropping it), and, for the
pages that drop it for bringing too few new titles, how many titles of the language
the profile may watch the page does not show anywhere (what any rule that keeps
rows from repeating could still give it). The figures
quoted in docs/recommendations.md ("Language rows") come from here.
"""

from __future__ import annotations

import argparse
import os
import re
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
from recommendations.demo import load_hidden_tastes  # noqa: E402
from recommendations.engine.ranking import DEVICE_CLASSES  # noqa: E402
from recommendations.serving.homepage import RowTrace, homepage_build  # noqa: E402
from recommendations.serving.recommend import profile_serving  # noqa: E402

#: Next Tuesday's morning, afternoon and evening, local time.
MOMENTS = ((1, 8), (1, 14), (1, 21))
TOO_FEW = "too few new titles"


def _left_to_show(profile: Profile, language: str, at, shown: set[int]) -> int:
    """Titles of ``language`` the profile may watch at ``at`` that no row of the page shows.

    Offered in its region, within its limit, neither finished, being resumed nor rated
    down: what any row could still bring as new (an upper bound: a title close to one
    rated down is counted).
    """
    serving = profile_serving(profile=profile, at=at)
    catalogue, history = serving.catalogue, serving.history
    facts = catalogue.facts
    if language not in facts.language_codes:
        return 0
    may = catalogue.region(profile.account.home_region_id).available(at.timestamp()) & (
        facts.maturity <= profile.maturity_limit
    )
    may = may & (facts.language == facts.language_codes.index(language))
    may[history.state_title[history.completed | history.in_progress | history.thumbs_down]] = False
    ids = serving.bundle.index.title_ids[may]
    return len(set(ids.tolist()) - shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=800)
    parser.add_argument("--rows", type=int, default=12)
    parser.add_argument("--items", type=int, default=20)
    args = parser.parse_args()
    tastes = load_hidden_tastes()
    profiles = list(Profile.objects.select_related("account__home_region").order_by("pk"))
    profiles = [p for p in profiles[: args.profiles] if not p.is_kids and p.pk in tastes]
    now = timezone.now()
    pages_with: Counter[str] = Counter()  # "none", "some", "all"
    missing: Counter[str] = Counter()
    left: Counter[str] = Counter()  # pages dropping it as too thin, by titles left to show
    new_titles = shown_titles = 0
    n_pages = 0
    with tqdm(total=len(profiles) * len(MOMENTS) * len(DEVICE_CLASSES), unit="page") as bar:
        for profile in profiles:
            languages = tastes[profile.pk].languages
            dominant = max(languages, key=languages.get)
            row_id = f"language:{dominant}"
            zone = region_zone(profile.account.home_region)
            got = 0
            for weekday, hour in MOMENTS:
                at = local_moment(weekday=weekday, hour=hour, zone=zone, now=now)
                for device in DEVICE_CLASSES:
                    trace = RowTrace()
                    page = homepage_build(
                        profile=profile,
                        device=device,
                        at=at,
                        n_rows=args.rows,
                        n_items=args.items,
                        trace=trace,
                    )
                    n_pages += 1
                    bar.update()
                    above: set[int] = set()
                    for row in page.rows:
                        titles = [item.title_id for item in row.items]
                        if row.id == row_id:
                            got += 1
                            shown_titles += len(titles)
                            new_titles += len(set(titles) - above)
                            break
                        above.update(titles)
                    else:
                        if row_id not in trace.row_ids:
                            missing["not proposed"] += 1
                        else:
                            reason = trace.dropped.get(trace.row_ids.index(row_id), "?")
                            missing[re.sub(r"\d+", "N", reason)] += 1
                            if reason.startswith(TOO_FEW):
                                shown = {i.title_id for row in page.rows for i in row.items}
                                n = _left_to_show(profile, dominant, at, shown)
                                left["none" if n == 0 else "1-3" if n < 4 else "4+"] += 1
            total = len(MOMENTS) * len(DEVICE_CLASSES)
            pages_with["none" if got == 0 else "all" if got == total else "some"] += 1
    print(
        f"\n{len(profiles)} profiles (not Kids) with a dominant language, {n_pages:,} pages "
        f"({len(DEVICE_CLASSES)} devices, {len(MOMENTS)} moments), rows={args.rows}, "
        f"items={args.items}"
    )
    print("profiles whose dominant language has a row:")
    for band in ("none", "some", "all"):
        print(f"  on {band:<4} of their pages: {pages_with[band]:>5,}")
    if shown_titles:
        print(
            f"the row's titles: {shown_titles:,}, of which new (no row above shows them): "
            f"{new_titles:,}"
        )
    print("pages without it, by why:")
    for reason, count in missing.most_common():
        print(f"  {count:>6,}  {reason}")
    if left:
        print(
            "pages dropping it as too thin, by titles of the language the profile may watch "
            "that no row of the page shows:"
        )
        for band in ("none", "1-3", "4+"):
            print(f"  {band:<4} {left[band]:>6,}")


if __name__ == "__main__":
    main()
