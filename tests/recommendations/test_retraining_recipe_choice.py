"""The recipe a retrain serves is chosen on held-out profiles the gate does not judge it on.

Choosing the best of several noisy holdout figures and then judging the winner on those same
figures inflates the winner's (the winner's curse): the gate then leans towards replacing the
active version, most of all for small clusters, whose figures are the noisiest.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import scipy.sparse as sp

from recommendations.engine.als import CollaborativeModel
from recommendations.models import ModelVersion
from recommendations.services import cluster_evaluation, retraining
from recommendations.services.cluster_evaluation import Judging, Scored
from recommendations.services.retraining.recipes import _default_recipe, _gate_figures, _recipe

#: A small cluster: its NDCG@10 has a standard error of several hundredths.
PROFILES = 60
TITLES = 40
TRIALS = 300


def _random_model(rng: np.random.Generator) -> Scored:
    """A model whose every score is an independent uniform draw: each title's rank is uniform,
    for every profile, whatever it will watch."""
    model = CollaborativeModel(factors=TITLES)
    model.user_factors = rng.random((PROFILES, TITLES), dtype=np.float32)
    model.item_factors = np.eye(TITLES, dtype=np.float32)
    return Scored(model, np.arange(PROFILES, dtype=np.int64))


def _equally_good_recipes(seed: int) -> tuple[dict, np.ndarray, Judging]:
    """Every recipe as good as the others in truth; only the draw of the holdout differs."""
    rng = np.random.default_rng(seed)
    cluster, region, world = (_random_model(rng) for _ in range(3))
    candidates = {
        "cluster": [(cluster, 1.0)],
        "region": [(region, 1.0)],
        "global": [(world, 1.0)],
        "blend": [(cluster, 0.5), (region, 0.5)],
    }
    watched = rng.integers(0, TITLES, size=PROFILES)
    rows = np.arange(PROFILES)
    relevant = sp.csr_matrix(
        (np.ones(PROFILES, dtype=bool), (rows, watched)), shape=(PROFILES, TITLES)
    )
    nothing = sp.csr_matrix((PROFILES, TITLES), dtype=bool)
    judging = Judging(confidence=nothing.astype(np.float32), relevant=relevant, seen=nothing)
    return candidates, rows.astype(np.int64), judging


def test_the_gate_does_not_favour_a_recipe_that_won_its_choice_by_chance(settings):
    # given: an active version served by the cluster's own model, and a retrain whose four
    # recipes (the active one among them, same model) are equally good in truth
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ("region", "global")}
    margin = 0.0
    differences, challengers, activated = [], 0, 0
    for seed in range(TRIALS):
        candidates, judged, judging = _equally_good_recipes(seed)

        # when: the retrain chooses its recipe and the gate compares it with the active one
        row = cluster_evaluation.recipe_figures(candidates, judged, judging, np.empty(0, np.int64))
        recipe = _recipe(row).recipe
        figures = _gate_figures(row)
        candidate, incumbent = figures[f"ndcg@10_{recipe}"], figures["ndcg@10_cluster"]
        differences.append(candidate - incumbent)
        if recipe != "cluster":
            challengers += 1
            activated += candidate >= incumbent * (1.0 - margin)

    # then: the gate's figures show no advantage the chosen recipe does not have: their
    # difference averages zero within three standard errors, and a challenger that is no
    # better in truth passes a gate without margin about as often as it fails it
    mean = float(np.mean(differences))
    se = float(np.std(differences, ddof=1) / np.sqrt(TRIALS))
    share = activated / challengers
    print(
        f"\nmean gate difference {mean:+.4f} (se {se:.4f}); "
        f"challengers activated {activated}/{challengers} ({share:.0%})"
    )
    assert challengers > TRIALS // 2
    assert abs(mean) < 3 * se
    assert share < 0.7


def test_the_figures_do_not_depend_on_the_order_the_judged_profiles_are_given_in():
    # given: a cluster's recipes and its judged profiles, in ascending order and shuffled
    candidates, judged, judging = _equally_good_recipes(seed=1)
    shuffled = np.random.default_rng(2).permutation(judged)
    nowhere = np.empty(0, np.int64)

    # when: the table's figures are measured on each
    ordered = cluster_evaluation.recipe_figures(candidates, judged, judging, nowhere)
    unordered = cluster_evaluation.recipe_figures(candidates, shuffled, judging, nowhere)

    # then: the same profiles give the same figures, on all of them and on each half
    assert unordered == ordered


def test_a_cluster_with_no_judged_profile_has_counts_and_no_figures():
    # given: a cluster's recipes and no profile of it active in the holdout
    candidates, _, judging = _equally_good_recipes(seed=3)
    nobody = np.empty(0, np.int64)

    # when
    row = cluster_evaluation.recipe_figures(candidates, nobody, judging, nobody)

    # then: nothing measured, so no best (it was max() of nothing, a ValueError)
    assert row == {"choice": {"judged": 0}, "gate": {"judged": 0}}
    assert _recipe(row).recipe == "cluster"


def _row(judged: int, figures: dict[str, float]) -> dict:
    """A table row whose choice half judged ``judged`` profiles, with these NDCG@10 figures."""
    return {"choice": {"judged": judged, **{f"ndcg@10_{m}": v for m, v in figures.items()}}}


#: The global model found the held-out title first, the others nothing: what one profile that
#: happens to suit it shows (a gate study saw the demo's Tamil cluster choose "global" so).
GLOBAL_BY_CHANCE = {"cluster": 0.0, "blend": 0.0, "region": 0.0, "global": 1.0}
ACTIVE_REGION = ("region", "the active version's recipe (region, #7)")
FIRST_VERSION = ("cluster", "the cluster's own model (no active version)")


@pytest.fixture
def every_recipe_competes(settings) -> None:
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ("region", "global")}


@pytest.mark.parametrize("judged", [1, 2])
@pytest.mark.parametrize(("default", "default_is"), [FIRST_VERSION, ACTIVE_REGION])
def test_a_choice_half_of_a_profile_or_two_keeps_the_default_whatever_it_shows(
    every_recipe_competes, judged, default, default_is
):
    # given: a choice half of one or two judged profiles on which "global" scores best
    row = _row(judged, GLOBAL_BY_CHANCE)

    # when
    choice = _recipe(row, default=default, default_is=default_is)

    # then: no recipe is chosen on so little; the default is kept, and the reason says why
    assert choice.recipe == default
    minimum = retraining.recipe_min_profiles()
    profiles = "1 judged profile" if judged == 1 else f"{judged} judged profiles"
    assert choice.reason == (
        f"kept {default_is}: {profiles} in the choice half, fewer than the {minimum} a choice needs"
    )


def test_a_large_choice_half_still_picks_the_clear_winner_over_the_default(every_recipe_competes):
    # given: 500 judged profiles in the choice half, on which "global" is clearly best
    row = _row(500, {"cluster": 0.30, "blend": 0.31, "region": 0.30, "global": 0.40})

    # when: the active version served by the region's model
    choice = _recipe(row, default="region", default_is=ACTIVE_REGION[1])

    # then
    assert choice.recipe == "global"
    assert choice.reason == (
        "best of cluster, blend, region, global on 500 judged profiles of the choice half"
    )


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        pytest.param({"cluster": 0.3, "blend": 0.3, "region": 0.3, "global": 0.3}, "cluster"),
        pytest.param({"cluster": 0.2, "blend": 0.3, "region": 0.3, "global": 0.3}, "blend"),
        pytest.param({"cluster": 0.2, "blend": 0.2, "region": 0.3, "global": 0.3}, "region"),
    ],
)
def test_ties_on_a_large_choice_half_keep_the_clusters_own_handling_first(
    every_recipe_competes, figures, expected
):
    # given: tied recipes on a choice half large enough to choose on
    row = _row(500, figures)

    # when: whatever the active version's recipe
    chosen = {
        _recipe(row, default=default, default_is=whose).recipe
        for default, whose in (FIRST_VERSION, ACTIVE_REGION, ("global", "the active's"))
    }

    # then: the tie goes as it always went: cluster, blend, region, global
    assert chosen == {expected}


@pytest.mark.parametrize(
    ("recipe", "compare_with", "fitted", "expected"),
    [
        pytest.param(
            "region",
            ("region", "global"),
            ("region", 5),
            ("region", "the active version's recipe (region, #7)"),
            id="kept",
        ),
        pytest.param(
            "blend",
            ("region",),
            (5, "region"),
            ("blend", "the active version's recipe (blend, #7)"),
            id="blend",
        ),
        pytest.param(
            "global",
            ("region",),
            ("region", "global", 5),
            (
                "cluster",
                "the cluster's own model (the active version's global may no longer serve a "
                "cluster)",
            ),
            id="no-longer-allowed",
        ),
        pytest.param(
            "global",
            ("region", "global"),
            ("region", 5),
            ("cluster", "the cluster's own model (the active version's global is not fitted here)"),
            id="not-fitted",
        ),
        pytest.param(
            None,
            ("region", "global"),
            ("region", 5),
            ("cluster", "the cluster's own model (the active version recorded none)"),
            id="recorded-none",
        ),
        pytest.param(
            "cluster",
            ("region", "global"),
            ("region", "global"),
            (
                "region",
                "the region's model (the active version's cluster is not fitted here; the "
                "cluster has no profiles to fit its own on)",
            ),
            id="no-profiles",
        ),
    ],
)
def test_the_default_is_the_active_recipe_while_it_may_serve_else_the_clusters_own(
    settings, recipe, compare_with, fitted, expected
):
    # given: cluster 5's active version #7, which served by ``recipe``
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": compare_with}
    hyper = {} if recipe is None else {"hyperparameters": {"recipe": recipe}}
    active = ModelVersion(pk=7, metrics=hyper)
    evaluation = SimpleNamespace(models=dict.fromkeys(fitted))

    # when / then
    assert _default_recipe(active, evaluation, 5) == expected


def test_an_active_version_of_the_older_retrain_keeps_the_recipe_it_recorded(settings):
    """Versions retrained before the recipes had hyperparameters recorded their recipe at the
    top of their metrics alone: that is still the active version's recipe, and keeping the
    cluster's own model instead would change what serves the cluster without evidence."""
    # given: cluster 5's active version #7, made by the older retrain, served by the region's
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ("region", "global")}
    active = ModelVersion(pk=7, metrics={"recipe": "region", "holdout": {}, "gate": {}})
    evaluation = SimpleNamespace(models=dict.fromkeys(("region", 5)))

    # when / then
    assert _default_recipe(active, evaluation, 5) == (
        "region",
        "the active version's recipe (region, #7)",
    )
