"""Two regions' retrain batches at once, each on its own PostgreSQL session.

Batches of different regions run side by side (each region has its own queue and
workers), and each may fit and store a global version. One batch that fails must
fail the versions it made, and nothing another batch is still training: a global
version carries no region to tell whose it is, so it must name its runs.

Two requests to retrain one cluster at once (two operators, a schedule and an
operator) queue one run: the other is rejected, naming it.

The data is committed (``transaction=True``): each batch runs in a thread of its own,
with its own connection, as two workers would.
"""

import datetime as dt
import threading

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining import (
    training_run_request,
    training_runs_execute,
    training_runs_reap,
)
from recommendations.services.training import VersionFailedWhileTraining, model_train
from regions.models import TasteCluster
from tests.db_waits import hold_until_waited_on
from tests.factories import TasteClusterFactory
from tests.recommendations.demo_world import seed_small_demo
from tests.recommendations.test_retraining_operations import seeded_settings

WAIT = 120  # seconds: a batch's evaluation takes a few on this demo; far more means it hung


@pytest.fixture
def seeded(settings, tmp_path) -> None:
    seeded_settings(settings)
    seed_small_demo(settings, tmp_path, titles=120, profiles=300, seed=5)


def _region_runs(code: str) -> list[int]:
    """A queued run per taste cluster of the region: a batch that covers it (and its fallbacks)."""
    return [
        TrainingRun.objects.create(region_id=code, taste_cluster=cluster).pk
        for cluster in TasteCluster.objects.filter(region_id=code).order_by("pk")
    ]


def _batch(run_ids: list[int], wrapper, failures: list) -> threading.Thread:
    """The batch as a worker runs it, on this thread's own connection, ``wrapper`` on its SQL."""

    def work() -> None:
        try:
            with connection.execute_wrapper(wrapper):
                training_runs_execute(run_ids=run_ids, task_id="race")
        except Exception as failure:  # reported by the test
            failures.append(failure)
        finally:
            connection.close()

    return threading.Thread(target=work)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_batch_stopped_by_its_time_limit_fails_no_global_version_another_region_trains(
    seeded,
):
    # given: the US batch has started (its runs are running) and is held as it reads signals
    us_started, india_training, release = (threading.Event() for _ in range(3))
    failures: list = []

    def us_is_stopped_while_india_trains(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not us_started.is_set() and "read signals" in (params or ()):
            us_started.set()
            india_training.wait(WAIT)
            # when: the US batch reaches its soft time limit there (Celery raises it
            # wherever the worker is)
            raise SoftTimeLimitExceeded()
        return result

    # and: India's batch, started after it, fits the global model (its first, so due) and is
    # held right after it created the global version, still "training"
    def india_waits_once_its_global_version_exists(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if (
            not india_training.is_set()
            and sql.startswith(f'INSERT INTO "{ModelVersion._meta.db_table}"')
            and ModelVersion.Scope.GLOBAL in (params or ())
        ):
            india_training.set()
            release.wait(WAIT)
        return result

    us_runs, india_runs = _region_runs("US"), _region_runs("IN")
    us = _batch(us_runs, us_is_stopped_while_india_trains, failures)
    india = _batch(india_runs, india_waits_once_its_global_version_exists, failures)
    us.start()
    try:
        assert us_started.wait(WAIT), "the US batch never started"
        india.start()
        us.join(WAIT)
        assert not us.is_alive(), "the US batch did not stop"

        # then: the US runs failed with the time limit, and India's global version, made by
        # a batch that is alive and well, is still training
        stopped = list(TrainingRun.objects.filter(pk__in=us_runs))
        assert {run.status for run in stopped} == {TrainingRun.Status.FAILED}
        assert all("soft time limit" in run.error for run in stopped), [r.error for r in stopped]
        india_global = ModelVersion.objects.get(scope=ModelVersion.Scope.GLOBAL)
        assert (india_global.status, india_global.error) == (ModelVersion.Status.TRAINING, "")
    finally:
        release.set()
        if india.ident is not None:
            india.join(WAIT)
    assert failures == []

    # and: India's batch goes on to gate and serve it (the first global version: no active one)
    india_global.refresh_from_db()
    assert india_global.status == ModelVersion.Status.ACTIVE, india_global.error
    assert sorted(india_global.metrics["retrain_runs"]) == sorted(india_runs)
    ended = set(TrainingRun.objects.filter(pk__in=india_runs).values_list("status", flat=True))
    assert ended <= {TrainingRun.Status.SUCCEEDED, TrainingRun.Status.REJECTED}, ended


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_version_the_reaper_fails_as_its_fit_is_saved_stays_failed(seeded):
    # given: a retrain run whose worker is alive, but whose heartbeat the reaper judges stale
    cluster = TasteCluster.objects.filter(region_id="IN").order_by("pk").first()
    run = TrainingRun.objects.create(region_id="IN", taste_cluster=cluster)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, started_at=long_ago, heartbeat_at=long_ago, attempts=1
    )
    reaped, blocked = threading.Event(), threading.Event()
    failures: list = []

    # and: the reaper, on its own session, fails the run and the version being stored, and
    # commits only once the worker's final write of that version waits on it
    def reaper() -> None:
        try:
            with transaction.atomic():
                failures.extend([] if training_runs_reap() == 1 else ["nothing reaped"])
                reaped.set()
                hold_until_waited_on(blocked)
        except Exception as failure:  # reported by the test
            failures.append(failure)
        finally:
            reaped.set()
            connection.close()

    thread = threading.Thread(target=reaper)

    def reaped_as_it_stores(stage: str) -> None:
        if stage == "store":
            thread.start()
            reaped.wait(WAIT)

    # when: the worker's fit ends, on this session (and would activate what it made)
    outcome: Exception | None = None
    try:
        model_train(
            region_code="IN",
            cluster=cluster,
            stage=reaped_as_it_stores,
            metrics={"retrain_runs": [run.pk]},
        )
    except Exception as refused:  # the refusal is part of what is checked below
        outcome = refused
    finally:
        thread.join(WAIT)
    assert failures == []
    assert blocked.is_set(), "the worker's final write never waited on the reaper"

    # then: the version stays failed, with the reaper's reason, and is not served
    version = ModelVersion.objects.get(taste_cluster=cluster)
    assert (version.status, version.error) == (
        ModelVersion.Status.FAILED,
        f"Run #{run.pk} lost its worker.",
    )
    assert isinstance(outcome, VersionFailedWhileTraining), outcome


@pytest.mark.django_db(transaction=True)
def test_two_requests_to_retrain_one_cluster_at_once_queue_one_run():
    # given: one operator's request for a cluster's retrain, its run created, uncommitted
    cluster = TasteClusterFactory(slug="tamil")
    first: list[TrainingRun] = []
    started, blocked = threading.Event(), threading.Event()

    def operator() -> None:
        try:
            with transaction.atomic():
                first.append(
                    training_run_request(region_code="IN", cluster_slug="tamil", enqueue=False)
                )
                started.set()
                hold_until_waited_on(blocked)
        finally:
            connection.close()

    thread = threading.Thread(target=operator)
    thread.start()

    # when: another request for the same cluster comes meanwhile
    try:
        assert started.wait(30)
        second = training_run_request(region_code="IN", cluster_slug="tamil", enqueue=False)
    finally:
        thread.join()

    # then: it waited for the first (the cluster's row lock), saw its run, and was rejected
    assert blocked.is_set(), "the second request never waited on the first"
    assert first[0].status == TrainingRun.Status.QUEUED
    assert second.status == TrainingRun.Status.REJECTED
    assert second.error == f"Another retrain of {cluster} is queued (run #{first[0].pk})."
    assert TrainingRun.objects.filter(taste_cluster=cluster, status="queued").count() == 1
