"""A profile's ranked recommendations: the Django side of the request path.

Queries per request: the active-version check (at most every few seconds),
the profile's recent signals, its title states, its languages; the caller
adds the localised names. Everything catalogue-wide comes from the process's
cached :class:`~recommendations.serving.bundle.ServingBundle`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from profiles.models import Profile
from recommendations.engine.candidates import CandidatePool
from recommendations.engine.confidence import SignalCode
from recommendations.models import ProfileTitleState, Signal, SignalKind
from recommendations.selectors.training import (
    epoch_expression,
    index_of,
    signal_weights,
    signals_from_arrays,
)
from recommendations.services.signals import CONTINUE_MAX_PROGRESS, CONTINUE_MIN_PROGRESS
from recommendations.serving.bundle import CatalogueArrays, ServingBundle
from recommendations.serving.cache import serving_bundle
from recommendations.serving.scoring import ProfileHistory, RankedPool, ScoringContext, rank_profile

# The newest signals read per request: enough for months of a heavy viewer's
# engagement, and a bound on the request's cost whatever the profile did.
HISTORY_MAX_SIGNALS = 3000
# Fold-in reads the same window as training.
_DEFAULT_WINDOW_DAYS = 365


@functools.cache
def _history_sql() -> str:
    """The profile's newest signals, in :func:`signal_queryset`'s columns, as plain SQL.

    Built once per process: constructing the equivalent queryset (a CASE over
    eleven kinds) costs more per request than running it. Parameters:
    profile id, since, until, limit.
    """
    quote = connection.ops.quote_name
    table = quote(Signal._meta.db_table)
    codes = " ".join(
        f"WHEN '{kind.value}' THEN {int(SignalCode[kind.name])}" for kind in SignalKind
    )
    epoch = epoch_expression("occurred_at").sql
    # Only constants of this module and quoted identifiers are interpolated.
    select = (
        f"SELECT profile_id, COALESCE(title_id, -1), COALESCE(episode_id, -1), "  # noqa: S608
        f"CASE kind {codes} END, value, {epoch}, is_rewatch FROM {table} "
    )
    return select + (
        "WHERE profile_id = %s AND occurred_at >= %s AND occurred_at < %s "
        "ORDER BY occurred_at DESC LIMIT %s"
    )


def too_little_history(history: ProfileHistory) -> bool:
    """Fewer than ``TONIGHT["CLUSTER_MIN_HISTORY_TITLES"]`` titles engaged with (not just shown)."""
    signals = history.signals
    engaged = (signals.title_index >= 0) & (signals.kind != SignalCode.IMPRESSION)
    minimum = int(settings.TONIGHT.get("CLUSTER_MIN_HISTORY_TITLES", 3))
    return np.unique(signals.title_index[engaged]).shape[0] < minimum


@dataclass(frozen=True, slots=True)
class Recommendation:
    title_id: int
    score: float
    match: int
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Recommendations:
    """The top of a profile's ranked pool, and which model produced it."""

    model_version: int
    ranker: str
    personalised: bool
    results: list[Recommendation]


def profile_history(
    *, profile: Profile, bundle: ServingBundle, catalogue: CatalogueArrays, at: dt.datetime | None
) -> ProfileHistory:
    """The profile's recent signals and title states on the bundle's title index: two queries."""
    now = at or timezone.now()
    window = dt.timedelta(days=settings.TONIGHT.get("TRAINING_WINDOW_DAYS", _DEFAULT_WINDOW_DAYS))
    until = at or now + dt.timedelta(days=1)  # "now" includes events with a little clock skew
    with connection.cursor() as cursor:
        cursor.execute(_history_sql(), [profile.pk, now - window, until, HISTORY_MAX_SIGNALS])
        rows = cursor.fetchall()
    raw = np.array(rows, dtype=np.float64).reshape(-1, 7)
    signals = signals_from_arrays(
        raw,
        profiles=np.array([profile.pk], dtype=np.int64),
        titles=bundle.index.title_ids,
        episodes=catalogue.episodes,
        title_runtime_hours=catalogue.facts.runtime_hours,
    )
    states = list(
        ProfileTitleState.objects.filter(profile_id=profile.pk).values_list(
            "title_id", "completed_at", "rewatch_count", "thumbs", "last_played_at", "progress"
        )
    )
    title = index_of(bundle.index.title_ids, [s[0] for s in states])
    known = title >= 0
    completed = np.array([s[1] is not None for s in states], dtype=bool)
    thumbs = np.array([s[3] for s in states], dtype=str).reshape(-1)
    last_played = np.array(
        [s[4].timestamp() if s[4] else np.nan for s in states], dtype=np.float64
    ).reshape(-1)
    progress = np.array([s[5] for s in states], dtype=np.float64).reshape(-1)
    series = catalogue.facts.is_series[np.where(known, title, 0)]
    in_progress = (
        ~np.isnan(last_played)
        & ~completed
        & (thumbs != ProfileTitleState.Thumbs.DOWN)
        & (series | ((progress >= CONTINUE_MIN_PROGRESS) & (progress <= CONTINUE_MAX_PROGRESS)))
    )
    rewatched = np.array([s[2] > 0 for s in states], dtype=bool)
    return ProfileHistory(
        signals=signals,
        state_title=title[known],
        completed=completed.reshape(-1)[known],
        rewatch_worthy=(rewatched.reshape(-1) | (thumbs == ProfileTitleState.Thumbs.UP))[known],
        thumbs_down=(thumbs == ProfileTitleState.Thumbs.DOWN)[known],
        in_progress=in_progress[known],
        last_played=last_played[known],
    )


def profile_ranked_pool(
    *, profile: Profile, device: str, at: dt.datetime | None = None
) -> tuple[ServingBundle, RankedPool]:
    """The profile's whole ranked candidate pool (the homepage's rows are filled from it).

    Raises
    ------
    recommendations.serving.cache.NoActiveModel
    """
    region_code = profile.account.home_region_id
    refresh = float(settings.TONIGHT.get("CATALOGUE_REFRESH_SECONDS", 300.0))
    bundle = serving_bundle(region_code, profile.taste_cluster_id)
    catalogue = bundle.catalogue(refresh)
    history = profile_history(profile=profile, bundle=bundle, catalogue=catalogue, at=at)
    if profile.taste_cluster_id is not None and too_little_history(history):
        # A cluster model is fitted to its community's co-viewing; a profile that has
        # shown next to nothing yet is better served by the broader region model.
        regional = serving_bundle(region_code)
        if regional.version_id != bundle.version_id:
            bundle = regional
            catalogue = bundle.catalogue(refresh)
            history = profile_history(profile=profile, bundle=bundle, catalogue=catalogue, at=at)
    codes = set(profile.preferred_languages.values_list("code", flat=True))
    if profile.display_language_id:
        codes.add(profile.display_language_id)
    language_codes = catalogue.facts.language_codes
    context = ScoringContext(
        region_code=region_code,
        cluster_id=profile.taste_cluster_id,
        maturity_limit=profile.maturity_limit,
        language_index=np.array(
            [i for i, code in enumerate(language_codes) if code in codes], dtype=np.int16
        ),
        device=device,
        at=at or timezone.now(),
        pool_size=int(settings.TONIGHT.get("CANDIDATE_POOL_SIZE", 500)),
    )
    pool = rank_profile(
        bundle=bundle,
        catalogue=catalogue,
        history=history,
        context=context,
        weights=signal_weights(),
    )
    return bundle, pool


def recommend_for_profile(
    *, profile: Profile, device: str, at: dt.datetime | None = None, n: int = 20
) -> Recommendations:
    """The profile's top ``n`` titles with score (P(play)), "% match" and candidate sources.

    ``profile`` needs its ``account`` loaded (``profile_get(..., for_display=False)`` does).
    """
    bundle, pool = profile_ranked_pool(profile=profile, device=device, at=at)
    top = slice(0, n)
    title_ids = bundle.index.title_ids[pool.title_index[top]].tolist()
    return Recommendations(
        model_version=bundle.version_id,
        ranker=bundle.ranker.mode,
        personalised=pool.personalised,
        results=[
            Recommendation(
                title_id=title_id,
                score=float(score),
                match=int(match),
                sources=CandidatePool.source_names(int(bits)),
            )
            for title_id, score, match, bits in zip(
                title_ids,
                pool.probability[top].tolist(),
                pool.match[top].tolist(),
                pool.sources[top].tolist(),
                strict=True,
            )
        ],
    )
