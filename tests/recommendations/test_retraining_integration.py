"""Retrains through a real broker and real Celery worker processes.

Each test starts ``celery worker`` subprocesses on the test database (the
tests commit their data: ``transaction=True``) and on queues whose names are
unique to this test run, so parallel runs on one Redis never see each
other's messages.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining import training_run_request, training_runs_reap
from recommendations.services.training import model_train
from regions.models import TasteCluster
from tests.recommendations.demo_world import seed_small_demo

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"it{uuid.uuid4().hex[:8]}."


@pytest.fixture
def broker(settings) -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        pytest.skip("CELERY_BROKER_URL is not set: no real broker to test against")
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TONIGHT = {
        **settings.TONIGHT,
        "RETRAIN_QUEUE_PREFIX": PREFIX,
        "RETRAIN_COMPARE_WITH": (),
    }
    from config.celery import app

    app.conf.task_always_eager = False
    yield url
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def seeded(settings, tmp_path) -> None:
    seed_small_demo(settings, tmp_path, titles=60, profiles=150, seed=9)


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
        f"/{db['NAME']}"
    )


@pytest.fixture
def start_worker(broker, settings) -> Iterator[Callable[[str], subprocess.Popen]]:
    """Start ``celery worker -Q <prefix><region>`` processes; all are stopped afterwards."""
    workers: list[subprocess.Popen] = []

    def start(region_code: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": broker,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "OPENBLAS_NUM_THREADS": "1",
            "TONIGHT_RETRAIN_QUEUE_PREFIX": PREFIX,
            "TONIGHT_RETRAIN_COMPARE_WITH": "",
            "TONIGHT_RETRAIN_HEARTBEAT_SECONDS": "0.5",
            "TONIGHT_RETRAIN_SIGNAL_CACHE_DIR": str(settings.MEDIA_ROOT.parent / "cache"),
            "CONN_MAX_AGE": "0",
            "DEBUG": "1",
        }
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
                "-Q",
                f"{PREFIX}{region_code}",
                "-n",
                f"{PREFIX}{region_code}-{len(workers)}@%h",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,  # its own process group: SIGKILL reaches all of it
        )
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)


def _request(region_code: str, slug: str) -> TrainingRun:
    run = training_run_request(region_code=region_code, cluster_slug=slug)
    assert run.status == TrainingRun.Status.QUEUED, run.error
    return run


def _wait(run: TrainingRun, until: Callable[[TrainingRun], bool], timeout: float) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if until(run):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run #{run.pk} is {run.status} ({run.stage}) after {timeout}s")


def test_a_worker_runs_a_retrain_end_to_end(seeded, start_worker):
    # given
    start_worker("IN")

    # when
    run = _request("IN", "tamil")

    # then
    run = _wait(run, lambda r: r.is_finished, timeout=40)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.celery_task_id
    assert run.model_version.status == ModelVersion.Status.ACTIVE
    assert run.model_version.taste_cluster.slug == "tamil"
    assert "ndcg@10_region" in run.metrics["clusters"]["tamil"]


def test_each_region_queue_is_served_by_its_own_worker(seeded, start_worker):
    # given: a worker for India only
    start_worker("IN")
    default_us = TasteCluster.objects.get(region_id="US", is_default=True)

    # when: one retrain per region
    india = _request("IN", "tamil")
    us = _request("US", default_us.slug)

    # then: India's is done while the US one waits for a US worker
    india = _wait(india, lambda r: r.is_finished, timeout=40)
    assert india.status == TrainingRun.Status.SUCCEEDED, india.error
    us.refresh_from_db()
    assert us.status == TrainingRun.Status.QUEUED

    start_worker("US")
    us = _wait(us, lambda r: r.is_finished, timeout=40)
    assert us.status == TrainingRun.Status.SUCCEEDED, us.error


def test_a_worker_killed_mid_retrain_changes_nothing_served_and_the_run_is_reaped(
    seeded, start_worker
):
    # given: Tamil is served by an active version
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    served = model_train(region_code="IN", cluster=cluster, activate=True)
    worker = start_worker("IN")
    run = _request("IN", "tamil")

    # when: the worker dies while the retrain runs
    run = _wait(run, lambda r: r.status == TrainingRun.Status.RUNNING, timeout=30)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)

    # then: the same version serves, and once its heartbeat is stale the run is failed
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING
    active = ModelVersion.objects.get(taste_cluster=cluster, status=ModelVersion.Status.ACTIVE)
    assert active.pk == served.pk
    time.sleep(1.5)
    assert training_runs_reap(older_than_seconds=1.0) == 1
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert "Worker lost" in run.error
    assert not ModelVersion.objects.filter(
        taste_cluster=cluster, status=ModelVersion.Status.TRAINING
    ).exists()
    active.refresh_from_db()
    assert active.status == ModelVersion.Status.ACTIVE
