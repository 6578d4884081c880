"""How much the row order depends on the title ranker's probability scale, through ``strength``.

    make demo-data        # or any database simulate_traffic has driven
    python bench/row_strength_scale.py [--profiles 200] [--at 2026-12-01]

Not a speed figure. A row's ``strength`` (the row ranker's feature) is the
title ranker's mean play probability of the row's first titles, computed at
serving with the serving version's title ranker and learned from the
strengths logged with each page, whatever title ranker served it. The prior
blend's probabilities are several times a calibrated learned ranker's, so
the weight strength has against row type and habits changes with the title
ranker. Printed, on the database ``DATABASE_URL`` names:

1. The logged strengths per model version (its title ranker prior or
   learned): their spread, and the spread within a page (std, max - min).
2. For the first ``--profiles`` profiles with logged pages, a TV homepage at
   9, 14, 20 and 23 h of the day before ``--at`` (default now): each page's
   candidate rows with their strengths by the served title ranker, and by
   the prior blend on the same pool (its features as served: only the
   ranker's coefficients and calibration differ), for the pages served by a
   learned title ranker. The served row ranker orders both, through
   ``_rows_choose`` as the page is placed: Kendall tau of the candidate
   rows' scores, the share of first screens (``FIRST_SCREEN_ROWS``) that
   change, and the strength term's share of the within-page variance of the
   row logits.
3. :func:`~recommendations.demo.traffic.row_order_outcomes` (the measure of
   ``bench/row_tastes.py``: agreement with the Indian profiles' hidden row
   tastes, and P(play)) with the served strengths, the prior blend's, and
   none: whether the order strength makes is better or worse, not only
   different.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import django

django.setup()

import numpy as np  # noqa: E402
from django.utils import timezone  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402

from profiles.models import Profile  # noqa: E402
from recommendations.demo import load_hidden_tastes  # noqa: E402
from recommendations.demo.traffic import row_order_outcomes  # noqa: E402
from recommendations.engine.ranking import PlayRanker  # noqa: E402
from recommendations.engine.row_ranking import ROW_FEATURE_NAMES  # noqa: E402
from recommendations.management.options import moment  # noqa: E402
from recommendations.models import ModelVersion, PageLog  # noqa: E402
from recommendations.serving import homepage, scoring  # noqa: E402

STRENGTH = ROW_FEATURE_NAMES.index("strength")
HOURS = (9, 14, 20, 23)


def logged_strengths() -> None:
    versions = {v.pk: v for v in ModelVersion.objects.select_related("taste_cluster")}
    pages_of: dict[int | None, list[np.ndarray]] = defaultdict(list)
    for version, rows in PageLog.objects.values_list("model_version_id", "rows").iterator():
        if rows:
            pages_of[version].append(np.array([float(row[2]) for row in rows]))
    print(
        f"{'version':>7} {'scope':<18} {'title ranker':<12} {'pages':>5} {'rows':>5}"
        f" {'p10':>6} {'p50':>6} {'p90':>6} {'mean':>6} {'page std':>8} {'max-min':>8}"
    )
    for pk in sorted(pages_of, key=lambda k: (k is None, k or 0)):
        pages = pages_of[pk]
        flat = np.concatenate(pages)
        several = [p for p in pages if p.shape[0] > 1]
        version = versions.get(pk) if pk is not None else None
        p10, p50, p90 = np.percentile(flat, [10, 50, 90])
        print(
            f"{pk!s:>7} {version.scope_label if version else '?':<18.18}"
            f" {version.serving_mode if version else '?':<12} {len(pages):>5} {flat.shape[0]:>5}"
            f" {p10:>6.3f} {p50:>6.3f} {p90:>6.3f} {flat.mean():>6.3f}"
            f" {np.mean([p.std() for p in several]):>8.4f}"
            f" {np.mean([p.max() - p.min() for p in several]):>8.4f}"
        )


@contextmanager
def captured() -> Iterator[dict[str, Any]]:
    """Keep what a homepage build ranks its pool by (features, candidates) and its pool.

    The page itself is unchanged: the wrapped functions return what they always do.
    """
    data: dict[str, Any] = {}
    features, propose = scoring.ranking_features, homepage._propose_rows

    def keep_features(inputs: Any, *, catalogue: Any, titles: np.ndarray) -> np.ndarray:
        out = features(inputs, catalogue=catalogue, titles=titles)
        data["features"], data["candidates"] = out, titles
        return out

    def keep_pool(**kwargs: Any) -> Any:
        data["pool"] = kwargs["pool"]
        data["proposals"] = propose(**kwargs)
        return data["proposals"]

    scoring.ranking_features, homepage._propose_rows = keep_features, keep_pool
    try:
        yield data
    finally:
        scoring.ranking_features, homepage._propose_rows = features, propose


def pool_features(data: dict[str, Any]) -> np.ndarray:
    """The title features of the pool, in the pool's (served) order."""
    at = {int(t): i for i, t in enumerate(data["candidates"])}
    return data["features"][[at[int(t)] for t in data["pool"].title_index]]


def head_strengths(probability: np.ndarray, positions: list[np.ndarray]) -> np.ndarray:
    """Each row's strength as another title ranker would give it: the mean of the
    ``STRENGTH_ITEMS`` most probable of its titles (by that ranker, which orders them)."""
    return np.array(
        [
            np.sort(probability[p])[::-1][: homepage.STRENGTH_ITEMS].astype(np.float64).mean()
            for p in positions
        ]
    )


def order_sensitivity(n_profiles: int, at: dt.datetime | None) -> None:
    blend = PlayRanker()
    now = at or timezone.now()
    profiles = (
        Profile.objects.select_related("account__home_region")
        .filter(pk__in=PageLog.objects.values("profile_id"))
        .order_by("pk")[:n_profiles]
    )
    share: dict[str, list[float]] = defaultdict(list)
    out: dict[str, list[float]] = defaultdict(list)
    by_type: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    with captured() as data:
        for profile in profiles:
            zone = zoneinfo.ZoneInfo(profile.account.home_region.time_zone)
            yesterday = now.astimezone(zone) - dt.timedelta(days=1)
            for hour in HOURS:
                data.clear()
                trace = homepage.RowTrace()
                page = homepage.homepage_build(
                    profile=profile,
                    device="tv",
                    at=now,
                    context_at=yesterday.replace(hour=hour, minute=0, second=0, microsecond=0),
                    trace=trace,
                )
                if trace.features is None or trace.ranker is None:
                    continue
                ranker, features = trace.ranker, trace.features.astype(np.float64)
                logits = ranker.logits(features)
                term = features[:, STRENGTH] * ranker.coef[STRENGTH]
                if logits.var() > 0:
                    share[page.ranker].append(term.var() / logits.var())
                if page.ranker != "learned":
                    continue
                pool, proposals = data["pool"], data["proposals"]
                positions = [p.positions for p in proposals]
                strength = head_strengths(blend.predict_proba(pool_features(data)), positions)
                for proposal, served, prior in zip(
                    proposals, features[:, STRENGTH], strength, strict=True
                ):
                    by_type[proposal.type][0].append(served)
                    by_type[proposal.type][1].append(prior)
                swapped = trace.features.copy()
                swapped[:, STRENGTH] = strength
                scores = ranker.predict_proba(swapped)
                placed = homepage._rows_choose(
                    proposals,
                    order=np.argsort(-scores, kind="stable").tolist(),
                    strength=strength,
                    n_pool=len(pool),
                    n_rows=12,
                    n_items=20,
                )
                served_ids = [row.id for row in page.rows][: homepage.FIRST_SCREEN_ROWS]
                ids = [p.id for p, _, _ in placed][: homepage.FIRST_SCREEN_ROWS]
                tau = kendalltau(trace.scores, scores).statistic
                out["tau"].append(tau if np.isfinite(tau) else 1.0)
                out["screen"].append(ids != served_ids)
                out["screen_set"].append(set(ids) != set(served_ids))
                out["top"].append(ids[:1] != served_ids[:1])
                out["std_served"].append(features[:, STRENGTH].std())
                out["std_prior"].append(strength.std())
                swapped_term = strength * ranker.coef[STRENGTH]
                swapped_logits = logits - term + swapped_term
                if swapped_logits.var() > 0:
                    out["share_prior"].append(swapped_term.var() / swapped_logits.var())
    print("\nStrength term's share of the within-page variance of the row logits, as served:")
    for mode, values in share.items():
        print(
            f"  title ranker {mode:<8} {len(values):>4} pages: mean {np.mean(values):.4f},"
            f" median {np.median(values):.4f}"
        )
    if not out["tau"]:
        print("No page was served by a learned title ranker.")
        return
    print(
        f"\nPages served by a learned title ranker ({len(out['tau'])}), mean strength by row type:"
    )
    print(f"  {'row type':<22} {'rows':>5} {'served':>7} {'prior blend':>11}")
    for row_type, (served, prior) in sorted(by_type.items(), key=lambda kv: -np.mean(kv[1][1])):
        print(f"  {row_type:<22} {len(served):>5} {np.mean(served):>7.4f} {np.mean(prior):>11.4f}")
    print(
        f"  within-page std of strength: served {np.mean(out['std_served']):.4f},"
        f" prior blend {np.mean(out['std_prior']):.4f}\n"
        f"  with the prior blend's strengths: Kendall tau of the candidate rows' scores"
        f" {np.mean(out['tau']):.3f}; first screen changed {np.mean(out['screen']):.3f}"
        f" (as a set {np.mean(out['screen_set']):.3f}, top row {np.mean(out['top']):.3f});"
        f" strength's share of the logit variance {np.mean(out['share_prior']):.3f}"
    )


def taste_outcomes(at: dt.datetime | None) -> None:
    blend = PlayRanker()
    served_strength = homepage._row_strength

    def prior_strength(probability: np.ndarray, positions: list[np.ndarray]) -> np.ndarray:
        return head_strengths(blend.predict_proba(pool_features(data)), positions)

    def no_strength(probability: np.ndarray, positions: list[np.ndarray]) -> np.ndarray:
        return np.zeros(len(positions))

    variants: dict[str, Callable[[np.ndarray, list[np.ndarray]], np.ndarray]] = {
        "served title ranker's": served_strength,
        "prior blend's": prior_strength,
        "none (0 for every row)": no_strength,
    }
    tastes = load_hidden_tastes()
    measured = {}
    with captured() as data:
        for name, strength in variants.items():
            homepage._row_strength = strength
            try:
                measured[name] = row_order_outcomes(tastes=tastes, region="IN", at=at)
            finally:
                homepage._row_strength = served_strength
    print(
        f"\n{'row strengths (served row ranker)':<36} {'agreement':>9} {'s.e.':>6} {'n':>5}"
        f" {'P(play)':>8} {'vs served':>9} {'s.e.':>6}"
    )
    baseline = measured["served title ranker's"].play
    for name, result in measured.items():
        lift = result.play - baseline  # paired: the same simulated viewers
        print(
            f"{name:<36} {result.agreement.mean():>9.3f} {_error(result.agreement):>6.3f}"
            f" {len(result.agreement):>5} {result.play.mean():>8.4f} {lift.mean():>+9.4f}"
            f" {_error(lift):>6.4f}"
        )


def _error(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", type=int, default=200)
    parser.add_argument(
        "--at",
        type=moment,
        default=None,
        help="pages as of this moment, of the day before it (default now)",
    )
    args = parser.parse_args()
    logged_strengths()
    order_sensitivity(args.profiles, args.at)
    taste_outcomes(args.at)


if __name__ == "__main__":
    main()
