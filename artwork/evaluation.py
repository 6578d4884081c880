"""Off-policy evaluation of artwork policies from the page log.

Every logged impression carries the probability with which the logging
policy showed its variant. For a candidate policy, the probability it would
have given that same variant in that same context (taste, device, hour, the
title's arms) reweights the observed reward: inverse propensity scoring (IPS)
is unbiased, its self-normalised form (SNIPS) has less variance for a small
bias. Both come with 95% intervals from :mod:`recommendations.engine.offpolicy`.

Arms are rebuilt from today's variants and the profile's maturity limit
today. An impression whose logged variant is no longer an arm (deactivated
since) stays in, with probability 0 under the candidate: the candidate would
not show it, and dropping rows by what the logger chose would bias IPS.
Impressions logged with propensity 1 among several arms (the deterministic
default artwork before the bandit) have no support for any other choice: they
are left out and counted, and logs with no usable propensity at all are
refused. Intervals are cluster-robust by page: one page's impressions share a
profile and a moment, so they are not independent draws.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.utils import timezone

from recommendations.engine.artwork_bandit import artwork_context
from recommendations.engine.offpolicy import PolicyValue, ips_value, snips_value
from recommendations.selectors.attribution import closed_before

from .models import ArtworkPolicy, ArtworkTheme
from .policy import PolicyParams, bandit_new, policy_read
from .selection import ArtworkArms, arms_for, artwork_arms_load, project_themes
from .selectors import (
    ArtworkImpressions,
    artwork_impressions,
    profile_maturity,
    variant_themes,
    wilson_interval,
)

#: Groups scored per call of the candidate (bounds memory on long windows).
BATCH = 20_000
#: Days of closed pages evaluated unless asked otherwise (``evaluate_artwork_policy --days``);
#: the page log keep check counts them too (``recommendations.selectors.retention``).
EVALUATION_DAYS = 7.0


class EvaluationRefused(ValueError):
    """The logs cannot support an off-policy estimate (the message says why)."""


@dataclass(frozen=True)
class PolicyEstimate:
    """One row of the evaluation: a policy's take rate by one estimator, with its interval.

    ``effective_sample_size`` (Kish's, for the reweighted estimates; None for the
    observed rate): how many on-policy impressions the reweighted log is worth. A
    small share of ``n`` means the candidate goes where the logs have little data,
    and its normal interval is not to be trusted.
    """

    name: str
    estimator: str
    value: float
    low: float
    high: float
    n: int
    effective_sample_size: float | None = None


@dataclass(frozen=True)
class ArtworkEvaluation:
    since: dt.datetime
    until: dt.datetime
    candidate: str
    rows: list[PolicyEstimate]
    n_logged: int
    n_used: int
    n_deterministic: int
    n_gone: int  # kept, with probability 0 under the candidate


def _target_probabilities(
    *,
    policy: PolicyParams,
    arms: ArtworkArms,
    impressions: ArtworkImpressions,
    maturity: npt.NDArray[np.int64],
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Per impression: the candidate's and uniform's probability of the logged variant, and k.

    Probabilities are 0 (and k is 0) where the logged variant is not among today's arms.
    """
    n = len(impressions)
    candidate = np.zeros(n)
    uniform = np.zeros(n)
    k_arms = np.zeros(n, dtype=np.int64)
    themes = project_themes(arms, policy)
    taste = impressions.taste
    keys = impressions.device * 1000 + maturity
    for key in np.unique(keys).tolist():
        rows = np.flatnonzero(keys == key)
        device, limit = divmod(int(key), 1000)
        for start in range(0, rows.shape[0], BATCH):
            batch = rows[start : start + BATCH]
            groups, arm, indptr = arms_for(arms, impressions.title_id[batch], device, limit)
            if not groups.shape[0]:
                continue
            at = batch[groups]
            context = artwork_context(
                taste=taste[at],
                device=impressions.device[at],
                hour_bucket=impressions.hour_bucket[at],
            )
            choice = policy.bandit.choose(
                context=context,
                indptr=indptr,
                arm_themes=themes[arm],
                arm_variant=arms.variant[arm],
                rng=rng,
            )
            sizes = np.diff(indptr)
            owner = np.repeat(np.arange(groups.shape[0]), sizes)
            logged = impressions.variant[at][owner] == arms.variant[arm]
            hit_group = owner[logged]
            candidate[at[hit_group]] = choice.probability[logged]
            uniform[at[hit_group]] = 1.0 / sizes[hit_group]
            k_arms[at[hit_group]] = sizes[hit_group]
    return candidate, uniform, k_arms


def _holdout_candidate(*, before: dt.datetime, progress: Callable[[float], None]) -> PolicyParams:
    """A policy fitted only on pages older than the evaluation window (a day of pages at a
    time, reporting the fraction of the days done)."""
    params = bandit_new(
        genres=tuple(_genre_slugs()),
        themes=tuple(ArtworkTheme.objects.order_by("slug").values_list("slug", flat=True)),
    )
    days = int(settings.TONIGHT["ARTWORK_TRAINING_DAYS"])
    first = start = before - dt.timedelta(days=days)
    themes_of = variant_themes(params.themes)
    while start < before:
        end = min(start + dt.timedelta(days=1), before)
        seen = artwork_impressions(since=start, until=end, genres=params.genres)
        if len(seen):
            params.bandit.partial_fit(
                context=artwork_context(
                    taste=seen.taste, device=seen.device, hour_bucket=seen.hour_bucket
                ),
                themes=themes_of.of(seen.variant),
                variant=seen.variant,
                reward=seen.played.astype(np.float64),
            )
        start = end
        progress((start - first) / (before - first))
    return params


def _genre_slugs() -> list[str]:
    from catalog.models import Genre

    return list(Genre.objects.order_by("slug").values_list("slug", flat=True))


def artwork_policy_evaluate(
    *,
    days: float = EVALUATION_DAYS,
    candidate: str = "holdout",
    now: dt.datetime | None = None,
    max_impressions: int = 200_000,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> ArtworkEvaluation:
    """Estimate the candidate's and uniform random's take rates on the last ``days`` of logs.

    ``candidate``: ``holdout`` fits a policy on the pages before the window
    (an honest estimate), ``current`` takes the newest stored policy (which
    may have learned from the window itself: optimistic). ``progress`` is told the
    fraction done (``evaluate_artwork_policy``'s bar): the holdout fit reads
    ``ARTWORK_TRAINING_DAYS`` of pages a day at a time, most of the run on a long log.

    Raises
    ------
    EvaluationRefused
        No impressions, or none with a usable propensity.
    """
    now = now or timezone.now()
    until = closed_before(now)
    since = until - dt.timedelta(days=days)
    report = progress or (lambda fraction: None)
    #: Share of the bar the holdout fit takes; reading and scoring the window the rest.
    fit_share = 0.8 if candidate == "holdout" else 0.0
    if candidate == "current":
        newest = ArtworkPolicy.objects.order_by("-pk").first()
        if newest is None:
            raise EvaluationRefused(
                "There is no stored artwork policy yet (use --candidate holdout)."
            )
        policy = policy_read(newest.artefact)
    elif candidate == "holdout":
        policy = _holdout_candidate(
            before=since, progress=lambda fraction: report(fit_share * fraction)
        )
        if policy.bandit.n_updates == 0:
            # Fitted on nothing, the "candidate" is the prior: the policy that logged the
            # window, so its estimate equals what was observed and says nothing.
            raise EvaluationRefused(
                f"No closed pages before the window (from {since:%Y-%m-%d %H:%M} UTC) to fit "
                "the holdout candidate on: it would be the prior that logged the window. "
                "Evaluate fewer days (--days) so that some pages precede them, or use "
                "--candidate current."
            )
    else:
        raise ValueError(f"unknown candidate {candidate!r}")

    impressions = artwork_impressions(since=since, until=until, genres=policy.genres)
    report(fit_share + (1 - fit_share) / 2)
    n_logged = len(impressions)
    if n_logged == 0:
        raise EvaluationRefused(
            f"No logged impressions of artwork variants between {since:%Y-%m-%d %H:%M} and "
            f"{until:%Y-%m-%d %H:%M} UTC (pages count once their attribution window has closed)."
        )
    missing = ~np.isfinite(impressions.propensity) | (impressions.propensity <= 0)
    if missing.any():
        raise EvaluationRefused(
            f"{int(missing.sum())} of {n_logged} logged impressions have no propensity: "
            "without the probability each variant was shown with, the logs cannot be "
            "reweighted. Evaluate a window logged by the bandit."
        )
    rng = np.random.default_rng(seed)
    if n_logged > max_impressions:
        impressions = impressions.take(
            np.sort(rng.choice(n_logged, size=max_impressions, replace=False))
        )
    arms = artwork_arms_load()
    target, uniform, k_arms = _target_probabilities(
        policy=policy,
        arms=arms,
        impressions=impressions,
        maturity=profile_maturity(impressions.profile_id),
        rng=rng,
    )
    report(1.0)
    gone = k_arms == 0
    # Propensity 1 is a real choice only for a title with a single frame (then k is 1 today
    # too, or the title gained frames since: still no evidence about the others).
    deterministic = (k_arms != 1) & (impressions.propensity >= 0.999)
    usable = ~deterministic
    if not usable.any():
        raise EvaluationRefused(
            f"None of the {len(impressions)} logged impressions can be reweighted: "
            f"{int(deterministic.sum())} were logged with propensity 1 among several variants "
            "(the deterministic default artwork): the logs lack usable propensities."
        )
    reward = impressions.played[usable].astype(np.float64)
    logged = impressions.propensity[usable]
    observed = int(reward.sum())
    low, high = wilson_interval(observed, int(usable.sum()))
    rows = [
        PolicyEstimate(
            "logging policy", "observed", observed / usable.sum(), low, high, int(usable.sum())
        )
    ]
    for name, probability in ((f"candidate ({candidate})", target), ("uniform random", uniform)):
        for estimator, estimate in (("IPS", ips_value), ("SNIPS", snips_value)):
            value: PolicyValue = estimate(
                reward=reward,
                logged_propensity=logged,
                target_probability=probability[usable],
                cluster=impressions.page[usable],
            )
            rows.append(
                PolicyEstimate(
                    name,
                    estimator,
                    value.value,
                    value.low,
                    value.high,
                    value.n,
                    value.effective_sample_size,
                )
            )
    return ArtworkEvaluation(
        since=since,
        until=until,
        candidate=candidate,
        rows=rows,
        n_logged=n_logged,
        n_used=int(usable.sum()),
        n_deterministic=int(deterministic.sum()),
        n_gone=int(gone.sum()),
    )
