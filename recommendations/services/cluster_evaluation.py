"""Cluster model vs region model vs global model (vs a blend), per taste cluster, on one holdout.

One split of the activity, a global time cut (the latest ``test_fraction``
of all events on titles held out: :func:`holdout_split`), and collaborative
models fitted on the training part, its confidence decayed to the cut:

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
*validation* split carved out of the training part (a second cut: the latest
``validation_fraction`` of the training events): the holdout is never looked
at to choose anything. The blend's weight is chosen on the same validation
split. The holdout then measures every model, tuned as chosen.

A retrain does choose one thing on the holdout: which recipe serves the
cluster (its own model, the region's, the global one or the blend). So each
cluster's judged profiles are dealt into two halves (:func:`holdout_halves`,
by a stable hash of the profile id), and the table gives every figure on all
of them and on each half: the recipe is chosen on the *choice* half and gated
on the *gate* half, since the best of several noisy figures is inflated on the
profiles it was chosen on (the winner's curse) and would favour replacing the
active version. The halves cost no scoring: the same recommendations, judged
on fewer profiles each.

A search costs five fits per scope and a second split, and the settings it
picks move little from one day to the next; so a retrain reuses the settings
an earlier search chose (:class:`StoredChoice`, recorded on the versions) and
searches again only when a :class:`TuneSchedule` says it is due: the last
search is too old, or the scope's data grew or shrank too much since. Without
a schedule (``manage.py evaluate_recommendations --by-cluster``) every small
scope is searched.

Each is asked for its top 20 titles per held-out profile of the cluster,
among the titles available in the region at the window's end and not already
engaged with before the cut; NDCG@10 and Recall@20 per model and cluster
follow. A held-out title is judged by the offline evaluation's rules
(``services/evaluation.py``): relevant when played, completed or thumbed up
after the cut, unless the pair's latest thumbs is down; "seen" means engaged
(a play, progress, completion or thumbs), so a title only shown, hovered or
previewed before the cut is still judged. A per-profile split (each profile's
own last fraction) would let other profiles' later plays, and a decay clock at
the window's end, train the models a profile is judged with; the gate needs
no per-profile split (it compares configurations on whatever split it is
given), so it uses the cut too. The
table compares the collaborative part, the only part that differs between
the scopes (content, trending and the ranker are shared by all of them).

The models of one region are fitted once and shared by all its clusters
(:func:`region_evaluate`): a region retrain does not refit the region and
global comparators per cluster, and its final fits start from these factors.
The same evaluation fits, for the quality gate, the configuration that serves
a cluster now on this very training part (:meth:`RegionEvaluation.holdout_model`),
so the active and the new configuration are judged on equal terms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.als import (
    AlsParams,
    CollaborativeModel,
    params_candidates,
    params_for_size,
)
from recommendations.engine.confidence import (
    ConfidenceMatrices,
    signal_confidence_parts,
    signed_confidence,
)
from recommendations.engine.metrics import RankingMetrics, evaluate, ndcg_at_k, top_k
from recommendations.engine.split import (
    global_time_holdout,
    holdout_matrices,
    pair_grouping,
)
from recommendations.selectors import training as data
from recommendations.services.evaluation import NOT_ENGAGED_KINDS, judged_events

logger = logging.getLogger(__name__)

K = 20
#: Profiles scored at once: bounds each dense score block (512 x 15,000 float32 = 30 MB; a
#: cluster's, its region's, their blend and top_k's copy are alive at once). Larger blocks
#: are no faster: each pass over a block is memory-bound.
_BATCH = 512
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
#: Share of the training part's events, the latest (a second time cut), held out again to
#: choose settings on.
VALIDATION_FRACTION = 0.2
SECONDS_PER_DAY = 86_400.0

Report = Callable[[str], object]


@dataclass(frozen=True)
class Judging:
    """What models learn from and are judged on in one split.

    Attributes
    ----------
    confidence : scipy.sparse.csr_matrix of float32, shape (n_profiles, n_titles)
        Signed confidence of the training events.
    relevant : scipy.sparse.csr_matrix of bool, same shape
        Titles played, completed or thumbed up after the cut, not engaged with before it,
        whose latest thumbs is not down.
    seen : scipy.sparse.csr_matrix of bool, same shape
        Titles engaged with before the cut (never recommended back); impressions, hovers
        and previews do not count.
    """

    confidence: sp.csr_matrix
    relevant: sp.csr_matrix
    seen: sp.csr_matrix

    def judged(
        self, rows: npt.NDArray[np.int64], *, at_most: int | None = None, seed: int = 0
    ) -> npt.NDArray[np.int64]:
        """The ``rows`` with a training signal on a title and at least one relevant held-out
        title (a seeded sample of ``at_most`` of them, ascending, when there are more).

        A profile whose activity all came after the cut has no history for any
        model to fold in, and would only add noise to every model's figure."""
        has = (np.diff(self.relevant.indptr)[rows] > 0) & (
            np.diff(self.confidence.indptr)[rows] > 0
        )
        judged = rows[has]
        if at_most is not None and judged.shape[0] > at_most:
            rng = np.random.default_rng(seed)
            judged = np.sort(rng.choice(judged, size=at_most, replace=False))
        return judged


@dataclass(frozen=True)
class HoldoutSplitData:
    """A split of the signals, what each profile is judged on, and (when asked for) a
    validation split carved out of the training part (for choosing, never for reporting)."""

    train: data.TrainingSignals
    relevant: sp.csr_matrix  # (n_profiles, n_titles) bool
    seen: sp.csr_matrix  # (n_profiles, n_titles) bool
    confidence: sp.csr_matrix  # signed training confidence, (n_profiles, n_titles)
    n_test_events: int
    validation: Judging | None = None
    #: Unix time of the cut: every training event is earlier, every held-out one at or after
    #: it, and the training part's confidence decays to it.
    cut: float | None = None
    #: The confidence of every signal split (training and held-out parts), when asked for:
    #: computed in the same pass as the training part's (see :func:`holdout_split`).
    window: ConfidenceMatrices | None = None

    @property
    def holdout(self) -> Judging:
        return Judging(self.confidence, self.relevant, self.seen)


def _judging(
    signals: data.TrainingSignals, *, at: float, test_fraction: float, window: bool = False
) -> tuple[Judging, data.TrainingSignals, int, float, ConfidenceMatrices | None]:
    """Cut ``signals`` at one instant; the training part's confidence and the judgement (and,
    with ``window``, the confidence of all of ``signals`` at ``at``, from the same grouping).

    The cut is :func:`global_time_holdout`'s: no training event, and so no other
    profile's play, is as late as any held-out one. The training part's decay
    clock is the cut, not ``at``: it learns as of the moment it predicts from.
    Relevance and "seen" follow the offline evaluation's rules
    (``services/evaluation.py``): a pair whose latest thumbs is down is never
    relevant, and only engaged training events (not impressions, hovers or
    previews) make a title seen. ``at`` is the window's end: the clock of the
    whole window's confidence, and the cut when there is no activity at all.
    """
    events = np.flatnonzero(signals.title_index >= 0)
    profiles = signals.profile_index[events]
    titles = signals.title_index[events]
    times = signals.timestamp[events]
    kinds = signals.kind[events]
    split = global_time_holdout(timestamp=times, test_fraction=test_fraction)
    cut = at if split.cut is None else split.cut
    shape = (signals.n_profiles, signals.n_titles)
    positive, disliked = judged_events(
        profile_index=profiles, title_index=titles, timestamp=times, kind=kinds, n_titles=shape[1]
    )
    # One grouping of the events by pair serves the split's matrices and the confidence of
    # its training part (and of the whole window, when wanted).
    pairs = pair_grouping(profiles, titles, n_titles=shape[1])
    relevant, seen = holdout_matrices(
        split,
        profile_index=profiles,
        title_index=titles,
        n_profiles=shape[0],
        n_titles=shape[1],
        counts=positive,
        pairs=pairs,
        engaged=~np.isin(kinds, NOT_ENGAGED_KINDS),
        disliked=disliked,
    )
    train_mask = np.zeros(len(signals), dtype=bool)
    train_mask[events[split.train]] = True
    train = signals.subset(train_mask)
    columns = {
        "profile_index": signals.profile_index,
        "title_index": signals.title_index,
        "kind": signals.kind,
        "value": signals.value,
        "commitment": signals.commitment_hours,
        "rewatch": signals.rewatch,
        "n_profiles": shape[0],
        "n_titles": shape[1],
        "weights": data.signal_weights(),
        "pairs": pairs,
    }
    # Two clocks, so two calls: the training part decays to the cut, the window to ``at``.
    (trained,) = signal_confidence_parts(
        **columns, age_days=signals.age_days(cut), parts=[train_mask]
    )
    whole = signal_confidence_parts(**columns, age_days=signals.age_days(at))[0] if window else None
    confidence = signed_confidence(trained.positive, trained.negative)
    judging = Judging(confidence, relevant, seen)
    n_test = int((split.test & positive & ~disliked).sum())
    return judging, train, n_test, cut, whole


def holdout_split(
    signals: data.TrainingSignals,
    *,
    at: float,
    test_fraction: float = 0.2,
    validation_fraction: float | None = VALIDATION_FRACTION,
    window: bool = False,
) -> HoldoutSplitData:
    """Cut the activity at one instant; then cut its training part again for validation.

    The holdout is the latest ``test_fraction`` of all activity on titles, from
    one cut (``split.cut``); the validation split is the latest
    ``validation_fraction`` of the training part, from a second, earlier cut.
    Each split's training confidence decays to its own cut, so a setting chosen
    on one transfers to the other and neither learns from anything later than
    what it is judged on. ``validation_fraction=None`` leaves the validation
    split out (:func:`validation_split` adds it when a search needs it).
    ``window`` also computes the confidence of every signal at ``at``
    (``split.window``): a retrain needs it for its final fits, and computing it
    beside the training part's groups the signals by pair once instead of twice.
    """
    holdout, train, n_test, cut, whole = _judging(
        signals, at=at, test_fraction=test_fraction, window=window
    )
    split = HoldoutSplitData(
        train=train,
        relevant=holdout.relevant,
        seen=holdout.seen,
        confidence=holdout.confidence,
        n_test_events=n_test,
        cut=cut,
        window=whole,
    )
    if validation_fraction is None:
        return split
    return replace(split, validation=validation_split(split, at=at, fraction=validation_fraction))


def validation_split(
    split: HoldoutSplitData, *, at: float, fraction: float = VALIDATION_FRACTION
) -> Judging:
    """The latest ``fraction`` of the holdout's training part, held out to choose settings on.

    Its clock is the holdout's cut (where the training part ends), not ``at``;
    ``at`` is kept for callers and only used when the split has no cut.
    """
    if split.validation is not None:
        return split.validation
    clock = at if split.cut is None else split.cut
    return _judging(split.train, at=clock, test_fraction=fraction)[0]


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


Parts = Sequence[tuple[Scored, float]]


def _recommend_many(
    candidates: Mapping[str, Parts],
    judged: npt.NDArray[np.int64],
    *,
    seen: sp.csr_matrix,
    not_here: npt.NDArray[np.int64],
) -> dict[str, npt.NDArray[np.int32]]:
    """Top ``K`` of ``Σ weight · scores`` per judged profile for each candidate.

    Each distinct model's score block is computed once per block of profiles
    and shared by the candidates that use it (a blend reuses its cluster's and
    region's blocks). Only the titles available in the region are scored (the
    others can never be recommended there), which also makes each block smaller.
    """
    n_titles = seen.shape[1]
    here = np.setdiff1d(np.arange(n_titles), not_here)
    models: dict[int, Scored] = {}
    for parts in candidates.values():
        for part, _ in parts:
            models.setdefault(id(part), part)
    items = {key: part.model.item_factors[here] for key, part in models.items()}
    positions = {key: np.searchsorted(part.rows, judged) for key, part in models.items()}
    seen_here = sp.csr_matrix(seen[judged][:, here])
    out: dict[str, list[npt.NDArray[np.int32]]] = {name: [] for name in candidates}

    def alone(parts: Parts) -> bool:
        return len(parts) == 1 and parts[0][1] == 1.0

    # Weighted sums first, then the models alone: a block's last reader may rank it in place.
    order = sorted(candidates, key=lambda name: alone(candidates[name]))
    last_reader = {id(parts[0][0]): name for name, parts in candidates.items() if alone(parts)}
    for start in range(0, judged.shape[0], _BATCH):
        stop = start + _BATCH
        blocks = {
            key: part.model.user_factors[positions[key][start:stop]] @ items[key].T
            for key, part in models.items()
        }
        exclude = seen_here[start:stop]
        for name in order:
            parts = candidates[name]
            if alone(parts):
                key = id(parts[0][0])
                best = top_k(blocks[key], K, exclude=exclude, overwrite=last_reader[key] == name)
            else:
                (first, weight), *rest = parts
                scores = blocks[id(first)] * np.float32(weight)
                for part, share in rest:
                    scores += blocks[id(part)] * np.float32(share)
                best = top_k(scores, K, exclude=exclude, overwrite=True)
            out[name].append(np.where(best >= 0, here[np.maximum(best, 0)], -1).astype(np.int32))
        del blocks
    return {
        name: np.concatenate(chunks) if chunks else np.empty((0, K), np.int32)
        for name, chunks in out.items()
    }


def _measure(
    candidates: Mapping[str, Parts],
    judged: npt.NDArray[np.int64],
    judging: Judging,
    not_here: npt.NDArray[np.int64],
) -> dict[str, RankingMetrics]:
    """NDCG@10 and Recall@20 (:func:`evaluate`) of each candidate on ``judged``."""
    recommended = _recommend_many(candidates, judged, seen=judging.seen, not_here=not_here)
    relevant = judging.relevant[judged]
    n_titles = judging.relevant.shape[1]
    return {name: evaluate(recs, relevant, n_titles) for name, recs in recommended.items()}


def _ndcg(
    parts: Parts,
    judged: npt.NDArray[np.int64],
    judging: Judging,
    not_here: npt.NDArray[np.int64],
) -> float:
    return float(_measure({"model": parts}, judged, judging, not_here)["model"].ndcg_at_10)


# --- Choosing settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class TuneSchedule:
    """When a scope searches its settings again instead of reusing the stored ones.

    Attributes
    ----------
    every_days : float
        A search older than this is repeated (0: search every retrain).
    growth : float
        ... as is one made when the scope had a number of interactions that
        differs from today's by more than this fraction (0.25: 25%).
    now : float
        Unix time of the retrain.
    """

    every_days: float
    growth: float
    now: float


@dataclass(frozen=True)
class StoredChoice:
    """A scope's settings chosen by an earlier search, as a model version recorded them.

    Attributes
    ----------
    params : AlsParams
    searched_at : float
        Unix time of the search that chose them (not of the version that reused them).
    interactions : int
        The scope's interactions when it was searched.
    blend_weight : float or None
        For a cluster, its model's weight in its blend with the region's.
    version : int or None
        The model version the choice was read from.
    """

    params: AlsParams
    searched_at: float
    interactions: int
    blend_weight: float | None = None
    version: int | None = None

    @classmethod
    def from_metrics(cls, entry: Mapping | None, *, version: int | None) -> StoredChoice | None:
        """From a version's ``metrics["hyperparameters"]["tuning"][scope]``; ``None`` when that
        scope's settings did not come from a search (size priors are recomputed, not reused)."""
        if not entry or entry.get("searched_at") is None or "params" not in entry:
            return None
        params = entry["params"]
        return cls(
            params=AlsParams(
                factors=int(params["factors"]),
                regularization=float(params["regularization"]),
                alpha=float(params["alpha"]),
                iterations=int(params["iterations"]),
            ),
            searched_at=float(entry["searched_at"]),
            interactions=int(entry.get("searched_interactions") or 0),
            blend_weight=entry.get("blend_weight"),
            version=version,
        )


def search_reason(
    *,
    interactions: int,
    stored: StoredChoice | None,
    tune: bool,
    schedule: TuneSchedule | None,
) -> str | None:
    """Why a scope searches its settings in this retrain, or ``None`` when it does not."""
    if not tune or interactions > TUNE_MAX_INTERACTIONS:
        return None
    if stored is None:
        return "no earlier search"
    if schedule is None:
        return "every retrain"
    age_days = (schedule.now - stored.searched_at) / SECONDS_PER_DAY
    if age_days >= schedule.every_days:
        return f"last search {age_days:.1f} days ago"
    change = interactions / max(stored.interactions, 1) - 1.0
    if abs(change) > schedule.growth:
        return f"interactions changed by {change:+.0%} since the last search"
    return None


@dataclass
class ScopeChoice:
    """The hyper-parameters chosen for one scope, and how: searched now, reused, or the prior."""

    params: AlsParams
    prior: AlsParams
    searched: bool
    trials: list[dict] = field(default_factory=list)
    validation_model: Scored | None = None
    interactions: int = 0
    searched_at: float | None = None
    searched_interactions: int | None = None
    reused_from: int | None = None
    reason: str = ""
    blend_weight: float | None = None

    def as_metrics(self) -> dict:
        return {
            "params": self.params.as_dict(),
            "prior": self.prior.as_dict(),
            "searched": self.searched,
            "trials": self.trials,
            "interactions": self.interactions,
            "searched_at": self.searched_at,
            "searched_interactions": self.searched_interactions,
            "reused_from": self.reused_from,
            "reason": self.reason,
            "blend_weight": self.blend_weight,
        }


def _nnz(confidence: sp.csr_matrix, rows: npt.NDArray[np.int64]) -> int:
    return int(np.diff(confidence.indptr)[rows].sum())


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
    stored: StoredChoice | None = None,
    schedule: TuneSchedule | None = None,
) -> ScopeChoice:
    """Choose a scope's ALS hyper-parameters: stored, or its size prior then a search.

    When :func:`search_reason` finds no reason to search, the ``stored``
    settings of an earlier search are reused (the size prior when there are
    none, or when ``tune`` is off). Otherwise each candidate around the prior
    is fitted on the validation split's training part and the best NDCG@10 on
    the validation relevance of ``judged_rows`` (the scope's own profiles by
    default) is kept; ties keep the prior.
    """
    interactions = _nnz(confidence, rows)
    prior = params_for_size(
        n_profiles=int(rows.shape[0]),
        n_titles=int(confidence.shape[1]),
        n_interactions=interactions,
        base=base,
    )
    choice = ScopeChoice(params=prior, prior=prior, searched=False, interactions=interactions)
    reason = search_reason(interactions=interactions, stored=stored, tune=tune, schedule=schedule)
    if reason is None:
        if tune and stored is not None and interactions <= TUNE_MAX_INTERACTIONS:
            choice.params = stored.params
            choice.searched_at = stored.searched_at
            choice.searched_interactions = stored.interactions
            choice.reused_from = stored.version
            choice.blend_weight = stored.blend_weight
            choice.reason = "reused the last search's settings"
        else:
            choice.reason = "size prior"
        return choice
    choice.reason = f"searched: {reason}"
    if validation is None:
        choice.reason = "size prior (no validation split)"
        return choice
    judged = validation.judged(
        rows if judged_rows is None else judged_rows,
        at_most=MAX_VALIDATION_JUDGED,
        seed=random_state,
    )
    if judged.size == 0:
        choice.reason = "size prior (nothing to validate on)"
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
    choice.searched_at = schedule.now if schedule is not None else time.time()
    choice.searched_interactions = interactions
    return choice


def _same_settings(a: AlsParams, b: AlsParams) -> bool:
    """Equal but for the number of sweeps (a stored final fit records its warm sweeps)."""
    return (a.factors, a.regularization, a.alpha) == (b.factors, b.regularization, b.alpha)


@dataclass
class RegionEvaluation:
    """Everything one region's evaluation fitted and chose, for the table, the gate and the
    final fits.

    Attributes
    ----------
    table : dict
        Cluster slug -> ``{"profiles", "judged", "ndcg@10_<model>", "recall@20_<model>",
        "best", "choice", "gate", "blend_weight", "params"}``; ``"choice"`` and ``"gate"``
        hold the figures on each half (:func:`holdout_halves`) and its ``"judged"`` count.
    models : dict
        ``"region"``, ``"global"`` and each cluster id -> the model fitted on the holdout's
        training part (the starting point of the final fits).
    judged : dict of int to array
        Cluster id -> the held-out profiles its row is measured on.
    halves : dict of int to (array, array)
        Cluster id -> its judged profiles split by :func:`holdout_halves`: the recipe is
        chosen on the first (choice), and gated on the second (gate).
    choices : dict
        The same keys as ``models`` -> :class:`ScopeChoice`.
    blend_weight : dict of int to float
        Cluster id -> weight of its own model in its blend with the region's.
    not_here : array of int64
        Titles not available in the region (never recommended, never scored).
    seconds : dict of str to float
        Wall time of the split, the validation split, each scope's fits and the scoring.
    profile_ndcg : dict of int to dict of str to array of float64
        Cluster id -> recipe -> NDCG@10 of each of its judged profiles, in the order of
        ``judged``: the gate pairs the candidate's with the active configuration's, profile
        by profile (:meth:`recipe_ndcg`).
    """

    table: dict[str, dict]
    models: dict[str | int, Scored]
    judged: dict[int, npt.NDArray[np.int64]]
    choices: dict[str | int, ScopeChoice]
    blend_weight: dict[int, float]
    split: HoldoutSplitData
    halves: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = field(
        default_factory=dict
    )
    unavailable: sp.csr_matrix | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    not_here: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    random_state: int = 0
    profile_ndcg: dict[int, dict[str, npt.NDArray[np.float64]]] = field(default_factory=dict)
    _refits: dict[tuple, Scored] = field(default_factory=dict)

    def holdout_model(self, scope: str | int, params: AlsParams) -> Scored | None:
        """The scope's model with ``params`` on the holdout's training part (the quality
        gate's incumbent): the evaluation's own fit when the settings are the same, else
        fitted now (once) on the same rows, sweeps and seed. ``None`` for a scope this
        evaluation did not fit (the global one when it was not due)."""
        fitted = self.models.get(scope)
        if fitted is None:
            return None
        if _same_settings(self.choices[scope].params, params):
            return fitted
        key = (scope, params.factors, params.regularization, params.alpha)
        if key not in self._refits:
            started = time.perf_counter()
            self._refits[key] = Scored(
                _fit_rows(
                    self.split.confidence,
                    fitted.rows,
                    params=params.replace(iterations=EVAL_ITERATIONS),
                    random_state=self.random_state,
                    unavailable=self.unavailable if scope == "global" else None,
                ),
                fitted.rows,
            )
            self.seconds[f"refit {scope}"] = round(time.perf_counter() - started, 3)
        return self._refits[key]

    def judged_on(
        self, cluster_id: int, half: Literal["choice", "gate"] | None = None
    ) -> npt.NDArray[np.int64] | None:
        """The cluster's judged held-out profiles, or one of their halves (None: not judged)."""
        judged = self.judged.get(cluster_id)
        if judged is None or half is None:
            return judged
        return self.halves[cluster_id][("choice", "gate").index(half)]

    def measure_by_profile(
        self, parts: Parts, cluster_id: int, *, half: Literal["choice", "gate"] | None = None
    ) -> npt.NDArray[np.float64] | None:
        """NDCG@10 of ``Σ weight · model`` for each of the cluster's judged held-out profiles
        (its table row's), or of one of their halves (``"choice"`` or ``"gate"``,
        :func:`holdout_halves`), in the order of :meth:`judged_on`. Per profile, not their
        mean: the gate pairs them with the candidate's on the same profiles."""
        judged = self.judged_on(cluster_id, half)
        if judged is None or judged.size == 0:
            return None
        holdout = self.split.holdout
        recommended = _recommend_many(
            {"model": parts}, judged, seen=holdout.seen, not_here=self.not_here
        )["model"]
        return ndcg_at_k(recommended, holdout.relevant[judged], 10)

    def recipe_ndcg(
        self, cluster_id: int, recipe: str, *, half: Literal["choice", "gate"] | None = None
    ) -> npt.NDArray[np.float64] | None:
        """A table recipe's NDCG@10 of each judged profile of the cluster (or of one half), in
        the order of :meth:`judged_on`; ``None`` when the table has no figure for it."""
        scores = self.profile_ndcg.get(cluster_id, {}).get(recipe)
        judged = self.judged.get(cluster_id)
        if scores is None or judged is None:
            return None
        rows = self.judged_on(cluster_id, half)
        sorter = np.argsort(judged, kind="stable")
        return scores[sorter[np.searchsorted(judged, rows, sorter=sorter)]]


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
    stored: Mapping[str | int, StoredChoice] | None = None,
    schedule: TuneSchedule | None = None,
    report: Report | None = None,
) -> RegionEvaluation:
    """Choose, fit and measure the region's, the global and each cluster's model on one holdout.

    Parameters
    ----------
    signals : TrainingSignals
        Signals of every region (for the global model), or of the region alone
        (``with_global=False``).
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
    with_global : bool
        Fit and measure the global model too.
    tune : bool
        Search small scopes' hyper-parameters and the blend weight on validation
        when due (see ``stored`` and ``schedule``); ``False`` keeps every scope at
        its size prior and blends half and half.
    stored : mapping, optional
        ``"region"``, ``"global"`` or a cluster id -> the settings an earlier search
        chose for that scope, reused unless a search is due.
    schedule : TuneSchedule, optional
        When a stored choice is searched again; without one, every small scope is
        searched (the settings are not reused).
    """
    report = report or (lambda _: None)
    stored = stored or {}
    base = params if isinstance(params, AlsParams) else AlsParams(**params)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    split = split or holdout_split(
        signals, at=at, test_fraction=test_fraction, validation_fraction=None
    )
    seconds["split"] = round(time.perf_counter() - started, 3)
    holdout = split.holdout
    in_region = np.flatnonzero(profile_region == region)
    not_here = np.flatnonzero(~region_available[region])
    members_of = {
        cluster_id: np.flatnonzero((profile_cluster == cluster_id) & (profile_region == region))
        for cluster_id in clusters
    }
    everyone = np.flatnonzero(profile_region >= 0)
    scope_rows: dict[str | int, npt.NDArray[np.int64]] = {"region": in_region}
    if with_global:
        scope_rows["global"] = everyone
    scope_rows.update({key: rows for key, rows in members_of.items() if rows.size})

    reasons = {
        key: search_reason(
            interactions=_nnz(holdout.confidence, rows),
            stored=stored.get(key),
            tune=tune,
            schedule=schedule,
        )
        for key, rows in scope_rows.items()
    }
    validation = split.validation
    if validation is None and any(reasons.values()):
        report("evaluate: validation split")
        started = time.perf_counter()
        validation = validation_split(split, at=at)
        seconds["validation split"] = round(time.perf_counter() - started, 3)
    models: dict[str | int, Scored] = {}
    choices: dict[str | int, ScopeChoice] = {}

    def fit(key: str | int, mask: sp.csr_matrix | None = None) -> None:
        started = time.perf_counter()
        rows = scope_rows[key]
        choice = scope_params(
            holdout.confidence,
            rows,
            base=base,
            random_state=random_state,
            validation=validation if reasons[key] else None,
            not_here=not_here,
            judged_rows=in_region if key == "global" else None,
            unavailable=mask,
            tune=tune,
            stored=stored.get(key),
            schedule=schedule,
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
    fit("region")
    notes = ""
    mask = None
    if with_global:
        report("evaluate: global model")
        mask = unavailable_cells(profile_region, region_available)
        if mask is None:
            notes = "global fitted without the availability mask (too many cells)"
        fit("global", mask)

    region_validation: list[Scored] = []

    def region_on_validation() -> Scored | None:
        """The region's chosen settings on the validation split, for the blend weights."""
        if choices["region"].validation_model is not None:
            return choices["region"].validation_model
        if validation is None:
            return None
        if not region_validation:
            started = time.perf_counter()
            trial = choices["region"].params
            region_validation.append(
                Scored(
                    _fit_rows(
                        validation.confidence,
                        in_region,
                        params=trial.replace(iterations=min(trial.iterations, TUNE_ITERATIONS)),
                        random_state=random_state,
                    ),
                    in_region,
                )
            )
            seconds["region on validation"] = round(time.perf_counter() - started, 3)
        return region_validation[0]

    table: dict[str, dict] = {}
    blend_weight: dict[int, float] = {}
    judged_of: dict[int, npt.NDArray[np.int64]] = {}
    profile_ndcg: dict[int, dict[str, npt.NDArray[np.float64]]] = {}
    halves_of: dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
    scoring = 0.0
    for cluster_id, slug in clusters.items():
        members = members_of[cluster_id]
        judged = holdout.judged(members, at_most=MAX_JUDGED, seed=random_state)
        row: dict = {
            "profiles": int(members.shape[0]),
            "judged": int(judged.shape[0]),
            "held_out": int(holdout.judged(members).shape[0]),
        }
        table[slug] = row
        judged_of[cluster_id] = judged
        halves_of[cluster_id] = holdout_halves(judged, signals.profile_ids[judged])
        if members.size == 0:
            continue
        report(f"evaluate: {slug}")
        fit(cluster_id)
        choice = choices[cluster_id]
        if not tune:
            weight = 0.5
        elif choice.searched:
            region_model = region_on_validation()
            weight = _blend_weight(choice, region_model, members, validation, not_here)
        elif choice.blend_weight is not None:
            weight = float(choice.blend_weight)
        else:
            weight = 0.5
        choice.blend_weight = blend_weight[cluster_id] = weight
        row["blend_weight"] = weight
        row["params"] = {
            name: choices[key].params.as_dict()
            for name, key in (("cluster", cluster_id), ("region", "region"), ("global", "global"))
            if key in choices
        }
        if judged.size == 0:
            continue
        candidates: dict[str, Parts] = {
            "cluster": [(models[cluster_id], 1.0)],
            "region": [(models["region"], 1.0)],
            "blend": [(models[cluster_id], weight), (models["region"], 1.0 - weight)],
        }
        if "global" in models:
            candidates["global"] = [(models["global"], 1.0)]
        started = time.perf_counter()
        row.update(
            recipe_figures(
                candidates,
                judged,
                holdout,
                not_here,
                halves=halves_of[cluster_id],
                per_profile=profile_ndcg.setdefault(cluster_id, {}),
            )
        )
        scoring += time.perf_counter() - started
    seconds["scoring"] = round(scoring, 3)
    if notes:
        for row in table.values():
            row["note"] = notes
    return RegionEvaluation(
        table=table,
        models=models,
        judged=judged_of,
        halves=halves_of,
        choices=choices,
        blend_weight=blend_weight,
        split=split,
        unavailable=mask,
        seconds=seconds,
        not_here=not_here,
        random_state=random_state,
        profile_ndcg=profile_ndcg,
    )


def _stable_hash(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """splitmix64 of each id: the same on every run and machine, unrelated to the id's order."""
    x = ids.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def holdout_halves(
    judged: npt.NDArray[np.int64], profile_ids: npt.NDArray[np.int64] | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """A cluster's judged held-out profiles in two disjoint halves: ``(choice, gate)``.

    The retrain chooses its recipe on the choice half and the gate judges the
    chosen recipe against the active version's on the gate half: the best of
    four noisy figures is inflated on the profiles it was chosen on (the
    winner's curse), not on others. Profiles are ordered by a stable hash of
    their id (``profile_ids``, aligned with ``judged``; the rows themselves
    without it) and dealt alternately, the first to the gate: reruns on the same
    data agree, the halves differ in size by at most one, and a cluster with a
    single judged profile has a gate half (and no choice half: too few to choose
    on, it keeps its default recipe, ``retraining.recipes._recipe``).
    """
    ids = judged if profile_ids is None else profile_ids
    order = np.lexsort((ids, _stable_hash(np.asarray(ids, dtype=np.int64))))
    return np.sort(judged[order[1::2]]), np.sort(judged[order[0::2]])


def recipe_figures(
    candidates: Mapping[str, Parts],
    judged: npt.NDArray[np.int64],
    judging: Judging,
    not_here: npt.NDArray[np.int64],
    *,
    halves: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
    per_profile: dict[str, npt.NDArray[np.float64]] | None = None,
) -> dict:
    """A cluster's table figures: NDCG@10 and Recall@20 of each recipe on its judged held-out
    profiles (and their best), then on each of :func:`holdout_halves` (``"choice"``: what the
    retrain chooses its recipe on; ``"gate"``: what its gate judges on), each with its count.

    The recipes' recommendations are computed once, for every judged profile; a
    half's figures are the same recommendations judged on its profiles alone. An
    empty half has its count and no figures. ``per_profile``, when given, is filled
    with each recipe's NDCG@10 of every judged profile, in the order of ``judged``
    (the figures are their means): the gate's paired comparison needs them, and a
    table row of means cannot give them back.
    """
    choice, gate = holdout_halves(judged) if halves is None else halves
    recommended = _recommend_many(candidates, judged, seen=judging.seen, not_here=not_here)
    n_titles = judging.relevant.shape[1]
    # Where each profile's recommendations are: judged in any order, as _measure takes it.
    sorter = np.argsort(judged, kind="stable")

    def figures(rows: npt.NDArray[np.int64]) -> dict:
        out: dict = {"judged": int(rows.shape[0])}
        if rows.size == 0:
            return out
        at = sorter[np.searchsorted(judged, rows, sorter=sorter)]
        relevant = judging.relevant[rows]
        for name in MODELS:
            if name in recommended:
                measured = evaluate(recommended[name][at], relevant, n_titles)
                out[f"ndcg@10_{name}"] = round(float(measured.ndcg_at_10), 4)
                out[f"recall@20_{name}"] = round(float(measured.recall_at_20), 4)
        return out

    if per_profile is not None:
        relevant = judging.relevant[judged]
        for name, recs in recommended.items():
            per_profile[name] = ndcg_at_k(recs, relevant, 10)
    row = figures(judged)
    del row["judged"]  # the table row's own count, beside its sample's
    measured = [name for name in MODELS if f"ndcg@10_{name}" in row]
    if measured:  # none when no profile was judged (region_evaluate skips such clusters)
        row["best"] = max(measured, key=lambda name: row[f"ndcg@10_{name}"])
    row["choice"] = figures(choice)
    row["gate"] = figures(gate)
    return row


def _blend_weight(
    cluster: ScopeChoice,
    region_model: Scored | None,
    members: npt.NDArray[np.int64],
    validation: Judging | None,
    not_here: npt.NDArray[np.int64],
) -> float:
    """The cluster model's share in its blend with the region's, best on the validation split.

    Uses the validation fits of the two chosen settings; without them (nothing
    to validate on) the blend is half and half.
    """
    if validation is None or cluster.validation_model is None or region_model is None:
        return 0.5
    judged = validation.judged(members, at_most=MAX_VALIDATION_JUDGED)
    if judged.size == 0:
        return 0.5
    measured = _measure(
        {str(w): [(cluster.validation_model, w), (region_model, 1.0 - w)] for w in BLEND_WEIGHTS},
        judged,
        validation,
        not_here,
    )
    scored = {w: float(measured[str(w)].ndcg_at_10) for w in BLEND_WEIGHTS}
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
