"""The gate: whether a candidate is shown worse than the active version (by the paired
standard error of their per-profile differences), and the record of what its verdict
rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from recommendations.engine.metrics import critical_value, paired_difference
from recommendations.models import ModelVersion
from recommendations.services.retraining.configuration import gate_margin, gate_z


def gate_passes(
    *,
    candidate: float,
    active: float,
    margin: float,
    z: float,
    se: float,
    profiles: int | None = None,
) -> tuple[bool, float]:
    """Whether the gate lets the candidate through, and the bound it compared with 0.

    A guardrail: ``candidate - active * (1 - margin)`` is moved by ``z * se``
    towards the verdict that has to be shown; given ``profiles`` (how many paired
    differences ``se`` was estimated from), by the Student t quantile of the same
    one-sided confidence instead (``engine.metrics.critical_value``): from a few
    profiles ``se`` is itself noisy, and ``z`` alone refused equally good candidates
    more often than it stands for (14% instead of 5% at 3 profiles). For a margin
    that tolerates a drop (0 or more) the candidate is refused only when it is shown
    to be worse than that: ``point + z * se < 0``. A negative margin asks for an improvement, and
    passes only one that is shown, ``point - z * se >= 0``, and never a tie (a
    small gate half may hold no hit for either model, 0 against 0). ``se`` is the
    paired standard error of the per-profile ``candidate - (1 - margin) * active``;
    NaN (fewer than two paired profiles) shows nothing either way. ``z`` 0 is the
    comparison of the two figures alone, the gate as it was before December 2026.
    """
    point = candidate - active * (1.0 - margin)
    if z == 0.0:
        slack = 0.0
    elif math.isnan(se):
        slack = math.inf
    else:
        slack = critical_value(z, profiles) * se
    if margin >= 0:
        bound = point + slack
        return bound >= 0.0, bound
    bound = point - slack
    return bound >= 0.0 and candidate > active, bound


def _nothing_judged_reason(scope: str, gate: dict) -> str:
    """The gate's verdict on a version with no judged profile: the refusal, or "".

    Nothing is shown either way, as with a single judged profile (:func:`gate_passes`):
    a margin that tolerates a drop passes, a negative one (an improvement to show)
    refuses. It used to refuse at once, so whether a small cluster got its own version
    hung on whether one member happened to play something after the cut: on the suite's
    60-profile demo world the Tamil cluster judges 0 to 2 profiles depending on incidental
    tastes, and at 0 its profiles went back to the region model (docs/recommendations.md,
    "The gate is a guardrail").
    """
    gate["paired"] = {"profiles": 0, "difference": None, "se": None, "bound": None}
    if gate_margin() >= 0:
        return ""
    return (
        f"No held-out activity in this {scope} to show the {-gate_margin() * 100:g}% "
        "improvement the gate asks for."
    )


@dataclass(frozen=True)
class GateVerdict:
    """The gate's refusal ("" when the candidate passes) and the paired figures it rests on
    (``metrics["gate"]["paired"]``; empty when there was nothing to compare with)."""

    reason: str
    paired: dict


def _json_number(value: float) -> float | None:
    """A figure for a JSON field: ``None`` for NaN or infinity (PostgreSQL's jsonb has neither)."""
    return round(value, 5) if math.isfinite(value) else None


def _gate_record(
    gate: dict,
    *,
    candidate: float,
    active: ModelVersion,
    active_ndcg: float | None,
    how: str,
    candidate_scores: npt.NDArray[np.float64] | None,
    active_scores: npt.NDArray[np.float64] | None,
) -> str:
    """Judge the candidate (:func:`_worse_than_active`) and write what the verdict rests on
    into ``gate``; the refusal, or "". One record for a cluster's gate and a fallback's."""
    gate["active_ndcg@10"] = active_ndcg
    gate["active_measured_as"] = how
    verdict = _worse_than_active(
        candidate=candidate,
        active=active,
        active_ndcg=active_ndcg,
        how=how,
        candidate_scores=candidate_scores,
        active_scores=active_scores,
    )
    if verdict.paired:
        gate["paired"] = verdict.paired
    return verdict.reason


def _worse_than_active(
    *,
    candidate: float,
    active: ModelVersion,
    active_ndcg: float | None,
    how: str,
    candidate_scores: npt.NDArray[np.float64] | None,
    active_scores: npt.NDArray[np.float64] | None,
) -> GateVerdict:
    """The gate's verdict on the candidate against the active version (:func:`gate_passes`).

    ``candidate`` and ``active_ndcg`` are the two figures; ``candidate_scores`` and
    ``active_scores`` the NDCG@10 of each profile they are the means of, the same
    profiles in the same order: their paired differences give the standard error.
    Pairing matters: most of the spread of either figure is which profiles were
    held out, and both models share that. One rule for a cluster's version and a
    fallback's, so their gates cannot drift.
    """
    if active_ndcg is None:
        return GateVerdict("", {})
    margin, z = gate_margin(), gate_z()
    nothing = np.empty(0, np.float64)
    ours = nothing if candidate_scores is None else candidate_scores
    theirs = nothing if active_scores is None else active_scores
    if ours.shape != theirs.shape:  # not the same profiles: no pairing to speak of
        ours = theirs = nothing
    difference = paired_difference(ours, theirs)
    at_margin = paired_difference(ours, theirs, scale=1.0 - margin)
    passed, bound = gate_passes(
        candidate=candidate,
        active=active_ndcg,
        margin=margin,
        z=z,
        se=at_margin.se,
        profiles=at_margin.n,
    )
    paired = {
        "profiles": difference.n,
        "difference": _json_number(difference.mean),
        "se": _json_number(difference.se),
        "bound": _json_number(bound),
    }
    if passed:
        return GateVerdict("", paired)
    se = f"{difference.se:.4f}" if math.isfinite(difference.se) else "unknown"
    figures = (
        f"(NDCG@10 {candidate:.4f} vs {active_ndcg:.4f}; paired difference "
        f"{candidate - active_ndcg:+.4f}, standard error {se} over {difference.n} profiles, "
        f"z {z:g}, t {critical_value(z, at_margin.n):.2f}; the active version: {how})."
    )
    if margin < 0:
        return GateVerdict(
            f"Not better than the active version #{active.pk} by the {-margin * 100:g}% the "
            f"gate asks {figures}",
            paired,
        )
    return GateVerdict(
        f"Worse than the active version #{active.pk} by more than the {margin * 100:g}% "
        f"margin {figures}",
        paired,
    )
