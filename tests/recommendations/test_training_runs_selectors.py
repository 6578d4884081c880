"""The training-run reads the ``retrain`` and ``demo_info`` commands delegate to."""

import pytest

from recommendations.models import TrainingRun
from recommendations.selectors.training_runs import (
    clusters_retrained,
    training_run_running,
    training_runs_finished_count,
)
from tests.factories import RegionFactory, TasteClusterFactory

pytestmark = pytest.mark.django_db

Status = TrainingRun.Status


def _run(cluster, status: str) -> TrainingRun:
    return TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster, status=status)


def test_a_region_is_retrained_only_once_every_cluster_has_a_run_that_succeeded():
    # given: two clusters of India, one retrained, the other's retrain failed
    tamil = TasteClusterFactory(slug="tamil")
    hindi = TasteClusterFactory(slug="hindi")
    _run(tamil, Status.SUCCEEDED)
    _run(hindi, Status.FAILED)

    # then: the region is not retrained as a whole, its Tamil cluster is (any case, any code case)
    assert not clusters_retrained(region_code="in")
    assert clusters_retrained(region_code="in", cluster_slug="TAMIL")
    assert not clusters_retrained(region_code="IN", cluster_slug="hindi")

    # when: Hindi's retrain succeeds too
    _run(hindi, Status.SUCCEEDED)

    # then
    assert clusters_retrained(region_code="IN")


def test_a_region_or_slug_without_clusters_is_not_retrained():
    RegionFactory()
    assert not clusters_retrained(region_code="IN")
    assert not clusters_retrained(region_code="IN", cluster_slug="nowhere")


def test_the_running_run_is_the_oldest_of_those_regions_after_the_mark(
    django_assert_num_queries,
):
    # given: an older run still running, then two running in India and one in another region
    tamil = TasteClusterFactory(slug="tamil")
    elsewhere = TasteClusterFactory(region=RegionFactory(code="BR", name="Brazil"))
    before = _run(tamil, Status.RUNNING)
    _run(elsewhere, Status.RUNNING)
    first = _run(tamil, Status.RUNNING)
    _run(TasteClusterFactory(slug="hindi"), Status.RUNNING)
    last = _run(tamil, Status.SUCCEEDED)

    # when: one query, its cluster with it (the progress bar names it)
    with django_assert_num_queries(1):
        running = training_run_running(after_pk=before.pk, region_codes=["IN"])
        assert running is not None
        assert running.taste_cluster == tamil

    # then
    assert running == first
    assert training_run_running(after_pk=last.pk, region_codes=["IN"]) is None


def test_finished_runs_count_every_outcome_and_no_run_under_way():
    cluster = TasteClusterFactory()
    for status in Status.values:
        _run(cluster, status)
    assert training_runs_finished_count() == 3
