"""One cluster's end of a batch: the final fit of its recipe, stored as its version, then
gated against the active version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from recommendations.engine.als import CollaborativeModel
from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining.batch import _final_version_store, _Shared
from recommendations.services.retraining.configuration import gate_margin, gate_z
from recommendations.services.retraining.gate import _gate_record, _nothing_judged_reason
from recommendations.services.retraining.incumbents import (
    _active_version_scores,
    _incumbent_measure,
    _incumbent_parts,
    _mean_ndcg,
)
from recommendations.services.retraining.outcomes import RetrainOutcome
from recommendations.services.retraining.recipes import _default_recipe, _gate_figures, _recipe
from recommendations.services.retraining.runs import _version_reject
from regions.models import TasteCluster


def _active_version(cluster: TasteCluster) -> ModelVersion | None:
    return ModelVersion.objects.filter(
        scope=ModelVersion.Scope.CLUSTER,
        taste_cluster=cluster,
        status=ModelVersion.Status.ACTIVE,
    ).first()


def _cluster_finish(
    *,
    run: TrainingRun,
    cluster: TasteCluster,
    row: dict,
    shared: _Shared,
    sizes: dict,
    metrics: dict,
    report: Callable[[str, int], None],
    at: dt.datetime,
    random_state: int,
) -> RetrainOutcome:
    """Final fit, store and gate of one cluster, with the recipe that served it best."""
    training, finals = shared.training, shared.finals
    evaluation = finals.evaluation
    signals = training.signals
    region_code = run.region_id
    report("train", 70)
    key = cluster.pk
    default, default_is = _default_recipe(_active_version(cluster), evaluation, key)
    chosen = _recipe(row, default=default, default_is=default_is)
    recipe = chosen.recipe
    members = (shared.cluster_pk == key) & shared.in_region
    if recipe == "cluster" and key in evaluation.models:
        als = finals.get(key)
        profiles = members
    elif recipe == "blend":
        weight = evaluation.blend_weight[key]
        als = CollaborativeModel.blend(
            [finals.get(key), finals.get("region")], [weight, 1.0 - weight]
        )
        profiles = shared.in_region
    elif recipe == "global":
        als = finals.get("global")
        profiles = shared.training.groups.region >= 0
    else:  # the region's, or a cluster without profiles of its own
        recipe = "region"
        als = finals.get("region")
        profiles = shared.in_region
    hyper: dict = {"recipe": recipe, "components": als.describe()}
    if recipe == "blend":
        hyper["blend_weight"] = evaluation.blend_weight[key]
    hyper["tuning"] = {
        name: evaluation.choices[scope].as_metrics()
        for name, scope in (("cluster", key), ("region", "region"), ("global", "global"))
        if scope in evaluation.choices
    }
    version, recipe_signals = _final_version_store(
        shared=shared,
        profiles=profiles,
        als=als,
        region_code=region_code,
        cluster=cluster,
        logged=shared.logged,
        random_state=random_state,
        at=at,
        run_ids=[run.pk],
    )
    sizes = {
        **sizes,
        "recipe_signals": len(recipe_signals),
        "recipe_profiles": recipe_signals.n_profiles,
    }
    # Linked at once: if the worker dies before the gate, the reaper fails this version too,
    # so a version nobody judged is never left "ready" to be activated or rolled back to.
    TrainingRun.objects.filter(pk=run.pk).update(model_version=version)

    report("gate", 90)
    metrics = {**metrics, "hyperparameters": hyper, "final_fit_seconds": finals.seconds}
    figures = _gate_figures(row)
    candidate = figures.get(f"ndcg@10_{recipe}")
    # Read again, not reused from the choice: an operator may have rolled back during the fit.
    active = _active_version(cluster)
    chosen_on = row.get("choice") or {}
    gate: dict = {
        "margin": gate_margin(),
        "z": gate_z(),
        "recipe": recipe,
        "candidate_ndcg@10": candidate,
        "measured_on": {"half": "gate", "profiles": figures.get("judged", 0)},
        "recipe_chosen_on": {
            "half": "choice",
            "profiles": chosen_on.get("judged", 0),
            "candidate_ndcg@10": chosen_on.get(f"ndcg@10_{recipe}"),
            "reason": chosen.reason,
        },
    }
    reason = ""
    if candidate is None:
        reason = _nothing_judged_reason("cluster", gate)
    elif active is not None:
        gate["active_version"] = active.pk
        # Both per profile of the gate half, in one order: the gate pairs them.
        candidate_scores = evaluation.recipe_ndcg(key, recipe, half="gate")
        parts, how = _incumbent_parts(active, evaluation, key)
        if parts is not None:
            active_ndcg, active_scores = _incumbent_measure(
                parts, evaluation, key, figures, half="gate"
            )
            gate["active_recipe"] = active.metrics["hyperparameters"]["recipe"]
        else:
            # Not refittable here: the stored model itself, which has seen this holdout.
            how = f"its stored model ({how})"
            active_scores = _active_version_scores(
                version=active,
                split=evaluation.split,
                judged=evaluation.judged_on(key, "gate"),
                title_ids=signals.title_ids,
                not_here=evaluation.not_here,
            )
            active_ndcg = _mean_ndcg(active_scores)
        reason = _gate_record(
            gate,
            candidate=candidate,
            active=active,
            active_ndcg=active_ndcg,
            how=how,
            candidate_scores=candidate_scores,
            active_scores=active_scores,
        )
    gate["passed"] = not reason
    metrics["gate"] = gate
    ModelVersion.objects.filter(pk=version.pk).update(
        metrics={
            **version.metrics,
            "recipe": recipe,
            "holdout": row,
            "gate": gate,
            "hyperparameters": hyper,
            "global_comparator": metrics["global_comparator"],
        }
    )
    if reason:
        _version_reject(version, reason)
        return RetrainOutcome(TrainingRun.Status.REJECTED, reason, version, metrics, sizes)
    return RetrainOutcome(
        TrainingRun.Status.SUCCEEDED,
        "",
        version,
        metrics,
        sizes,
        replacing=None if active is None else active.pk,
    )
