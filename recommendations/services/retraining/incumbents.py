"""The active version measured against the candidate: its configuration refitted on the
candidate's training part when it recorded one, else its stored model folded in.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from recommendations.engine.als import AlsParams, CollaborativeModel
from recommendations.engine.metrics import ndcg_at_k, top_k
from recommendations.models import ModelVersion
from recommendations.selectors import training as data
from recommendations.services import cluster_evaluation
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.recipes import _RECIPE_SCOPES
from recommendations.serving import artefacts
from recommendations.serving.model_index import ModelIndex


def _active_version_scores(
    *,
    version: ModelVersion,
    split: cluster_evaluation.HoldoutSplitData,
    judged: npt.NDArray[np.int64],
    title_ids: npt.NDArray[np.int64],
    not_here: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64] | None:
    """The active version's stored model's NDCG@10 of each ``judged`` profile (in that order)
    on this holdout, each profile folded in.

    Only for an active version that did not record its configuration (trained
    before configurations were recorded): its factors were fitted on a window that
    holds most of this holdout, which favours it, so this comparison can reject a
    candidate that is as good. The gate prefers :func:`_incumbent_parts`.
    """
    try:
        model = CollaborativeModel.load(
            artefacts.artefact_read(version.artefact_key, artefacts.ALS)
        )
        index = ModelIndex.load(artefacts.artefact_read(version.artefact_key, artefacts.INDEX))
    except (OSError, ValueError, KeyError):
        logger.warning("Active version %s has unreadable artefacts", version.pk)
        return None
    column = data.index_of(index.title_ids, title_ids)  # current title -> its column
    known = np.flatnonzero(column >= 0)
    rows = sp.csr_matrix(split.confidence[judged])[:, known]
    remapped = sp.csr_matrix(
        (rows.data, column[known][rows.indices], rows.indptr), shape=(rows.shape[0], model.n_titles)
    )
    # Folded in as the request folds it in: against what the region carries today
    # (a masked model's system; an unmasked model ignores the mask).
    carried = np.zeros(model.n_titles, dtype=bool)
    here = known[~np.isin(known, not_here)]
    carried[column[here]] = True
    factors = model.fold_in_many(remapped, available=carried)
    blocks = []
    for start in range(0, judged.shape[0], 2048):
        theirs = factors[start : start + 2048] @ model.item_factors.T
        scores = np.full((theirs.shape[0], title_ids.shape[0]), -np.inf, dtype=np.float32)
        scores[:, known] = theirs[:, column[known]]
        scores[:, not_here] = -np.inf
        blocks.append(top_k(scores, 20, exclude=split.seen[judged[start : start + 2048]]))
    return ndcg_at_k(np.concatenate(blocks), split.relevant[judged], 10)


def _mean_ndcg(scores: npt.NDArray[np.float64] | None) -> float | None:
    """The figure of per-profile NDCG@10 as the table gives it: the mean over the profiles
    with one (0.0 when none has), to four places; ``None`` for nothing measured."""
    if scores is None:
        return None
    measured = scores[~np.isnan(scores)]
    return round(float(measured.mean()), 4) if measured.size else 0.0


def _trained_configuration(version: ModelVersion) -> dict:
    """The configuration of a global or region version ``train_models`` trained, or ``{}``.

    ``train_models`` fits its scope's one model and records its settings under ``als``,
    not ``hyperparameters``; read as that scope's recipe, the gate refits them on the
    candidate's training part. Scored by its stored factors instead, fitted on a window
    that holds the holdout, it rejected every fallback a first retrain fitted (``make
    demo``'s: NDCG@10 0.25 against 0.54 on unchanged data).
    """
    if version.scope not in (ModelVersion.Scope.GLOBAL, ModelVersion.Scope.REGION):
        return {}
    components = ((version.metrics or {}).get("als") or {}).get("components")
    return {"recipe": str(version.scope), "components": components}


def _incumbent_parts(
    active: ModelVersion, evaluation: cluster_evaluation.RegionEvaluation, cluster_id: int
) -> tuple[list[tuple[cluster_evaluation.Scored, float]] | None, str]:
    """The active version's configuration fitted on the candidate's training part.

    The recipe, each component's settings and the blend weight the active
    version recorded, fitted on exactly the rows, sweeps and seed the
    candidate's figure comes from (the evaluation's own fit when the settings
    are the same): the two configurations are then compared on equal data. An
    active version trained on the full window of an earlier day has seen most
    of today's holdout, and scoring its stored factors would favour it.

    Returns
    -------
    parts, how
        ``None`` and the reason when the configuration cannot be refitted here
        (not recorded, or the global model not fitted in this retrain).
    """
    hyper = active.metrics.get("hyperparameters") or _trained_configuration(active)
    recipe, components = hyper.get("recipe"), hyper.get("components")
    scopes = _RECIPE_SCOPES.get(recipe or "")
    if scopes is None or not components or len(components) != len(scopes):
        return None, "its configuration is not recorded"
    parts = []
    refitted = False
    for scope, component in zip(scopes, components, strict=True):
        key: str | int = cluster_id if scope == "cluster" else scope
        params = AlsParams(
            factors=int(component["factors"]),
            regularization=float(component["regularization"]),
            alpha=float(component["alpha"]),
            iterations=cluster_evaluation.EVAL_ITERATIONS,
        )
        model = evaluation.holdout_model(key, params)
        if model is None:
            return None, f"its {scope} model is not fitted in this retrain"
        refitted = refitted or model is not evaluation.models.get(key)
        parts.append((model, float(component.get("weight", 1.0))))
    how = "refitted on this training part" if refitted else "same settings as fitted here"
    return parts, how


def _table_recipe(
    parts: list[tuple[cluster_evaluation.Scored, float]],
    evaluation: cluster_evaluation.RegionEvaluation,
    cluster_id: int,
    row: dict,
) -> str | None:
    """The table recipe of exactly these models and weights, when ``row`` has its figure: the
    gate reads its figures instead of scoring them again."""
    models = evaluation.models
    weight = evaluation.blend_weight.get(cluster_id)
    same = {
        "cluster": [(models.get(cluster_id), 1.0)],
        "region": [(models.get("region"), 1.0)],
        "global": [(models.get("global"), 1.0)],
        "blend": [(models.get(cluster_id), weight), (models.get("region"), None)],
    }
    for name, expected in same.items():
        if len(expected) != len(parts) or f"ndcg@10_{name}" not in row:
            continue
        if all(m is p for (m, _), (p, _) in zip(expected, parts, strict=True)) and (
            name != "blend" or abs(parts[0][1] - (weight or 0.0)) < 1e-9
        ):
            return name
    return None


def _incumbent_measure(
    parts: list[tuple[cluster_evaluation.Scored, float]],
    evaluation: cluster_evaluation.RegionEvaluation,
    cluster_id: int,
    row: dict,
    *,
    half: Literal["choice", "gate"] | None = None,
) -> tuple[float | None, npt.NDArray[np.float64] | None]:
    """The incumbent configuration's NDCG@10 on the cluster's judged profiles (or one half),
    as the figure and per profile: ``row``'s figure and the table's scores when it is one of
    the table's recipes (:func:`_table_recipe`), else measured here.

    One rule for a cluster's gate and a fallback's, so that both read an incumbent the table
    already scored from the table, and measure it only when it is not there.
    """
    same = _table_recipe(parts, evaluation, cluster_id, row)
    if same is not None:
        return row[f"ndcg@10_{same}"], evaluation.recipe_ndcg(cluster_id, same, half=half)
    scores = evaluation.measure_by_profile(parts, cluster_id, half=half)
    return _mean_ndcg(scores), scores
