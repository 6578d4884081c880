"""Minority taste clusters: tuned per-scope models, the blend, and what a region batch shares."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from recommendations.engine.als import CollaborativeModel
from recommendations.models import ModelVersion, TrainingRun
from recommendations.selectors import training as data
from recommendations.services import cluster_evaluation, retraining
from recommendations.services.retraining import training_runs_execute
from recommendations.serving import artefacts
from regions.models import TasteCluster
from tests.module_world import in_the_module_world
from tests.recommendations.demo_world import small_demo_for_the_module

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def _planted_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Path]:
    """IN with a planted Tamil-language community, a sixth of the region, among Hindi viewers.

    Seeded once per module (1,500 profiles take seconds); each test's retrains are undone."""
    root = tmp_path_factory.mktemp("planted")
    with small_demo_for_the_module(
        django_db_blocker, root, titles=200, profiles=1500, seed=5
    ) as world:
        yield world


@pytest.fixture
def planted_world(_planted_world, settings) -> None:
    in_the_module_world(settings, _planted_world)
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_HEARTBEAT_SECONDS": 0.2}


def _run(slug: str) -> TrainingRun:
    cluster = TasteCluster.objects.get(region_id="IN", slug=slug)
    return TrainingRun.objects.create(region_id="IN", taste_cluster=cluster)


def test_the_minority_clusters_own_model_beats_the_region_model_and_the_best_recipe_serves(
    planted_world,
):
    # when: Tamil and Hindi retrain together (one read, one region and one global fit)
    tamil, hindi = training_runs_execute(run_ids=[_run("tamil").pk, _run("hindi").pk])

    # then: Tamil's own handling beats the region model on the holdout, and the recipe served
    # is the best on the half of it the choice is made on (with 37 judged profiles, which
    # recipe that is depends on which profiles fall in that half: it follows their ids)
    assert tamil.status == TrainingRun.Status.SUCCEEDED, tamil.error
    row = tamil.metrics["clusters"]["tamil"]
    recipe = tamil.metrics["gate"]["recipe"]
    assert max(row["ndcg@10_cluster"], row["ndcg@10_blend"]) > row["ndcg@10_region"]
    assert row["choice"][f"ndcg@10_{recipe}"] == max(
        row["choice"][f"ndcg@10_{name}"] for name in ("cluster", "blend", "region", "global")
    )
    assert row["judged"] >= 20
    # and: the hyper-parameters it was chosen with are on the run and on the version
    hyper = tamil.model_version.metrics["hyperparameters"]
    assert hyper == tamil.metrics["hyperparameters"]
    assert hyper["tuning"]["cluster"]["searched"] is True
    assert len(hyper["tuning"]["cluster"]["trials"]) >= 3
    chosen = hyper["tuning"]["cluster"]["params"]
    assert chosen["factors"] < hyper["tuning"]["region"]["params"]["factors"] or (
        chosen["regularization"] != hyper["tuning"]["region"]["params"]["regularization"]
    )
    components = tamil.model_version.metrics["als"]["components"]
    served = chosen if recipe in {"cluster", "blend"} else hyper["tuning"][recipe]["params"]
    assert components[0]["factors"] == served["factors"]
    assert components[0]["regularization"] == served["regularization"]
    # and: what is served is what was measured: the stored artefact is that recipe's model
    stored = CollaborativeModel.load(
        artefacts.artefact_read(tamil.model_version.artefact_key, artefacts.ALS)
    )
    assert stored.is_blend == (recipe == "blend")
    # and: both runs of the batch share the one table and each finished on its own
    assert hindi.status in {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.REJECTED}
    assert hindi.metrics["clusters"]["tamil"] == row
    assert ModelVersion.objects.filter(status="active", scope="cluster").count() == 2


def test_at_one_setting_for_every_scope_the_cluster_model_loses_the_tuned_comparison(
    planted_world, monkeypatch
):
    """The failure the per-scope handling fixes: the region-sized setting (λ 0.05) for every
    scope, no search. The same holdout, the same seeds; only the cluster handling differs."""
    from recommendations.services.clusters import profile_clusters_assign

    profile_clusters_assign(region_code="IN")
    tuned = cluster_evaluation.region_cluster_table(region_code="IN")["tamil"]
    monkeypatch.setattr(cluster_evaluation, "params_for_size", lambda **kwargs: kwargs["base"])
    untuned = cluster_evaluation.region_cluster_table(region_code="IN", tune=False)["tamil"]

    assert untuned["judged"] == tuned["judged"]
    best_tuned = max(tuned["ndcg@10_cluster"], tuned["ndcg@10_blend"])
    assert best_tuned > tuned["ndcg@10_region"]
    assert untuned["ndcg@10_cluster"] < tuned["ndcg@10_region"]
    assert untuned["ndcg@10_cluster"] < best_tuned


def test_a_region_batch_skips_a_run_already_finished_and_one_whose_cluster_is_busy(
    planted_world,
):
    from django.db import connections

    done = _run("telugu")
    TrainingRun.objects.filter(pk=done.pk).update(status=TrainingRun.Status.FAILED)
    busy = _run("hindi")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)",
                [retraining.LOCK_NAMESPACE, busy.taste_cluster_id],
            )
        finished, rejected, ran = training_runs_execute(
            run_ids=[done.pk, busy.pk, _run("tamil").pk]
        )
    finally:
        other.close()
    assert finished.status == TrainingRun.Status.FAILED  # untouched
    assert rejected.status == TrainingRun.Status.REJECTED
    assert "never run at once" in rejected.error
    assert ran.status == TrainingRun.Status.SUCCEEDED, ran.error
    assert set(ran.metrics["clusters"]) == {"tamil"}


def test_signals_read_through_binary_copy_equal_the_cursor_path(planted_world):
    queryset = data.signal_queryset()
    by_copy = data.signal_arrays(queryset, block_bytes=4096)  # many blocks, split rows
    by_cursor = np.concatenate(
        [np.array(rows, dtype=np.float64) for rows in data._chunks(queryset, 5000)]
    )
    assert by_copy.shape == by_cursor.shape
    assert by_copy.shape[0] > 10_000
    order_copy = np.lexsort(by_copy.T[::-1])
    order_cursor = np.lexsort(by_cursor.T[::-1])
    np.testing.assert_array_equal(by_copy[order_copy], by_cursor[order_cursor])
