"""What every cluster of a region batch shares, planned, read or fitted once: the plan
(what the active versions recorded), the final fits, and the store of a final fit as a
version.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.als import AlsParams, CollaborativeModel
from recommendations.engine.confidence import ConfidenceMatrices
from recommendations.engine.content import ContentModel
from recommendations.models import ModelVersion
from recommendations.selectors import training as data
from recommendations.services import cluster_evaluation
from recommendations.services.ranker_training import LoggedExamples
from recommendations.services.retraining.configuration import global_every_days
from recommendations.services.training import (
    TrainingData,
    model_train,
)
from regions.models import TasteCluster

#: Sweeps of a final fit, started from the holdout fit's factors (the same profiles and
#: titles, 80% of the activity): enough to take in the newest activity without a fresh start.
WARM_ITERATIONS = 5


def _compact(
    signals: data.TrainingSignals, profiles: npt.NDArray[np.bool_]
) -> data.TrainingSignals:
    """The signals of the profiles where ``profiles`` holds, on a profile index of just them."""
    keep = profiles[signals.profile_index]
    kept_ids = signals.profile_ids[profiles]
    subset = signals.subset(keep)
    remap = np.cumsum(profiles) - 1
    return data.TrainingSignals(
        profile_ids=kept_ids,
        title_ids=subset.title_ids,
        profile_index=remap[subset.profile_index].astype(np.int32),
        title_index=subset.title_index,
        episode_id=subset.episode_id,
        kind=subset.kind,
        value=subset.value,
        timestamp=subset.timestamp,
        rewatch=subset.rewatch,
        commitment_hours=subset.commitment_hours,
    )


@dataclass
class _FinalFits:
    """The full-window fits of a region batch, each made at most once and shared by clusters."""

    confidence: sp.csr_matrix
    evaluation: cluster_evaluation.RegionEvaluation
    random_state: int
    unavailable: sp.csr_matrix | None
    fitted: dict[str | int, CollaborativeModel] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def get(self, key: str | int) -> CollaborativeModel:
        """The scope's model on every signal of the window, warm-started from its holdout fit."""
        if key not in self.fitted:
            started = time.perf_counter()
            scored = self.evaluation.models[key]
            params: AlsParams = self.evaluation.choices[key].params
            model = CollaborativeModel.from_params(
                params.replace(iterations=WARM_ITERATIONS), random_state=self.random_state
            )
            mask = self.unavailable if key == "global" else None
            model.fit(
                self.confidence[scored.rows],
                unavailable=None if mask is None else mask[scored.rows],
                initial=scored.model,
            )
            self.fitted[key] = model
            self.seconds[str(key)] = round(time.perf_counter() - started, 3)
        return self.fitted[key]


@dataclass
class _Plan:
    """What a region batch reuses from the active versions, and whether the global model is due.

    Attributes
    ----------
    stored : dict
        ``"region"``, ``"global"`` and cluster ids -> the settings an earlier search chose.
    with_global : bool
        Fit (and read every region's signals for) the global comparator in this batch.
    global_reason : str
        Why it is, or is not.
    global_last : dict
        Cluster slug -> the global model's last figures on its row (when not fitted now).
    global_fitted_at : float or None
        Unix time of the last fit of the global comparator in this region's retrains.
    """

    stored: dict[str | int, cluster_evaluation.StoredChoice]
    with_global: bool
    global_reason: str
    global_last: dict[str, dict]
    global_fitted_at: float | None


def _plan(region_code: str, clusters: dict[int, TasteCluster], now: float) -> _Plan:
    """Read the active versions' recorded choices: the stored settings of each scope (the
    newest recorded for the region's and the global scope), and when the global comparator
    last ran in this region's retrains."""
    stored: dict[str | int, cluster_evaluation.StoredChoice] = {}
    global_fitted_at: float | None = None
    global_last: dict[str, dict] = {}
    global_served = False
    active = (
        ModelVersion.objects.filter(
            scope=ModelVersion.Scope.CLUSTER, status=ModelVersion.Status.ACTIVE
        )
        .select_related("taste_cluster")
        .order_by("-pk")
    )
    for version in active:
        hyper = version.metrics.get("hyperparameters") or {}
        tuning = hyper.get("tuning") or {}
        here = version.region_id == region_code
        choice = cluster_evaluation.StoredChoice.from_metrics
        if here and version.taste_cluster_id in clusters:
            found = choice(tuning.get("cluster"), version=version.pk)
            if found is not None:
                stored[version.taste_cluster_id] = found
            global_served = global_served or hyper.get("recipe") == "global"
        if here and "region" not in stored:
            found = choice(tuning.get("region"), version=version.pk)
            if found is not None:
                stored["region"] = found
        if "global" not in stored:
            found = choice(tuning.get("global"), version=version.pk)
            if found is not None:
                stored["global"] = found
        comparator = version.metrics.get("global_comparator") or {}
        if here and comparator.get("fitted_at") is not None:
            fitted_at = float(comparator["fitted_at"])
            if global_fitted_at is None or fitted_at > global_fitted_at:
                global_fitted_at = fitted_at
                global_last = comparator.get("figures") or {}
    every = global_every_days()
    if global_served:
        with_global, reason = True, "fitted: it serves a cluster of this batch"
    elif global_fitted_at is None:
        with_global, reason = True, "fitted: no earlier fit in this region's retrains"
    elif (now - global_fitted_at) / 86_400.0 >= every:
        with_global, reason = True, f"fitted: the last fit is older than {every:g} days"
    else:
        with_global = False
        age = (now - global_fitted_at) / 86_400.0
        reason = f"not fitted: the last fit is {age:.1f} days old (every {every:g} days)"
    return _Plan(stored, with_global, reason, global_last, global_fitted_at)


def _groups_of(
    groups: data.ProfileGroups, rows: npt.NDArray[np.int64], cluster_pk: npt.NDArray[np.int64]
) -> data.ProfileGroups:
    """The groups of some profiles (``rows``), with the clusters this retrain assigned."""
    pks = cluster_pk[rows]
    cluster_ids = np.unique(pks[pks >= 0])
    return data.ProfileGroups(
        region_codes=groups.region_codes,
        region=groups.region[rows],
        cluster_ids=cluster_ids,
        cluster=np.where(pks >= 0, data.index_of(cluster_ids, pks), -1).astype(np.int32),
    )


@dataclass
class _Shared:
    """What every cluster of a region batch uses: read, computed or fitted once."""

    training: TrainingData
    matrices: ConfidenceMatrices
    finals: _FinalFits
    content: ContentModel | None
    content_artefact: bytes | None
    logged: LoggedExamples
    cluster_pk: npt.NDArray[np.int64]  # each profile's cluster id after this assignment, or -1
    in_region: npt.NDArray[np.bool_]
    region_available: npt.NDArray[np.bool_]
    region_index: int
    plan: _Plan
    _region_plays: tuple[data.TrainingSignals, data.ProfileGroups] | None = None

    def region_plays(self) -> tuple[data.TrainingSignals, data.ProfileGroups]:
        """The region's signals and groups, for the trending of a version served to part of it.

        Made once per batch: every cluster its own model serves counts the same plays.
        """
        if self._region_plays is None:
            rows = np.flatnonzero(self.in_region)
            signals = self.training.signals
            if rows.shape[0] < signals.n_profiles:
                signals = _compact(signals, self.in_region)
            self._region_plays = (
                signals,
                _groups_of(self.training.groups, rows, self.cluster_pk),
            )
        return self._region_plays


def _final_version_store(
    *,
    shared: _Shared,
    profiles: npt.NDArray[np.bool_],
    als: CollaborativeModel,
    region_code: str | None,
    cluster: TasteCluster | None,
    logged: LoggedExamples | None,
    random_state: int,
    at: dt.datetime,
    run_ids: Sequence[int],
) -> tuple[ModelVersion, data.TrainingSignals]:
    """Store, not activate, a batch's final fit served to ``profiles``, with their signals.

    A cluster's version and a fallback's are built the same way from what the
    batch shares (content model, confidence of the window, profile groups);
    only the gate that follows differs. The version names ``run_ids`` (the runs it is
    made for) from the moment it exists: should they fail while it is still being
    written, their failure finds it, and leaves alone the versions other batches
    are writing meanwhile (:func:`_fail_unjudged_versions`).
    """
    training, signals = shared.training, shared.training.signals
    rows = np.flatnonzero(profiles)
    served = signals if rows.shape[0] == signals.n_profiles else _compact(signals, profiles)
    matrices = shared.matrices
    # Served to part of the region (a cluster's own model): trending is still the region's.
    part_of_region = region_code is not None and not np.array_equal(profiles, shared.in_region)
    part_of_region = part_of_region and not (profiles & ~shared.in_region).any()
    version = model_train(
        region_code=region_code,
        cluster=cluster,
        training=TrainingData(
            signals=served,
            features=training.features,
            groups=_groups_of(training.groups, rows, shared.cluster_pk),
            at=training.at,
            trending_from=shared.region_plays() if part_of_region else None,
        ),
        als_model=als,
        content=shared.content,
        content_artefact=shared.content_artefact,
        confidence=ConfidenceMatrices(
            positive=matrices.positive[rows],
            negative=matrices.negative[rows],
            ignored=matrices.ignored[rows],
        ),
        logged=logged,
        random_state=random_state,
        activate=False,
        at=at,
        metrics={"retrain_runs": list(run_ids)},
    )
    return version, served


def _stored_cluster_pk(groups: data.ProfileGroups) -> npt.NDArray[np.int64]:
    """Each profile's cluster id as stored before this retrain (-1 for none).

    Only the profiles in a cluster are looked up: where none is (an imported region's
    first retrain), there are no cluster ids to index, and ``np.where`` indexed them
    for every profile, failing the run.
    """
    stored = np.full(groups.cluster.shape, -1, dtype=np.int64)
    placed = groups.cluster >= 0
    stored[placed] = groups.cluster_ids[groups.cluster[placed]]
    return stored
