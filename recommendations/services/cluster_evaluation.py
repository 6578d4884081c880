"""Cluster model vs region model vs global model (vs a blend), per taste cluster, on one holdout.

One split of every profile's activity (its last ``test_fraction`` of events
held out), and collaborative models fitted on the training part:

- **cluster**: ALS on the cluster's profiles only (one model per cluster);
- **region**: ALS on every profile of the region;
- **global**: ALS on every profile of every region, told which titles each
  profile could not watch (not licensed in its region), so that those are not
  negatives for it (:meth:`CollaborativeModel.fit`'s ``unavailable``);
- **blend**: the cluster's scores and the region's, weighted.

Each scope gets its own hyper-parameters. One setting does not suit a region
of tens of thousands of profiles and a cluster of a few hundred (at the
region's λ 0.05 a small cluster's model overfits and loses to the region's).
A scope starts from a size prior (:func:`~recommendations.engine.als.params_for_size`),
and, when it is small enough for a search to be cheap, tries the candidates
around it (:func:`~recommendations.engine.als.params_candidates`) on a
*validation* split carved out of the training part (each profile's last
``validation_fraction`` of its training events): the holdout is never looked
at to choose anything. The blend's weight is chosen on the same validation
split. The holdout then measures every model, tuned as chosen.

Each is asked for its top 20 titles per held-out profile of the cluster,
among the titles available in the region at the split's end and not already
seen in training; NDCG@10 and Recall@20 per model and cluster follow. The
table compares the collaborative part, the only part that differs between
the scopes (content, trending and the ranker are shared by all of them).

The models of one region are fitted once and shared by all its clusters
(:func:`region_evaluate`): a region retrain does not refit the region and
global comparators per cluster, and its final fits start from these factors.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.als import (
    AlsParams,
    CollaborativeModel,
    params_candidates,
    params_for_size,
)
from recommendations.engine.confidence import SignalCode, signal_confidence, signed_confidence
from recommendations.engine.metrics import evaluate, top_k
from recommendations.engine.split import HoldoutSplit, holdout_relevance, time_holdout
from recommendations.selectors import training as data

logger = logging.getLogger(__name__)

K = 20
_BATCH = 2048  # profiles scored at once: bounds the dense score block to ~120 MB
MODELS = ("cluster", "region", "global", "blend")
#: Above this many (profile, unavailable title) cells the global model is fitted without the
#: availability mask (each cell is one sparse entry); the table says so.
GLOBAL_MASK_MAX_CELLS = 30_000_000
#: Scopes with more interactions than this keep their size prior without a search: with that
#: much data the choice barely moves the metrics, and every candidate costs a full fit.
TUNE_MAX_INTERACTIONS = 150_000
#: Sweeps of each candidate fitted on the validation split (a ranking proxy, not the final fit).
TUNE_ITERATIONS = 8
#: Weights of the cluster model in a blend with the region model, tried on validation.
BLEND_WEIGHTS = (0.25, 0.5, 0.75)
#: Sweeps of every holdout fit. The final fit of a served model continues from it for
#: ``retraining.WARM_ITERATIONS`` more on the whole window: 10 + 5, as many as a fresh fit.
EVAL_ITERATIONS = 10
#: Held-out profiles a cluster's table row is measured on at most, and validation profiles a
#: choice is made on: a seeded random sample beyond that. NDCG@10 over 2,000 profiles has a
#: standard error under 0.01, and scoring every profile of a 50,000-profile region against
#: every title for every candidate cost more than all the fits together.
MAX_JUDGED = 2_000
MAX_VALIDATION_JUDGED = 1_000
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

Report = Callable[[str], object]


@dataclass(frozen=True)
class Judging:
    """What models learn from and are judged on in one split.

    Attributes
    ----------
    confidence : scipy.sparse.csr_matrix of float32, shape (n_profiles, n_titles)
        Signed confidence of the training events.
    relevant : scipy.sparse.csr_matrix of bool, same shape
        Held-out positive titles not seen in training.
    seen : scipy.sparse.csr_matrix of bool, same shape
        Titles with a training event (never recommended back).
    """

    confidence: sp.csr_matrix
    relevant: sp.csr_matrix
    seen: sp.csr_matrix

    def judged(
        self, rows: npt.NDArray[np.int64], *, at_most: int | None = None, seed: int = 0
    ) -> npt.NDArray[np.int64]:
        """The ``rows`` with at least one relevant held-out title (a seeded sample of
        ``at_most`` of them, ascending, when there are more)."""
        judged = rows[np.diff(self.relevant.indptr)[rows] > 0]
        if at_most is not None and judged.shape[0] > at_most:
            rng = np.random.default_rng(seed)
            judged = np.sort(rng.choice(judged, size=at_most, replace=False))
        return judged


@dataclass(frozen=True)
class HoldoutSplitData:
    """A split of the signals of every region, what each profile is judged on, and a
    validation split carved out of the training part (for choosing, never for reporting)."""

    train: data.TrainingSignals
    relevant: sp.csr_matrix  # (n_profiles, n_titles) bool
    seen: sp.csr_matrix  # (n_profiles, n_titles) bool
    confidence: sp.csr_matrix  # signed training confidence, (n_profiles, n_titles)
    n_test_events: int
    validation: Judging | None = None

    @property
    def holdout(self) -> Judging:
        return Judging(self.confidence, self.relevant, self.seen)


def _judging(
    signals: data.TrainingSignals, *, at: float, test_fraction: float
) -> tuple[Judging, data.TrainingSignals, int]:
    """Split ``signals`` by time per profile; the training part's confidence and the judgement."""
    events = np.flatnonzero(signals.title_index >= 0)
    split = time_holdout(
        profile_index=signals.profile_index[events],
        timestamp=signals.timestamp[events],
        test_fraction=test_fraction,
    )
    positive = np.isin(signals.kind[events], _POSITIVE)
    shape = (signals.n_profiles, signals.n_titles)
    relevant = holdout_relevance(
        HoldoutSplit(train=split.train, test=split.test & positive),
        profile_index=signals.profile_index[events],
        title_index=signals.title_index[events],
        n_profiles=shape[0],
        n_titles=shape[1],
    )
    train_mask = np.zeros(len(signals), dtype=bool)
    train_mask[events[split.train]] = True
    train = signals.subset(train_mask)
    seen = sp.csr_matrix(
        (np.ones(len(train), dtype=bool), (train.profile_index, train.title_index)), shape=shape
    )
    matrices = signal_confidence(
        profile_index=train.profile_index,
        title_index=train.title_index,
        kind=train.kind,
        value=train.value,
        age_days=train.age_days(at),
        commitment=train.commitment_hours,
        rewatch=train.rewatch,
        n_profiles=shape[0],
        n_titles=shape[1],
        weights=data.signal_weights(),
    )
    confidence = signed_confidence(matrices.positive, matrices.negative)
    return Judging(confidence, relevant, seen), train, int((split.test & positive).sum())


def holdout_split(
    signals: data.TrainingSignals,
    *,
    at: float,
    test_fraction: float = 0.2,
    validation_fraction: float | None = 0.2,
) -> HoldoutSplitData:
    """Split each profile's activity by time; then split its training part again for validation.

    The validation split's "now" is the holdout's: the decay of a training
    event is measured the same way in both, so a setting chosen on one
    transfers to the other.
    """
    holdout, train, n_test = _judging(signals, at=at, test_fraction=test_fraction)
    validation = None
    if validation_fraction is not None:
        validation, _, _ = _judging(train, at=at, test_fraction=validation_fraction)
    return HoldoutSplitData(
        train=train,
        relevant=holdout.relevant,
        seen=holdout.seen,
        confidence=holdout.confidence,
        n_test_events=n_test,
        validation=validation,
    )


def _fit_rows(
    confidence: sp.csr_matrix,
    rows: npt.NDArray[np.int64],
    *,
    params: AlsParams | dict,
    random_state: int,
    unavailable: sp.csr_matrix | None = None,
) -> CollaborativeModel:
    """ALS on some rows of the matrix (user factors come back in ``rows`` order)."""
    chosen = params if isinstance(params, AlsParams) else AlsParams(**params)
    model = CollaborativeModel.from_params(chosen, random_state=random_state)
    return model.fit(
        confidence[rows],
        unavailable=None if unavailable is None else unavailable[rows],
    )


def unavailable_cells(
    profile_region: npt.NDArray[np.int64], region_available: npt.NDArray[np.bool_]
) -> sp.csr_matrix | None:
    """(n_profiles, n_titles) mask of the titles each profile's region does not carry."""
    missing = ~region_available  # (n_regions, n_titles)
    per_region = missing.sum(axis=1)
    valid = profile_region >= 0
    cells = int(per_region[profile_region[valid]].sum())
    if cells > GLOBAL_MASK_MAX_CELLS:
        return None
    titles_of = [np.flatnonzero(row).astype(np.int32) for row in missing]
    lengths = np.where(valid, per_region[np.maximum(profile_region, 0)], 0)
    indptr = np.r_[0, np.cumsum(lengths)].astype(np.int64)
    indices = (
        np.concatenate([titles_of[r] for r in profile_region[valid]])
        if cells
        else np.empty(0, np.int32)
    )
    return sp.csr_matrix(
        (np.ones(cells, dtype=np.float32), indices, indptr),
        shape=(profile_region.shape[0], missing.shape[1]),
    )


@dataclass(frozen=True)
class Scored:
    """One fitted model and the rows (profile indices) its user factors belong to."""

    model: CollaborativeModel
    rows: npt.NDArray[np.int64]


def _recommend(
    parts: Sequence[tuple[Scored, float]],
    judged: npt.NDArray[np.int64],
    *,
    seen: sp.csr_matrix,
    not_here: npt.NDArray[np.int64],
) -> npt.NDArray[np.int32]:
    """Top ``K`` of ``Σ weight · scores`` per judged profile, a block of profiles at a time.

    Only the titles available in the region are scored (the others can never be
    recommended there), which also makes each block smaller.
    """
    n_titles = seen.shape[1]
    here = np.setdiff1d(np.arange(n_titles), not_here)
    items = [part.model.item_factors[here] for part, _ in parts]
    positions = [np.searchsorted(part.rows, judged) for part, _ in parts]
    seen_here = sp.csr_matrix(seen[judged][:, here])
    blocks = []
    for start in range(0, judged.shape[0], _BATCH):
        stop = start + _BATCH
        scores = None
        for (part, weight), position, item in zip(parts, positions, items, strict=True):
            block = part.model.user_factors[position[start:stop]] @ item.T
            scores = weight * block if scores is None else scores + weight * block
        best = top_k(scores, K, exclude=seen_here[start:stop])
        blocks.append(np.where(best >= 0, here[np.maximum(best, 0)], -1).astype(np.int32))
    return np.concatenate(blocks) if blocks else np.empty((0, K), np.int32)


def _ndcg(
    parts: Sequence[tuple[Scored, float]],
    judged: npt.NDArray[np.int64],
    judging: Judging,
    not_here: npt.NDArray[np.int64],
) -> float:
    recommended = _recommend(parts, judged, seen=judging.seen, not_here=not_here)
    n_titles = judging.relevant.shape[1]
    return float(evaluate(recommended, judging.relevant[judged], n_titles).ndcg_at_10)


@dataclass
class ScopeChoice:
    """The hyper-parameters chosen for one scope, and what the search saw."""

    params: AlsParams
    prior: AlsParams
    searched: bool
    trials: list[dict] = field(default_factory=list)
    validation_model: Scored | None = None

    def as_metrics(self) -> dict:
        return {
            "params": self.params.as_dict(),
            "prior": self.prior.as_dict(),
            "searched": self.searched,
            "trials": self.trials,
        }


def scope_params(
    confidence: sp.csr_matrix,
    rows: npt.NDArray[np.int64],
    *,
    base: AlsParams,
    random_state: int,
    validation: Judging | None,
    judged_rows: npt.NDArray[np.int64] | None = None,
    not_here: npt.NDArray[np.int64],
    unavailable: sp.csr_matrix | None = None,
    tune: bool = True,
) -> ScopeChoice:
    """Choose a scope's ALS hyper-parameters: its size prior, then a search on validation.

    The search fits each candidate on the validation split's training part
    and keeps the best NDCG@10 on the validation relevance of ``judged_rows``
    (the scope's own profiles by default); ties keep the prior. Scopes above
    :data:`TUNE_MAX_INTERACTIONS` keep the prior.
    """
    matrix = confidence[rows]
    prior = params_for_size(
        n_profiles=int(rows.shape[0]),
        n_titles=int(confidence.shape[1]),
        n_interactions=int(matrix.nnz),
        base=base,
    )
    choice = ScopeChoice(params=prior, prior=prior, searched=False)
    if not tune or validation is None or matrix.nnz > TUNE_MAX_INTERACTIONS:
        return choice
    judged = validation.judged(
        rows if judged_rows is None else judged_rows,
        at_most=MAX_VALIDATION_JUDGED,
        seed=random_state,
    )
    if judged.size == 0:
        return choice
    best = -1.0
    for candidate in params_candidates(prior):
        trial = candidate.replace(iterations=min(candidate.iterations, TUNE_ITERATIONS))
        started = time.perf_counter()
        fitted = Scored(
            _fit_rows(
                validation.confidence,
                rows,
                params=trial,
                random_state=random_state,
                unavailable=unavailable,
            ),
            rows,
        )
        score = _ndcg([(fitted, 1.0)], judged, validation, not_here)
        choice.trials.append(
            {
                **candidate.as_dict(),
                "validation_ndcg@10": round(score, 4),
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
        if score > best:
            best, choice.params, choice.validation_model = score, candidate, fitted
    choice.searched = True
    return choice


@dataclass
class RegionEvaluation:
    """Everything one region's evaluation fitted and chose, for the table and the final fits.

    Attributes
    ----------
    table : dict
        Cluster slug -> ``{"profiles", "judged", "ndcg@10_<model>", "recall@20_<model>",
        "best", "blend_weight", "params"}``.
    models : dict
        ``"region"``, ``"global"`` and each cluster id -> the model fitted on the holdout's
        training part (the starting point of the final fits).
    choices : dict
        The same keys -> :class:`ScopeChoice`.
    blend_weight : dict of int to float
        Cluster id -> weight of its own model in its blend with the region's.
    """

    table: dict[str, dict]
    models: dict[str | int, Scored]
    judged: dict[int, npt.NDArray[np.int64]]
    choices: dict[str | int, ScopeChoice]
    blend_weight: dict[int, float]
    split: HoldoutSplitData
    unavailable: sp.csr_matrix | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def region_evaluate(
    *,
    signals: data.TrainingSignals,
    profile_region: npt.NDArray[np.int64],
    profile_cluster: npt.NDArray[np.int64],
    region: int,
    clusters: dict[int, str],
    region_available: npt.NDArray[np.bool_],
    at: float,
    params: AlsParams | dict,
    random_state: int = 0,
    test_fraction: float = 0.2,
    split: HoldoutSplitData | None = None,
    with_global: bool = True,
    tune: bool = True,
    report: Report | None = None,
) -> RegionEvaluation:
    """Tune, fit and measure the region's, the global and each cluster's model on one holdout.

    Parameters
    ----------
    signals : TrainingSignals
        Signals of every region (for the global model).
    profile_region : array of int64, shape (n_profiles,)
        Region index of each profile (rows of ``region_available``); -1 if unknown.
    profile_cluster : array of int64, shape (n_profiles,)
        Cluster id of each profile; -1 if none.
    region : int
        The region evaluated (its row in ``region_available``).
    clusters : dict of int to str
        The clusters to evaluate (id -> slug).
    region_available : array of bool, shape (n_regions, n_titles)
        Titles available in each region at the end of the split.
    at : float
        Unix time the training window ends.
    params : AlsParams or dict
        The base setting (alpha, iterations, factor cap) every scope's prior starts from.
    tune : bool
        Search each small scope's hyper-parameters and the blend weight on validation;
        ``False`` keeps every scope at its size prior and blends half and half.
    """
    report = report or (lambda _: None)
    base = params if isinstance(params, AlsParams) else AlsParams(**params)
    split = split or holdout_split(signals, at=at, test_fraction=test_fraction)
    holdout, validation = split.holdout, split.validation
    seconds: dict[str, float] = {}
    in_region = np.flatnonzero(profile_region == region)
    not_here = np.flatnonzero(~region_available[region])
    models: dict[str | int, Scored] = {}
    choices: dict[str | int, ScopeChoice] = {}

    def fit(key: str | int, rows: np.ndarray, mask: sp.csr_matrix | None = None) -> None:
        started = time.perf_counter()
        choice = scope_params(
            holdout.confidence,
            rows,
            base=base,
            random_state=random_state,
            validation=validation,
            not_here=not_here,
            judged_rows=in_region if key == "global" else None,
            unavailable=mask,
            tune=tune,
        )
        choices[key] = choice
        models[key] = Scored(
            _fit_rows(
                holdout.confidence,
                rows,
                params=choice.params.replace(
                    iterations=min(choice.params.iterations, EVAL_ITERATIONS)
                ),
                random_state=random_state,
                unavailable=mask,
            ),
            rows,
        )
        seconds[str(key)] = round(time.perf_counter() - started, 3)

    report("evaluate: region model")
    fit("region", in_region)
    notes = ""
    mask = None
    if with_global:
        report("evaluate: global model")
        everyone = np.flatnonzero(profile_region >= 0)
        mask = unavailable_cells(profile_region, region_available)
        if mask is None:
            notes = "global fitted without the availability mask (too many cells)"
        fit("global", everyone, mask)

    table: dict[str, dict] = {}
    blend_weight: dict[int, float] = {}
    judged_of: dict[int, npt.NDArray[np.int64]] = {}
    for cluster_id, slug in clusters.items():
        members = np.flatnonzero((profile_cluster == cluster_id) & (profile_region == region))
        judged = holdout.judged(members, at_most=MAX_JUDGED, seed=random_state)
        row: dict = {
            "profiles": int(members.shape[0]),
            "judged": int(judged.shape[0]),
            "held_out": int(holdout.judged(members).shape[0]),
        }
        table[slug] = row
        judged_of[cluster_id] = judged
        if members.size == 0:
            continue
        report(f"evaluate: {slug}")
        fit(cluster_id, members)
        blend_weight[cluster_id] = _blend_weight(
            choices[cluster_id], choices["region"], members, validation, not_here, tune
        )
        row["blend_weight"] = blend_weight[cluster_id]
        row["params"] = {
            name: choices[key].params.as_dict()
            for name, key in (("cluster", cluster_id), ("region", "region"), ("global", "global"))
            if key in choices
        }
        if judged.size == 0:
            continue
        w = blend_weight[cluster_id]
        candidates = {
            "cluster": [(models[cluster_id], 1.0)],
            "region": [(models["region"], 1.0)],
            "global": [(models["global"], 1.0)] if "global" in models else None,
            "blend": [(models[cluster_id], w), (models["region"], 1.0 - w)],
        }
        for name, parts in candidates.items():
            if parts is None:
                continue
            recommended = _recommend(parts, judged, seen=holdout.seen, not_here=not_here)
            metrics = evaluate(recommended, holdout.relevant[judged], signals.n_titles)
            row[f"ndcg@10_{name}"] = round(float(metrics.ndcg_at_10), 4)
            row[f"recall@20_{name}"] = round(float(metrics.recall_at_20), 4)
        row["best"] = max(
            (name for name in MODELS if f"ndcg@10_{name}" in row),
            key=lambda name: row[f"ndcg@10_{name}"],
        )
    if notes:
        for row in table.values():
            row["note"] = notes
    return RegionEvaluation(
        table=table,
        models=models,
        judged=judged_of,
        choices=choices,
        blend_weight=blend_weight,
        split=split,
        unavailable=mask,
        seconds=seconds,
    )


def _blend_weight(
    cluster: ScopeChoice,
    region: ScopeChoice,
    members: npt.NDArray[np.int64],
    validation: Judging | None,
    not_here: npt.NDArray[np.int64],
    tune: bool,
) -> float:
    """The cluster model's share in its blend with the region's, best on the validation split.

    Uses the validation fits of the two chosen settings; without them (no search
    ran, or nothing to validate on) the blend is half and half.
    """
    if (
        not tune
        or validation is None
        or cluster.validation_model is None
        or region.validation_model is None
    ):
        return 0.5
    judged = validation.judged(members, at_most=MAX_VALIDATION_JUDGED)
    if judged.size == 0:
        return 0.5
    scored = {
        w: _ndcg(
            [(cluster.validation_model, w), (region.validation_model, 1.0 - w)],
            judged,
            validation,
            not_here,
        )
        for w in BLEND_WEIGHTS
    }
    return max(BLEND_WEIGHTS, key=lambda w: (scored[w], -abs(w - 0.5)))


def cluster_table(**kwargs: object) -> dict[str, dict]:
    """:func:`region_evaluate`'s table alone (NDCG@10 and Recall@20 per model and cluster)."""
    return region_evaluate(**kwargs).table  # type: ignore[arg-type]


def region_cluster_table(
    *,
    region_code: str,
    at: float | None = None,
    random_state: int = 0,
    test_fraction: float = 0.2,
    params: AlsParams | dict | None = None,
    tune: bool = True,
) -> dict[str, dict]:
    """:func:`cluster_table` for every taste cluster of a region, from the database.

    Profiles are taken in the clusters they are stored in (the last retrain's
    assignment); nothing is written.
    """
    import datetime as dt

    from django.utils import timezone

    from profiles.models import Profile
    from recommendations.services.training import ALS_PARAMS, training_data_load
    from regions.models import TasteCluster

    when = dt.datetime.fromtimestamp(at, tz=dt.UTC) if at is not None else timezone.now()
    training = training_data_load(region_code=None, at=when)
    signals, groups = training.signals, training.groups
    if region_code not in groups.region_codes:
        return {}
    stored = np.array(
        list(Profile.objects.order_by("pk").values_list("pk", "taste_cluster_id")), dtype=object
    ).reshape(-1, 2)
    position = data.index_of(stored[:, 0].astype(np.int64), signals.profile_ids)
    cluster_of = np.array([pk or -1 for pk in stored[:, 1]], dtype=np.int64)
    profile_cluster = np.where(position >= 0, cluster_of[np.maximum(position, 0)], -1)
    windows = data.availability_windows(signals.title_ids)
    return cluster_table(
        signals=signals,
        profile_region=groups.region.astype(np.int64),
        profile_cluster=profile_cluster,
        region=groups.region_codes.index(region_code),
        clusters=dict(
            TasteCluster.objects.filter(region_id=region_code)
            .order_by("-is_default", "slug")
            .values_list("pk", "slug")
        ),
        region_available=np.stack(
            [windows.available(training.at, code) for code in groups.region_codes]
        ),
        at=training.at,
        params=params or ALS_PARAMS,
        random_state=random_state,
        test_fraction=test_fraction,
        tune=tune,
    )
