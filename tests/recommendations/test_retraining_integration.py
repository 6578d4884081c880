"""Retrains through a real broker and real Celery worker processes.

Each test starts ``celery worker`` subprocesses on the test database (the
tests commit their data: ``transaction=True``) and on queues whose names are
unique to this test run, so parallel runs on one Redis never see each
other's messages.

The worker-loss tests kill a worker mid-fit, not when its run has barely
started: a trigger on the model versions table (:func:`hold_before_ready`)
holds the final fit's version at the moment it would become ``ready``, with
the run at its ``train`` stage, the fit done and its artefacts written. That
is the last moment before the gate, so a kill there shows whether anything
half-made can be served. The worker is killed while it waits, and its
database session is then ended, as the connection of a dead process is.
The prune is held the same way, at a table another connection keeps locked, to
show that a task whose worker dies on every delivery is given up, not delivered forever.
"""

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path

import pytest
from axes.models import AccessLog
from django.core.management import call_command
from django.db import connection
from django.db.models import Max
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from redis import Redis

from config.celery import app
from recommendations.models import AbandonedTask, ModelVersion, TrainingRun
from recommendations.services.deliveries import MAX_DELIVERIES
from recommendations.services.retraining import (
    MAX_ATTEMPTS,
    retrain_queue,
    training_run_request,
)
from recommendations.services.training import model_train
from recommendations.tasks import prune_logs, reap_training_runs, retrain_cluster, retrain_region
from regions.models import TasteCluster
from tests.db_waits import row_writes_held
from tests.factories import TasteClusterFactory
from tests.processes import current_database_url
from tests.recommendations.demo_world import seed_small_demo

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"it{uuid.uuid4().hex[:8]}."
#: Advisory lock (two int4 keys) the test holds while a worker's version must wait.
HOLD_KEY = (4242, 1)
#: How stale a heartbeat is before the reaper worker fails its run (workers beat every 0.5 s).
STALE_SECONDS = 1.5


@pytest.fixture
def broker(settings) -> str:
    url = settings.CELERY_BROKER_URL
    if not url:
        pytest.fail(
            "CELERY_BROKER_URL is not set: these tests need a real broker. "
            "Run them with `make test`, which points them at Redis."
        )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.TONIGHT = {
        **settings.TONIGHT,
        "RETRAIN_QUEUE_PREFIX": PREFIX,
        "RETRAIN_COMPARE_WITH": (),
        "RETRAIN_TUNE": False,
    }
    from config.celery import app

    app.conf.task_always_eager = False
    yield url
    app.conf.task_always_eager = settings.CELERY_TASK_ALWAYS_EAGER


@pytest.fixture
def seeded(settings, tmp_path) -> None:
    seed_small_demo(settings, tmp_path, titles=60, profiles=150, seed=9)


@pytest.fixture
def start_worker(broker, settings) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start ``celery worker -Q <prefix><queue>`` processes; all are stopped afterwards.

    Configured as in production (``DEBUG=0``, prefork on request) except for the
    heartbeat and stale intervals, which are short so that a lost worker shows in seconds,
    and for the search of ALS settings, which is off (size priors only, as
    ``RETRAIN_TUNE=0`` runs): these tests are about deliveries, locks and lost workers, not
    the choice of settings (tests/recommendations/test_retraining_gate.py searches), and the
    search was most of a retrain's time here (a region's batch took 10 s with it, 3 s
    without), so a hold or a time limit is reached within seconds.
    """
    workers: list[subprocess.Popen] = []

    def start(
        queue: str, *, pool: str = "solo", env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        extra = env or {}
        env = {
            **os.environ,
            "DATABASE_URL": current_database_url(),
            "CELERY_BROKER_URL": broker,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "OPENBLAS_NUM_THREADS": "1",
            "TONIGHT_RETRAIN_QUEUE_PREFIX": PREFIX,
            "TONIGHT_RETRAIN_COMPARE_WITH": "",
            "TONIGHT_RETRAIN_TUNE": "0",
            "TONIGHT_RETRAIN_HEARTBEAT_SECONDS": "0.5",
            "TONIGHT_RETRAIN_STALE_SECONDS": str(STALE_SECONDS),
            "TONIGHT_RETRAIN_SIGNAL_CACHE_DIR": str(settings.MEDIA_ROOT.parent / "cache"),
            "CONN_MAX_AGE": "0",
            "DEBUG": "0",
            "SECRET_KEY": settings.SECRET_KEY,
            **extra,
        }
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "config",
                "worker",
                f"--pool={pool}",
                "--concurrency=1",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
                "-Q",
                f"{PREFIX}{queue}",
                "-n",
                f"{PREFIX}{queue}-{len(workers)}@%h",
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


@pytest.fixture
def hold_before_ready() -> Iterator[Callable[..., int]]:
    """Make cluster versions wait before they turn ``ready``; returns "wait for the next one".

    A ``BEFORE UPDATE`` trigger takes a shared advisory lock that this test's session
    holds exclusively, so the worker's ``UPDATE`` that marks its final fit ``ready``
    blocks there (its run's stage is ``train``). The returned function waits until a
    worker's session is blocked so and returns that session's pid. Ends with the test.
    """
    with row_writes_held(
        name="it_hold_before_ready",
        table=ModelVersion._meta.db_table,
        event="UPDATE",
        key=HOLD_KEY,
        when="OLD.status = 'training' AND NEW.status = 'ready' AND NEW.scope = 'cluster'",
    ) as (held, _):
        yield lambda timeout=40: held(timeout)


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


def _latest_run_id() -> int:
    return TrainingRun.objects.aggregate(latest=Max("pk"))["latest"] or 0


def _wait_for_region_batch(region_code: str, after: int, timeout: float) -> list[TrainingRun]:
    """The region's runs created after run ``after``, once there is one per cluster and all
    have finished."""
    clusters = TasteCluster.objects.filter(region_id=region_code).count()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(TrainingRun.objects.filter(region_id=region_code, pk__gt=after))
        if len(runs) == clusters and all(run.is_finished for run in runs):
            return runs
        time.sleep(0.1)
    states = [(run.pk, run.status, run.stage) for run in runs]
    raise AssertionError(f"{region_code}'s batch is {states} after {timeout}s ({clusters=})")


def _release_hold() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", list(HOLD_KEY))


def _end_session(pid: int) -> None:
    """End a killed process's database session, as PostgreSQL does when its socket closes.

    A session blocked on a lock does not read its socket, so it would otherwise outlive its
    process (holding the run's cluster lock) until the held update went through.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                return
            time.sleep(0.05)
    raise AssertionError(f"database session {pid} did not end")


def _pool_children(worker: subprocess.Popen) -> list[int]:
    """The live pool processes of a prefork worker (its children, read from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError):
            continue  # the process ended meanwhile
        if int(ppid) == worker.pid and state != "Z":
            children.append(int(stat.parent.name))
    return children


def _kill_pool_child_at_hold(worker: subprocess.Popen, session: int) -> int:
    """SIGKILL the prefork worker's only pool process while its fit is held; returns its pid.

    The child is stopped first and its session ended before it dies, so that the
    redelivered task never finds the cluster lock still held by the dead child's session.
    """
    (child,) = _pool_children(worker)
    os.kill(child, signal.SIGSTOP)
    _end_session(session)
    os.kill(child, signal.SIGKILL)
    return child


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


def test_the_scheduled_region_retrain_runs_its_clusters_as_one_message_on_the_region_queue(
    seeded, start_worker
):
    # given: a worker for the fan-out (default) and one for India's retrains; IN has several
    # taste clusters, so its retrain is a batch (retrain_clusters), not one cluster's task
    start_worker("default")
    start_worker("IN")
    assert TasteCluster.objects.filter(region_id="IN").count() > 1
    before = _latest_run_id()

    # when: beat sends the region's retrain
    retrain_region.apply_async(args=["IN"], queue=f"{PREFIX}default")

    # then: one run per cluster, all sent in one message to IN's queue and finished there
    runs = _wait_for_region_batch("IN", after=before, timeout=120)
    assert {run.status for run in runs} <= {"succeeded", "rejected"}, [r.error for r in runs]
    task_ids = {run.celery_task_id for run in runs}
    assert len(task_ids) == 1, task_ids
    assert "" not in task_ids
    assert all(run.attempts == 1 for run in runs)
    # and the batch stored and activated the region's fallback model from its fits
    region = ModelVersion.objects.get(scope="region", region_id="IN")
    assert region.status == ModelVersion.Status.ACTIVE, region.error
    assert sorted(region.metrics["retrain_runs"]) == sorted(run.pk for run in runs)


def test_a_pool_process_killed_mid_batch_is_redelivered_and_the_batch_restarted_once(
    seeded, start_worker, hold_before_ready
):
    # given: India's scheduled retrain, its batch on a prefork worker whose pool process is
    # in the middle of the first cluster's final fit
    start_worker("default")
    worker = start_worker("IN", pool="prefork")
    before = _latest_run_id()
    retrain_region.apply_async(args=["IN"], queue=f"{PREFIX}default")
    session = hold_before_ready()
    held = set(
        ModelVersion.objects.filter(
            scope="cluster", region_id="IN", status=ModelVersion.Status.TRAINING
        ).values_list("pk", flat=True)
    )
    assert held
    batch = list(TrainingRun.objects.filter(region_id="IN", pk__gt=before))
    assert {(run.status, run.attempts) for run in batch} == {(TrainingRun.Status.RUNNING, 1)}

    # when: the pool process is killed there (the worker itself lives on)
    _kill_pool_child_at_hold(worker, session)
    _release_hold()

    # then: the one message is redelivered, every run of the batch restarts once and ends,
    # and the dead attempt's half-made versions are failed, never served
    runs = _wait_for_region_batch("IN", after=before, timeout=120)
    assert {run.status for run in runs} <= {"succeeded", "rejected"}, [r.error for r in runs]
    assert all(run.attempts == 2 for run in runs)
    assert len({run.celery_task_id for run in runs}) == 1
    for version in ModelVersion.objects.filter(pk__in=held):
        assert version.status == ModelVersion.Status.FAILED
        assert "restarted" in version.error
    # (the first attempt's region version, gated before the kill, may have served meanwhile;
    # the one serving now is the second attempt's)
    region = ModelVersion.objects.get(
        scope="region", region_id="IN", status=ModelVersion.Status.ACTIVE
    )
    assert sorted(region.metrics["retrain_runs"]) == sorted(run.pk for run in runs)
    assert region.created_at > max(run.started_at for run in batch)
    assert worker.poll() is None


def test_a_worker_killed_mid_fit_serves_nothing_new_and_the_scheduled_reaper_fails_its_run(
    seeded, start_worker, hold_before_ready
):
    # given: Tamil is served by an active version, and a worker is in the middle of a retrain:
    # its final fit is made and written, its version about to turn "ready"
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    served = model_train(region_code="IN", cluster=cluster, activate=True)
    worker = start_worker("IN")
    run = _request("IN", "tamil")
    session = hold_before_ready()
    run.refresh_from_db()
    assert (run.status, run.stage) == (TrainingRun.Status.RUNNING, "train")
    fitted = ModelVersion.objects.get(taste_cluster=cluster, status=ModelVersion.Status.TRAINING)

    # when: the whole worker dies there
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    _end_session(session)
    _release_hold()

    # then: the same version serves, and the run waits for the reaper
    active = ModelVersion.objects.get(taste_cluster=cluster, status=ModelVersion.Status.ACTIVE)
    assert active.pk == served.pk
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING

    # when: the reaper task runs on a worker, as beat sends it, once the heartbeat is stale
    start_worker("default")
    time.sleep(STALE_SECONDS + 0.5)
    reap_training_runs.apply_async(queue=f"{PREFIX}default")

    # then: the run is failed, its half-made version with it, and nothing else changed
    run = _wait(run, lambda r: r.is_finished, timeout=30)
    assert run.status == TrainingRun.Status.FAILED
    assert "Worker lost" in run.error
    fitted.refresh_from_db()
    assert fitted.status == ModelVersion.Status.FAILED
    active.refresh_from_db()
    assert active.status == ModelVersion.Status.ACTIVE


def test_a_pool_process_killed_mid_fit_is_redelivered_and_its_run_restarted_once(
    seeded, start_worker, hold_before_ready
):
    # given: a prefork worker whose pool process is in the middle of a retrain's final fit
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    worker = start_worker("IN", pool="prefork")
    run = _request("IN", "tamil")
    session = hold_before_ready()
    run.refresh_from_db()
    assert (run.stage, run.attempts) == ("train", 1)
    first = ModelVersion.objects.get(taste_cluster=cluster, status=ModelVersion.Status.TRAINING)

    # when: the pool process is killed there (the worker itself lives on)
    _kill_pool_child_at_hold(worker, session)
    _release_hold()

    # then: acks_late + reject_on_worker_lost redeliver the task at once, the run is
    # restarted (the dead attempt's version failed) and succeeds on its second attempt
    run = _wait(run, lambda r: r.is_finished, timeout=40)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.attempts == 2
    assert run.model_version.status == ModelVersion.Status.ACTIVE
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.FAILED
    assert "restarted" in first.error
    assert worker.poll() is None


def test_a_run_whose_pool_process_dies_on_every_attempt_gives_up_after_max_attempts(
    seeded, start_worker, hold_before_ready
):
    # given: a prefork worker retraining Tamil, with nothing served yet
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    worker = start_worker("IN", pool="prefork")
    run = _request("IN", "tamil")

    # when: its pool process is killed mid-fit on every attempt
    for attempt in range(1, MAX_ATTEMPTS + 1):
        session = hold_before_ready()
        run.refresh_from_db()
        assert (run.stage, run.attempts) == ("train", attempt)
        _kill_pool_child_at_hold(worker, session)

    # then: the next delivery gives the run up instead of restarting it once more
    run = _wait(run, lambda r: r.is_finished, timeout=40)
    assert run.status == TrainingRun.Status.FAILED
    assert run.attempts == MAX_ATTEMPTS
    assert f"Gave up after {MAX_ATTEMPTS} attempts" in run.error
    statuses = ModelVersion.objects.filter(taste_cluster=cluster).values_list("status", flat=True)
    assert list(statuses) == [ModelVersion.Status.FAILED] * MAX_ATTEMPTS


def _blocked_on(table: str) -> int | None:
    """The session of this database waiting for a lock on ``table``, if one is."""
    with connection.cursor() as cursor:
        cursor.execute(
            # This database's: pg_locks lists the whole server's, and a relation's OID is
            # unique only within its database (tests/recommendations/test_signal_read.py).
            "SELECT pid FROM pg_locks WHERE relation = %s::regclass AND NOT granted AND "
            "database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [table],
        )
        row = cursor.fetchone()
    return row[0] if row else None


@pytest.fixture
def hold_sign_in_log() -> Iterator[Callable[[], int]]:
    """Make the prune wait at its first statement (the sign-in log's DELETE); returns "wait
    for the next session blocked there". Another connection holds the table locked."""
    import psycopg

    table = AccessLog._meta.db_table
    holder = psycopg.connect(current_database_url())
    holder.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def blocked(timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (pid := _blocked_on(table)) is not None:
                return pid
            time.sleep(0.05)
        raise AssertionError(f"no worker reached the held prune in {timeout}s")

    yield blocked
    holder.rollback()
    holder.close()


def test_a_task_that_kills_its_pool_process_every_time_is_given_up_and_the_queue_goes_on(
    start_worker, hold_sign_in_log
):
    # given: a prefork worker on the default queue (the reaper's, the prune's, the fan-out's)
    worker = start_worker("default", pool="prefork")
    sent = prune_logs.apply_async(queue=f"{PREFIX}default")

    # when: every delivery of the prune kills its pool process (an OOM, a crash in C code)
    for _ in range(MAX_DELIVERIES):
        session = hold_sign_in_log()
        (child,) = _pool_children(worker)
        os.kill(child, signal.SIGSTOP)
        _end_session(session)
        os.kill(child, signal.SIGKILL)

    # then: the next delivery gives the task up instead of running it once more,
    # and says so where operators look
    abandoned = _wait_abandoned(sent.id, held=AccessLog._meta.db_table, timeout=40)
    assert abandoned.name == "recommendations.prune_logs"
    assert abandoned.deliveries == MAX_DELIVERIES
    assert f"lost its worker process {MAX_DELIVERIES} times" in abandoned.reason

    # when: the next task comes on the same queue (beat's reaper, a minute later)
    stale = _request_stale_queued_run()
    reap_training_runs.apply_async(queue=f"{PREFIX}default")

    # then: it runs
    stale = _wait(stale, lambda r: r.is_finished, timeout=30)
    assert stale.status == TrainingRun.Status.FAILED
    assert worker.poll() is None


def _wait_abandoned(task_id: str, *, held: str, timeout: float) -> AbandonedTask:
    """The task's abandonment once recorded; fails if the task runs (reaches ``held``) again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        abandoned = AbandonedTask.objects.filter(task_id=task_id).first()
        if abandoned is not None:
            return abandoned
        assert _blocked_on(held) is None, f"task {task_id} was delivered and ran once more"
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} was not given up in {timeout}s")


def _request_stale_queued_run() -> TrainingRun:
    """A run queued a day ago whose message was lost: the reaper's to fail."""
    cluster = TasteClusterFactory()
    run = TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)
    day_ago = timezone.now() - dt.timedelta(days=1)
    TrainingRun.objects.filter(pk=run.pk).update(created_at=day_ago, queued_at=day_ago)
    return run


def test_a_batch_past_its_soft_time_limit_stops_and_fails_every_run_that_had_not_ended(
    seeded, start_worker, hold_before_ready
):
    # given: India's batch on a prefork worker whose retrains have a 20 s soft time limit
    # (the batch reaches its first final fit 2-5 s after it starts on a quiet machine,
    # without the search of settings: start_worker; the rest is room for a loaded one),
    # held at that fit until the limit has passed
    soft_limit = 20
    # (the limit travels in the message: the fan-out's worker sends the batch)
    limited = {"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS": str(soft_limit)}
    start_worker("default", env=limited)
    start_worker("IN", pool="prefork", env=limited)
    before = _latest_run_id()
    retrain_region.apply_async(args=["IN"], queue=f"{PREFIX}default")
    # (the limit counts from the batch's start, the wait from before the workers are up)
    hold_before_ready(timeout=soft_limit + 30)
    started = min(
        TrainingRun.objects.filter(region_id="IN", pk__gt=before).values_list(
            "started_at", flat=True
        )
    )
    held = ModelVersion.objects.get(
        scope="cluster", region_id="IN", status=ModelVersion.Status.TRAINING
    )

    # when: the soft limit passes while it is held, and the fit goes on
    time.sleep(max(0.0, soft_limit + 1 - (timezone.now() - started).total_seconds()))
    _release_hold()

    # then: the batch stops there: every run fails with the time limit as its reason (none
    # goes on training until the hard limit kills the process and the reaper says "Worker
    # lost"), and the held fit is failed, not left "training"
    runs = _wait_for_region_batch("IN", after=before, timeout=60)
    assert {run.status for run in runs} == {TrainingRun.Status.FAILED}, [
        (run.status, run.error) for run in runs
    ]
    assert all("soft time limit" in run.error for run in runs), [run.error for run in runs]
    held.refresh_from_db()
    assert held.status == ModelVersion.Status.FAILED
    assert not ModelVersion.objects.filter(
        scope="cluster", region_id="IN", created_at__gt=held.created_at
    ).exists()


@contextlib.contextmanager
def _held_table(table: str, mode: str) -> Iterator[Callable[..., int]]:
    """Hold ``table`` locked in ``mode`` from another connection while the block runs; yields
    "wait for the next session blocked on it" (its pid). Released when the block ends."""
    import psycopg

    holder = psycopg.connect(current_database_url())
    holder.execute(f"LOCK TABLE {table} IN {mode} MODE")

    def blocked(timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (pid := _blocked_on(table)) is not None:
                return pid
            time.sleep(0.05)
        raise AssertionError(f"no session waited on {table} in {timeout}s")

    try:
        yield blocked
    finally:
        holder.rollback()
        holder.close()


def test_a_prune_whose_database_session_is_ended_is_retried_not_dropped(start_worker):
    # given: the nightly prune on the default queue's worker, waiting at its first statement
    start_worker("default")
    with _held_table(AccessLog._meta.db_table, "ACCESS EXCLUSIVE") as blocked:
        sent = prune_logs.apply_async(queue=f"{PREFIX}default")
        first = blocked()

        # when: the database ends its session (a restart, a failover: Django raises its
        # OperationalError, not a ConnectionError)
        _end_session(first)

        # then: the prune is sent again after a short wait and runs on a new session, rather
        # than failing until the next night
        again = blocked(timeout=30)
    assert again != first
    assert not AbandonedTask.objects.filter(task_id=sent.id).exists()


def test_a_nightly_fan_out_whose_database_session_is_ended_is_retried_and_queues_the_runs(
    start_worker, settings
):
    # given: a region of two clusters, and its nightly fan-out on the default queue's worker,
    # waiting where it locks the first cluster for its run
    clusters = TasteClusterFactory.create_batch(2)
    region = clusters[0].region
    start_worker("default")
    with _held_table(TasteCluster._meta.db_table, "EXCLUSIVE") as blocked:
        retrain_region.apply_async(args=[region.code], queue=f"{PREFIX}default")
        session = blocked()

        # when: the database ends its session midway
        _end_session(session)

    # then: the fan-out is retried, and the region's retrains are queued this night
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = list(TrainingRun.objects.filter(region=region))
        if len(runs) == len(clusters):
            break
        time.sleep(0.1)
    Redis.from_url(settings.CELERY_BROKER_URL).delete(retrain_queue(region.code))
    assert {(run.taste_cluster_id, run.status, run.trigger) for run in runs} == {
        (cluster.pk, TrainingRun.Status.QUEUED, "schedule") for cluster in clusters
    }


def test_a_retrain_whose_retry_the_broker_refuses_fails_its_run_saying_so(start_worker):
    # given: a worker whose messages out cannot reach the broker (it reads its queue; its
    # sends go to a port where nothing listens: Celery's own CELERY_BROKER_WRITE_URL), and a
    # queued retrain whose task waits there to read its run
    cluster = TasteClusterFactory()
    run = TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)
    start_worker(cluster.region_id, env={"CELERY_BROKER_WRITE_URL": "redis://127.0.0.1:9/0"})
    with _held_table(TrainingRun._meta.db_table, "ACCESS EXCLUSIVE") as blocked:
        retrain_cluster.apply_async(args=[run.pk], queue=retrain_queue(cluster.region_id))
        session = blocked()

        # when: the database ends its session there (a restart): the task is retried, and
        # the broker refuses the retry's message
        _end_session(session)

    # then: the run is failed, saying its retry could not be sent and why it was retried;
    # Celery drops a task whose retry it cannot send without calling its on_failure, and
    # the run stayed queued, refusing every retrain of its cluster until the reaper's
    # RETRAIN_QUEUED_SECONDS (6 hours), which then blamed a lost message
    run = _wait(run, lambda r: r.is_finished, timeout=30)
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith("Never started: its task's retry could not be sent"), run.error
    assert "127.0.0.1:9" in run.error
    assert "OperationalError" in run.error
    assert run.attempts == 0
    assert run.finished_at is not None
    # and: its cluster can be retrained again at once (the request is refused while one is queued)
    again = training_run_request(
        region_code=cluster.region_id, cluster_slug=cluster.slug, enqueue=False
    )
    assert again.status == TrainingRun.Status.QUEUED, again.error


def test_a_retrain_whose_database_session_is_ended_mid_fit_is_retried_and_runs_once_more(
    seeded, start_worker, hold_before_ready
):
    # given: Tamil retraining on a worker, in the middle of its final fit
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    worker = start_worker("IN")
    run = _request("IN", "tamil")
    session = hold_before_ready()
    run.refresh_from_db()
    assert (run.status, run.stage, run.attempts) == (TrainingRun.Status.RUNNING, "train", 1)
    first = ModelVersion.objects.get(taste_cluster=cluster, status=ModelVersion.Status.TRAINING)

    # when: the database ends the worker's session there (a restart, a failover); the worker
    # itself lives on
    _end_session(session)
    _release_hold()

    # then: the task is sent again rather than failing, and the run is started once more (not
    # left "running" for the reaper to call its worker lost), on a new session that holds the
    # cluster's lock; the interrupted attempt's version is failed, never served
    run = _wait(run, lambda r: r.is_finished, timeout=90)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.attempts == 2
    assert run.model_version.status == ModelVersion.Status.ACTIVE
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.FAILED
    assert "database" in first.error
    assert worker.poll() is None


def test_a_scheduled_message_that_expired_while_no_worker_ran_is_not_run(start_worker):
    # given: the reaper's schedule as install_schedules writes it, and a run for it to fail
    # (queued a day ago, its message lost)
    call_command("install_schedules", stdout=StringIO())
    schedule = PeriodicTask.objects.get(name="reap stale training runs")
    schedule.expire_seconds = 1  # its interval, shortened for the test
    schedule.save()
    stale = _request_stale_queued_run()

    # when: beat sends the reap with the options it sends it with, while no worker runs,
    # then a prune of an old sign-in, and a worker comes back after the reap expired
    options = ModelEntry(schedule, app=app).options
    assert options["expires"] == 1
    reap_training_runs.apply_async(queue=f"{PREFIX}default", **options)
    old_sign_in = AccessLog.objects.create(username="a", user_agent="t", ip_address="127.0.0.1")
    AccessLog.objects.filter(pk=old_sign_in.pk).update(
        attempt_time=timezone.now() - dt.timedelta(days=400)
    )
    prune_logs.apply_async(queue=f"{PREFIX}default")
    time.sleep(2)
    start_worker("default")

    # then: the worker takes both in order and runs the prune, not the expired reap
    deadline = time.monotonic() + 30
    while AccessLog.objects.filter(pk=old_sign_in.pk).exists():
        assert time.monotonic() < deadline, "the prune sent after the reap did not run"
        time.sleep(0.1)
    stale.refresh_from_db()
    assert stale.status == TrainingRun.Status.QUEUED

    # when: the next send, in time
    reap_training_runs.apply_async(queue=f"{PREFIX}default")

    # then: it runs (so the expired one would have failed the run)
    stale = _wait(stale, lambda r: r.is_finished, timeout=30)
    assert stale.status == TrainingRun.Status.FAILED
