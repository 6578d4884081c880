"""Off-policy evaluation of artwork policies from the page log.

Every logged impression carries the probability with which the logging
policy showed its variant. For a candidate policy, the probability it would
have given that same variant in that same context (taste, device, hour, the
title's arms) reweights the observed reward: inverse propensity scoring (IPS)
is unbiased, its self-normalised form (SNIPS) has less variance for a small
bias. Both come with 95% intervals from :mod:`recommendations.engine.offpolicy`.

Each impression is scored over the arms its page could have shown: the title's
variants created by the page's time (``ArtworkVariant.created_at``) and active
today. A variant added since got probability under the candidate and under
uniform random that the logger never could give it, and that share of every
impression of its title could only score zero: both estimates were biased down
(uniform random on a title that went from two frames to three at two thirds of
its take rate). How much of the candidate's probability today's arms would have
put on such variants is reported (``excluded_share``), and so is how much of it
fell on variants no impression of the window showed (``unshown_share``: the logs
hold no evidence of them).

What remains approximate: deactivation has no date (``is_active`` is a flag), so a
variant deactivated since is no arm of any page. An impression that showed one stays
in, with probability 0 under the candidate: the candidate would not show it, and
dropping rows by what the logger chose would bias IPS. Leaving it out of the other
impressions' arms evaluates the candidate restricted to today's active variants, which
the logs support. A variant deactivated before a page and reactivated since is an arm
of that page it was not: ``unshown_share`` is where that shows. The page log records
neither the profile's maturity limit nor whether it was a kids profile: arms are
filtered by the limit today, so a limit raised since adds frames the logger could not
show that profile, and one lowered since drops the frames it could.

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

from .models import ArtworkPolicy, ArtworkTheme, ArtworkVariant
from .policy import PolicyParams, bandit_new, policy_read
from .selection import ArtworkArms, arms_for, artwork_arms_load, project_themes
from .selectors import (
    ArtworkImpressions,
    artwork_folded_before,
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
    #: Mean over the usable impressions of the probability the candidate, run over today's
    #: arms, gives variants created after the impression's page: left out of its arms.
    excluded_share: float = 0.0
    #: Mean over the usable impressions of the candidate's probability on arms that no
    #: evaluated impression showed: the logs hold no evidence of them.
    unshown_share: float = 0.0


@dataclass(frozen=True)
class _Scored:
    """Per impression: the candidate's and uniform's probability of the logged variant, the
    number of arms ``k`` (0, and both probabilities 0, where the logged variant is no arm), and
    the candidate's probability on arms no impression showed and on arms created after the
    page."""

    candidate: npt.NDArray[np.float64]
    uniform: npt.NDArray[np.float64]
    k_arms: npt.NDArray[np.int64]
    unshown: npt.NDArray[np.float64]
    newer: npt.NDArray[np.float64]


#: A variant shown on a page logged this long before its ``created_at`` has no creation
#: time to trust (servers' clocks differ by less; rows seeded or imported after their traffic
#: by far more).
CREATED_AT_SLACK = dt.timedelta(minutes=5)


def _arms_available(arms: ArtworkArms, impressions: ArtworkImpressions) -> npt.NDArray[np.float64]:
    """From when each arm could be shown, Unix seconds (infinity: deleted since the load).

    Its variant's ``created_at``, or its first showing in ``impressions`` when that is
    earlier: a page that showed a variant proves it existed. A variant shown more than
    :data:`CREATED_AT_SLACK` before its ``created_at`` has a date that is not its creation
    (the demo stores its variants after the pages its traffic simulates in the past; an
    import may too): it counts as there from the first, as every variant did before
    creation times were read, rather than leave the pages before its first showing
    scored over too few arms (and a deterministic logger's propensities of 1 unnoticed).
    """
    created = dict(
        ArtworkVariant.objects.filter(pk__in=arms.variant.tolist()).values_list("pk", "created_at")
    )
    available = np.array(
        [created[v].timestamp() if v in created else np.inf for v in arms.variant.tolist()],
        dtype=np.float64,
    )
    shown = np.unique(impressions.variant)
    if shown.shape[0]:
        order = np.argsort(impressions.variant, kind="stable")
        starts = np.searchsorted(impressions.variant[order], shown)
        first_time = np.minimum.reduceat(impressions.page_time[order], starts)
        at = np.minimum(np.searchsorted(shown, arms.variant), shown.shape[0] - 1)
        seen = np.flatnonzero(shown[at] == arms.variant)
        first = first_time[at[seen]]
        undated = first < available[seen] - CREATED_AT_SLACK.total_seconds()
        available[seen] = np.where(undated, -np.inf, np.minimum(available[seen], first))
    return available


def _target_probabilities(
    *,
    policy: PolicyParams,
    arms: ArtworkArms,
    available: npt.NDArray[np.float64],
    impressions: ArtworkImpressions,
    maturity: npt.NDArray[np.int64],
    rng: np.random.Generator,
    as_of_page: bool,
) -> _Scored:
    """Score every impression over its title's arms: those that could be shown at its page's
    time (``as_of_page``), else all of today's."""
    n = len(impressions)
    candidate = np.zeros(n)
    uniform = np.zeros(n)
    k_arms = np.zeros(n, dtype=np.int64)
    unshown = np.zeros(n)
    newer = np.zeros(n)
    themes = project_themes(arms, policy)
    shown = np.unique(impressions.variant)
    taste = impressions.taste
    page_time = impressions.page_time
    keys = impressions.device * 1000 + maturity
    for key in np.unique(keys).tolist():
        rows = np.flatnonzero(keys == key)
        device, limit = divmod(int(key), 1000)
        for start in range(0, rows.shape[0], BATCH):
            batch = rows[start : start + BATCH]
            groups, arm, indptr = arms_for(
                arms,
                impressions.title_id[batch],
                device,
                limit,
                available=available if as_of_page else None,
                page_time=page_time[batch],
            )
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
            probability = choice.probability
            logged = impressions.variant[at][owner] == arms.variant[arm]
            hit_group = owner[logged]
            candidate[at[hit_group]] = probability[logged]
            uniform[at[hit_group]] = 1.0 / sizes[hit_group]
            k_arms[at[hit_group]] = sizes[hit_group]
            never = ~np.isin(arms.variant[arm], shown)
            unshown[at] = np.bincount(owner, weights=probability * never, minlength=at.shape[0])
            later = available[arm] > page_time[at][owner]
            newer[at] = np.bincount(owner, weights=probability * later, minlength=at.shape[0])
    return _Scored(candidate, uniform, k_arms, unshown, newer)


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
    until = artwork_folded_before(now)
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
    arms = artwork_arms_load()
    available = _arms_available(arms, impressions)
    rng = np.random.default_rng(seed)
    if n_logged > max_impressions:
        impressions = impressions.take(
            np.sort(rng.choice(n_logged, size=max_impressions, replace=False))
        )
    maturity = profile_maturity(impressions.profile_id)
    scored = _target_probabilities(
        policy=policy,
        arms=arms,
        available=available,
        impressions=impressions,
        maturity=maturity,
        rng=rng,
        as_of_page=True,
    )
    # Only for the share the variants added since would have taken; with its own generator,
    # so that the estimates do not depend on how many variants were added.
    today = _target_probabilities(
        policy=policy,
        arms=arms,
        available=available,
        impressions=impressions,
        maturity=maturity,
        rng=np.random.default_rng([seed, 1]),
        as_of_page=False,
    )
    target, uniform, k_arms = scored.candidate, scored.uniform, scored.k_arms
    report(1.0)
    gone = k_arms == 0
    # Propensity 1 is a real choice only for a title with a single frame at its page's time
    # (then k is 1: the arms are those the page could show).
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
        excluded_share=float(today.newer[usable].mean()),
        unshown_share=float(scored.unshown[usable].mean()),
    )
