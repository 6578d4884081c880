"""Retraining operations whose data must be committed for another connection to see it
(``transaction=True``): the broker's send as a request commits, the heartbeat thread's own
connection, a run executed as its request commits, the retrain command's child process.

They are test_retraining_operations' tests, kept apart from that module because its
demo is seeded once for the module (tests/module_world.py), inside a transaction that a
committing test cannot run in; here each test seeds its own.
"""

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from io import StringIO

import psycopg
import pytest
from celery import Task
from celery.app.trace import build_tracer
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import CommandError, call_command
from django.db import DatabaseError, OperationalError, connection
from django.db.models import F
from django.utils import timezone
from redis import Redis

from recommendations.apis.retrains import BROKER_RETRY_SECONDS
from recommendations.models import ModelVersion, TrainingRun
from recommendations.services import retraining
from recommendations.services.retraining.interruptions import _runs_requeue
from recommendations.services.retraining.progress import _Heartbeat, _Reporter
from recommendations.services.retraining.requesting import _enqueue
from recommendations.tasks import retrain_cluster, retrain_clusters
from regions.models import TasteCluster
from tests.factories import RegionFactory, TasteClusterFactory
from tests.processes import ROOT, current_database_url, run_python
from tests.recommendations.demo_world import seed_small_demo
from tests.recommendations.test_retraining_operations import (  # noqa: F401
    _cluster,
    eager,
    seeded_settings,
    unreachable_broker,
)


@pytest.fixture
def seeded(settings, tmp_path, eager) -> None:  # noqa: F811
    seeded_settings(settings)
    seed_small_demo(settings, tmp_path, titles=120, profiles=300, seed=5)


@pytest.mark.django_db(transaction=True)  # the send happens when the request's data commits
def test_the_staff_api_answers_503_when_the_broker_refuses(
    unreachable_broker,  # noqa: F811
    admin_client,
):
    _cluster()
    response = admin_client.post(
        "/api/v1/ops/retrains/",
        {"region": "IN", "cluster": "tamil"},
        content_type="application/json",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == str(BROKER_RETRY_SECONDS)
    assert TrainingRun.objects.get().status == TrainingRun.Status.FAILED


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_outlives_a_dropped_database_connection():
    # given: a running run, committed (the heartbeat thread has its own connection)
    run = TrainingRun.objects.create(
        region_id=RegionFactory().code,
        taste_cluster=_cluster(),
        status=TrainingRun.Status.RUNNING,
    )
    long_ago = timezone.now() - dt.timedelta(hours=1)

    def beats_within(seconds: float) -> bool:
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=long_ago)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if TrainingRun.objects.get(pk=run.pk).heartbeat_at > long_ago:
                return True
            time.sleep(0.05)
        return False

    beat = _Heartbeat(run.pk, every=0.05)
    beat.start()
    try:
        assert beats_within(5.0)

        # when: PostgreSQL drops the heartbeat's connection (a restart, a network blip)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )

        # then: the thread lives on, reconnects, and the run keeps its heartbeat
        assert beats_within(5.0)
        assert beat.is_alive()
    finally:
        beat.stop()
    assert not beat.is_alive()
    # ... and once stopped it writes no more beats (a finished run's heartbeat stays put)
    assert not beats_within(0.5)


@pytest.fixture
def session_ends_before_ready() -> Iterator[None]:
    """The database ends the session that turns a cluster's version ``ready``, as a restart
    or a failover would in the middle of a retrain (its run at the ``train`` stage)."""
    table = ModelVersion._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            CREATE OR REPLACE FUNCTION test_end_own_session() RETURNS trigger AS $$
            BEGIN
                PERFORM pg_terminate_backend(pg_backend_pid());
                RETURN NEW;
            END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_end_own_session BEFORE UPDATE ON {table}
                FOR EACH ROW WHEN (
                    OLD.status = 'training' AND NEW.status = 'ready' AND NEW.scope = 'cluster'
                ) EXECUTE FUNCTION test_end_own_session();
            """
        )
    yield
    connection.close()  # the test's own session may be the one that was ended
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TRIGGER IF EXISTS test_end_own_session ON {table};"
            " DROP FUNCTION IF EXISTS test_end_own_session();"
        )


@pytest.mark.django_db(transaction=True)  # the heartbeat's connection sees the run
def test_a_run_whose_database_session_ends_midway_is_queued_again_then_failed_at_its_last(
    seeded, session_ends_before_ready
):
    # given: a queued retrain of Tamil
    run = retraining.training_run_request(region_code="IN", cluster_slug="tamil", enqueue=False)

    # when: the database ends its session in the middle of its final fit
    with pytest.raises(retraining.RetrainInterrupted) as interrupted:
        retraining.training_run_execute(run_id=run.pk)

    # then: the task is told to try again (RetrainInterrupted), and the run is queued for
    # it, saying why; not left "running" for the reaper to call its worker lost. The
    # attempt's half-made version is failed, never served.
    assert interrupted.value.run_ids == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.attempts, run.progress) == (TrainingRun.Status.QUEUED, 1, 0)
    assert run.error.startswith("Interrupted at stage train: the database connection was lost")
    first = ModelVersion.objects.get(taste_cluster=run.taste_cluster)
    assert first.status == ModelVersion.Status.FAILED
    assert "lost the database connection" in first.error

    # when: the retry is interrupted the same way, on the run's last attempt
    assert retraining.MAX_ATTEMPTS == 2
    retraining.training_run_execute(run_id=run.pk)

    # then: the run is failed with the reason, not queued once more, and nothing was served
    run.refresh_from_db()
    assert (run.status, run.attempts) == (TrainingRun.Status.FAILED, 2)
    assert run.error.startswith("Lost the database connection at stage train on its last")
    statuses = ModelVersion.objects.filter(taste_cluster=run.taste_cluster).values_list(
        "status", flat=True
    )
    assert list(statuses) == [ModelVersion.Status.FAILED] * 2


def _time_limit_at(point: str) -> Callable[..., bool]:
    """Whether a statement (its SQL and parameters) is the one after which ``point`` is reached:
    a stage the run reports (its progress update names it), the activation of its version, or
    the write that concludes the run as succeeded."""
    versions, runs = ModelVersion._meta.db_table, TrainingRun._meta.db_table

    def reached(sql: str, params: Sequence[object]) -> bool:
        if point == "activate":
            return sql.startswith(f'UPDATE "{versions}"') and "activated_at" in sql
        if point == "conclude":
            return sql.startswith(f'UPDATE "{runs}"') and TrainingRun.Status.SUCCEEDED in params
        return sql.startswith(f'UPDATE "{runs}"') and point in params

    return reached


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the heartbeat's connection sees the run
@pytest.mark.parametrize(
    "point",
    ["read signals", "evaluate", "train", "gate", "activate", "done", "conclude"],
)
def test_a_run_stopped_by_its_soft_time_limit_fails_at_once_whatever_its_stage(seeded, point):
    # given: a queued retrain of Tamil, whose gate passes (no version serves it yet)
    run = retraining.training_run_request(region_code="IN", cluster_slug="tamil", enqueue=False)
    before = set(ModelVersion.objects.values_list("pk", "status"))
    reached = _time_limit_at(point)
    raised: list[str] = []

    def soft_time_limit(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not raised and reached(sql, tuple(params or ())):
            raised.append(sql)
            # when: Celery's soft time limit is raised there (it is raised wherever the
            # worker is, here as the statement returns)
            raise SoftTimeLimitExceeded()
        return result

    with connection.execute_wrapper(soft_time_limit):
        retraining.training_run_execute(run_id=run.pk)
    assert raised, f"the run never reached {point}"

    # then: the run has ended, failed with the time limit as its reason, at once: not left
    # "running" (its heartbeat stopped) for the reaper to call its worker lost, nor
    # "succeeded" with a version that does not serve
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED, (run.status, run.stage, run.error)
    assert "soft time limit" in run.error
    # and: it shows the stage it was stopped in, not "done" at 100% as if it had concluded
    assert run.stage != "done"
    assert run.progress < 100
    # and: nothing it made serves or waits to be judged; no version that served was retired
    made = ModelVersion.objects.exclude(pk__in={pk for pk, _ in before})
    assert set(made.values_list("status", flat=True)) <= {ModelVersion.Status.FAILED}
    assert (
        set(
            ModelVersion.objects.filter(pk__in={pk for pk, _ in before}).values_list("pk", "status")
        )
        == before
    )
    # and: its cluster lock is released (no session holds it)
    with connection.cursor() as cursor:
        cursor.execute(
            # This database's: pg_locks lists the whole server's, and another test worker's
            # database numbers its clusters from 1 too, and retrains them at the same time.
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
            " AND classid = %s AND objid = %s AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())",
            [retraining.LOCK_NAMESPACE, run.taste_cluster_id],
        )
        assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)  # without a broker a run executes as its request commits
def test_without_a_broker_a_run_its_gate_rejects_is_reported_as_it_ended(
    seeded, settings, admin_client
):
    # given: an active Tamil version, and a gate no retrain can pass
    body = {"region": "IN", "cluster": "tamil"}
    first = admin_client.post("/api/v1/ops/retrains/", body, content_type="application/json")
    assert (first.status_code, first.json()["status"]) == (201, "succeeded")
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_GATE_MARGIN": -1.0}

    # when: the staff API and the admin's "Retrain now" each retrain it
    api = admin_client.post("/api/v1/ops/retrains/", body, content_type="application/json")
    admin = admin_client.post(
        "/admin/recommendations/trainingrun/",
        {"action": "retrain_now", "_selected_action": [first.json()["id"]]},
        follow=True,
    )

    # then: a run that trained and was refused by its gate is a run made (201, not the 409
    # of a busy cluster), and the admin says how it ended, not "queued"
    assert (api.status_code, api.json()["status"]) == (201, "rejected")
    said = [(m.level_tag, str(m)) for m in admin.context["messages"]]
    assert len(said) == 1
    assert said[0][0] == "warning"
    assert ": rejected. Not better than the active version" in said[0][1]


def _region_with_no_one(code: str, name: str) -> TasteCluster:
    """A region seeded with its cluster before any household lives there, whose retrain fails:
    it has no profiles to learn from."""
    return TasteClusterFactory(
        region=RegionFactory(code=code, name=name), slug="default", name="Default"
    )


@pytest.mark.django_db(transaction=True)  # without a broker a run executes as its request commits
def test_retrain_without_a_broker_fails_when_its_run_failed(eager) -> None:  # noqa: F811
    # given: a cluster whose retrain fails, no broker (the run executes in the command)
    _region_with_no_one("US", "United States")
    stdout = StringIO()

    # when: its retrain, without --wait, as a cron job or CI runs it
    with pytest.raises(CommandError) as failed:
        call_command("retrain", "--region", "US", stdout=stdout, stderr=StringIO())

    # then: the failed run said as before, and the command fails (exit 1) in one line naming
    # the run, the stage it failed at and its error: it exited 0 after the run had failed
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED
    assert stdout.getvalue() == f"run #{run.pk} US-Default: failed {run.error}\n"
    assert failed.value.returncode == 1
    stage = f" at stage {run.stage}" if run.stage else ""
    assert str(failed.value) == (
        f"Retrain run #{run.pk} US-Default failed{stage}: "
        "RetrainError: Region US has no profiles to learn from."
    )


@pytest.mark.django_db(transaction=True)  # without a broker a run executes as its request commits
def test_retrain_all_without_a_broker_retrains_every_region_then_names_each_failed_run(
    eager,  # noqa: F811
) -> None:
    # given: two regions whose retrains fail
    _region_with_no_one("AU", "Australia")
    _region_with_no_one("US", "United States")

    # when
    with pytest.raises(CommandError) as failed:
        call_command("retrain", "--all", stdout=StringIO(), stderr=StringIO())

    # then: the first failure did not stop the second region's retrain, and the error names both
    au, us = TrainingRun.objects.order_by("region_id")
    assert (au.status, us.status) == (TrainingRun.Status.FAILED, TrainingRun.Status.FAILED)
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(f"Retrain run #{au.pk} AU-Default failed")
    assert f"; run #{us.pk} US-Default failed" in message


@pytest.mark.django_db(transaction=True)  # without a broker a run executes as its request commits
def test_retrain_without_a_broker_or_wait_leaves_a_rejected_run_to_admin(eager) -> None:  # noqa: F811
    # given: a cluster busy with another run, so the command's run is rejected, as a gate
    # refuses one (make demo's case: a run to look at in admin, not a reason to stop)
    cluster = _cluster()
    TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)
    stdout = StringIO()

    # when / then: no error without --wait
    call_command("retrain", "--region=IN", "--cluster=tamil", stdout=stdout, stderr=StringIO())
    assert ": rejected Another retrain" in stdout.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the command's process reads what the test wrote
def test_retrain_without_a_broker_says_the_version_it_made_and_nothing_about_a_broker(
    seeded, settings, tmp_path
):
    # given: the first local run's configuration, no broker: tasks run in the command
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TONIGHT_RETRAIN_SIGNAL_CACHE_DIR": str(tmp_path / "cache"),
        "TONIGHT_RETRAIN_COMPARE_WITH": "",
    }

    # when: a retrain without --wait
    result = run_python("manage.py", "retrain", "--region", "IN", "--cluster", "tamil", env=env)

    # then: the run had finished by the time it was reported, version and all
    assert result.returncode == 0, result.stderr[-3000:]
    run = TrainingRun.objects.get(trigger=TrainingRun.Trigger.COMMAND)
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.model_version_id is not None
    assert result.stdout == f"run #{run.pk} IN-Tamil: succeeded version #{run.model_version_id}\n"
    # and no broker was looked for (kombu: "No hostname was supplied. Reverting to default
    # 'localhost'"), nor the task's outcome logged as by a worker
    assert "hostname" not in result.stderr
    assert "Task recommendations.retrain_cluster" not in result.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the command's process reads what the test wrote
def test_retrain_all_without_a_broker_retrains_every_cluster_once_as_make_demo_runs_it(
    seeded, settings, tmp_path
):
    from regions.models import TasteCluster

    # given: make demo's configuration, no broker: each region's batch runs in the command;
    # one cluster already retrained by hand, as README suggests
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "CELERY_BROKER_URL": "",
        "REDIS_URL": "",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "TONIGHT_RETRAIN_SIGNAL_CACHE_DIR": str(tmp_path / "cache"),
        "TONIGHT_RETRAIN_COMPARE_WITH": "",
    }
    TrainingRun.objects.create(
        region_id="IN",
        taste_cluster=TasteCluster.objects.get(region_id="IN", slug="tamil"),
        trigger=TrainingRun.Trigger.ADMIN,
        status=TrainingRun.Status.SUCCEEDED,
    )
    clusters = TasteCluster.objects.count()
    assert TasteCluster.objects.exclude(region_id="IN").exists()

    # when: make demo's retrain
    demo = ("manage.py", "retrain", "--all", "--if-empty")
    assert f"$(PY) {' '.join(demo)}\n" in (ROOT / "Makefile").read_text()
    result = run_python(*demo, env=env)

    # then: every cluster of every region has a finished run, stages and all, as admin shows
    # them; the hand-made run did not leave the rest of its region out
    assert result.returncode == 0, result.stderr[-3000:]
    runs = TrainingRun.objects.filter(trigger=TrainingRun.Trigger.COMMAND)
    assert runs.count() == clusters
    for run in runs:
        assert run.status == TrainingRun.Status.SUCCEEDED, run.error
        assert (run.stage, run.progress) == ("done", 100)
        assert {"train", "gate"} <= set(run.timings)
    assert not TasteCluster.objects.exclude(training_runs__status="succeeded").exists()
    assert result.stdout.count(": succeeded version #") == clusters
    # and the bar counted them
    assert f"{clusters}/{clusters} clusters" in result.stderr

    # when: make demo again
    again = run_python(*demo, env=env)

    # then: nothing retrained, and it says so
    assert again.returncode == 0, again.stderr[-3000:]
    assert runs.count() == clusters
    regions = ", ".join(sorted(set(TasteCluster.objects.values_list("region_id", flat=True))))
    assert again.stdout == f"{regions}: retrained already; left out (--if-empty).\n"


@pytest.fixture
def end_session() -> Iterator[Callable[[], None]]:
    """Ends this test's database session from another one, as a restart would: every query
    on the connection fails from then on, and Django does not reconnect by itself."""

    def end() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])

    yield end
    connection.close()  # for the test's teardown, should the session still be the ended one


@pytest.mark.django_db(transaction=True)  # the runs must outlive the ended session
def test_a_retrain_whose_retries_run_out_before_the_database_is_back_fails_its_queued_runs(
    eager,  # noqa: F811
    end_session,
):
    # given: a region's batch whose attempt the database interrupted, its runs queued again
    # for the task's retry (as _runs_requeue leaves them), and one never started
    tamil = _cluster("tamil")
    hindi = TasteClusterFactory(region=tamil.region, slug="hindi")
    interrupted = TrainingRun.objects.create(
        region_id="IN",
        taste_cluster=tamil,
        attempts=1,
        error="Interrupted at stage train: the database connection was lost (OperationalError: "
        "terminating connection). Queued again for attempt 2.",
    )
    never = TrainingRun.objects.create(region_id="IN", taste_cluster=hindi)

    # when: the database is still away at the task's last try (its retries used up: the
    # outage outlasted them), and back once the task has given up
    # (``throw=False``: a worker's failures are handled, not raised, which is what calls
    # ``on_failure``)
    end_session()
    result = retrain_clusters.apply(
        args=[[interrupted.pk, never.pk]], retries=retrain_clusters.max_retries, throw=False
    )
    assert result.failed()
    assert isinstance(result.result, DatabaseError)
    connection.close()  # the test reads on a fresh session, whatever the task's was left as

    # then: once the task gave up, its runs are failed saying why, not left queued to
    # refuse every retrain of their clusters until the reaper's 6 hours
    interrupted.refresh_from_db()
    never.refresh_from_db()
    assert (interrupted.status, never.status) == (TrainingRun.Status.FAILED,) * 2
    assert interrupted.error.startswith(
        "Not started again: its task gave up retrying: the database was away longer than the "
        "task's retries"
    )
    assert "Interrupted at stage train" in interrupted.error
    assert never.error.startswith("Never started: its task gave up retrying")
    assert interrupted.finished_at is not None
    assert retraining.training_run_request(region_code="IN", cluster_slug="tamil", enqueue=False)


@pytest.mark.django_db(transaction=True)
def test_a_run_its_task_could_not_fail_is_reaped_saying_the_task_may_have_given_up():
    # given: a run queued again after an interruption, which its task, giving up while the
    # database was still away, could not fail
    run = TrainingRun.objects.create(
        region_id=RegionFactory().code,
        taste_cluster=_cluster(),
        attempts=1,
        error="Interrupted at stage read: the database connection was lost. Queued again.",
    )

    # when: the reaper finds it queued past RETRAIN_QUEUED_SECONDS
    assert retraining.training_runs_reap(queued_for_seconds=0) == 1

    # then: its reason names the give-up beside a lost message, and keeps the interruption
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith("Never started again: queued again after attempt 1")
    assert "its task gave up retrying while the database was away" in run.error
    assert run.error.endswith(
        "Interrupted at stage read: the database connection was lost. Queued again."
    )


@pytest.mark.django_db(transaction=True)  # putting a run back to queued replaces the connection
def test_a_run_queued_again_is_reaped_counting_from_then_not_from_its_request():
    # given: a run requested 7 hours ago (it waited behind other retrains), started, and put
    # back to queued a moment ago for its task's retry, the database having interrupted it
    requested = timezone.now() - dt.timedelta(hours=7)
    run = TrainingRun.objects.create(
        region_id=RegionFactory().code,
        taste_cluster=_cluster(),
        status=TrainingRun.Status.RUNNING,
        attempts=1,
        started_at=requested + dt.timedelta(hours=6, minutes=50),
    )
    TrainingRun.objects.filter(pk=run.pk).update(created_at=requested)
    run.refresh_from_db()
    interruption = OperationalError("terminating connection due to administrator command")
    again = _runs_requeue([run], reporters={run.pk: _Reporter(run)}, error=interruption)
    assert again == [run.pk]

    # when: the reaper runs (RETRAIN_QUEUED_SECONDS: 6 hours) before the retry comes
    reaped = retraining.training_runs_reap()

    # then: it waits for its retry: it has been queued a moment, not the 7 hours since it
    # was asked for (the reaper failed it as "never started again", and the retry then
    # found it failed and did nothing: the night's retrain lost to a database restart)
    run.refresh_from_db()
    assert (reaped, run.status) == (0, TrainingRun.Status.QUEUED)
    assert run.created_at == requested

    # when: its retry never comes (its message lost), and 6 hours pass since it was queued again
    TrainingRun.objects.filter(pk=run.pk).update(
        queued_at=F("queued_at") - dt.timedelta(hours=6, seconds=1)
    )

    # then: it is failed, saying when it was queued again
    assert retraining.training_runs_reap() == 1
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith(
        f"Never started again: queued again after attempt 1 at {run.queued_at:%Y-%m-%d %H:%M:%S}"
    )


def _as_a_worker_runs_it(task: Task, args: list, *, queue: str) -> None:
    """Run ``task`` in this process as a worker runs a message it took from ``queue``:
    through Celery's tracer, not eagerly, so that a retry is a message sent to the broker
    (back to ``queue``), and a failure is handled (``on_failure``), not raised."""
    task_id = str(uuid.uuid4())
    tracer = build_tracer(task.name, task, app=task.app, eager=False, propagate=False)
    request = {"id": task_id, "retries": 0, "delivery_info": {"exchange": "", "routing_key": queue}}
    tracer(task_id, args, {}, request)


@pytest.mark.django_db(transaction=True)  # the run must outlive the ended session
def test_a_run_whose_task_is_retried_before_it_starts_counts_its_wait_from_the_retry(
    settings, end_session
):
    # given: a run queued almost RETRAIN_QUEUED_SECONDS ago (it waited behind other regions'
    # retrains on the shared queue), whose task a worker takes at last
    run = TrainingRun.objects.create(region_id=RegionFactory().code, taste_cluster=_cluster())
    waited = timezone.now() - dt.timedelta(hours=5, minutes=59)
    TrainingRun.objects.filter(pk=run.pk).update(created_at=waited, queued_at=waited)
    queue = f"test-retry-{uuid.uuid4().hex[:8]}"

    # when: the database ends the session the task reads its run on (a restart), so the task
    # is retried: a new message on the broker, run a little later
    end_session()
    _as_a_worker_runs_it(retrain_cluster, [run.pk], queue=queue)
    connection.close()
    broker = Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        assert broker.llen(queue) == 1
    finally:
        broker.delete(queue)

    # then: the run was queued again as the retry was sent; the reaper a couple of minutes
    # later, before the retry comes round, leaves it (counted from the request, it was
    # failed as "never started", and the retry then did nothing)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED
    assert run.queued_at > waited + dt.timedelta(hours=5)
    assert retraining.training_runs_reap(queued_for_seconds=retraining.queued_seconds() - 120) == 0
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED

    # when: the retry never comes (its message lost), and 6 hours pass since it was sent
    six_hours = dt.timedelta(hours=6, seconds=1)
    TrainingRun.objects.filter(pk=run.pk).update(
        created_at=F("created_at") - six_hours, queued_at=F("queued_at") - six_hours
    )
    assert retraining.training_runs_reap() == 1

    # then: the reason says when it was asked for and when it was queued again
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith(
        f"Never started: requested at {run.created_at:%Y-%m-%d %H:%M:%S}, queued again for "
        f"its task's retry at {run.queued_at:%Y-%m-%d %H:%M:%S}, and no worker took it since"
    )


@pytest.mark.django_db(transaction=True)  # the run must outlive the ended session
def test_without_a_broker_a_retrain_that_raises_says_what_failed_not_that_it_was_not_queued(
    eager,  # noqa: F811
    end_session,
):
    # given: a requested retrain, about to run in this process (no broker)
    _cluster()
    run = retraining.training_run_request(region_code="IN", cluster_slug="tamil", enqueue=False)

    # when: the database ends the session it runs on (a restart) as it starts
    end_session()
    _enqueue([run])  # outside a transaction: sent (and run) at once

    # then: the run is failed with what failed; nothing was refused by a broker, and nothing
    # will retry it (the eager task's database error came out as Celery's Retry)
    connection.close()
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith(
        "The retrain failed in this process (no broker is configured, so nothing retries it): "
        "OperationalError: "
    )
    assert "queue" not in run.error
