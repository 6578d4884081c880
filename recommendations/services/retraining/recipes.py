"""Which recipe serves a cluster: the best on the holdout's choice half, or the cluster's
default when that half is too small to choose on.
"""

from __future__ import annotations

from dataclasses import dataclass

from recommendations.models import ModelVersion
from recommendations.services import cluster_evaluation
from recommendations.services.retraining.configuration import compared_with, recipe_min_profiles

#: The scopes whose models make up each recipe, in the order a stored model lists its
#: components (a blend: the cluster's, then the region's).
_RECIPE_SCOPES = {"cluster": ("cluster",), "region": ("region",), "global": ("global",)}
_RECIPE_SCOPES["blend"] = ("cluster", "region")


@dataclass(frozen=True)
class RecipeChoice:
    """The recipe a cluster's retrain serves, and why, in words (the gate's
    ``recipe_chosen_on["reason"]``, shown by the admin's gate field)."""

    recipe: str
    reason: str


def _recipe(row: dict, *, default: str = "cluster", default_is: str = "") -> RecipeChoice:
    """The model that served the cluster best on the holdout's choice half, among those allowed
    to compete.

    Chosen on the choice half only (``row["choice"]``,
    :func:`~recommendations.services.cluster_evaluation.holdout_halves`), so
    that the gate can judge it on profiles its choice did not see. Ties keep the
    cluster's own handling ("cluster", then "blend"). A choice half of fewer than
    :func:`recipe_min_profiles` judged profiles chooses nothing and keeps ``default``
    (:func:`_default_recipe`; ``default_is`` says whose recipe it is): the best of
    four figures on one or two profiles is which recipe happened to find their
    titles, and serving it lowered NDCG@10 on the planted worlds. The reason says
    which rule chose, for the gate record and the admin.
    """
    allowed = _allowed_recipes()
    figures = row.get("choice") or {}
    scored = {name: figures[f"ndcg@10_{name}"] for name in allowed if f"ndcg@10_{name}" in figures}
    profiles, minimum = int(figures.get("judged", 0)), recipe_min_profiles()
    kept = f"kept {default_is or default}"
    if profiles < minimum:
        return RecipeChoice(
            default,
            f"{kept}: {_profiles(profiles)} in the choice half, fewer than the {minimum} a "
            "choice needs",
        )
    if not scored:
        return RecipeChoice(default, f"{kept}: no figure on the choice half")
    best = max(scored, key=lambda name: (scored[name], -allowed.index(name)))
    return RecipeChoice(
        best, f"best of {', '.join(scored)} on {_profiles(profiles)} of the choice half"
    )


def _allowed_recipes() -> list[str]:
    """The recipes allowed to serve a cluster, its own handling first (the order ties keep)."""
    allowed = ["cluster"]
    others = compared_with()
    if "region" in others:
        allowed.append("blend")
    allowed.extend(name for name in others if name in ("region", "global"))
    return allowed


def _profiles(n: int) -> str:
    return f"{n} judged profile" + ("" if n == 1 else "s")


def _default_recipe(
    active: ModelVersion | None, evaluation: cluster_evaluation.RegionEvaluation, cluster_id: int
) -> tuple[str, str]:
    """The recipe a cluster keeps when its choice half cannot choose one, and whose it is.

    The active version's recipe (no change without evidence), when it is allowed to
    compete and its models were fitted in this retrain; else the cluster's own model
    (a first version, or one that recorded no recipe). A version of the retrain before
    hyperparameters were recorded (2 December) names its recipe at the top of its metrics
    alone, and is kept as surely.
    """
    metrics = (active.metrics or {}) if active else {}
    recipe = (metrics.get("hyperparameters") or {}).get("recipe") or metrics.get("recipe")
    if recipe is None:
        reason = "no active version" if active is None else "the active version recorded none"
        return _own_recipe(evaluation, cluster_id, reason)
    scopes = _RECIPE_SCOPES.get(recipe, ())
    keys = [cluster_id if scope == "cluster" else scope for scope in scopes]
    if recipe not in _allowed_recipes():
        why = f"the active version's {recipe} may no longer serve a cluster"
        return _own_recipe(evaluation, cluster_id, why)
    if all(key in evaluation.models for key in keys):
        return recipe, f"the active version's recipe ({recipe}, #{active.pk})"
    return _own_recipe(evaluation, cluster_id, f"the active version's {recipe} is not fitted here")


def _own_recipe(
    evaluation: cluster_evaluation.RegionEvaluation, cluster_id: int, why: str
) -> tuple[str, str]:
    """The cluster's own model, or the region's for a cluster no profile belongs to: it has no
    model of its own, and :func:`_cluster_finish` serves it the region's, which the gate
    record and the admin must then name."""
    if cluster_id in evaluation.models:
        return "cluster", f"the cluster's own model ({why})"
    return "region", f"the region's model ({why}; the cluster has no profiles to fit its own on)"


def _gate_figures(row: dict) -> dict:
    """The table figures the gate compares the chosen recipe and the active one on: the gate
    half's, which the choice of the recipe did not see (the best of several figures is
    inflated on the profiles it was chosen on: it would favour replacing the active version)."""
    return row.get("gate") or {}
