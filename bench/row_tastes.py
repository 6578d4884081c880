"""How well served row orders follow the simulated households' hidden row tastes.

    make demo-data        # or any database simulate_traffic has driven
    python bench/row_tastes.py [--weights 0.5 1] [--at 2026-12-01]
        [--tastes var/demo/<database>/hidden_tastes.json]

Not a speed figure: the quality side of a row-ranking change, on the
database ``DATABASE_URL`` names (the demo's SQLite by default). For every
Indian profile the simulation drove, its homepage is built on a TV at four
moments of yesterday (9, 14, 20 and 23 h), and the order of its row types is
rank-correlated with that profile's hidden taste for row types in that part
of the day (1: the same order, 0: unrelated), and the chance that the
simulated viewer starts a play from that page (P(play): what a row order is
for; the same viewers' draws for every ranker, so each ranker's difference
from the prior's is paired). Printed per row-ranker variant, side by side:
the served ranker (the active version's), the prior as shipped (the
baseline of "vs prior"), the prior with ``seen_rate_lift`` weighed at each of
``--weights``, and a ranker blind to the profile's own engagement (the
baseline any personalisation must beat), each with its standard error over
the profile-moments. Then the title ranker's part: P(play) of the served
pages against the same pages with the prior blend as every version's title
ranker.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import django

django.setup()

import numpy as np  # noqa: E402

from recommendations.demo import load_hidden_tastes  # noqa: E402
from recommendations.demo.traffic import RowOrderOutcomes, row_order_outcomes  # noqa: E402
from recommendations.engine.ranking import PlayRanker  # noqa: E402
from recommendations.engine.row_ranking import (  # noqa: E402
    PROFILE_FEATURES,
    ROW_FEATURE_NAMES,
    RowRanker,
)
from recommendations.management.options import moment  # noqa: E402
from recommendations.serving import homepage  # noqa: E402
from recommendations.serving.cache import model_cache  # noqa: E402


def outcomes(
    rankers: Callable[[object], RowRanker] | None, tastes: dict, at: dt.datetime | None
) -> RowOrderOutcomes:
    """:func:`row_order_outcomes` with every page's row ranker given by ``rankers``."""
    served = homepage.row_ranker_cache.get
    if rankers is not None:
        homepage.row_ranker_cache.get = rankers
    try:
        return row_order_outcomes(tastes=tastes, region="IN", at=at)
    finally:
        homepage.row_ranker_cache.get = served


def with_prior_title_ranker(tastes: dict, at: dt.datetime | None) -> RowOrderOutcomes:
    """:func:`row_order_outcomes` with every version's title ranker replaced by the prior
    blend (the served row ranker kept): what the learned title ranker adds."""
    stored = PlayRanker.__dict__["load"]
    PlayRanker.load = classmethod(lambda cls, source: cls())  # type: ignore[method-assign]
    model_cache.clear()
    try:
        return row_order_outcomes(tastes=tastes, region="IN", at=at)
    finally:
        PlayRanker.load = stored  # type: ignore[method-assign]
        model_cache.clear()


def prior_with(**weights: float) -> Callable[[object], RowRanker]:
    def ranker(bundle: object) -> RowRanker:
        prior = RowRanker()
        for name, weight in weights.items():
            prior.coef[ROW_FEATURE_NAMES.index(name)] = weight
        return prior

    return ranker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=float, nargs="*", default=[0.5, 1.0])
    parser.add_argument(
        "--tastes", type=Path, default=None, help="default: this database's (seed_demo's file)"
    )
    parser.add_argument(
        "--at",
        type=moment,
        default=None,
        help="pages as of this moment, of the day before it (default now; simulate_traffic "
        "--until's moment measures a world of a fixed clock the same on any day)",
    )
    args = parser.parse_args()
    variants: list[tuple[str, Callable[[object], RowRanker] | None]] = [
        ("served (active version's row ranker)", None),
        ("prior (as shipped)", lambda bundle: RowRanker()),
        *(
            (f"prior, seen_rate_lift weighed {w:g}", prior_with(seen_rate_lift=w))
            for w in args.weights
        ),
        ("blind to the profile (baseline)", prior_with(**dict.fromkeys(PROFILE_FEATURES, 0.0))),
    ]
    tastes = load_hidden_tastes(path=args.tastes)
    print(
        f"{'row ranker':<42} {'agreement':>9} {'s.e.':>6} {'n':>5}"
        f" {'P(play)':>8} {'vs prior':>9} {'s.e.':>6} {'n':>5}"
    )
    measured = []
    for name, rankers in variants:
        measured.append((name, outcomes(rankers, tastes, args.at)))
    baseline = measured[1][1].play  # the prior as shipped
    for name, result in measured:
        scores, play = result.agreement, result.play
        lift = play - baseline  # paired: every variant's pages meet the same simulated viewers
        print(
            f"{name:<42} {scores.mean():>9.3f} {_error(scores):>6.3f} {len(scores):>5}"
            f" {play.mean():>8.4f} {lift.mean():>+9.4f} {_error(lift):>6.4f} {len(play):>5}"
        )
    served, blend = measured[0][1].play, with_prior_title_ranker(tastes, args.at).play
    print(f"\n{'title ranker (served row ranker)':<42} {'P(play)':>8} {'vs prior':>9} {'s.e.':>6}")
    for name, play in (("served (active version's)", served), ("prior blend", blend)):
        lift = play - blend
        print(f"{name:<42} {play.mean():>8.4f} {lift.mean():>+9.4f} {_error(lift):>6.4f}")


def _error(values: np.ndarray) -> float:
    return float(values.std() / np.sqrt(max(len(values), 1)))


if __name__ == "__main__":
    main()
