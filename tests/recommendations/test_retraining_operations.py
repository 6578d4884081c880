"""Retraining operations that must survive what goes wrong around a run: a lost message, a
broker that refuses, a rollback during the run, a database blip, a reaped worker that finishes
anyway, and staff who may only look.

The seeded demo is built once for the module; the tests that must commit what they write
(``transaction=True``) are in test_retraining_committed."""

import datetime as dt
import importlib
import time
from io import StringIO

import numpy as np
import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services import retraining
from recommendations.services.model_versions import ModelVersionsInUse, model_versions_delete
from recommendations.services.retraining import (
    RetrainNotQueued,
    model_version_rollback,
    training_run_execute,
    training_run_request,
    training_runs_reap,
)
from recommendations.services.retraining.batch import _final_version_store
from recommendations.services.retraining.cluster_finish import _cluster_finish
from recommendations.services.retraining.incumbents import _incumbent_parts
from recommendations.services.retraining.progress import _Reporter
from recommendations.services.retraining.runs import _fail_unjudged_versions, _finish
from regions.models import TasteCluster
from tests.factories import RegionFactory, TasteClusterFactory
from tests.module_world import in_the_module_world


@pytest.fixture
def eager(monkeypatch) -> None:
    """Enqueued retrains run in-process (the integration tests use a real worker)."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


def seeded_settings(settings) -> None:
    settings.TONIGHT = {
        **settings.TONIGHT,
        "RETRAIN_HEARTBEAT_SECONDS": 0.2,
        "RETRAIN_COMPARE_WITH": (),
    }


@pytest.fixture
def seeded(_seeded_world, settings, eager) -> None:
    in_the_module_world(settings, _seeded_world)
    seeded_settings(settings)


def _queued_run(slug: str = "tamil") -> TrainingRun:
    cluster = TasteCluster.objects.get(region_id="IN", slug=slug)
    return TrainingRun.objects.create(region_id="IN", taste_cluster=cluster)


def _cluster(slug: str = "tamil") -> TasteCluster:
    return TasteClusterFactory(region=RegionFactory(), slug=slug)


# --- Runs that never reach a worker -------------------------------------------------------------


@pytest.mark.django_db
def test_a_queued_run_no_worker_took_is_failed_and_its_cluster_can_retrain_again(
    settings, django_capture_on_commit_callbacks
):
    # given: a run whose message never reached a worker (sent to nobody), and a fresh one
    _cluster()
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_QUEUED_SECONDS": 3600.0}
    with django_capture_on_commit_callbacks(execute=False):
        lost = training_run_request(region_code="IN", cluster_slug="tamil")
    two_hours_ago = timezone.now() - dt.timedelta(hours=2)
    TrainingRun.objects.filter(pk=lost.pk).update(created_at=two_hours_ago, queued_at=two_hours_ago)
    fresh = TrainingRun.objects.create(
        region_id="IN", taste_cluster=TasteClusterFactory(region=RegionFactory(), slug="hindi")
    )

    # when
    reaped = training_runs_reap()

    # then: the lost run is failed with the reason; the one queued a moment ago waits on
    lost.refresh_from_db()
    fresh.refresh_from_db()
    assert reaped == 1
    assert lost.status == TrainingRun.Status.FAILED
    assert "Never started" in lost.error
    assert "retrain.IN" in lost.error
    assert fresh.status == TrainingRun.Status.QUEUED

    # and: the cluster's next retrain is queued, not refused
    with django_capture_on_commit_callbacks(execute=False):
        later = training_run_request(region_code="IN", cluster_slug="tamil")
    assert later.status == TrainingRun.Status.QUEUED, later.error
    # and: a worker that gets the lost message after all does nothing with it
    assert training_run_execute(run_id=lost.pk).status == TrainingRun.Status.FAILED


@pytest.fixture
def unreachable_broker(monkeypatch) -> None:
    """The broker is down: a real Redis URL on a port where nothing listens."""
    from config.celery import app

    def forget_connections() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    monkeypatch.setitem(app.conf, "task_always_eager", False)
    monkeypatch.setitem(app.conf, "broker_write_url", "redis://127.0.0.1:9/0")
    forget_connections()
    yield
    monkeypatch.undo()
    forget_connections()


@pytest.mark.django_db
def test_a_retrain_the_broker_refuses_is_failed_and_the_caller_is_told(
    unreachable_broker, django_capture_on_commit_callbacks
):
    # given
    _cluster()

    # when: the request commits and its message cannot be sent
    with (
        pytest.raises(RetrainNotQueued, match="Could not queue") as refused,
        django_capture_on_commit_callbacks(execute=True),
    ):
        training_run_request(region_code="IN", cluster_slug="tamil")

    # then: the run is failed (not left queued to block the cluster), and says why
    run = TrainingRun.objects.get(pk=refused.value.run_ids[0])
    assert run.status == TrainingRun.Status.FAILED
    assert "Could not queue the retrain on retrain.IN" in run.error
    assert run.finished_at is not None
    assert not TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).exists()


# --- A rollback during a run ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rollback_made_during_a_retrain_is_not_undone_by_it(seeded, monkeypatch):
    # given: two versions from two runs, the second one serving
    v1 = training_run_execute(run_id=_queued_run().pk).model_version
    v2 = training_run_execute(run_id=_queued_run().pk).model_version
    assert ModelVersion.objects.get(pk=v2.pk).status == ModelVersion.Status.ACTIVE
    original = _incumbent_parts

    def operator_rolls_back_meanwhile(active, evaluation, cluster_id):
        # the gate has read the active version (v2); the operator rolls back to v1 now
        model_version_rollback(version=ModelVersion.objects.get(pk=v1.pk))
        return original(active, evaluation, cluster_id)

    for looked_up_in in ("cluster_finish", "fallbacks"):
        monkeypatch.setattr(
            f"recommendations.services.retraining.{looked_up_in}._incumbent_parts",
            operator_rolls_back_meanwhile,
        )

    # when: a third run passes its gate against v2
    run3 = training_run_execute(run_id=_queued_run().pk)

    # then: the operator's rollback stands; the third version is rejected, and says why
    assert run3.status == TrainingRun.Status.REJECTED
    assert "active version changed during the run (rolled back?)" in run3.error
    assert run3.metrics["gate"]["active_version"] == v2.pk
    assert run3.metrics["gate"]["activated"] is False
    statuses = dict(
        ModelVersion.objects.filter(taste_cluster__slug="tamil").values_list("pk", "status")
    )
    assert statuses == {
        v1.pk: ModelVersion.Status.ACTIVE,
        v2.pk: ModelVersion.Status.RETIRED,
        run3.model_version_id: ModelVersion.Status.REJECTED,
    }


# --- The heartbeat, the reaper and a worker that finishes anyway ---------------------------------


@pytest.mark.django_db
def test_an_operator_reaps_a_run_left_running_without_beat():
    # given: a run whose in-process retrain was stopped (no broker, so no beat either), and
    # a live one
    cluster, live_cluster = _cluster("tamil"), _cluster("hindi")
    dead = TrainingRun.objects.create(
        region=cluster.region,
        taste_cluster=cluster,
        status=TrainingRun.Status.RUNNING,
        stage="fallback models",
        progress=65,
        heartbeat_at=timezone.now() - dt.timedelta(hours=1),
    )
    live = TrainingRun.objects.create(
        region=live_cluster.region,
        taste_cluster=live_cluster,
        status=TrainingRun.Status.RUNNING,
        heartbeat_at=timezone.now(),
    )
    out = StringIO()

    # when
    call_command("reap_retrains", stdout=out)

    # then
    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.status, dead.progress) == (TrainingRun.Status.FAILED, 65)
    assert dead.error.startswith("Worker lost: no heartbeat since")
    assert live.status == TrainingRun.Status.RUNNING
    assert out.getvalue().startswith("1 run(s) failed")


@pytest.mark.django_db
def test_an_empty_cluster_is_refused_not_read_as_every_cluster():
    _cluster("tamil")

    with pytest.raises(CommandError, match="--cluster is empty"):
        call_command("retrain", "--region", "IN", "--cluster", " ", stdout=StringIO())

    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_the_admin_keeps_a_run_that_has_not_finished(admin_client):
    # given: a running run and a finished one of the same cluster
    cluster = _cluster("tamil")
    running = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.RUNNING
    )
    done = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.FAILED
    )

    def bulk_delete(*runs: TrainingRun) -> None:
        admin_client.post(
            "/admin/recommendations/trainingrun/",
            {"action": "delete_selected", "_selected_action": [r.pk for r in runs], "post": "yes"},
        )

    # when / then: the running run cannot be deleted from its page, nor in a bulk delete
    # (which then deletes none); the finished one can
    page = admin_client.post(
        f"/admin/recommendations/trainingrun/{running.pk}/delete/", {"post": "yes"}
    )
    assert page.status_code == 403
    bulk_delete(running, done)
    assert TrainingRun.objects.count() == 2
    bulk_delete(done)
    assert list(TrainingRun.objects.values_list("pk", flat=True)) == [running.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("looked_up_in", "reaped_in"),
    [
        ("batch", "model_train"),  # its cluster's own part
        ("pipeline", "training_data_load"),  # the part its batch shares (one write for every run)
    ],
)
def test_a_run_the_reaper_failed_stays_failed_and_activates_nothing(
    seeded, monkeypatch, looked_up_in, reaped_in
):
    # given: the run's heartbeat stalls long enough for the reaper to fail it before it stores
    # its version; the worker itself lives on and finishes
    module = importlib.import_module(f"recommendations.services.retraining.{looked_up_in}")
    original = getattr(module, reaped_in)
    when_reaped: list = []

    def reaped_meanwhile(**kwargs):
        TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).update(
            heartbeat_at=timezone.now() - dt.timedelta(hours=1)
        )
        assert training_runs_reap() == 1
        when_reaped.extend(TrainingRun.objects.values_list("stage", "progress", "heartbeat_at"))
        return original(**kwargs)

    monkeypatch.setattr(module, reaped_in, reaped_meanwhile)

    # when
    run = training_run_execute(run_id=_queued_run().pk)

    # then: still failed as the reaper said, with what came of it, and nothing serves
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith("Worker lost")
    assert "was not activated" in run.error
    assert run.model_version.status == ModelVersion.Status.REJECTED
    assert not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()
    # and: as far as it got, and as silent since, as the reaper found it: the worker's later
    # stages neither move its progress to 100% nor make its heartbeat belie "Worker lost"
    assert when_reaped == [(run.stage, run.progress, run.heartbeat_at)]


@pytest.mark.django_db
def test_a_finished_run_is_never_finished_again():
    run = TrainingRun.objects.create(
        region=RegionFactory(),
        taste_cluster=_cluster(),
        status=TrainingRun.Status.FAILED,
        error="Worker lost: no heartbeat since ...",
    )
    assert _finish(run, TrainingRun.Status.SUCCEEDED) is False
    run.refresh_from_db()
    assert (run.status, run.error) == (
        TrainingRun.Status.FAILED,
        "Worker lost: no heartbeat since ...",
    )


@pytest.mark.django_db
def test_the_ungated_version_of_a_run_that_died_at_its_gate_is_failed_and_cannot_be_served(
    seeded, monkeypatch
):
    # given: the worker is lost after storing its version (ready), as the gate begins
    original = _Reporter.__call__
    seen: dict[str, int | None] = {}

    def dies_at_the_gate(self, stage, progress):
        original(self, stage, progress)
        if stage == "gate":
            seen["linked"] = TrainingRun.objects.get(pk=self.run.pk).model_version_id
            TrainingRun.objects.filter(pk=self.run.pk).update(
                heartbeat_at=timezone.now() - dt.timedelta(hours=1)
            )
            training_runs_reap()

    monkeypatch.setattr(_Reporter, "__call__", dies_at_the_gate)

    # when
    run = training_run_execute(run_id=_queued_run().pk)

    # then: the version was linked to its run once stored, and the reaper failed it
    assert run.status == TrainingRun.Status.FAILED
    assert seen["linked"] == run.model_version_id is not None
    version = ModelVersion.objects.get(pk=run.model_version_id)
    assert version.status == ModelVersion.Status.FAILED
    assert not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()
    with pytest.raises(ValueError, match="cannot be activated"):
        model_version_rollback(version=version)


@pytest.mark.django_db
def test_a_run_reaped_while_its_version_is_being_written_fails_that_version(seeded):
    # given: the worker is lost just after its run's version was created, before the version
    # is linked to the run (it names its runs in its metrics from the start)
    seen: list = []

    def reaped_once_the_version_exists(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not seen and sql.startswith(f'INSERT INTO "{ModelVersion._meta.db_table}"'):
            seen.append("reaped")
            TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).update(
                heartbeat_at=timezone.now() - dt.timedelta(hours=1)
            )
            training_runs_reap()
            seen.extend(ModelVersion.objects.values_list("status", "error"))
        return result

    # when
    with connection.execute_wrapper(reaped_once_the_version_exists):
        run = training_run_execute(run_id=_queued_run().pk)

    # then: the reaper failed the half-written version it found
    assert seen == ["reaped", ("failed", f"Run #{run.pk} lost its worker.")]
    assert run.status == TrainingRun.Status.FAILED
    assert run.error.startswith("Worker lost")
    # and: the worker, alive, finished fitting it, and it stays failed as the reaper said (it
    # came back ready, its reason erased, then "rejected" only because the run had ended)
    version = ModelVersion.objects.get(taste_cluster=run.taste_cluster)
    assert (version.status, version.error) == (
        ModelVersion.Status.FAILED,
        f"Run #{run.pk} lost its worker.",
    )


@pytest.mark.django_db
def test_a_failed_run_shows_how_far_it_got_and_how_long_its_last_stage_ran(seeded, monkeypatch):
    # given: the gate raises, after training got the run to its gate's progress
    original = _Reporter.__call__

    def fails_at_the_gate(self, stage, progress):
        original(self, stage, progress)
        if stage == "gate":
            time.sleep(0.05)
            raise MemoryError("the gate ran out of memory")

    monkeypatch.setattr(_Reporter, "__call__", fails_at_the_gate)

    # when
    run = training_run_execute(run_id=_queued_run().pk)

    # then: the operator sees the stage it died in, its progress then (it read 0), the
    # reason, and the time the failing stage took beside the others
    assert run.status == TrainingRun.Status.FAILED
    assert (run.stage, run.error) == ("gate", "MemoryError: the gate ran out of memory")
    assert run.progress > 0
    assert run.timings["gate"] >= 0.05
    assert "train" in run.timings


@pytest.mark.django_db
def test_a_run_shows_reading_the_page_logs_as_a_stage_of_its_own(seeded):
    # when
    run = training_run_execute(run_id=_queued_run().pk)

    # then: reading the logged pages is timed apart, under train_models's name for it: it
    # was counted in "prepare final fits", which then showed as if fitting all along
    assert run.status in {"succeeded", "rejected"}, run.error
    assert "read page logs" in run.timings
    assert "prepare final fits" in run.timings


@pytest.mark.django_db
def test_a_region_batch_names_the_fallback_model_it_is_refreshing(
    seeded, django_capture_on_commit_callbacks
):
    # when: every cluster of the region retrains, so its region model is refreshed too
    with django_capture_on_commit_callbacks(execute=True):
        runs = retraining.region_retrain_request(region_code="IN")

    # then: refreshing it was a stage of its own, timed apart, as the evaluation's models
    # are ("evaluate: region model"); it was all "fallback models", 4 to 20 s on the demo
    for run in runs:
        run.refresh_from_db()
        assert run.status in {"succeeded", "rejected"}, run.error
        assert "fallback models: region model" in run.timings


@pytest.mark.django_db
def test_a_cluster_whose_slug_is_as_long_as_admin_allows_retrains_its_region(
    seeded, django_capture_on_commit_callbacks
):
    # given: a cluster with profiles, its slug as long as its field allows (admin's form
    # takes 64 characters), longer than a run's stage holds once "evaluate: " is before it
    slug = "tamil-" + "x" * 58
    TasteCluster.objects.filter(region_id="IN", slug="tamil").update(slug=slug)
    stage_length = TrainingRun._meta.get_field("stage").max_length
    assert len(f"evaluate: {slug}") > stage_length

    # when: the region retrains (its evaluation reports a stage naming each cluster)
    with django_capture_on_commit_callbacks(execute=True):
        runs = retraining.region_retrain_request(region_code="IN")

    # then: the label is cut to fit; no run fails on it (each failed with "DataError: value
    # too long for type character varying(32)", night after night)
    for run in runs:
        run.refresh_from_db()
        assert run.status in {"succeeded", "rejected"}, run.error
        assert run.timings.get(f"evaluate: {slug}"[:stage_length]) is not None


@pytest.mark.django_db
def test_the_reaper_fails_a_dead_runs_linked_ready_versions_and_rollback_refuses_ready_ones():
    # given: a run whose worker died after storing a version (linked, though created before
    # the run's restart time), and another ready version nobody ran a gate on
    cluster = _cluster()
    long_ago = timezone.now() - dt.timedelta(hours=1)
    ungated = ModelVersion.objects.create(
        scope="cluster", region=cluster.region, taste_cluster=cluster, status="ready"
    )
    ModelVersion.objects.filter(pk=ungated.pk).update(created_at=long_ago - dt.timedelta(hours=1))
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, model_version=ungated
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running", started_at=long_ago, heartbeat_at=long_ago, attempts=1
    )
    other = ModelVersion.objects.create(
        scope="cluster",
        region=cluster.region,
        taste_cluster=TasteClusterFactory(region=cluster.region),
        status="ready",
    )
    # and: the region version its batch stored, ungated too (linked in its metrics)
    region_version = ModelVersion.objects.create(
        scope="region", region=cluster.region, status="ready", metrics={"retrain_runs": [run.pk]}
    )
    ModelVersion.objects.filter(pk=region_version.pk).update(created_at=long_ago)

    # when
    assert training_runs_reap() == 1

    # then
    ungated.refresh_from_db()
    region_version.refresh_from_db()
    assert ungated.status == ModelVersion.Status.FAILED
    assert region_version.status == ModelVersion.Status.FAILED
    with pytest.raises(ValueError, match="only a retired version"):
        model_version_rollback(version=other)
    other.refresh_from_db()
    assert other.status == ModelVersion.Status.READY


# --- Who may change what serves; what a waiting command reports -----------------------------------


def _staff(*codenames: str) -> Client:
    user = User.objects.create_user(
        f"staff-{'-'.join(codenames)}"[:150], password="pw-12345-xyz", is_staff=True
    )
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_view_only_staff_can_neither_switch_the_served_version_nor_retrain(
    django_capture_on_commit_callbacks,
):
    # given: a retired and an active version of one cluster, and a finished run of it
    cluster = _cluster()
    old = ModelVersion.objects.create(
        scope="cluster", region=cluster.region, taste_cluster=cluster, status="retired"
    )
    new = ModelVersion.objects.create(
        scope="cluster", region=cluster.region, taste_cluster=cluster, status="active"
    )
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.SUCCEEDED
    )
    viewer = _staff("view_modelversion", "view_trainingrun")

    # when: a view-only user looks, then tries each action
    listing = viewer.get("/admin/recommendations/modelversion/")
    for action in ("roll_back_to_version", "activate"):
        viewer.post(
            "/admin/recommendations/modelversion/",
            {"action": action, "_selected_action": [old.pk]},
        )
    with django_capture_on_commit_callbacks(execute=False):
        viewer.post(
            "/admin/recommendations/trainingrun/",
            {"action": "retrain_now", "_selected_action": [run.pk]},
        )

    # then: the page is there, the actions are not, and nothing changed
    assert listing.status_code == 200
    assert b"roll_back_to_version" not in listing.content
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == ("retired", "active")
    assert TrainingRun.objects.count() == 1

    # and: with change permission, the rollback goes through
    editor = _staff("view_modelversion", "change_modelversion")
    assert b"roll_back_to_version" in editor.get("/admin/recommendations/modelversion/").content
    editor.post(
        "/admin/recommendations/modelversion/",
        {"action": "roll_back_to_version", "_selected_action": [old.pk]},
    )
    old.refresh_from_db()
    assert old.status == ModelVersion.Status.ACTIVE


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("codenames", "may_poll", "may_retrain"),
    [
        ((), False, False),
        (("view_title", "view_genre", "view_artworkvariant"), False, False),  # catalogue staff
        (("view_trainingrun",), True, False),
        # Admin grants no one add (runs are made by retraining): it is not asked for either.
        (("view_trainingrun", "add_trainingrun"), True, False),
        # Admin's "Retrain now" asks for change, which includes view.
        (("change_trainingrun",), True, True),
    ],
)
def test_the_staff_api_asks_for_the_training_run_permissions_admin_asks_for(
    codenames, may_poll, may_retrain, django_capture_on_commit_callbacks
):
    # given: a finished run of a cluster, and staff with these permissions
    cluster = _cluster()
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.SUCCEEDED
    )
    staff = _staff(*codenames)

    # when: they poll the run, then request a retrain of its cluster
    polled = staff.get(f"/api/v1/ops/retrains/{run.pk}/")
    with django_capture_on_commit_callbacks(execute=False):
        requested = staff.post(
            "/api/v1/ops/retrains/",
            {"region": cluster.region_id, "cluster": cluster.slug},
            content_type="application/json",
        )

    # then
    assert polled.status_code == (200 if may_poll else 403)
    assert requested.status_code == (201 if may_retrain else 403), requested.content
    assert TrainingRun.objects.count() == (2 if may_retrain else 1)
    if not may_retrain:
        assert "`change_trainingrun`" in requested.json()["message"]


@pytest.mark.django_db
def test_the_staff_api_refuses_people_who_are_not_staff_whatever_their_permissions(client):
    cluster = _cluster()
    run = TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)
    user = User.objects.create_user("not-staff", password="pw-12345-xyz")
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_trainingrun"))
    member = Client()
    member.force_login(user)
    body = {"region": cluster.region_id, "cluster": cluster.slug}

    assert member.get(f"/api/v1/ops/retrains/{run.pk}/").status_code == 403
    assert member.post("/api/v1/ops/retrains/", body, "application/json").status_code == 403
    # and people not signed in are asked to, as before
    assert client.post("/api/v1/ops/retrains/", body, "application/json").status_code in {
        401,
        403,
    }
    assert TrainingRun.objects.count() == 1


@pytest.mark.django_db
def test_retrain_wait_fails_when_a_run_does_not_succeed(django_capture_on_commit_callbacks):
    # given: the cluster is busy, so the command's run is rejected
    cluster = _cluster()
    busy = TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster)

    # when / then: waiting ends in an error naming the run and its status
    out = StringIO()
    with (
        django_capture_on_commit_callbacks(execute=False),
        pytest.raises(CommandError, match=r"run #\d+ .*: rejected \(Another retrain") as failed,
    ):
        call_command("retrain", "--region=IN", "--cluster=tamil", "--wait", stdout=out)
    assert f"run #{busy.pk}" in str(failed.value)
    assert "rejected" in out.getvalue()


# --- The fallbacks: the region's and the global model ------------------------------------------


@pytest.mark.django_db
def test_the_global_model_folds_profiles_in_against_the_titles_their_region_carries(
    seeded, django_capture_on_commit_callbacks
):
    from profiles.models import Profile
    from recommendations.engine.als import CollaborativeModel
    from recommendations.serving import artefacts
    from recommendations.serving.bundle import ServingBundle
    from recommendations.serving.recommend import history_on_index, profile_history_rows
    from recommendations.serving.scoring import ranking_inputs
    from recommendations.tasks import retrain_region
    from tests.recommendations.scoring_context import tv_context

    # given: the global and region models of a nightly retrain; the global one was fitted
    # knowing which titles each profile's region does not carry, the region's needs no mask
    with django_capture_on_commit_callbacks(execute=True):
        retrain_region("IN")
    world = ModelVersion.objects.get(scope="global")
    region = ModelVersion.objects.get(scope="region", region_id="IN")
    for version, masked in ((world, True), (region, False)):
        stored = artefacts.artefact_read(version.artefact_key, artefacts.ALS)
        assert CollaborativeModel.load(stored).availability_masked is masked
    bundle = ServingBundle.load(version_id=world.pk, artefact_key=world.artefact_key)
    catalogue = bundle.catalogue(300.0)
    assert not catalogue.region("IN").available(time.time()).all()  # IN lacks some titles
    profile = Profile.objects.filter(account__home_region_id="IN", signals__isnull=False).first()
    history = history_on_index(
        profile_history_rows(profile_id=profile.pk, at=None),
        profile_id=profile.pk,
        bundle=bundle,
        catalogue=catalogue,
    )
    context = tv_context(region_code="IN", at=timezone.now())

    def served_cf():
        inputs = ranking_inputs(
            bundle=bundle, catalogue=catalogue, history=history, context=context
        )
        assert inputs.personalised
        return inputs.cf

    # when: the request path scores the profile, and again as if the fit had not been masked
    served = served_cf()
    bundle.als.availability_masked = False
    unmasked = served_cf()

    # then: the request path used IN's mask (the scores differ from the unmasked fold-in's)
    assert not np.allclose(served, unmasked, rtol=1e-3)


@pytest.mark.django_db
def test_the_scheduled_region_retrain_refreshes_and_gates_the_region_and_global_models(
    seeded, settings, django_capture_on_commit_callbacks
):
    from recommendations.serving.cache import active_versions_read
    from recommendations.tasks import retrain_region

    # given: a seeded region that no `train_models` ever ran on: no fallback serves yet
    assert active_versions_read().serving("IN", None) is None

    # when: its nightly retrain runs (the schedule's task; the runs execute once it commits)
    with django_capture_on_commit_callbacks(execute=True):
        run_ids = retrain_region("IN")

    # then: a region and a global version were stored from the batch's fits, gated, activated
    runs = list(TrainingRun.objects.filter(pk__in=run_ids))
    assert {run.status for run in runs} <= {"succeeded", "rejected"}
    region = ModelVersion.objects.get(scope="region", region_id="IN")
    world = ModelVersion.objects.get(scope="global")
    for version, scope in ((region, "region"), (world, "global")):
        assert version.status == ModelVersion.Status.ACTIVE, version.error
        assert version.metrics["recipe"] == scope
        assert version.metrics["gate"]["passed"] is True
        assert version.metrics["gate"]["candidate_ndcg@10"] > 0.0
        assert sorted(version.metrics["retrain_runs"]) == sorted(run_ids)
        assert version.metrics["hyperparameters"]["components"][0]["factors"] > 0
        assert all(run.metrics["fallbacks"][scope]["version"] == version.pk for run in runs)
    assert region.n_profiles < world.n_profiles  # IN's profiles; every region's
    # and: a profile without a cluster (or too little history) is served by it
    assert active_versions_read().serving("IN", None).pk == region.pk

    # when: the next night, with a gate nobody passes (the global model is not due again)
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_GATE_MARGIN": -1.0}
    with django_capture_on_commit_callbacks(execute=True):
        later_ids = retrain_region("IN")

    # then: the new region version is rejected against the active one, which keeps serving
    later = TrainingRun.objects.get(pk=later_ids[0])
    outcome = later.metrics["fallbacks"]["region"]
    assert outcome["status"] == ModelVersion.Status.REJECTED
    assert "Not better than the active version" in outcome["reason"]
    assert outcome["gate"]["active_version"] == region.pk
    assert outcome["gate"]["active_measured_as"] == "same settings as fitted here"
    assert "global" not in later.metrics["fallbacks"]
    region.refresh_from_db()
    assert region.status == ModelVersion.Status.ACTIVE

    # and: a retrain of one cluster judges only that cluster, so it leaves the fallbacks alone
    single = training_run_execute(run_id=_queued_run().pk)
    assert "fallbacks" not in single.metrics
    assert ModelVersion.objects.filter(scope="region").count() == 2


@pytest.mark.django_db
def test_a_fallback_on_bad_settings_is_rejected_against_its_incumbent_measured_on_this_part(
    seeded, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from recommendations.engine.als import AlsParams
    from recommendations.services import cluster_evaluation
    from recommendations.tasks import retrain_region

    # given: the region's fallback model active, with the settings its search chose
    with django_capture_on_commit_callbacks(execute=True):
        retrain_region("IN")
    region = ModelVersion.objects.get(scope="region", region_id="IN")
    assert region.status == ModelVersion.Status.ACTIVE, region.error

    # when: the next night's retrain is forced onto bad settings for every scope (two
    # factors, a regularisation that flattens them, no search to recover)
    bad = AlsParams(factors=2, regularization=5_000.0, alpha=0.05, iterations=15)
    monkeypatch.setattr(cluster_evaluation, "params_for_size", lambda **kwargs: bad)
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_TUNE": False}
    with django_capture_on_commit_callbacks(execute=True):
        later_ids = retrain_region("IN")

    # then: the incumbent's configuration is none of this retrain's table recipes, so the
    # gate refits and measures it on this training part, on every judged profile, and
    # rejects the bad fallback against it; the active one keeps serving
    outcome = TrainingRun.objects.get(pk=later_ids[0]).metrics["fallbacks"]["region"]
    gate = outcome["gate"]
    assert outcome["status"] == ModelVersion.Status.REJECTED
    assert "Worse than the active version" in outcome["reason"]
    # (the reason says how the active version was measured, in words that read as a sentence:
    # it said "the active version's configuration its stored model")
    assert outcome["reason"].endswith("; the active version: refitted on this training part).")
    assert gate["active_version"] == region.pk
    assert gate["active_measured_as"] == "refitted on this training part"
    assert gate["measured_on"]["half"] == "all"
    assert gate["candidate_ndcg@10"] < gate["active_ndcg@10"] * (1 - gate["margin"])
    region.refresh_from_db()
    assert region.status == ModelVersion.Status.ACTIVE


@pytest.mark.django_db
def test_a_fallback_is_gated_against_a_train_models_version_refitted_on_this_part(
    seeded, django_capture_on_commit_callbacks
):
    # `make demo` trains the fallbacks with train_models, then retrains every cluster. Those
    # versions recorded their settings under "als", not "hyperparameters", so the gate
    # scored their stored factors, fitted on a window holding its holdout: every fallback
    # of the demo's retrains was rejected (NDCG@10 0.25 against 0.54) on unchanged data.
    from recommendations.services.training import model_train
    from recommendations.tasks import retrain_region

    # given: the region's fallback model trained by train_models, active
    trained = model_train(region_code="IN")
    assert trained.status == ModelVersion.Status.ACTIVE

    # when: the region retrains, on the same signals
    with django_capture_on_commit_callbacks(execute=True):
        run_ids = retrain_region("IN")

    # then: the gate refits train_models' settings on this training part, not its stored
    # model, and the new region version, no worse, takes over
    outcome = TrainingRun.objects.get(pk=run_ids[0]).metrics["fallbacks"]["region"]
    gate = outcome["gate"]
    assert gate["active_version"] == trained.pk
    assert gate["active_measured_as"] in {
        "same settings as fitted here",
        "refitted on this training part",
    }
    assert outcome["status"] == ModelVersion.Status.ACTIVE, outcome["reason"]


@pytest.mark.django_db
def test_a_batch_reaped_while_its_fallback_is_stored_activates_no_fallback(
    seeded, monkeypatch, django_capture_on_commit_callbacks
):
    from recommendations.tasks import retrain_region

    # given: the reaper fails the batch's runs while its region version is being fitted
    store = _final_version_store

    def store_then_reaped(**kwargs):
        stored = store(**kwargs)
        if kwargs["cluster"] is None:
            TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).update(
                status=TrainingRun.Status.FAILED, error="Worker lost (test)."
            )
        return stored

    monkeypatch.setattr(
        "recommendations.services.retraining.fallbacks._final_version_store", store_then_reaped
    )

    # when: the nightly retrain runs on
    with django_capture_on_commit_callbacks(execute=True):
        retrain_region("IN")

    # then: no fallback was activated; the stored versions say why
    assert not ModelVersion.objects.filter(
        scope__in=["region", "global"], status=ModelVersion.Status.ACTIVE
    ).exists()
    refused = ModelVersion.objects.filter(scope__in=["region", "global"])
    assert refused.exists()
    for version in refused:
        assert version.status == ModelVersion.Status.REJECTED
        assert "runs were ended" in version.error


# --- Versions no gate will judge ----------------------------------------------------------------


def _retrain_version(cluster: TasteCluster, status: str, *runs: TrainingRun) -> ModelVersion:
    return ModelVersion.objects.create(
        scope="cluster",
        region=cluster.region,
        taste_cluster=cluster,
        status=status,
        metrics={"retrain_runs": [run.pk for run in runs]},
    )


@pytest.mark.django_db
def test_the_reaper_fails_the_versions_whose_retrain_ended_without_judging_them():
    # given: versions a retrain stored after its run was already reaped (or whose gate raised),
    # and the worker never got to reject them: their runs have all ended
    cluster = _cluster()
    region = cluster.region

    def run(status: str) -> TrainingRun:
        return TrainingRun.objects.create(region=region, taste_cluster=cluster, status=status)

    failed, succeeded, rejected = run("failed"), run("succeeded"), run("rejected")
    running, queued = run("running"), run("queued")
    TrainingRun.objects.filter(pk=running.pk).update(heartbeat_at=timezone.now())
    orphan = _retrain_version(cluster, "ready", failed)
    half_written = _retrain_version(cluster, "training", failed, succeeded)
    fallback = ModelVersion.objects.create(
        scope="region", region=region, status="ready", metrics={"retrain_runs": [rejected.pk]}
    )
    # and: versions a gate may still judge, and train_models' own, which names no run
    judged_now = _retrain_version(cluster, "ready", running)
    batch_on = _retrain_version(cluster, "training", failed, queued)
    no_activate = ModelVersion.objects.create(
        scope="cluster", region=region, taste_cluster=cluster, status="ready"
    )
    served = _retrain_version(cluster, "active", succeeded)

    # when: no run is stale, so none is reaped
    assert training_runs_reap() == 0

    # then: the versions their retrain left unjudged are failed, with the reason
    def status(version: ModelVersion) -> tuple[str, str]:
        version.refresh_from_db()
        return version.status, version.error

    assert status(orphan) == (
        "failed",
        f"Never judged: its retrain ended without gating it (run #{failed.pk} failed).",
    )
    assert status(half_written)[0] == "failed"
    assert f"run #{succeeded.pk} succeeded" in half_written.error
    assert status(fallback)[0] == "failed"
    # and: the others are left as they were
    assert status(judged_now) == ("ready", "")
    assert status(batch_on) == ("training", "")
    assert status(no_activate) == ("ready", "")
    assert status(served) == ("active", "")


@pytest.mark.django_db
def test_a_version_whose_gate_raised_is_failed_with_its_run(seeded, monkeypatch):
    # given: the gate raises after the run's version was stored (no worker dies)
    original = _Reporter.__call__

    def fails_at_the_gate(self, stage, progress):
        original(self, stage, progress)
        if stage == "gate":
            raise MemoryError("the gate ran out of memory")

    monkeypatch.setattr(_Reporter, "__call__", fails_at_the_gate)

    # when: the run executes
    run = training_run_execute(run_id=_queued_run().pk)

    # then: the run fails, and its version with it, at once: no reap (no beat runs in the
    # demo) is needed for the admin's "activate" to refuse it
    assert run.status == TrainingRun.Status.FAILED
    version = ModelVersion.objects.get(taste_cluster=run.taste_cluster)
    assert (version.status, version.error) == (
        ModelVersion.Status.FAILED,
        f"Run #{run.pk} failed: MemoryError: the gate ran out of memory",
    )


@pytest.mark.django_db
def test_a_fallback_whose_gate_raised_is_failed_at_once_and_the_clusters_go_on(
    seeded, monkeypatch, django_capture_on_commit_callbacks
):
    from recommendations.tasks import retrain_region

    # given: the fallbacks' gate raises once their versions are stored
    def raises(*args, **kwargs):
        raise MemoryError("the fallback gate ran out of memory")

    monkeypatch.setattr("recommendations.services.retraining.fallbacks._fallback_activate", raises)

    # when: the nightly retrain runs
    with django_capture_on_commit_callbacks(execute=True):
        run_ids = retrain_region("IN")

    # then: the clusters' runs end as their gates said, and the fallback versions are failed
    # at once (no reap), saying why
    runs = TrainingRun.objects.filter(pk__in=run_ids)
    assert {run.status for run in runs} <= {"succeeded", "rejected"}
    fallbacks = ModelVersion.objects.filter(scope__in=["region", "global"])
    assert fallbacks.exists()
    for version in fallbacks:
        assert version.status == ModelVersion.Status.FAILED
        assert version.error == "MemoryError: the fallback gate ran out of memory"


@pytest.mark.django_db
def test_a_run_that_fails_leaves_alone_a_version_another_run_of_its_batch_still_judges():
    # given: a batch of two runs; a fallback version names both, a cluster version one
    cluster = _cluster()
    failing, judging = (
        TrainingRun.objects.create(region=cluster.region, taste_cluster=cluster, status="running")
        for _ in range(2)
    )
    fallback = ModelVersion.objects.create(
        scope="region",
        region=cluster.region,
        status="ready",
        metrics={"retrain_runs": [failing.pk, judging.pk]},
    )
    own = _retrain_version(cluster, "ready", failing)

    # when: one run fails through its own error path
    TrainingRun.objects.filter(pk=failing.pk).update(status="failed")
    _fail_unjudged_versions(failing, "Run failed.", unless_judged=True)

    # then: its own version is failed; the one the other run still judges is not
    own.refresh_from_db()
    fallback.refresh_from_db()
    assert own.status == ModelVersion.Status.FAILED
    assert (fallback.status, fallback.error) == ("ready", "")

    # when: the other run fails too
    TrainingRun.objects.filter(pk=judging.pk).update(status="failed")
    _fail_unjudged_versions(judging, "Run failed.", unless_judged=True)

    # then: nothing judges the fallback any more: it is failed
    fallback.refresh_from_db()
    assert fallback.status == ModelVersion.Status.FAILED


def _activate_in_admin(version: ModelVersion) -> list[str]:
    """What admin says to staff who may change versions and ask to activate ``version``."""
    editor = User.objects.filter(username="editor").first() or User.objects.create_user(
        "editor", is_staff=True
    )
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_modelversion", "change_modelversion"])
    )
    client = Client()
    client.force_login(editor)
    answer = client.post(
        "/admin/recommendations/modelversion/",
        {"action": "activate", "_selected_action": [version.pk]},
        follow=True,
    )
    return [str(message) for message in answer.context["messages"]]


@pytest.mark.django_db
def test_admin_will_not_activate_a_version_its_retrain_is_still_judging():
    # given: a ready version whose run is at its gate right now
    cluster = _cluster()
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.RUNNING
    )
    judged = _retrain_version(cluster, "ready", run)

    # when: staff try to activate it
    said = _activate_in_admin(judged)

    # then: refused, saying why; nothing serves
    judged.refresh_from_db()
    assert judged.status == ModelVersion.Status.READY
    assert not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists()
    assert said == [
        f"Version #{judged.pk} is being judged by its retrain's gate (run #{run.pk} is "
        "running): it serves if it passes, and cannot be activated by hand."
    ]


@pytest.mark.django_db
def test_admin_will_not_activate_a_version_its_retrain_ended_without_judging():
    # given: a ready version whose run failed before its gate (the reaper has not swept it yet)
    cluster = _cluster()
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.FAILED
    )
    orphan = _retrain_version(cluster, "ready", run)

    # when
    said = _activate_in_admin(orphan)

    # then
    orphan.refresh_from_db()
    assert orphan.status == ModelVersion.Status.READY
    assert said == [
        f"Version #{orphan.pk} never passed its retrain's gate (run #{run.pk} failed without "
        "judging it): it cannot be activated."
    ]


@pytest.mark.django_db
def test_admin_activates_a_ready_version_no_retrain_made_and_rolls_back_to_a_retrain_one():
    # given: train_models --no-activate's ready version (it names no run), and a retired
    # version a retrain once activated
    cluster = _cluster()
    run = TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=TrainingRun.Status.SUCCEEDED
    )
    retired = _retrain_version(cluster, "retired", run)
    no_activate = ModelVersion.objects.create(
        scope="cluster", region=cluster.region, taste_cluster=cluster, status="ready"
    )

    # when / then: each is activated in turn
    assert _activate_in_admin(no_activate) == [
        f"Version #{no_activate.pk} now serves {no_activate.scope_label}."
    ]
    assert _activate_in_admin(retired) == [
        f"Version #{retired.pk} now serves {retired.scope_label}."
    ]
    no_activate.refresh_from_db()
    retired.refresh_from_db()
    assert (no_activate.status, retired.status) == ("retired", "active")


@pytest.mark.django_db
def test_rollback_admin_and_a_refused_delete_name_a_cluster_as_retrain_does():
    # given: an active and a retired version of IN's Tamil cluster
    cluster = TasteClusterFactory(region=RegionFactory(), slug="tamil", name="Tamil")
    retired = ModelVersion.objects.create(
        scope="cluster", region=cluster.region, taste_cluster=cluster, status="retired"
    )
    ModelVersion.objects.create(
        scope="cluster", region=cluster.region, taste_cluster=cluster, status="active"
    )

    # when: an operator rolls back to the retired one, twice
    out = StringIO()
    call_command("rollback_model", f"--version={retired.pk}", stdout=out)
    call_command("rollback_model", f"--version={retired.pk}", stdout=out)

    # then: the scope is the cluster `retrain` prints ("run #5 IN-Tamil: succeeded"), not its id
    assert out.getvalue().splitlines() == [
        f"Model version #{retired.pk} (cluster IN-Tamil) is active again.",
        f"Model version #{retired.pk} (cluster IN-Tamil) is already the active one; "
        "nothing changed.",
    ]
    assert _activate_in_admin(retired) == [f"Version #{retired.pk} now serves cluster IN-Tamil."]
    with pytest.raises(ModelVersionsInUse, match=f"#{retired.pk} serves cluster IN-Tamil: "):
        model_versions_delete(versions=ModelVersion.objects.filter(pk=retired.pk))


@pytest.mark.django_db
def test_a_cluster_is_found_by_its_own_slug_beside_one_that_differs_only_in_case(
    django_capture_on_commit_callbacks,
):
    # given: two clusters of a region whose slugs differ only in case (the model allows it:
    # its unique constraint compares slugs as they are)
    lower = _cluster("tamil")
    upper = TasteClusterFactory(region=lower.region, slug="Tamil")

    # when: each is asked for by its slug, and the region as a whole
    with django_capture_on_commit_callbacks(execute=False):
        by_lower = training_run_request(region_code="IN", cluster_slug="tamil")
        by_upper = training_run_request(region_code="IN", cluster_slug="Tamil")
    TrainingRun.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=False):
        region = retraining.region_retrain_request(region_code="IN")

    # then: each request retrains the cluster it names, and the region's retrain each of its
    # clusters (a case-insensitive match retrained one of them twice, the second refused)
    assert (by_lower.taste_cluster, by_upper.taste_cluster) == (lower, upper)
    assert {run.taste_cluster for run in region if run.status == TrainingRun.Status.QUEUED} >= {
        lower,
        upper,
    }


@pytest.mark.django_db
def test_a_slug_in_another_case_names_its_cluster_unless_two_clusters_share_it():
    # given
    lower = _cluster("tamil")
    TasteClusterFactory(region=lower.region, slug="Tamil")
    hindi = TasteClusterFactory(region=lower.region, slug="hindi")

    # then: a slug typed in another case still finds the one cluster it can name...
    run = training_run_request(region_code="IN", cluster_slug="HINDI", enqueue=False)
    assert run.taste_cluster == hindi
    # ... and is refused, naming both, where it could name two
    with pytest.raises(
        retraining.RetrainError, match=r"(tamil, Tamil|Tamil, tamil), which TAMIL names alike"
    ):
        training_run_request(region_code="IN", cluster_slug="TAMIL", enqueue=False)


@pytest.mark.django_db
def test_retrain_wait_says_a_queued_run_is_waiting_not_at_0_percent():
    # given: a requested retrain no worker has taken (its message is sent only once the
    # request commits, which the test's transaction never does)
    _cluster()
    out = StringIO()

    # when: the command waits for it, and gives up
    with pytest.raises(CommandError, match="still unfinished"):
        call_command(
            "retrain", region="IN", cluster="tamil", wait=True, timeout=1.0, verbosity=0, stdout=out
        )

    # then: it said the run was queued, not "run #5:  0%" (a stage it has not reached)
    (run,) = TrainingRun.objects.all()
    assert f"run #{run.pk}: queued, waiting for a worker" in out.getvalue()
    assert "0%" not in out.getvalue()


@pytest.mark.django_db
def test_a_batchs_run_waiting_for_its_cluster_turn_says_so(seeded, monkeypatch):
    # given: a region's batch of two clusters, whose finishes run one after the other
    first, second = _queued_run("tamil"), _queued_run("hindi")
    seen: dict[int, tuple[str, int]] = {}
    original = _cluster_finish

    def watched(*, run, **kwargs):
        # what admin and the console read of the batch's other run when this one starts
        others = TrainingRun.objects.exclude(pk=run.pk).filter(pk__in=[first.pk, second.pk])
        for other in others.filter(status=TrainingRun.Status.RUNNING):
            seen.setdefault(other.pk, (other.stage, other.progress))
        return original(run=run, **kwargs)

    monkeypatch.setattr("recommendations.services.retraining.pipeline._cluster_finish", watched)

    # when
    retraining.training_runs_execute(run_ids=[first.pk, second.pk])

    # then: the run not yet trained said it was waiting (it showed the last shared stage,
    # "fallback models" or "prepare final fits", as if busy with it), and its timings count
    # the wait apart from that stage
    waiting = next(iter(seen))
    assert seen[waiting][0] == "waiting for its turn"
    assert "waiting for its turn" in TrainingRun.objects.get(pk=waiting).timings
