"""The run and cluster reads the ``retrain`` and ``demo_info`` commands delegate to."""

import pytest

from recommendations.models import TrainingRun
from recommendations.selectors.training_runs import (
    cluster_region_codes,
    clusters_count,
    clusters_retrained,
    training_run_newest_pk,
    training_run_running,
    training_runs_finished_count,
    training_runs_list,
    training_runs_unsuccessful,
)
from tests.factories import AccountFactory, RegionFactory, TasteClusterFactory

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


def test_the_regions_retrained_by_all_are_those_with_clusters_once_each_by_code():
    # given: two clusters in India, one in Brazil, and a region without any
    TasteClusterFactory(slug="tamil")
    TasteClusterFactory(slug="hindi")
    TasteClusterFactory(region=RegionFactory(code="BR", name="Brazil"))
    RegionFactory(code="GB", name="United Kingdom")

    # then
    assert cluster_region_codes() == ["BR", "IN"]
    assert clusters_count(region_code="IN") == 2
    assert clusters_count(region_code="GB") == 0
    # a --cluster is matched in any case, as a retrain request matches it
    assert clusters_count(region_code="IN", cluster_slug="Tamil") == 1
    assert clusters_count(region_code="BR", cluster_slug="tamil") == 0


def test_all_also_retrains_a_region_with_households_and_no_cluster_yet():
    # given: a region whose households came from an import, before any taste cluster
    TasteClusterFactory(slug="tamil")
    AccountFactory(home_region=RegionFactory(code="US", name="United States"))
    RegionFactory(code="GB", name="United Kingdom")  # no household, no cluster

    # then: --all retrains it (its first retrain gives it its default cluster)
    assert cluster_region_codes() == ["IN", "US"]


def test_the_newest_run_is_zero_before_any_and_the_last_made_after():
    assert training_run_newest_pk() == 0
    cluster = TasteClusterFactory()
    _run(cluster, Status.SUCCEEDED)
    last = _run(cluster, Status.QUEUED)
    assert training_run_newest_pk() == last.pk


def test_the_waited_runs_come_oldest_first_and_the_unsuccessful_are_those_that_did_not_succeed(
    django_assert_num_queries,
):
    # given: four runs of a cluster, one of them not asked about
    cluster = TasteClusterFactory(slug="tamil")
    failed = _run(cluster, Status.FAILED)
    succeeded = _run(cluster, Status.SUCCEEDED)
    rejected = _run(cluster, Status.REJECTED)
    other = _run(cluster, Status.FAILED)
    asked = {rejected.pk, succeeded.pk, failed.pk}

    # when: one query each, their clusters with them (the command names them)
    with django_assert_num_queries(2):
        waited = training_runs_list(pks=asked)
        unsuccessful = training_runs_unsuccessful(pks=asked)
        assert [run.taste_cluster for run in waited + unsuccessful] == [cluster] * 5

    # then
    assert waited == [failed, succeeded, rejected]
    assert unsuccessful == [failed, rejected]
    assert other not in unsuccessful
