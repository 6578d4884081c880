"""Candidates and ranking for one profile, from arrays: the request path's numeric part.

No database access and no Python loop over titles: every step is a vector
operation over the catalogue or over the few hundred candidates. Serving
(``recommend``), the offline evaluation and the benchmark all call
:func:`rank_profile`, so what is measured is what is served.

The steps:

1. Masks over the catalogue: available in the region at ``at`` (from the
   cached window arrays), within the maturity limit, thumbs-down, completed
   unless rewatch-worthy (the profile's derived title state).
2. The profile's *current* history becomes a confidence row (the same
   rules as training, :func:`~recommendations.engine.confidence.profile_confidence_row`),
   folded into the collaborative model for CF scores: tonight's plays count
   before the next retrain. A profile without usable history gets no CF
   scores and is served by its cluster's (or region's) trending titles,
   content affinity and new releases.
3. Content affinity to the profile's liked titles; thumbs-down penalties of
   disliked titles' content neighbours.
4. :func:`~recommendations.engine.candidates.generate_candidates`, then
   :func:`~recommendations.engine.ranking.build_features` and the version's
   :class:`~recommendations.engine.ranking.PlayRanker`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from recommendations.engine.candidates import CandidateQuotas, generate_candidates
from recommendations.engine.confidence import (
    SignalCode,
    SignalWeights,
    dislike_penalty_of,
    profile_confidence_row,
)
from recommendations.engine.popularity import NEW_RELEASE_WINDOW_DAYS, new_release_scores
from recommendations.engine.ranking import build_features, hour_bucket, local_hour_and_weekday
from recommendations.selectors.training import SECONDS_PER_DAY, SeasonReleases, TrainingSignals
from recommendations.serving.bundle import CatalogueArrays, RegionArrays, ServingBundle

# A title in progress counts as "continue watching" with weight halving every two weeks.
CONTINUE_HALF_LIFE_DAYS = 14.0
# The least a title in progress scores: 2^-(days/14) in float32 is 0 after 5.7 years, and a
# 0 is "not in progress" to the candidates, the row and the ranker's feature alike.
CONTINUE_MIN_SCORE = float(np.finfo(np.float32).tiny)
#: The lowest "% match" shown; below it the item's ``match`` is null (RankedPool.shown_match).
MATCH_SHOWN_MIN = 20
RECENT_ACTIVITY_DAYS = 7.0
_PLAY_CODES = np.array(
    [SignalCode.PLAY_START, SignalCode.SEARCH_PLAY, SignalCode.EXTERNAL_PLAY], dtype=np.int8
)
_IS_PLAY = np.zeros(max(SignalCode) + 1, dtype=bool)
_IS_PLAY[_PLAY_CODES] = True


def member_mask(
    values: npt.NDArray[np.integer], members: npt.NDArray[np.integer], size: int
) -> npt.NDArray[np.bool_]:
    """``np.isin(values, members)`` for indices in ``[-1, size)`` (-1: none), through a
    mask of ``size + 1`` (``isin`` sorts both arrays: several times slower here)."""
    mask = np.zeros(size + 1, dtype=bool)
    mask[members] = True
    mask[size] = False  # -1 is "unknown", never a member
    return mask[values]


@dataclass(frozen=True, slots=True)
class ProfileHistory:
    """One profile's signals and derived title states, on a version's title index.

    Attributes
    ----------
    signals : TrainingSignals
        The profile's recent signals (``profile_index`` all 0), impressions included.
    state_title : numpy.ndarray of int32, shape (k,)
        Titles the profile has a :class:`~recommendations.models.ProfileTitleState` for.
    completed, rewatch_worthy, thumbs_down, in_progress : numpy.ndarray of bool, shape (k,)
        ``completed``: watched to the end, by a completion (``completed_at``) or but for
        the credits of the last episode played, every other episode out then finished
        (:func:`~recommendations.selectors.signals.finished_but_for_credits`): a finished
        title on every part of the page.
    thumbs_up : numpy.ndarray of bool, shape (k,)
        Liked now (empty where no title states are read: offline evaluation).
    last_played : numpy.ndarray of float64, shape (k,)
        Unix seconds; NaN if never played.
    progress : numpy.ndarray of float64, shape (k,), optional
        Percent watched of the film or of the last episode played (the state's,
        so it survives the bound on the signals read). None where no one shows
        it (offline evaluation).
    episodes_finished : numpy.ndarray of int32, shape (k,)
        Episodes of a series the profile finished, or passed (the last one played,
        left in its credits: what is left of the series is beyond them; 0 for a
        film). Empty where no title states are read (offline evaluation).
    """

    signals: TrainingSignals
    state_title: npt.NDArray[np.int32]
    completed: npt.NDArray[np.bool_]
    rewatch_worthy: npt.NDArray[np.bool_]
    thumbs_down: npt.NDArray[np.bool_]
    in_progress: npt.NDArray[np.bool_]
    last_played: npt.NDArray[np.float64]
    progress: npt.NDArray[np.float64] | None = None
    thumbs_up: npt.NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=bool))
    episodes_finished: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.empty(0, dtype=np.int32)
    )

    @property
    def chose_something(self) -> bool:
        """Whether the profile ever played a title or likes one now.

        What a "% match" may stand on. Hovers and previews move the ranking
        (the fold-in reads them), but a figure built on them alone overstates
        what is known: a Kids profile with four hovers and a preview read
        "96% match". A like rated down or cleared since is not a choice.
        """
        return bool((~np.isnan(self.last_played)).any() or self.thumbs_up.any())

    def liked(self) -> npt.NDArray[np.int64]:
        """Titles the profile likes now, most recently liked first, each once.

        Whether a title is liked is its derived state's (:attr:`thumbs_up`: the
        latest of up, down and cleared, in the order ingest folded them, a fast
        clock's stamp included); the order is that of the history's thumbs up,
        newest first. A like rated down or cleared since is liked no more
        ("Because you liked X" seeds). A like older than the signals read (they are
        bounded; the states are not) comes after those, still liked: it was left
        out, so a heavy viewer's like of three weeks ago made no row. Those come
        most recently played first (never played last): the states arrive in the
        database's order, which is none, and the like's own time is not read.
        """
        liked_now = self.state_title[self.thumbs_up]
        if not liked_now.shape[0]:
            return np.empty(0, dtype=np.int64)
        signals = self.signals
        ups = signals.title_index[signals.kind == SignalCode.THUMBS_UP]
        ups = ups[np.isin(ups, liked_now)]
        older = ~np.isin(liked_now, ups)
        played = self.last_played[self.thumbs_up][older]
        older = liked_now[older][np.argsort(-np.nan_to_num(played, nan=-np.inf), kind="stable")]
        return np.array(list(dict.fromkeys([*ups.tolist(), *older.tolist()])), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class ScoringContext:
    """Who is asking, where and when.

    Attributes
    ----------
    region_code : str
    cluster_id : int or None
    maturity_limit : int
    language_index : numpy.ndarray of int16
        The profile's languages, as indices of ``CatalogueFacts.language_codes``.
    device : str
    at : datetime
        Aware: the moment ranked at (availability, ages of signals and releases)
        and, unless ``context_at`` is given, whose local hour and weekday are the
        context.
    pool_size : int
    exclude : numpy.ndarray of bool, shape (n_titles,), optional
        Titles never to propose (offline evaluation: the training history).
    context_at : datetime, optional
        Aware: the moment whose hour and weekday, in the region's time zone, are
        the context, when that is not ``at`` (the homepage API's ``at``: a client
        may ask for tonight's page, never for another moment's catalogue).
    """

    region_code: str
    cluster_id: int | None
    maturity_limit: int
    language_index: npt.NDArray[np.int16]
    device: str
    at: dt.datetime
    pool_size: int = 500
    exclude: npt.NDArray[np.bool_] | None = None
    context_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RankedPool:
    """The profile's candidates, best first.

    Attributes
    ----------
    title_index : numpy.ndarray of int32, shape (m,)
    probability : numpy.ndarray of float32, shape (m,)
        Calibrated P(play | shown, context), non-increasing.
    match : numpy.ndarray of uint8, shape (m,)
        "% match", 0-99, non-increasing.
    sources : numpy.ndarray of uint8, shape (m,)
        :class:`~recommendations.engine.candidates.Source` bits.
    personalised : bool
        Whether the profile had history for CF (False: popularity fallback).
    resuming : numpy.ndarray of bool, shape (m,)
        Titles the profile has in progress (all of them, not only the
        continue-watching generator's quota).
    matched : bool
        Whether a "% match" may be shown: personalised, and the profile has
        played or liked something (:attr:`ProfileHistory.chose_something`).
    """

    title_index: npt.NDArray[np.int32]
    probability: npt.NDArray[np.float32]
    match: npt.NDArray[np.uint8]
    sources: npt.NDArray[np.uint8]
    personalised: bool
    resuming: npt.NDArray[np.bool_]
    matched: bool

    def __len__(self) -> int:
        return int(self.title_index.shape[0])

    def shown_match(self, positions: npt.NDArray[np.intp]) -> list[int | None]:
        """The "% match" of the titles at ``positions``, None where a figure would mislead.

        A profile with no history to fold in is ranked by popularity: every
        title would read a few percent, a statement about what we know, not
        about the title; one that has only hovered or previewed is barely
        further (:attr:`matched`). Below ``MATCH_SHOWN_MIN`` the figure says
        "you will probably not want this" of a title the page recommends, for
        a reason of its row's (acclaimed, new, of a genre): the row's reason
        speaks for it instead. A title being resumed is matched by the profile's own
        choice; its play probability now (which the figure is) says when, not
        whether: a film at 97% before it was started read 14% once resumed.
        """
        if not self.matched:
            return [None] * positions.shape[0]
        shown = self.match[positions]
        match = shown.tolist()
        hidden = self.resuming[positions] | (shown < MATCH_SHOWN_MIN)
        if hidden.any():
            for k in np.flatnonzero(hidden).tolist():
                match[k] = None
        return match


def bucket_genre_affinity(
    *, genre_rows: npt.NDArray[np.float32], in_bucket: npt.NDArray[np.bool_], smoothing: float = 5.0
) -> npt.NDArray[np.float32]:
    """The current hour bucket's row of :func:`~recommendations.engine.ranking.hour_genre_affinity`.

    The same formula (each play spread over its title's genres, the bucket's
    mix smoothed towards the all-day mix with ``smoothing`` pseudo-plays, then
    scaled so the top genre is 1), computed for one bucket with dense numpy
    instead of the general function's sparse products over the catalogue.

    Parameters
    ----------
    genre_rows : array of float32, shape (n_plays, n_genres)
        The genre table's row of each played title.
    in_bucket : array of bool, shape (n_plays,)
        Plays that started in the current hour bucket.

    Returns
    -------
    numpy.ndarray of float32, shape (n_genres,)
    """
    genres = np.asarray(genre_rows, dtype=np.float64)
    per_title = genres.sum(axis=1, keepdims=True)
    shares = np.divide(genres, per_title, out=np.zeros_like(genres), where=per_title > 0)
    overall = shares.sum(axis=0)
    total = overall.sum()
    if total == 0:
        return np.zeros(genres.shape[1], dtype=np.float32)
    mix = shares[in_bucket].sum(axis=0) + smoothing * overall / total
    top = mix.max()
    return (mix / top if top > 0 else mix).astype(np.float32)


def _scatter(n: int, index: np.ndarray, values: np.ndarray, dtype: type) -> np.ndarray:
    out = np.zeros(n, dtype=dtype)
    out[index] = values
    return out


@dataclass(frozen=True, slots=True)
class RankingInputs:
    """Everything the ranking features of one profile at one moment are made of, per title.

    Built once per request by :func:`ranking_inputs`; :func:`ranking_features`
    then takes the rows of any titles. Serving takes the candidates' rows;
    training (:mod:`recommendations.services.ranker_training`) takes the rows
    of the titles a logged page showed, at that page's moment, so the title
    ranker learns from exactly the features it will be served with.
    """

    at: float
    local: dt.datetime
    device: str
    language_index: npt.NDArray[np.int16]
    available: npt.NDArray[np.bool_]
    within_maturity: npt.NDArray[np.bool_]
    disliked: npt.NDArray[np.bool_]
    completed: npt.NDArray[np.bool_]
    rewatch_worthy: npt.NDArray[np.bool_]
    penalty: npt.NDArray[np.float32] | None
    cf: npt.NDArray[np.float32] | None
    content: npt.NDArray[np.float32] | None
    trending: npt.NDArray[np.float32]
    cluster_popularity: npt.NDArray[np.float32]
    region_popularity: npt.NDArray[np.float32]
    release_age: npt.NDArray[np.float64]
    continue_watching: npt.NDArray[np.float32]
    genre_affinity: npt.NDArray[np.float32]
    impressions: npt.NDArray[np.int64]
    played: npt.NDArray[np.int32]
    recent_plays: int
    personalised: bool

    @property
    def fill(self) -> npt.NDArray[np.float32]:
        """The order in which the rest of the eligible catalogue fills a short pool.

        The region's popularity. One place, because the candidates are filled by it
        and the console's explanation reports a filled title's score from it.
        """
        return self.region_popularity


def continue_watching_since(
    history: ProfileHistory, catalogue: CatalogueArrays, at: float
) -> npt.NDArray[np.float64]:
    """When each title state's Continue Watching recency starts (Unix seconds), shape (k,).

    The last play, except for a finished title being resumed (a series back for a
    season out since, or a rewatch; a series finished but for the credits of its last
    episode played is a finished one, :attr:`ProfileHistory.completed`): the later of
    its last play and the release of
    its newest season out at ``at`` (so never after the page's moment). A series
    finished six months ago whose new season came out yesterday is yesterday's news,
    as on any streaming service, not six months old. A film, or a rewatch of a series
    with nothing new, has no season out since its last play: its last play stands.
    :func:`~recommendations.selectors.signals.continue_watching` orders by the same
    moment.
    """
    back = history.completed & history.in_progress
    if not back.any():  # most pages: no query of the releases, no copy
        return history.last_played
    since = history.last_played.copy()
    newest = catalogue.releases.newest_out(at)
    since[back] = np.maximum(since[back], newest[history.state_title[back]])
    return since


def ranking_inputs(
    *,
    bundle: ServingBundle,
    catalogue: CatalogueArrays,
    history: ProfileHistory,
    context: ScoringContext,
    weights: SignalWeights | None = None,
) -> RankingInputs:
    """Steps 1-3 of the module docstring: masks, fold-in, content and per-title context."""
    n = bundle.n_titles
    at = context.at.timestamp()
    facts = catalogue.facts
    region = catalogue.region(context.region_code)

    # 1. Hard filters, vectorised over the catalogue.
    # Shared between requests, never modified here: the fold-in knows it by identity.
    available = region_available = region.available(at)
    if context.exclude is not None:
        available = available & ~context.exclude
    within_maturity = facts.maturity <= context.maturity_limit
    states = history.state_title
    disliked = _scatter(n, states, history.thumbs_down, bool)
    # A title being resumed is not done with, finished or not: a finished series back for
    # a season out since (or a rewatch under way) must stay eligible for its own row.
    completed = _scatter(n, states, history.completed & ~history.in_progress, bool)
    rewatch_worthy = _scatter(n, states, history.rewatch_worthy, bool)

    # 2. The current history as confidence, folded into the collaborative model.
    signals = history.signals
    ages = signals.age_days(at)
    # Impressions (most of a history) only make the "ignored" matrix, which serving
    # does not use: positive and negative evidence are the same without them.
    engaged = np.flatnonzero((signals.kind != SignalCode.IMPRESSION) & (signals.title_index >= 0))
    # One profile's evidence as arrays, never as sparse rows (ConfidenceRow says why).
    confidence = profile_confidence_row(
        title_index=signals.title_index[engaged],
        kind=signals.kind[engaged],
        value=signals.value[engaged],
        age_days=ages[engaged],
        commitment=signals.commitment_hours[engaged],
        rewatch=signals.rewatch[engaged],
        n_titles=n,
        weights=weights,
    )
    personalised = confidence.personalised
    cf = None
    # Dislikes alone fold in to the zero factor: every score 0, whose ties CF would propose
    # as its picks. No likes, no CF.
    if confidence.foldable:
        factor = bundle.als.fold_in_entries(*confidence.signed(), available=region_available)
        cf = bundle.als.item_factors @ factor

    # 3. Content affinity and thumbs-down neighbourhoods.
    liked_titles, liked_amounts = confidence.liked()
    content = None
    if liked_titles.shape[0]:
        content = bundle.content.affinity_of(liked_titles, liked_amounts)
    dislike_titles, dislike_amounts = confidence.disliked()
    if history.thumbs_down.any():
        # The derived state remembers dislikes older than the loaded signals: each such
        # title at least a thumbs down's strength (the loaded evidence may say more).
        missing = states[history.thumbs_down]
        strength = np.float32((weights or SignalWeights()).thumbs_down)
        dislike_titles, slot = np.unique(
            np.concatenate([dislike_titles, missing]), return_inverse=True
        )
        merged = np.zeros(dislike_titles.shape[0], dtype=np.float32)
        np.maximum.at(
            merged, slot, np.concatenate([dislike_amounts, np.full(missing.shape[0], strength)])
        )
        dislike_amounts = merged
    penalty = None
    if dislike_titles.shape[0]:
        penalty = dislike_penalty_of(dislike_titles, dislike_amounts, bundle.neighbours)

    trending, cluster_pop, region_pop = bundle.trending_rows(
        region_code=context.region_code, cluster_id=context.cluster_id
    )
    release_age = (at - region.arrival) / SECONDS_PER_DAY
    since = (at - continue_watching_since(history, catalogue, at)) / SECONDS_PER_DAY
    recency = np.exp2(-np.nan_to_num(since) / CONTINUE_HALF_LIFE_DAYS)
    resume = np.where(history.in_progress, np.maximum(recency, CONTINUE_MIN_SCORE), 0.0)
    continue_watching = _scatter(n, states, resume, np.float32)

    is_play = _IS_PLAY[signals.kind] & (signals.title_index >= 0)
    played = signals.title_index[is_play]
    zone = catalogue.time_zones.get(context.region_code, dt.UTC)
    local = (context.context_at or context.at).astimezone(zone)
    # Each play's own local hour: a summer evening's play is still an evening play in winter.
    play_hours, _ = local_hour_and_weekday(signals.timestamp[is_play], zone)
    genre_affinity = bucket_genre_affinity(
        genre_rows=catalogue.genre_table[played],
        in_bucket=hour_bucket(play_hours) == hour_bucket(local.hour),
    )
    impressions = signals.kind == SignalCode.IMPRESSION
    return RankingInputs(
        at=at,
        local=local,
        device=context.device,
        language_index=context.language_index,
        available=available,
        within_maturity=within_maturity,
        disliked=disliked,
        completed=completed,
        rewatch_worthy=rewatch_worthy,
        penalty=penalty,
        cf=cf,
        content=content,
        trending=trending,
        cluster_popularity=cluster_pop,
        region_popularity=region_pop,
        release_age=release_age,
        continue_watching=continue_watching,
        genre_affinity=genre_affinity,
        impressions=np.bincount(signals.title_index[impressions], minlength=n),
        played=played,
        recent_plays=int(np.count_nonzero(ages[is_play] <= RECENT_ACTIVITY_DAYS)),
        personalised=personalised,
    )


def ranking_features(
    inputs: RankingInputs,
    *,
    catalogue: CatalogueArrays,
    titles: npt.NDArray[np.integer],
    row_position: npt.ArrayLike = 0,
    slot_position: npt.ArrayLike = 0,
) -> npt.NDArray[np.float32]:
    """:func:`~recommendations.engine.ranking.build_features` of ``titles`` (title indices)."""
    shown = inputs.impressions[titles]
    shown[member_mask(titles, inputs.played, inputs.available.shape[0])] = 0
    zeros = np.zeros(titles.shape[0])
    return build_features(
        cf_score=inputs.cf[titles] if inputs.cf is not None else zeros,
        content_affinity=inputs.content[titles] if inputs.content is not None else zeros,
        cluster_popularity=inputs.cluster_popularity[titles],
        region_popularity=inputs.region_popularity[titles],
        release_age_days=inputs.release_age[titles],
        language_match=member_mask(
            catalogue.facts.language[titles],
            inputs.language_index,
            len(catalogue.facts.language_codes),
        ),
        continue_watching=inputs.continue_watching[titles] > 0,
        dislike_penalty=inputs.penalty[titles] if inputs.penalty is not None else zeros,
        impressions_without_play=shown,
        title_genres=catalogue.genre_table[titles],
        genre_affinity=inputs.genre_affinity,
        recent_plays=inputs.recent_plays,
        weekday=inputs.local.weekday(),
        device=inputs.device,
        row_position=row_position,
        slot_position=slot_position,
    )


def _new_release(
    inputs: RankingInputs, region: RegionArrays, releases: SeasonReleases
) -> npt.NDArray[np.float32]:
    """:func:`~recommendations.engine.popularity.new_release_scores` of the catalogue.

    Only titles that arrived within the window score above 0, and they are
    found by arrival time (a day's margin each side; the function itself then
    applies the exact rule), so the scores are computed for a few hundred
    titles instead of the whole catalogue. A series whose newest season came
    out within the window scores as new from that season's release: it is
    the homepage's "New Releases" too, and a row is filled from the pool.
    """
    margin = (NEW_RELEASE_WINDOW_DAYS + 1.0) * SECONDS_PER_DAY
    recent = region.arrived_between(inputs.at - margin, inputs.at + SECONDS_PER_DAY)
    scores = np.zeros(inputs.release_age.shape[0], dtype=np.float32)
    scores[recent] = new_release_scores(inputs.release_age[recent])
    renewed = releases.renewed_since(inputs.at - margin, inputs.at)
    if renewed.shape[0]:
        season_age = (inputs.at - releases.newest_out(inputs.at)[renewed]) / SECONDS_PER_DAY
        scores[renewed] = np.maximum(scores[renewed], new_release_scores(season_age))
    return scores


def rank_profile(
    *,
    bundle: ServingBundle,
    catalogue: CatalogueArrays,
    history: ProfileHistory,
    context: ScoringContext,
    weights: SignalWeights | None = None,
) -> RankedPool:
    """Candidates and calibrated play probabilities for one profile: see the module docstring."""
    inputs = ranking_inputs(
        bundle=bundle, catalogue=catalogue, history=history, context=context, weights=weights
    )
    pool = generate_candidates(
        available=inputs.available,
        within_maturity=inputs.within_maturity,
        disliked=inputs.disliked,
        completed=inputs.completed,
        rewatch_worthy=inputs.rewatch_worthy,
        dislike_penalty=inputs.penalty,
        cf=inputs.cf,
        content=inputs.content,
        trending=inputs.trending,
        new_release=_new_release(inputs, catalogue.region(context.region_code), catalogue.releases),
        continue_watching=inputs.continue_watching,
        fill=inputs.fill,
        quotas=CandidateQuotas(pool_size=context.pool_size),
    )
    candidates = pool.indices
    if candidates.shape[0] == 0:
        empty = np.empty(0, dtype=np.int32)
        return RankedPool(
            empty,
            empty.astype(np.float32),
            empty.astype(np.uint8),
            empty.astype(np.uint8),
            False,
            empty.astype(bool),
            False,
        )

    # 4. Features and ranking of the pool only.
    features = ranking_features(inputs, catalogue=catalogue, titles=candidates)
    probability = bundle.ranker.predict_proba(features)
    order = np.argsort(-probability, kind="stable")
    probability = probability[order]
    return RankedPool(
        title_index=candidates[order],
        probability=probability,
        match=bundle.ranker.match(probability),
        sources=pool.sources[order],
        personalised=inputs.personalised,
        resuming=inputs.continue_watching[candidates[order]] > 0,
        matched=inputs.personalised and history.chose_something,
    )
