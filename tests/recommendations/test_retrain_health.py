"""``manage.py retrain_health``: whether every taste cluster's retrains still end well.

A retrain failing night after night showed only in admin and the staff console, for staff
who looked: nothing an alert could run. This exits 1, naming each cluster, when a cluster's
newest finished run failed or none of its runs ended well within ``--hours``.
"""

import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from recommendations.models import TrainingRun
from tests.factories import TasteClusterFactory

pytestmark = pytest.mark.django_db

Status = TrainingRun.Status


def _run(cluster, status: str, *, hours_ago: float, error: str = "") -> TrainingRun:
    finished = timezone.now() - dt.timedelta(hours=hours_ago)
    return TrainingRun.objects.create(
        region=cluster.region,
        taste_cluster=cluster,
        status=status,
        error=error,
        started_at=finished - dt.timedelta(minutes=5),
        finished_at=finished,
    )


def test_clusters_whose_retrains_ended_well_lately_are_healthy(capsys) -> None:
    # given: one cluster retrained last night, another whose gate refused last night's version
    # (the retrain worked), and one that never retrained (a new cluster before its first night)
    _run(TasteClusterFactory(), Status.SUCCEEDED, hours_ago=20)
    _run(TasteClusterFactory(), Status.REJECTED, hours_ago=20)
    TasteClusterFactory()

    # when
    call_command("retrain_health", "--hours", "36")

    # then
    assert "healthy" in capsys.readouterr().out


def test_a_cluster_whose_newest_run_failed_is_named_with_its_run_and_error() -> None:
    # given: a cluster that retrained the night before, then failed last night
    cluster = TasteClusterFactory(slug="tamil")
    _run(cluster, Status.SUCCEEDED, hours_ago=30)
    failed = _run(cluster, Status.FAILED, hours_ago=6, error="Worker lost\nmore detail")

    # when
    with pytest.raises(CommandError) as refused:
        call_command("retrain_health", "--hours", "36")

    # then: the cluster, the run to open in admin and the first line of its error
    message = str(refused.value)
    assert f"{cluster.region_id}-tamil" in message
    assert f"run #{failed.pk} failed" in message
    assert "Worker lost" in message
    assert "more detail" not in message


def test_a_cluster_with_no_run_ended_well_within_the_hours_is_named() -> None:
    # given: a cluster whose last good retrain is three days old, its later runs still queued
    cluster = TasteClusterFactory(slug="hindi")
    _run(cluster, Status.SUCCEEDED, hours_ago=72)
    TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)

    # when
    with pytest.raises(CommandError) as refused:
        call_command("retrain_health", "--hours", "36")

    # then
    assert f"{cluster.region_id}-hindi: no retrain ended well in the last 36 h" in str(
        refused.value
    )


@pytest.mark.parametrize("hours", ["0", "1000000000000"])
def test_hours_past_what_a_clock_can_count_back_are_refused_by_name(hours) -> None:
    # A trillion hours back is before the year 1: it was an OverflowError's traceback.
    with pytest.raises(CommandError, match=r"argument --hours: .* is not a whole number from 1"):
        call_command("retrain_health", "--hours", hours)
