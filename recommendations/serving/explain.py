"""Why a title is on a profile's homepage: which generators proposed it and what ranked it.

The homepage keeps only what it shows (order, "% match", source bits) and
throws the rest away, because every microsecond of the request path counts.
Staff who ask "why this?" get the rest recomputed here, for one profile at one
moment, with the same functions the homepage calls
(:func:`~recommendations.serving.scoring.ranking_inputs`,
:func:`~recommendations.serving.scoring.rank_profile`,
:func:`~recommendations.serving.scoring.ranking_features`), so the explanation
is of the served decision and not of a re-implementation of it. Nothing on the
API path imports this module.

The ranker is a logistic model, so its score splits exactly into one term per
feature: ``coef_j * (x_j - mean_j) / scale_j``. Rankers fitted around the
prior blend (and the prior itself) score the features in their own units
(mean 0, scale 1: a term is the feature's value times its weight); rankers
stored by earlier releases were fitted on standardised features, and their
terms compare the title with an average shown title (:attr:`TitleExplanation.centred`).
The terms plus the intercept, through the calibration, give the title's play
probability, which this module checks against the ranked pool.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from scipy.special import expit

from profiles.models import Profile
from recommendations.engine.candidates import ALL_SOURCES, Source, eligible_titles
from recommendations.engine.popularity import new_release_scores
from recommendations.engine.ranking import (
    FEATURE_NAMES,
    ROW_POSITION_BUCKETS,
    ROW_POSITION_FEATURES,
    SLOT_POSITION_BUCKETS,
    SLOT_POSITION_FEATURES,
)
from recommendations.selectors.training import index_of, signal_weights
from recommendations.serving.bundle import CatalogueArrays, ServingBundle
from recommendations.serving.cache import serving_bundle
from recommendations.serving.recommend import (
    history_on_index,
    profile_scoring_context,
    profile_serving,
)
from recommendations.serving.scoring import (
    MATCH_SHOWN_MIN,
    ProfileHistory,
    RankedPool,
    RankingInputs,
    ScoringContext,
    rank_profile,
    ranking_features,
    ranking_inputs,
)

#: What each candidate generator means, in a sentence a person can check.
SOURCE_REASONS: dict[Source, str] = {
    Source.CF: "Collaborative filtering: profiles whose viewing resembles this one's played it.",
    Source.CONTENT: (
        "Content: it shares genres, tags, cast, directors or language with titles "
        "this profile enjoyed."
    ),
    Source.TRENDING: "Trending: it is being started a lot in the profile's cluster and region.",
    Source.NEW_RELEASE: "New release: it arrived in the profile's region recently.",
    Source.CONTINUE_WATCHING: "Continue watching: the profile started it and has not finished.",
    Source.CATALOGUE: (
        "Catalogue: the generators found too few titles for this profile, so the rest of "
        "what it may watch filled the pool, the most popular in its region first."
    ),
}


def _shown(where: str, first: int, last: int | None) -> str:
    """A position bucket (0-based indices) as staff count: "as row 4", "as tiles 7-8"."""
    if last is None:
        return f"as {where} {first + 1} or later"
    if first == last:
        return f"as {where} {first + 1}"
    return f"as {where}s {first + 1}-{last + 1}"


#: Each ranking feature (``FEATURE_NAMES``) as staff would say it.
FEATURE_LABELS: dict[str, str] = {
    "cf_score": "Profiles with a similar history play it (collaborative score)",
    "content_affinity": "Like what this profile enjoyed (genres, tags, people, language)",
    "cluster_popularity": "Popular in the profile's taste cluster",
    "region_popularity": "Popular in the region",
    "release_recency": "Recently released",
    "language_match": "In one of the profile's languages",
    "continue_watching": "In progress for this profile",
    "dislike_penalty": "Close to something the profile gave a thumbs down",
    "impression_fatigue": "Shown to the profile before without being played",
    "recent_activity": "How much the profile watched in the last 7 days",
    "hour_genre_affinity": "Its genres suit what the profile watches at this hour",
    "weekend": "It is the weekend (local time)",
    "weekend_x_hour_genre": "Weekend x genres suited to this hour",
    "cf_x_recent_activity": "Collaborative score x recent activity",
    "device_tv": "Watching on a TV",
    "device_mobile": "Watching on a phone",
    "device_tablet": "Watching on a tablet",
    "device_web": "Watching in a browser",
    "tv_x_cluster_popularity": "On a TV x popular in the cluster",
    "mobile_x_continue_watching": "On a phone x in progress",
    **{
        name: f"Shown {_shown(where, first, last)} (learned from logs; never when serving)"
        for where, names, buckets in (
            ("row", ROW_POSITION_FEATURES, ROW_POSITION_BUCKETS),
            ("tile", SLOT_POSITION_FEATURES, SLOT_POSITION_BUCKETS),
        )
        for name, (first, last) in zip(names, buckets, strict=True)
    },
}


@dataclass(frozen=True, slots=True)
class SourceReason:
    """One generator that proposed the title, with the raw score it proposed it by."""

    name: str
    reason: str
    score: float


@dataclass(frozen=True, slots=True)
class FeatureContribution:
    """One ranking feature: its value for the title and its term in the ranker's score.

    ``context`` marks a feature with the same value for every candidate of this
    request (device, weekday, recent activity, the serving positions): it moves
    every title's score alike, so it says nothing about why this title ranks
    above another, only how likely any play is right now.
    """

    name: str
    label: str
    value: float
    contribution: float
    context: bool = False


@dataclass(frozen=True, slots=True)
class TitleExplanation:
    """Why one title is (or is not) in a profile's ranked pool at one moment.

    Attributes
    ----------
    model_version : int
        The version explained; compare with the page's to be sure both are the same.
    ranker : str
        ``"prior"`` or ``"learned"``.
    in_pool : bool
        Whether any generator proposed it (only pool titles can be on the page).
    pool_rank, pool_size : int or None, int
        1-based rank in the ranked pool.
    probability, match : float or None, int or None
        Calibrated P(play) and "% match", as the homepage served them: match is
        None where the page shows none
        (:meth:`~recommendations.serving.scoring.RankedPool.shown_match`: a title
        being resumed, one under ``MATCH_SHOWN_MIN``, or a profile that has
        played and liked nothing).
    match_withheld : str
        Why a pool title shows no "% match", in a sentence for staff; empty when it
        shows one, or is outside the pool.
    sources : tuple of SourceReason
        Empty for titles outside the pool.
    features : tuple of FeatureContribution
        The ranker's terms for this title, zeros left out: the ones that tell it
        apart from other candidates first, then the context; largest magnitude first.
    intercept : float
        The score of an average shown title (``centred``) or of all-zero features.
    centred : bool
        Whether the terms are relative to an average shown title (a ranker
        fitted on standardised features) rather than to zero.
    excluded : tuple of str
        For a title outside the pool: the filters it failed, or that no
        generator ranked it high enough.
    """

    title_id: int
    model_version: int
    ranker: str
    personalised: bool
    in_pool: bool
    pool_rank: int | None
    pool_size: int
    probability: float | None
    match: int | None
    sources: tuple[SourceReason, ...]
    features: tuple[FeatureContribution, ...]
    intercept: float
    excluded: tuple[str, ...]
    centred: bool = False
    match_withheld: str = ""


def _match_withheld(pool: RankedPool, position: int) -> str:
    """Which of ``RankedPool.shown_match``'s reasons hid this title's figure, if one did.

    The console said "being resumed" of every hidden figure of a profile with history,
    which was wrong for the commoner case: a figure under ``MATCH_SHOWN_MIN``.
    """
    if not pool.personalised:
        return "ranked by popularity, not by this profile's taste"
    if not pool.matched:
        return "the profile has not played or liked anything yet"
    if pool.resuming[position]:
        return "being resumed, so the profile has already chosen it"
    if pool.match[position] < MATCH_SHOWN_MIN:
        return (
            f"{int(pool.match[position])}% is under {MATCH_SHOWN_MIN}%, so its row's reason "
            "speaks for it"
        )
    return ""


class UnknownTitle(LookupError):
    """The title is not in the serving model's catalogue index (added after the last training)."""


@dataclass(frozen=True, slots=True)
class _Scoring:
    bundle: ServingBundle
    catalogue: CatalogueArrays
    history: ProfileHistory
    context: ScoringContext
    inputs: RankingInputs


def _serving_bundle_for(
    *,
    profile: Profile,
    at: dt.datetime,
    model_version: int | None,
    bundle: ServingBundle | None = None,
) -> tuple[ServingBundle, CatalogueArrays, ProfileHistory]:
    """The bundle that served (or would serve) the profile, with its history on it.

    The serving rule is :func:`~recommendations.serving.recommend.profile_serving`'s;
    with ``model_version`` (the page's), the version that built the page when it
    is one of the profile's cluster and region versions (the rule may have
    picked the other one since: a few more titles watched). ``bundle``: the version
    chosen to build the page with instead (as ``homepage_build`` takes it).
    """
    served = profile_serving(profile=profile, at=at, bundle=bundle)
    if bundle is not None or model_version is None or served.bundle.version_id == model_version:
        return served.bundle, served.catalogue, served.history
    region_code = profile.account.home_region_id
    for bundle in (
        serving_bundle(region_code, profile.taste_cluster_id),
        serving_bundle(region_code),
    ):
        if bundle.version_id == model_version:
            bundle, catalogue = bundle.served(
                float(settings.TONIGHT.get("CATALOGUE_REFRESH_SECONDS", 300.0))
            )
            history = history_on_index(
                served.rows, profile_id=profile.pk, bundle=bundle, catalogue=catalogue
            )
            return bundle, catalogue, history
    return served.bundle, served.catalogue, served.history


def _scoring_setup(
    *,
    profile: Profile,
    device: str,
    at: dt.datetime,
    model_version: int | None,
    bundle: ServingBundle | None = None,
) -> _Scoring:
    """The bundle, inputs and context the homepage builds for this profile and moment.

    As :func:`recommendations.serving.homepage.homepage_build` builds them: the serving
    version, and the context of
    :func:`~recommendations.serving.recommend.profile_scoring_context`.
    """
    bundle, catalogue, history = _serving_bundle_for(
        profile=profile, at=at, model_version=model_version, bundle=bundle
    )
    context = profile_scoring_context(profile=profile, catalogue=catalogue, device=device, at=at)
    inputs = ranking_inputs(
        bundle=bundle,
        catalogue=catalogue,
        history=history,
        context=context,
        weights=signal_weights(),
    )
    return _Scoring(bundle, catalogue, history, context, inputs)


def _excluded(inputs: RankingInputs, title: int) -> tuple[str, ...]:
    """The hard filters a title fails, in the order :func:`eligible_titles` applies them."""
    reasons = []
    if not inputs.available[title]:
        reasons.append("Not available in the profile's region at this moment.")
    if not inputs.within_maturity[title]:
        reasons.append("Above the profile's maturity limit.")
    if inputs.disliked[title]:
        reasons.append("The profile gave it a thumbs down.")
    if inputs.completed[title] and not inputs.rewatch_worthy[title]:
        reasons.append("The profile finished it and it is not one they rewatch.")
    if inputs.penalty is not None:
        # The candidate generator's own threshold decides "too close" (one source of truth).
        kept = eligible_titles(
            available=[True],
            within_maturity=[True],
            dislike_penalty=inputs.penalty[[title]],
            in_progress=inputs.continue_watching[[title]] > 0,
        )
        if not kept[0]:
            reasons.append("Too close to titles the profile gave a thumbs down.")
    if not reasons:
        reasons.append(
            "Eligible, but no candidate generator ranked it high enough for the pool "
            "the ranker orders."
        )
    return tuple(reasons)


def title_explanation(
    *,
    profile: Profile,
    device: str,
    at: dt.datetime,
    title_id: int,
    model_version: int | None = None,
    bundle: ServingBundle | None = None,
) -> TitleExplanation:
    """Explain one title for one profile, device and moment (``profile`` with ``account``).

    ``model_version`` is the explained page's, so the explanation is of the
    version that built it; check the result's ``model_version`` (a version
    activated in between is not served any more and cannot be explained).
    Costs about two homepage builds: call it from staff pages, never from the API.
    ``bundle``: a version chosen to build the page with instead of the serving one
    (:func:`~recommendations.serving.cache.version_bundle`), explained as it is.

    Raises
    ------
    UnknownTitle
        If the serving model does not know the title.
    recommendations.serving.cache.NoActiveModel
    """
    scoring = _scoring_setup(
        profile=profile, device=device, at=at, model_version=model_version, bundle=bundle
    )
    bundle, catalogue, inputs = scoring.bundle, scoring.catalogue, scoring.inputs
    title = int(index_of(bundle.index.title_ids, [title_id])[0])
    if title < 0:
        raise UnknownTitle(f"title {title_id} is not in model version {bundle.version_id}")
    pool = rank_profile(
        bundle=bundle,
        catalogue=catalogue,
        history=scoring.history,
        context=scoring.context,
        weights=signal_weights(),
    )

    ranker = bundle.ranker
    centred = bool(np.any(ranker.feature_mean != 0))  # standardised: an older release's
    # The title's row and the pool's, so features constant over the pool can be told apart.
    titles = np.concatenate([[title], pool.title_index]).astype(np.int64)
    matrix = ranking_features(inputs, catalogue=catalogue, titles=titles)
    features = matrix[0]
    constant = np.ptp(matrix, axis=0) == 0
    terms = (features.astype(np.float64) - ranker.feature_mean) / ranker.feature_scale * ranker.coef
    order = np.lexsort((-np.abs(terms), constant))
    contributions = tuple(
        FeatureContribution(
            name=FEATURE_NAMES[j],
            label=FEATURE_LABELS.get(FEATURE_NAMES[j], FEATURE_NAMES[j]),
            value=float(features[j]),
            contribution=float(terms[j]),
            context=bool(constant[j]),
        )
        for j in order.tolist()
        if abs(terms[j]) > 1e-9
    )

    where = np.flatnonzero(pool.title_index == title)
    if where.shape[0] == 0:
        return TitleExplanation(
            title_id=title_id,
            model_version=bundle.version_id,
            ranker=ranker.mode,
            personalised=pool.personalised,
            in_pool=False,
            pool_rank=None,
            pool_size=len(pool),
            probability=float(
                expit(
                    ranker.platt_slope * (ranker.intercept + terms.sum()) + ranker.platt_intercept
                )
            ),
            match=None,
            sources=(),
            features=contributions,
            intercept=float(ranker.intercept),
            centred=centred,
            excluded=_excluded(inputs, title),
        )

    position = int(where[0])
    bits = int(pool.sources[position])
    # The score each generator ranked its candidates by (what made it propose this one).
    raw = {
        Source.CF: float(inputs.cf[title]) if inputs.cf is not None else 0.0,
        Source.CONTENT: float(inputs.content[title]) if inputs.content is not None else 0.0,
        Source.TRENDING: float(inputs.trending[title]),
        Source.NEW_RELEASE: float(new_release_scores(inputs.release_age[[title]])[0]),
        Source.CONTINUE_WATCHING: float(inputs.continue_watching[title]),
        Source.CATALOGUE: float(inputs.fill[title]),
    }

    return TitleExplanation(
        title_id=title_id,
        model_version=bundle.version_id,
        ranker=ranker.mode,
        personalised=pool.personalised,
        in_pool=True,
        pool_rank=position + 1,
        pool_size=len(pool),
        probability=float(pool.probability[position]),
        match=pool.shown_match(np.array([position]))[0],
        match_withheld=_match_withheld(pool, position),
        sources=tuple(
            SourceReason(name=source.name.lower(), reason=SOURCE_REASONS[source], score=raw[source])
            for source in ALL_SOURCES
            if bits & source
        ),
        features=contributions,
        intercept=float(ranker.intercept),
        centred=centred,
        excluded=(),
    )


__all__ = [
    "FEATURE_LABELS",
    "SOURCE_REASONS",
    "FeatureContribution",
    "SourceReason",
    "TitleExplanation",
    "UnknownTitle",
    "title_explanation",
]
