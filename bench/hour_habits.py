"""Whether the learning loop finds the simulated households' hour and device habits.

    python manage.py seed_demo --titles 200 --profiles 150 --seed 5 --as-of 2026-12-01
    python manage.py train_models --at 2026-12-01
    python manage.py simulate_traffic --profiles 150 --sessions 20 --days 6 --seed 1 \\
        --until 2026-12-01
    python manage.py train_models --at 2026-12-01
    python manage.py update_artwork_policy --full
    python bench/hour_habits.py --at 2026-12-01

Not a speed figure: the quality side of the row ranker and the artwork policy, on
the database ``DATABASE_URL`` names, against the hidden tastes ``seed_demo`` wrote
for it.

Rows: every simulated profile's TV homepage at a local hour of each of the hidden
tastes' parts of the day (:data:`HABIT_HOURS`); for each two parts whose
favourite row type (of those both pages show) differs, how many rows higher the
first part's favourite sits at its own hour than at the other's
(:func:`hour_habit_shifts`), and its place on its own part's page. Per row
ranker: the served one (each region's active version's), the prior, and one
blind to the profile's own engagement.

Artwork: for every simulated profile, each device of its habits, every title
with frames of different appeal to it there (its hidden theme taste on that
device), how often the active policy picks a frame it likes best, against
chance (a uniform pick) and against the same policy told the wrong device
(``tv`` <-> ``mobile``, ``tablet`` <-> ``web``): what the device adds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import django

django.setup()

import numpy as np  # noqa: E402
from django.utils import timezone  # noqa: E402

from artwork.models import ArtworkVariant  # noqa: E402
from artwork.selection import artwork_choose  # noqa: E402
from profiles.models import Profile  # noqa: E402
from recommendations.demo import load_hidden_tastes  # noqa: E402
from recommendations.demo.tastes import HiddenTaste  # noqa: E402
from recommendations.demo.traffic import page_id_at  # noqa: E402
from recommendations.engine.row_ranking import (  # noqa: E402
    PROFILE_FEATURES,
    ROW_FEATURE_NAMES,
    RowRanker,
)
from recommendations.management.options import moment  # noqa: E402
from recommendations.models import ModelVersion, PageLog  # noqa: E402
from recommendations.serving import artefacts, homepage  # noqa: E402
from regions.models import Region  # noqa: E402

#: A local hour in each of the hidden tastes' parts of the day, each in a row ranker hour
#: bucket of its own (``row_order_outcomes``' 20 and 23 share one, 20-24, so no ranker
#: can tell those two parts apart there).
HABIT_HOURS = {"morning": 8, "afternoon": 14, "evening": 18, "late_night": 1}
#: The device whose context the control's picks are made in.
WRONG_DEVICE = {"tv": "mobile", "mobile": "tv", "tablet": "web", "web": "tablet"}
DRAWS = 4


@dataclass(frozen=True, slots=True)
class HourHabitShifts:
    """One entry per (profile, part of the day, other part) whose hidden favourites, among
    the row types both pages show, differ: ``rise`` is how many rows higher the first
    part's favourite sits on its own part's page than on the other's (0: it did not
    move), ``rank`` its place among its own page's row types (0: first)."""

    profile: np.ndarray
    rise: np.ndarray
    rank: np.ndarray


def hour_habit_shifts(*, tastes: dict[int, HiddenTaste], at: dt.datetime) -> HourHabitShifts:
    """Build every simulated profile's TV homepage at :data:`HABIT_HOURS` (its region's
    local hours) of the day before ``at``, seeded as ``row_order_outcomes`` seeds them (two
    rankers see the same pages), and place each part's favourite row type on both pages."""
    zones = {c: zoneinfo.ZoneInfo(z) for c, z in Region.objects.values_list("code", "time_zone")}
    simulated = Profile.objects.select_related("account").filter(
        pk__in=PageLog.objects.values("profile_id")
    )
    profiles, rises, ranks = [], [], []
    for profile in simulated.order_by("pk"):
        taste = tastes.get(profile.pk)
        if taste is None:
            continue
        yesterday = at.astimezone(zones[profile.account.home_region_id]) - dt.timedelta(days=1)
        orders = {}
        for moment_index, (part, hour) in enumerate(HABIT_HOURS.items()):
            moment_at = yesterday.replace(hour=hour, minute=0, second=0, microsecond=0)
            page = homepage.homepage_build(
                profile=profile,
                device="tv",
                at=at,
                context_at=moment_at,
                page_id=page_id_at(moment_at, np.random.default_rng([profile.pk, moment_index])),
            )
            orders[part] = list(dict.fromkeys(row.type for row in page.rows))
        for part, own in orders.items():
            for other_part, other in orders.items():
                both = [row_type for row_type in own if row_type in other]
                if other_part == part or len(both) < 2:
                    continue
                favourite = max(both, key=taste.row_types[part].__getitem__)
                if favourite == max(both, key=taste.row_types[other_part].__getitem__):
                    continue
                profiles.append(profile.pk)
                rises.append(other.index(favourite) - own.index(favourite))
                ranks.append(own.index(favourite))
    return HourHabitShifts(np.array(profiles), np.array(rises), np.array(ranks))


def shifts(
    rankers: Callable[[object], RowRanker] | None, tastes: dict, at: dt.datetime
) -> HourHabitShifts:
    """:func:`hour_habit_shifts` with every page's row ranker given by ``rankers``."""
    served = homepage.row_ranker_cache.get
    if rankers is not None:
        homepage.row_ranker_cache.get = rankers
    try:
        return hour_habit_shifts(tastes=tastes, at=at)
    finally:
        homepage.row_ranker_cache.get = served


def blind(bundle: object) -> RowRanker:
    ranker = RowRanker()
    for name in PROFILE_FEATURES:
        ranker.coef[ROW_FEATURE_NAMES.index(name)] = 0.0
    return ranker


def artwork_hits(
    tastes: dict[int, HiddenTaste], at: dt.datetime, *, wrong_device: bool
) -> dict[str, tuple[float, float, int]]:
    """Per device: (share of picks among the frames the profile likes best there, that share
    for a uniform pick, picks)."""
    frames: dict[int, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
    variants = ArtworkVariant.objects.filter(is_active=True).prefetch_related("themes")
    for variant in variants.order_by("title_id", "pk"):
        themes = tuple(sorted(t.slug for t in variant.themes.all()))
        frames[variant.title_id].append((variant.pk, themes))
    titles = sorted(t for t, found in frames.items() if len(found) >= 2)
    counts: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    simulated = Profile.objects.select_related("account").filter(
        pk__in=PageLog.objects.values("profile_id")
    )
    for profile in simulated.order_by("pk"):
        taste = tastes.get(profile.pk)
        if taste is None:
            continue
        # The genre taste the page logs and the policy reads, as of the moment measured.
        page_taste = homepage.homepage_build(profile=profile, device="tv", at=at).taste
        for device in taste.devices:
            for draw in range(DRAWS):
                picks = artwork_choose(
                    title_ids=titles,
                    device=WRONG_DEVICE[device] if wrong_device else device,
                    maturity_limit=profile.maturity_limit,
                    taste=page_taste,
                    hour=20,
                    seed=profile.pk * 100 + draw,
                )
                for title, chosen in zip(titles, picks.variant.tolist(), strict=True):
                    appeal = {v: taste.theme_affinity(device, t) for v, t in frames[title]}
                    if chosen not in appeal:  # no frame, or one only for the other device
                        continue
                    top = max(appeal.values())
                    best = {v for v, a in appeal.items() if a >= top - 1e-9}
                    if len(best) == len(appeal):
                        continue
                    tally = counts[device]
                    tally[0] += chosen in best
                    tally[1] += len(best) / len(appeal)
                    tally[2] += 1
    return {d: (hit / n, chance / n, int(n)) for d, (hit, chance, n) in sorted(counts.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--at",
        type=moment,
        default=None,
        help="pages as of this moment, of the day before it (default now)",
    )
    args = parser.parse_args()
    at = args.at or timezone.now()
    tastes = load_hidden_tastes()
    print(
        f"{'row ranker':<36} {'pairs':>5} {'profiles':>8} {'rise':>6} {'s.e.':>5}"
        f" {'higher':>6} {'lower':>5} {'place':>5}"
    )
    for name, rankers in (
        ("served (active versions')", None),
        ("prior (as shipped)", lambda bundle: RowRanker()),
        ("blind to the profile", blind),
    ):
        found = shifts(rankers, tastes, at)
        rise = found.rise.astype(np.float64)
        print(
            f"{name:<36} {len(rise):>5} {len(set(found.profile.tolist())):>8}"
            f" {rise.mean():>+6.3f} {rise.std() / np.sqrt(len(rise)):>5.3f}"
            f" {int((rise > 0).sum()):>6} {int((rise < 0).sum()):>5} {found.rank.mean():>5.2f}"
        )
    print(f"\n{'row ranker term':<36} {'prior':>6}  learned by the active versions")
    learned = []
    for version in ModelVersion.objects.filter(status="active").order_by("pk"):
        ranker = RowRanker.load(artefacts.artefact_read(version.artefact_key, homepage.ROW_RANKER))
        if ranker.mode == "learned":
            learned.append((version.region_id or "global", ranker.coef))
    print(f"{'':<36} {'':>6}  " + " ".join(f"{name:>7}" for name, _ in learned))
    for term in (*PROFILE_FEATURES, "strength"):
        column = ROW_FEATURE_NAMES.index(term)
        values = " ".join(f"{coef[column]:>+7.2f}" for _, coef in learned)
        print(f"{term:<36} {RowRanker().coef[column]:>+6.2f}  {values}")
    header = f"{'artwork (active policy)':<24} {'device':<7} {'best frame':>10} {'chance':>7}"
    print(f"\n{header} {'n':>7}")
    for label, wrong in (("told its device", False), ("told the wrong device", True)):
        for device, (hit, chance, n) in artwork_hits(tastes, at, wrong_device=wrong).items():
            print(f"{label:<24} {device:<7} {hit:>10.3f} {chance:>7.3f} {n:>7}")


if __name__ == "__main__":
    main()
