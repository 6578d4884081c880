"""Offline evaluation on a time-based holdout: Tonight beside most-popular and plain ALS.

Each profile's last ``test_fraction`` of activity (signals on titles, by
time) is held out; every model is trained on what came before and asked for
20 titles per profile, never titles the profile already engaged with in
training (so no model scores by repeating history). A held-out title is
relevant when the profile played, completed or thumbed it up.

The three contenders, trained on the same split:

- **most-popular**: titles by how many profiles engaged positively;
- **plain ALS**: ``implicit``'s ``AlternatingLeastSquares`` with its default
  parameters on the count of positive events per (profile, title), as a
  first attempt without Tonight's signal semantics would do it;
- **Tonight**: the full pipeline of a model version (:func:`models_fit`):
  weighted confidence with commitment and decay, ALS with fold-in, content,
  trending, filters, and the ranker, scored through the serving code path
  (:func:`~recommendations.serving.scoring.rank_profile`).
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
from recommendations.engine.split import HoldoutSplit, holdout_relevance, time_holdout
from recommendations.selectors import training as data
from recommendations.services.training import TrainingData, models_fit, training_data_load
from recommendations.serving.bundle import ServingBundle
from recommendations.serving.scoring import ProfileHistory, ScoringContext, rank_profile

K = 20
_POSITIVE = np.array(
    [
        SignalCode.PLAY_START,
        SignalCode.SEARCH_PLAY,
        SignalCode.EXTERNAL_PLAY,
        SignalCode.COMPLETE,
        SignalCode.THUMBS_UP,
    ],
    dtype=np.int8,
)


@dataclass(frozen=True, slots=True)
class ModelResult:
    name: str
    metrics: RankingMetrics
    train_seconds: float


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    results: list[ModelResult]
    n_profiles: int
    n_titles: int
    n_train_events: int
    n_test_events: int

    def by_name(self, name: str) -> ModelResult:
        return next(result for result in self.results if result.name == name)


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


def _tonight(
    training: TrainingData,
    train: data.TrainingSignals,
    users: np.ndarray,
    seen: sp.csr_matrix,
    *,
    random_state: int,
) -> tuple[np.ndarray, float]:
    started = time.perf_counter()
    fitted = models_fit(
        TrainingData(
            signals=train, features=training.features, groups=training.groups, at=training.at
        ),
        random_state=random_state,
    )
    seconds = time.perf_counter() - started
    bundle = ServingBundle(
        version_id=0,
        index=fitted.index,
        als=fitted.als,
        content=fitted.content,
        ranker=fitted.ranker,
    )
    catalogue = bundle.catalogue(max_age_seconds=float("inf"))
    groups = training.groups
    maturity, languages = _profile_facts(train.profile_ids, catalogue.facts.language_codes)
    at = dt.datetime.fromtimestamp(training.at, tz=dt.UTC)
    order = np.argsort(train.profile_index, kind="stable")
    bounds = np.searchsorted(train.profile_index[order], np.arange(train.n_profiles + 1))
    states = _empty_states()
    recommended = np.full((users.shape[0], K), -1, dtype=np.int32)
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
            at=at,
            exclude=np.asarray(seen[row].todense()).ravel() > 0,
        )
        pool = rank_profile(bundle=bundle, catalogue=catalogue, history=history, context=context)
        top = pool.title_index[:K]
        recommended[row, : top.shape[0]] = top
    return recommended, seconds


def recommendations_evaluate(
    *,
    region_code: str | None = None,
    test_fraction: float = 0.2,
    random_state: int = 0,
    at: dt.datetime | None = None,
    stage: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Train the three contenders on one time-based split and measure each on the holdout."""
    stage = stage or (lambda _: None)
    stage("read signals")
    training = training_data_load(region_code=region_code, at=at or timezone.now())
    signals = training.signals
    events = np.flatnonzero(signals.title_index >= 0)
    split = time_holdout(
        profile_index=signals.profile_index[events],
        timestamp=signals.timestamp[events],
        test_fraction=test_fraction,
    )
    positive = np.isin(signals.kind[events], _POSITIVE)
    n_profiles, n_titles = signals.n_profiles, signals.n_titles
    relevant = holdout_relevance(
        HoldoutSplit(train=split.train, test=split.test & positive),
        profile_index=signals.profile_index[events],
        title_index=signals.title_index[events],
        n_profiles=n_profiles,
        n_titles=n_titles,
    )
    train_mask = np.zeros(len(signals), dtype=bool)
    train_mask[events[split.train]] = True
    train_mask |= signals.title_index < 0  # row scrolls stay with training
    train = signals.subset(train_mask)
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    on_title = train.title_index >= 0
    seen_all = sp.csr_matrix(
        (
            np.ones(int(on_title.sum()), dtype=np.float32),
            (train.profile_index[on_title], train.title_index[on_title]),
        ),
        shape=(n_profiles, n_titles),
    )
    seen = seen_all[users]
    truth = relevant[users]
    results = []

    stage("most-popular")
    counts_mask = on_title & np.isin(train.kind, _POSITIVE)
    counts = sp.csr_matrix(
        (
            np.ones(int(counts_mask.sum()), dtype=np.float32),
            (train.profile_index[counts_mask], train.title_index[counts_mask]),
        ),
        shape=(n_profiles, n_titles),
    )
    started = time.perf_counter()
    popular = MostPopular().fit(counts)
    seconds = time.perf_counter() - started
    scores = np.broadcast_to(popular.scores(), (users.shape[0], n_titles))
    results.append(
        ModelResult(
            "most-popular", evaluate(top_k(scores, K, exclude=seen), truth, n_titles), seconds
        )
    )

    stage("plain ALS")
    from implicit.cpu.als import AlternatingLeastSquares  # deferred: a compiled extension

    baseline = AlternatingLeastSquares(random_state=random_state)
    started = time.perf_counter()
    baseline.fit(counts, show_progress=False)
    seconds = time.perf_counter() - started
    scores = baseline.user_factors[users] @ baseline.item_factors.T
    results.append(
        ModelResult("plain ALS", evaluate(top_k(scores, K, exclude=seen), truth, n_titles), seconds)
    )

    stage("Tonight")
    recommended, seconds = _tonight(training, train, users, seen, random_state=random_state)
    results.append(ModelResult("Tonight", evaluate(recommended, truth, n_titles), seconds))
    return EvaluationReport(
        results=results,
        n_profiles=int(users.shape[0]),
        n_titles=n_titles,
        n_train_events=int(split.train.sum()),
        n_test_events=int((split.test & positive).sum()),
    )
