"""Cluster model vs region model vs global model, per taste cluster, on one time-based holdout.

One split of every profile's activity (its last ``test_fraction`` of events
held out), three collaborative models fitted on the training part:

- **cluster**: ALS on the cluster's profiles only (one model per cluster);
- **region**: ALS on every profile of the region;
- **global**: ALS on every profile of every region, told which titles each
  profile could not watch (not licensed in its region), so that those are not
  negatives for it (:meth:`CollaborativeModel.fit`'s ``unavailable``).

Each is asked for its top 20 titles per held-out profile of the cluster,
among the titles available in the region at the split's end and not already
seen in training; NDCG@10 and Recall@20 per model and cluster follow. The
table compares the collaborative part, the only part that differs between
the scopes (content, trending and the ranker are shared by all of them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.als import CollaborativeModel
from recommendations.engine.confidence import SignalCode, signal_confidence, signed_confidence
from recommendations.engine.metrics import evaluate, top_k
from recommendations.engine.split import HoldoutSplit, holdout_relevance, time_holdout
from recommendations.selectors import training as data

logger = logging.getLogger(__name__)

K = 20
_BATCH = 2048  # profiles scored at once: bounds the dense score block to ~120 MB
MODELS = ("cluster", "region", "global")
#: Above this many (profile, unavailable title) cells the global model is fitted without the
#: availability mask (each cell is one sparse entry); the table says so.
GLOBAL_MASK_MAX_CELLS = 30_000_000
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


@dataclass(frozen=True)
class HoldoutSplitData:
    """A split of the signals of every region, and what each profile is judged on."""

    train: data.TrainingSignals
    relevant: sp.csr_matrix  # (n_profiles, n_titles) bool
    seen: sp.csr_matrix  # (n_profiles, n_titles) bool
    confidence: sp.csr_matrix  # signed training confidence, (n_profiles, n_titles)
    n_test_events: int


def holdout_split(
    signals: data.TrainingSignals, *, at: float, test_fraction: float = 0.2
) -> HoldoutSplitData:
    """Split each profile's activity by time and build the training confidence."""
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
    return HoldoutSplitData(
        train=train,
        relevant=relevant,
        seen=seen,
        confidence=signed_confidence(matrices.positive, matrices.negative),
        n_test_events=int((split.test & positive).sum()),
    )


def _fit_rows(
    confidence: sp.csr_matrix,
    rows: npt.NDArray[np.int64],
    *,
    params: dict,
    random_state: int,
    unavailable: sp.csr_matrix | None = None,
) -> CollaborativeModel:
    """ALS on some rows of the matrix (user factors come back in ``rows`` order)."""
    model = CollaborativeModel(**params, random_state=random_state)
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


def cluster_table(
    *,
    signals: data.TrainingSignals,
    profile_region: npt.NDArray[np.int64],
    profile_cluster: npt.NDArray[np.int64],
    region: int,
    clusters: dict[int, str],
    region_available: npt.NDArray[np.bool_],
    at: float,
    params: dict,
    random_state: int = 0,
    test_fraction: float = 0.2,
    split: HoldoutSplitData | None = None,
    with_global: bool = True,
) -> dict[str, dict[str, float | int | str]]:
    """NDCG@10 and Recall@20 of the cluster, region and global models, per cluster.

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
        The clusters to report (id -> slug).
    region_available : array of bool, shape (n_regions, n_titles)
        Titles available in each region at the end of the split.
    at : float
        Unix time the training window ends.

    Returns
    -------
    dict
        Cluster slug -> ``{"profiles", "ndcg@10_<model>", "recall@20_<model>", "best"}``.
    """
    split = split or holdout_split(signals, at=at, test_fraction=test_fraction)
    confidence = split.confidence
    in_region = np.flatnonzero(profile_region == region)
    models: dict[str, CollaborativeModel] = {}
    models["region"] = _fit_rows(confidence, in_region, params=params, random_state=random_state)
    notes = ""
    if with_global:
        everyone = np.flatnonzero(profile_region >= 0)
        mask = unavailable_cells(profile_region, region_available)
        if mask is None:
            notes = "global fitted without the availability mask (too many cells)"
        models["global"] = _fit_rows(
            confidence, everyone, params=params, random_state=random_state, unavailable=mask
        )
        global_rows = everyone
    not_here = np.flatnonzero(~region_available[region])
    table: dict[str, dict[str, float | int | str]] = {}
    for cluster_id, slug in clusters.items():
        members = np.flatnonzero((profile_cluster == cluster_id) & (profile_region == region))
        judged = members[np.diff(split.relevant.indptr)[members] > 0]
        row: dict[str, float | int | str] = {
            "profiles": int(members.shape[0]),
            "judged": int(judged.shape[0]),
        }
        if judged.size == 0 or members.size == 0:
            table[slug] = row
            continue
        fitted = dict(models)
        fitted["cluster"] = _fit_rows(confidence, members, params=params, random_state=random_state)
        rows_of = {
            "cluster": members,
            "region": in_region,
            "global": global_rows if with_global else in_region,
        }
        exclude = split.seen[judged]
        truth = split.relevant[judged]
        for name in MODELS:
            model = fitted.get(name)
            if model is None:
                continue
            position = np.searchsorted(rows_of[name], judged)
            blocks = []
            for start in range(0, judged.shape[0], _BATCH):
                scores = model.user_factors[position[start : start + _BATCH]] @ model.item_factors.T
                scores[:, not_here] = -np.inf
                blocks.append(top_k(scores, K, exclude=exclude[start : start + _BATCH]))
            recommended = np.concatenate(blocks)
            metrics = evaluate(recommended, truth, signals.n_titles)
            row[f"ndcg@10_{name}"] = round(float(metrics.ndcg_at_10), 4)
            row[f"recall@20_{name}"] = round(float(metrics.recall_at_20), 4)
        row["best"] = max(
            (name for name in MODELS if f"ndcg@10_{name}" in row),
            key=lambda name: row[f"ndcg@10_{name}"],
        )
        table[slug] = row
    if notes:
        for row in table.values():
            row["note"] = notes
    return table


def region_cluster_table(
    *,
    region_code: str,
    at: float | None = None,
    random_state: int = 0,
    test_fraction: float = 0.2,
    params: dict | None = None,
) -> dict[str, dict[str, float | int | str]]:
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
    )
