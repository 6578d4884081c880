"""Why a row is where it is on a profile's homepage: its score, rank and terms, in words.

The row ranker is a logistic model, so a row's score splits exactly into one
term per feature (value x coefficient, :meth:`~recommendations.engine.row_ranking.RowRanker.terms`)
plus the intercept. The features, the scores and each candidate's fate come
from the page build itself (:class:`~recommendations.serving.homepage.RowTrace`),
not from a rebuild of the row-ranking path, so an explanation is of the decision
served. Nothing on the API path imports this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recommendations.engine.ranking import DEVICE_CLASSES, HOUR_BUCKETS
from recommendations.engine.row_ranking import (
    PROFILE_FEATURES,
    ROW_FEATURE_NAMES,
    ROW_TYPES,
    RowEngagement,
    row_type_index,
)
from recommendations.serving.homepage import RowTrace

#: Row types as staff name them.
ROW_TYPE_NAMES: dict[str, str] = {
    "continue_watching": "Continue Watching",
    "top_picks": "Top Picks",
    "because_you_watched": "Because You Watched",
    "because_you_liked": "Because You Liked",
    "trending": "Trending",
    "popular_in": "Popular In",
    "new_releases": "New Releases",
    "critically_acclaimed": "Critically Acclaimed",
    "genre": "Genre",
    "language": "Language",
    "watch_again": "Watch Again",
}

_HOURS = tuple(f"{4 * b:02d}:00-{4 * b + 3:02d}:59" for b in range(HOUR_BUCKETS))
_DEVICE_NAMES = {"tv": "a TV", "mobile": "a phone", "tablet": "a tablet", "web": "a browser"}


def _label(name: str) -> str:
    """A row feature (``ROW_FEATURE_NAMES``) as staff would say it."""
    fixed = {
        "affinity": "This profile's share of plays from rows of this type",
        "lift_hour": "...at this time of day, against its usual share",
        "lift_device": "...on this device, against its usual share",
        "lift_week_part": "...on this part of the week, against its usual share",
        "scroll_past_rate": "Rows of this type it scrolled quickly past",
        "seen_rate_lift": "Its plays per tile seen of this type, against all rows",
        "strength": "How likely its first titles are to be played",
    }
    if name in fixed:
        return fixed[name]
    for row_type in sorted(ROW_TYPES, key=len, reverse=True):
        kind = ROW_TYPE_NAMES[row_type]
        if name == f"type_{row_type}":
            return f"{kind} rows, for everyone"
        if name == f"type_x_weekend_{row_type}":
            return f"{kind} rows at weekends, for everyone"
        for b, hours in enumerate(_HOURS):
            if name == f"type_x_hour_{row_type}_{b}":
                return f"{kind} rows at {hours}, for everyone"
        for device in DEVICE_CLASSES:
            if name == f"type_x_device_{row_type}_{device}":
                return f"{kind} rows on {_DEVICE_NAMES.get(device, device)}, for everyone"
    return name  # the position terms: 0 at serving, never shown


ROW_FEATURE_LABELS: dict[str, str] = {name: _label(name) for name in ROW_FEATURE_NAMES}
#: Always listed, even at 0: a 0 there is news ("no habit at this hour").
_ALWAYS = frozenset((*PROFILE_FEATURES, "strength"))
_COLUMN = {name: i for i, name in enumerate(ROW_FEATURE_NAMES)}
#: The row type and row type x context terms, which the summary reads as one.
_POPULATION = np.array([name.startswith("type_") for name in ROW_FEATURE_NAMES])


@dataclass(frozen=True, slots=True)
class RowFeature:
    """One row feature: its value for the row and its term in the row's score.

    Named as :class:`~recommendations.serving.explain.FeatureContribution` is, so the
    console draws both with one table.
    """

    name: str
    label: str
    value: float
    contribution: float


@dataclass(frozen=True, slots=True)
class RowExplanation:
    """Why one candidate row is where it is on the page, or is not on it."""

    index: int  # among the candidates, in proposal order
    row_id: str
    row_type: str
    title: str
    reason: str
    score: float  # P(play from the row), as served
    logit: float
    intercept: float
    rank: int  # 1-based among the candidate rows, by score
    row_number: int | None  # 1-based on the page; None: not on it
    dropped: str  # why it is not on the page; "" when it is
    features: tuple[RowFeature, ...]
    summary: str


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plays(n: float) -> str:
    return f"{int(n)} play" if int(n) == 1 else f"{int(n)} plays"


def _reason(
    group: str,
    *,
    value: float,
    term: float,
    higher: bool,
    kind: str,
    engagement: RowEngagement,
    trace: RowTrace,
) -> str:
    """One term of the summary: what in the profile's logs (or the model) made it so."""
    t = max(row_type_index(kind), 0)
    total = float(engagement.plays.sum())
    mine = float(engagement.plays[t])
    name = ROW_TYPE_NAMES[kind]
    if group == "affinity":
        often = "often" if value > 0 else "rarely"
        return (
            f"this profile {often} starts things from {name} rows: "
            f"{_plays(mine)} of its {_plays(total)} from rows (affinity {term:+.2f})"
        )
    if group in ("lift_hour", "lift_device", "lift_week_part"):
        counts, where = {
            "lift_hour": (engagement.plays_by_hour[trace.hour_bucket], "at this time of day"),
            "lift_device": (engagement.plays_by_device[trace.device], "on this device"),
            "lift_week_part": (
                engagement.plays_by_daypart[trace.daypart],
                "at weekends" if trace.daypart else "on weekdays",
            ),
        }[group]
        more = "more" if value > 0 else "less"
        return (
            f"it starts {more} from {name} rows {where} than usual: "
            f"{_plays(counts[t])} of {int(counts.sum())} there ({group} {term:+.2f})"
        )
    if group == "scroll_past_rate":
        return (
            f"it scrolled quickly past {name} rows {int(engagement.scroll_past[t])} times "
            f"against {_plays(mine)} from them (scroll-past {term:+.2f})"
        )
    if group == "seen_rate_lift":
        more = "more" if value > 0 else "fewer"
        return (
            f"it starts {more} plays per {name} tile it sees than per tile of other rows: "
            f"{_plays(engagement.plays_seen[t])} from {int(engagement.seen[t])} tiles seen "
            f"(seen rate {term:+.2f})"
        )
    if group == "strength":
        more = "more" if higher else "less"
        return (
            f"its first titles are {more} likely plays for this profile than other rows' "
            f"(strength {value:.2f}, {term:+.2f})"
        )
    who = "the product's prior" if trace.ranker and trace.ranker.mode == "prior" else "the logs"
    more = "more" if higher else "less"
    return f"everyone starts {more} from {name} rows here and now, by {who} ({term:+.2f} in all)"


def _groups(terms: npt.NDArray[np.float64]) -> dict[str, npt.NDArray[np.float64]]:
    """The summary's terms per candidate: each profile feature, strength, the population's."""
    groups = {name: terms[:, _COLUMN[name]] for name in (*PROFILE_FEATURES, "strength")}
    groups["population"] = terms[:, _POPULATION].sum(axis=1)
    return groups


def row_explanations(trace: RowTrace) -> list[RowExplanation]:
    """Every candidate row of the traced page, explained; best score first.

    A row is high or low only against the other candidates, so the summary names
    the terms that set it furthest apart from their mean (in the direction of its
    place: up for the top half, down for the rest), with the figures behind them.
    """
    if trace.ranker is None or trace.features is None or trace.engagement is None:
        return []
    split = trace.ranker.terms(trace.features)
    n = len(trace.row_ids)
    rank = {index: r for r, index in enumerate(trace.order, start=1)}
    number = {index: k for k, index in enumerate(trace.placed, start=1)}
    groups = _groups(split.terms)
    means = {name: float(values.mean()) for name, values in groups.items()}
    explanations = []
    for index in trace.order:
        values, terms = split.values[index], split.terms[index]
        features = tuple(
            RowFeature(name, ROW_FEATURE_LABELS[name], float(values[j]), float(terms[j]))
            for j, name in enumerate(ROW_FEATURE_NAMES)
            if name in _ALWAYS or values[j] != 0.0
        )
        kind = trace.row_types[index]
        high = rank[index] <= max(1, n // 2)
        apart = {name: float(v[index]) - means[name] for name, v in groups.items()}
        sign = 1.0 if high else -1.0
        # A profile term names the profile's own habit, so it must push the row the way it
        # went, not merely less than the others' (a 0 beside their negatives says nothing).
        leading = sorted(
            (
                name
                for name, d in apart.items()
                if sign * d > 0.05
                and (name in ("strength", "population") or sign * groups[name][index] > 0.01)
            ),
            key=lambda g: -sign * apart[g],
        )[:2]
        reasons = [
            _reason(
                group,
                value=float(values[_COLUMN[group]]) if group != "population" else 0.0,
                term=float(groups[group][index]),
                higher=high,
                kind=kind,
                engagement=trace.engagement,
                trace=trace,
            )
            for group in leading
        ]
        title = trace.titles[index]
        dropped = "" if index in number else trace.dropped.get(index, "")
        place = f"is row {number[index]}" if index in number else f"is not on the page ({dropped})"
        because = (
            f"{'high' if high else 'low'} because " + "; and ".join(reasons)
            if reasons
            else "no single term sets it apart from the other candidates"
        )
        summary = (
            f"{title} {place}, {_ordinal(rank[index])} of {n} candidate rows by score; {because}."
        )
        explanations.append(
            RowExplanation(
                index=index,
                row_id=trace.row_ids[index],
                row_type=kind,
                title=title,
                reason=trace.reasons[index],
                score=float(trace.scores[index]),
                logit=float(split.logits[index]),
                intercept=split.intercept,
                rank=rank[index],
                row_number=number.get(index),
                dropped=dropped,
                features=features,
                summary=summary,
            )
        )
    return explanations
