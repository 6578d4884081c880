"""Offline evaluation on a time-based holdout: Tonight beside most-popular and plain ALS.

**The split** is one global time cut: the latest ``test_fraction`` of all
activity (signals on titles) is held out, everything before that instant
trains every model, and Tonight's clock (trending's decay, the confidence's
decay, the hour of day it ranks for) is set to the cut. A per-profile split
(each profile's own last fraction) would let other profiles' later plays feed
the trending and popularity tables a profile is then ranked with. Profiles with
no training signal on a title, or nothing relevant after the cut, are not
evaluated.

**Relevant**: a held-out (profile, title) pair is relevant when the profile
played it (a play start of any kind), completed it or thumbed it up after the
cut (a thumbs up counts only if not cleared since), and the pair's latest
thumbs (over all its signals) is not down: a title thumbed down is never a
hit, even though it was started first. A bare play
start counts: P(play) is what the ranker predicts and what the homepage is for,
and a start the profile disliked is caught by the thumbs rule.

**Recommendable**: a held-out title the profile could not have been offered
at the cut (not licensed in its region then, or above its maturity limit:
serving's hard filters) is not relevant; no model could have scored it.

**Already seen**: titles the profile *engaged* with before the cut (plays,
progress, completions, thumbs) are not relevant and no model may recommend
them (so no model scores by repeating history). Impressions, hovers and
previews are not engagement: a title that was only shown is still news.

The three contenders, trained on the same split, recommend from the same titles:
each profile's, available in its region at the cut and within its maturity
limit (serving's hard filters, :func:`_not_recommendable`), not seen.

- **most-popular**: titles by how many profiles engaged positively;
- **plain ALS**: ``implicit``'s ``AlternatingLeastSquares`` with its default
  parameters on the count of positive events per (profile, title), as a
  first attempt without Tonight's signal semantics would do it; a profile
  with no positive event before the cut has no factor, and gets
  most-popular's list (its scores all tie);
- **Tonight**: the pipeline of a model version (:func:`models_fit`):
  weighted confidence with commitment and decay, ALS with fold-in, content,
  trending, filters, scored through the serving code path
  (:func:`~recommendations.serving.scoring.rank_profile`), with the title
  ranker a training at the cut would serve: learned from the pages logged
  before the cut whose attribution window and clock skew had passed by then
  (:func:`~recommendations.services.ranker_training.logged_examples_load`,
  the same rows and the same gate as ``model_train``), else the documented
  prior blend. When it is the learned one, **Tonight, prior blend** ranks
  with the same fitted models and the prior instead: what the learned ranker
  adds, measured on the same split.

What the split does not hold out (see docs/recommendations.md, "Offline
evaluation"): taste clusters are today's assignments, made from all
activity, and ``ALS_PARAMS`` were chosen on an earlier version of this table.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from django.utils import timezone

from profiles.models import Profile
from recommendations.engine.confidence import SignalCode
from recommendations.engine.metrics import RankingMetrics, evaluate, top_k
from recommendations.engine.popularity import MostPopular
from recommendations.engine.ranking import PlayRanker
from recommendations.engine.split import (
    Rating,
    global_time_holdout,
    holdout_matrices,
    latest_rating,
)
from recommendations.selectors import training as data
from recommendations.services.ranker_training import LoggedExamples, logged_examples_load
from recommendations.services.training import (
    FittedModels,
    RankerExamples,
    TrainingData,
    models_fit,
    training_data_load,
)
from recommendations.serving.bundle import ServingBundle, catalogue_arrays_load
from recommendations.serving.scoring import ProfileHistory, ScoringContext, rank_profile

K = 20
#: Signals that make a held-out title relevant (unless its latest thumbs is down); shared
#: with the per-cluster evaluation (``cluster_evaluation``), which judges by the same rules.
RELEVANT_KINDS = np.array(
    [
        SignalCode.PLAY_START,
        SignalCode.SEARCH_PLAY,
        SignalCode.EXTERNAL_PLAY,
        SignalCode.COMPLETE,
        SignalCode.THUMBS_UP,
    ],
    dtype=np.int8,
)
#: Signals that show a title was put in front of the profile, not that it engaged with it.
NOT_ENGAGED_KINDS = np.array(
    [
        SignalCode.IMPRESSION,
        SignalCode.HOVER,
        SignalCode.PREVIEW,
        SignalCode.ROW_SCROLL_PAST,
    ],
    dtype=np.int8,
)


@dataclass(frozen=True, slots=True)
class ModelResult:
    name: str
    metrics: RankingMetrics
    train_seconds: float
    #: Tonight's :attr:`PlayRanker.mode` (``"prior"`` or ``"learned"``); ``"-"`` for baselines.
    ranker: str = "-"


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    results: list[ModelResult]
    n_profiles: int
    n_titles: int
    n_train_events: int
    n_test_events: int
    #: Unix time of the cut: training is before it, the holdout at or after it.
    cut: float | None = None
    #: Pages logged before the cut that the title ranker was offered to learn from.
    logged_pages: int = 0
    #: Of those, the pages left out of its rows because the version that served them was
    #: pruned since (``TONIGHT_MODEL_VERSIONS_KEPT``): their features need that version.
    pages_version_pruned: int = 0
    #: Of those, the pages left out because their version cannot be loaded or none is named.
    pages_version_unloadable: int = 0

    def by_name(self, name: str) -> ModelResult:
        return next(result for result in self.results if result.name == name)


@dataclass(frozen=True)
class EvaluationSplit:
    """One global time cut of the signals, and what each evaluated profile is judged on."""

    #: Every signal before the cut (row scrolls included): all any model learns from.
    train: data.TrainingSignals
    #: The cut (Unix seconds): every training signal is earlier, every held-out one not.
    at: float
    #: Profile indexes evaluated: a training signal on a title and a relevant held-out title.
    users: np.ndarray
    #: (n_profiles, n_titles) bool: the relevant held-out pairs.
    relevant: sp.csr_matrix
    #: (n_profiles, n_titles) bool: the pairs engaged with before the cut.
    seen: sp.csr_matrix
    n_train_events: int
    n_test_events: int


def judged_events(
    *,
    profile_index: np.ndarray,
    title_index: np.ndarray,
    timestamp: np.ndarray,
    kind: np.ndarray,
    n_titles: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per event on a title: whether it makes its title relevant when held out, and whether
    its pair is disliked (never relevant). Shared with ``cluster_evaluation``.

    A thumbs up counts only while it stands: one cleared since (``thumbs_cleared``)
    is worth nothing either way, as in training and serving, so a title liked and
    then un-liked without a play is no hit. Ratings at the same instant go by
    :class:`~recommendations.engine.split.Rating`'s order (a thumbs down wins), as
    in training and serving.
    """
    up = kind == SignalCode.THUMBS_UP
    standing = latest_rating(
        profile_index=profile_index,
        title_index=title_index,
        timestamp=timestamp,
        thumbs_up=up,
        thumbs_down=kind == SignalCode.THUMBS_DOWN,
        thumbs_cleared=kind == SignalCode.THUMBS_CLEARED,
        n_titles=n_titles,
    )
    positive = np.isin(kind, RELEVANT_KINDS) & ~(up & (standing == Rating.CLEARED))
    return positive, standing == Rating.DOWN


def evaluation_split(
    signals: data.TrainingSignals, *, test_fraction: float, at: float
) -> EvaluationSplit:
    """Cut ``signals`` at the instant the latest ``test_fraction`` of title activity starts.

    ``at`` is the end of the signals' window, used as the cut when there is no activity.
    """
    events = np.flatnonzero(signals.title_index >= 0)
    split = global_time_holdout(timestamp=signals.timestamp[events], test_fraction=test_fraction)
    cut = at if split.cut is None else split.cut
    kind = signals.kind[events]
    profile_index = signals.profile_index[events]
    title_index = signals.title_index[events]
    n_profiles, n_titles = signals.n_profiles, signals.n_titles
    positive, disliked = judged_events(
        profile_index=profile_index,
        title_index=title_index,
        timestamp=signals.timestamp[events],
        kind=kind,
        n_titles=n_titles,
    )
    relevant, seen = holdout_matrices(
        split,
        profile_index=profile_index,
        title_index=title_index,
        n_profiles=n_profiles,
        n_titles=n_titles,
        counts=positive,
        engaged=~np.isin(kind, NOT_ENGAGED_KINDS),
        disliked=disliked,
    )
    trained = np.bincount(profile_index[split.train], minlength=n_profiles) > 0
    users = np.flatnonzero((np.diff(relevant.indptr) > 0) & trained)
    return EvaluationSplit(
        train=signals.subset(signals.timestamp < cut),
        at=cut,
        users=users,
        relevant=relevant,
        seen=seen,
        n_train_events=int(split.train.sum()),
        n_test_events=int((split.test & positive & ~disliked).sum()),
    )


def _empty_states() -> dict[str, np.ndarray]:
    empty = np.empty(0)
    return {
        "state_title": empty.astype(np.int32),
        "completed": empty.astype(bool),
        "rewatch_worthy": empty.astype(bool),
        "thumbs_down": empty.astype(bool),
        "in_progress": empty.astype(bool),
        "last_played": empty.astype(np.float64),
    }


def _profile_facts(
    profile_ids: np.ndarray, language_codes: tuple[str, ...]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Maturity limit and language indices of each profile in the index: two queries."""
    limits = dict(Profile.objects.values_list("pk", "maturity_limit"))
    codes: dict[int, set[str]] = {}
    for pk, code in Profile.preferred_languages.through.objects.values_list(
        "profile_id", "language_id"
    ):
        codes.setdefault(pk, set()).add(code)
    for pk, code in Profile.objects.filter(display_language__isnull=False).values_list(
        "pk", "display_language_id"
    ):
        codes.setdefault(pk, set()).add(code)
    lookup = {code: i for i, code in enumerate(language_codes)}
    maturity = np.array([limits.get(int(pk), 18) for pk in profile_ids], dtype=np.int16)
    languages = [
        np.array(sorted(lookup[c] for c in codes.get(int(pk), ()) if c in lookup), np.int16)
        for pk in profile_ids
    ]
    return maturity, languages


def _not_recommendable(training: TrainingData, users: np.ndarray, *, at: float) -> np.ndarray:
    """(len(users), n_titles) bool: titles nothing could have offered each profile at ``at``.

    Not licensed in the profile's region at the cut, or above its maturity limit:
    the serving path's hard filters (``eligible_titles``), which Tonight's ranking
    applies. A held-out play of such a title (one released after the cut, say)
    is a hit no model could score, and lowering every model's recall by it says
    nothing about any of them. Dense like the baselines' score blocks, a quarter
    of their size.
    """
    signals, groups = training.signals, training.groups
    titles = signals.title_ids
    facts = training.facts if training.facts is not None else data.catalogue_facts(titles)
    windows = data.availability_windows(titles)
    maturity, _ = _profile_facts(signals.profile_ids, facts.language_codes)
    available = {
        code: windows.available(at, code)
        for code in {groups.region_codes[groups.region[u]] for u in users}
    }
    blocked = np.empty((users.shape[0], signals.n_titles), dtype=bool)
    for row, user in enumerate(users):
        # The region Tonight's context gives the profile (_tonight_rank).
        blocked[row] = ~available[groups.region_codes[groups.region[user]]]
        blocked[row] |= facts.maturity > maturity[user]
    return blocked


def _tonight_rank(
    fitted: FittedModels,
    rankers: list[PlayRanker],
    training: TrainingData,
    train: data.TrainingSignals,
    users: np.ndarray,
    seen: sp.csr_matrix,
    *,
    at: float,
) -> list[np.ndarray]:
    """Each evaluated profile's top ``K`` through the serving path, once per ranker.

    The catalogue, the profiles' facts and each profile's history and context
    are made once and ranked by every ranker in turn: only the ranker differs.
    """
    bundles = [
        ServingBundle(
            version_id=0,
            index=fitted.index,
            als=fitted.als,
            content=fitted.content,
            ranker=ranker,
        )
        for ranker in rankers
    ]
    # The index the models were fitted on, which the held-out signals are on: not extended
    # with titles added since (serving's), which no held-out play can be of.
    catalogue = catalogue_arrays_load(fitted.index.title_ids, extend=False)
    groups = training.groups
    maturity, languages = _profile_facts(train.profile_ids, catalogue.facts.language_codes)
    moment = dt.datetime.fromtimestamp(at, tz=dt.UTC)
    order = np.argsort(train.profile_index, kind="stable")
    bounds = np.searchsorted(train.profile_index[order], np.arange(train.n_profiles + 1))
    states = _empty_states()
    recommended = [np.full((users.shape[0], K), -1, dtype=np.int32) for _ in rankers]
    for row, user in enumerate(users):
        mine = order[bounds[user] : bounds[user + 1]]
        history = ProfileHistory(
            signals=train.subset(mine).with_single_profile(),
            **states,
        )
        cluster = groups.cluster[user]
        context = ScoringContext(
            region_code=groups.region_codes[groups.region[user]],
            cluster_id=int(groups.cluster_ids[cluster]) if cluster >= 0 else None,
            maturity_limit=int(maturity[user]),
            language_index=languages[user],
            device="tv",
            at=moment,
            exclude=np.asarray(seen[row].todense()).ravel() > 0,
        )
        for bundle, top_k_of in zip(bundles, recommended, strict=True):
            pool = rank_profile(
                bundle=bundle, catalogue=catalogue, history=history, context=context
            )
            top = pool.title_index[:K]
            top_k_of[row, : top.shape[0]] = top
    return recommended


def recommendations_evaluate(
    *,
    region_code: str | None = None,
    test_fraction: float = 0.2,
    random_state: int = 0,
    at: dt.datetime | None = None,
    stage: Callable[[str], None] | None = None,
    learn_from_logs: bool = True,
) -> EvaluationReport:
    """Train the three contenders on one global time cut and measure each on the holdout.

    ``learn_from_logs=False`` ranks Tonight with the prior blend without reading
    the page logs.
    """
    stage = stage or (lambda _: None)
    stage("read signals")
    training = training_data_load(region_code=region_code, at=at or timezone.now())
    cut = evaluation_split(training.signals, test_fraction=test_fraction, at=training.at)
    train = cut.train
    n_titles = training.signals.n_titles
    on_title = train.title_index >= 0
    blocked = _not_recommendable(training, cut.users, at=cut.at)
    truth = cut.relevant[cut.users]
    truth = sp.csr_matrix(truth.multiply(sp.csr_matrix(~blocked)), dtype=bool)
    truth.eliminate_zeros()
    judged = np.diff(truth.indptr) > 0  # something left that a model could have offered
    users, truth, blocked = cut.users[judged], truth[judged], blocked[judged]
    seen = cut.seen[users]
    results = []

    stage("most-popular")
    counts_mask = on_title & np.isin(train.kind, RELEVANT_KINDS)
    counts = sp.csr_matrix(
        (
            np.ones(int(counts_mask.sum()), dtype=np.float32),
            (train.profile_index[counts_mask], train.title_index[counts_mask]),
        ),
        shape=(train.n_profiles, n_titles),
    )
    started = time.perf_counter()
    popular = MostPopular().fit(counts)
    seconds = time.perf_counter() - started
    popular_scores = np.where(blocked, -np.inf, popular.scores()).astype(np.float32)
    popular_top = top_k(popular_scores, K, exclude=seen)
    results.append(ModelResult("most-popular", evaluate(popular_top, truth, n_titles), seconds))

    stage("plain ALS")
    from implicit.cpu.als import AlternatingLeastSquares  # deferred: a compiled extension

    baseline = AlternatingLeastSquares(random_state=random_state)
    started = time.perf_counter()
    baseline.fit(counts, show_progress=False)
    seconds = time.perf_counter() - started
    scores = baseline.user_factors[users] @ baseline.item_factors.T
    scores[blocked] = -np.inf
    plain = top_k(scores, K, exclude=seen)
    # A profile with no positive event before the cut (no play, completion or thumbs up:
    # hovers, previews, progress alone) has a zero factor: every title ties, and its list
    # was the titles' index order.
    # It gets most-popular's list, as any ALS deployment (and Tonight) falls back for it.
    cold = np.diff(counts.indptr)[users] == 0
    plain[cold] = popular_top[cold]
    results.append(ModelResult("plain ALS", evaluate(plain, truth, n_titles), seconds))

    stage("Tonight")
    examples = None
    logged = LoggedExamples.empty()
    if learn_from_logs:
        logged = logged_examples_load(
            region_code=region_code,
            at=dt.datetime.fromtimestamp(cut.at, tz=dt.UTC),
            random_state=random_state,
        )
        if logged.pages:
            examples = RankerExamples(
                logged.title_features, logged.title_labels, logged.title_weights, logged.title_pages
            )
    started = time.perf_counter()
    fitted = models_fit(
        TrainingData(signals=train, features=training.features, groups=training.groups, at=cut.at),
        random_state=random_state,
        ranker_examples=examples,
    )
    seconds = time.perf_counter() - started
    rankers = [("Tonight", fitted.ranker)]
    if fitted.ranker.mode == "learned":
        rankers.append(("Tonight, prior blend", PlayRanker()))
    ranked = _tonight_rank(
        fitted, [ranker for _, ranker in rankers], training, train, users, seen, at=cut.at
    )
    for (name, ranker), recommended in zip(rankers, ranked, strict=True):
        results.append(
            ModelResult(name, evaluate(recommended, truth, n_titles), seconds, ranker=ranker.mode)
        )
    return EvaluationReport(
        results=results,
        n_profiles=int(users.shape[0]),
        n_titles=n_titles,
        n_train_events=cut.n_train_events,
        n_test_events=cut.n_test_events,
        cut=cut.at,
        logged_pages=logged.pages,
        pages_version_pruned=logged.pages_version_pruned,
        pages_version_unloadable=logged.pages_version_unloadable,
    )
