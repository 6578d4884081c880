"""Retraining operations without a worker: cluster assignment, the gate, rollback, refusals."""

import math
from io import StringIO

import numpy as np
import pytest
from django.core import checks
from django.core.management import CommandError, call_command
from django.db import connections

from profiles.models import Profile
from recommendations.engine.metrics import critical_value
from recommendations.models import ModelVersion, TrainingRun
from recommendations.services import retraining
from recommendations.services.clusters import profile_clusters_assign
from recommendations.services.retraining import (
    RetrainError,
    gate_passes,
    model_version_rollback,
    training_run_execute,
    training_run_request,
    training_runs_reap,
)
from recommendations.services.retraining.gate import _worse_than_active
from recommendations.services.training import model_train
from recommendations.serving.bundle import ServingBundle
from regions.models import TasteCluster
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TasteClusterFactory,
    TitleFactory,
)
from tests.module_world import in_the_module_world
from tests.recommendations.test_training import build_world, watch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _tasks_run_in_process(monkeypatch) -> None:
    """These tests need no broker: enqueued retrains run in-process (the integration tests
    use a real one)."""
    from config.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)


# --- Cluster assignment ---------------------------------------------------------------------


def test_a_profile_joins_the_cluster_its_viewing_then_its_languages_point_to():
    # given: IN with a Tamil cluster and a default one; Tamil and Hindi films
    region = RegionFactory()
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    hindi = LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    default = TasteClusterFactory(region=region, slug="default", is_default=True)
    tamil_cluster = TasteClusterFactory(region=region, slug="tamil")
    tamil_cluster.languages.add(tamil)
    tamil_films = [TitleFactory(original_language=tamil) for _ in range(4)]
    hindi_films = [TitleFactory(original_language=hindi) for _ in range(4)]
    for title in tamil_films + hindi_films:
        AvailabilityFactory(title=title, region=region)

    def person(name: str, *, cluster=None) -> Profile:
        return ProfileFactory(
            account=AccountFactory(home_region=region), name=name, taste_cluster=cluster
        )

    tamil_viewer = person("watches tamil")  # mostly Tamil, one Hindi film
    for i, title in enumerate([*tamil_films[:3], hindi_films[0]]):
        watch(tamil_viewer, title, days_ago=1 + i)
    moved_away = person("was tamil", cluster=tamil_cluster)  # now watches Hindi only
    for i, title in enumerate(hindi_films):
        watch(moved_away, title, days_ago=1 + i)
    newcomer = person("prefers tamil")  # nothing watched, Tamil among its languages
    newcomer.preferred_languages.add(hindi, tamil)
    person("nothing known")

    # when
    result = profile_clusters_assign(region_code=region.code)

    # then: viewing, then languages, then the default; written back in bulk
    clusters = dict(Profile.objects.values_list("name", "taste_cluster__slug"))
    assert clusters == {
        "watches tamil": "tamil",
        "was tamil": "default",
        "prefers tamil": "tamil",
        "nothing known": "default",
    }
    assert result.counts == {"default": 2, "tamil": 2}
    assert (result.by_viewing, result.by_preference, result.by_default) == (2, 1, 1)
    assert result.changed == 4
    assert default.pk in result.cluster_ids

    # and: a second pass changes nothing
    assert profile_clusters_assign(region_code=region.code).changed == 0


def test_an_assignment_in_a_region_whose_clusters_have_no_default_says_which_holds_everybody(
    caplog,
):
    # given: a region whose default a write that bypassed TasteCluster.save unticked
    region = RegionFactory(code="BR", name="Brazil")
    TasteClusterFactory(region=region, slug="everyone", is_default=True)
    TasteClusterFactory(region=region, slug="drama", name="Drama")
    TasteCluster.objects.filter(region=region).update(is_default=False)
    nobody = ProfileFactory(account=AccountFactory(home_region=region), name="nothing known")

    # when
    with caplog.at_level("WARNING", logger="recommendations.services.clusters"):
        profile_clusters_assign(region_code="BR")

    # then: the first cluster by slug holds everybody no keyed community holds, as before,
    # and the retrain's log says so and what to do
    nobody.refresh_from_db()
    assert nobody.taste_cluster.slug == "drama"
    (record,) = [r for r in caplog.records if "no default" in r.getMessage()]
    assert "BR-Drama holds everybody" in record.getMessage()
    assert "admin" in record.getMessage()


def test_a_cluster_added_to_a_region_whose_profiles_are_in_none_retrains(
    django_capture_on_commit_callbacks,
):
    # given: an imported region (no profile in any cluster) to which staff added its
    # default cluster in admin
    world = build_world()
    model_train(region_code=world.region.code)
    cluster = TasteClusterFactory(region=world.region, slug="default", is_default=True)
    assert not Profile.objects.filter(taste_cluster__isnull=False).exists()

    # when
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain", "--region", world.region.code, stdout=StringIO())

    # then: it retrains; until December 2026 every run of such a region failed with
    # "IndexError: index 0 is out of bounds", reading the stored clusters of profiles
    # that had none
    run = TrainingRun.objects.get()
    assert (run.taste_cluster_id, run.status, run.error) == (
        cluster.pk,
        TrainingRun.Status.SUCCEEDED,
        "",
    )
    assert set(Profile.objects.values_list("taste_cluster", flat=True)) == {cluster.pk}


def test_a_region_with_no_one_to_learn_from_fails_its_run_with_a_reason_not_a_traceback(
    django_capture_on_commit_callbacks, caplog
):
    # given: a region seeded with its cluster before any household lives there (seed_demo's
    # smallest sizes leave US so), and viewing elsewhere
    world = build_world()
    model_train(region_code=world.region.code)
    TasteClusterFactory(region=RegionFactory(code="US", name="United States"), slug="default")

    # when
    with (
        django_capture_on_commit_callbacks(execute=True),
        caplog.at_level("ERROR", logger="recommendations.services.retraining"),
    ):
        call_command("retrain", "--region", "US", stdout=StringIO(), stderr=StringIO())

    # then: the run says why; the log says it in a line, where it printed a traceback (on
    # the operator's terminal when no broker runs it elsewhere) as if the code had failed
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.FAILED
    assert run.error == "RetrainError: Region US has no profiles to learn from."
    (record,) = [r for r in caplog.records if r.name == "recommendations.services.retraining"]
    assert "Region US has no profiles to learn from." in record.getMessage()
    assert record.exc_info is None


def test_a_region_without_taste_clusters_retrains_as_its_default_one(
    django_capture_on_commit_callbacks,
):
    # given: a region as a first start's import leaves it: households and their viewing,
    # served by train_models' region version, and no taste cluster at all
    world = build_world()
    model_train(region_code=world.region.code)
    assert not TasteCluster.objects.exists()

    # when: its retrain is asked for, as its nightly schedule or an operator asks
    out = StringIO()
    # Without a broker the run executes in-process once the request commits.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain", "--region", world.region.code, stdout=out, stderr=StringIO())

    # then: the region gets the default cluster a retrain would put every profile in,
    # and that cluster retrains; until December 2026 nothing ran, the command said
    # nothing and exited 0, and the nightly retrain of such a region never ran either
    cluster = TasteCluster.objects.get()
    assert (cluster.region_id, cluster.slug, cluster.name, cluster.is_default) == (
        world.region.code,
        "default",
        "Everyone",
        True,
    )
    run = TrainingRun.objects.get()
    assert (run.taste_cluster_id, run.status) == (cluster.pk, TrainingRun.Status.SUCCEEDED)
    assert f"run #{run.pk} " in out.getvalue()


def test_staff_asking_to_retrain_a_region_without_clusters_get_its_default_one(admin_client):
    # given: an imported region: households, no taste cluster
    world = build_world()

    # when staff ask the API for the region's retrain, naming no cluster (its default)
    response = admin_client.post(
        "/api/v1/ops/retrains/", {"region": world.region.code}, content_type="application/json"
    )

    # then: the region's default cluster is made and its run queued, as the command's and
    # the nightly retrain's are; it was a 400, "Region IN has no taste cluster default."
    assert response.status_code == 201, response.content
    assert response.json()["cluster"] == "default"
    assert TasteCluster.objects.get().name == "Everyone"


def test_retraining_a_region_with_no_one_in_it_says_so():
    # given: a region added ahead of its launch: no household, no taste cluster
    RegionFactory(code="GB", name="United Kingdom", time_zone="Europe/London")

    # when its retrain is asked for, then the command says why nothing runs (it said
    # nothing and exited 0), and no cluster is made for no one
    with pytest.raises(
        CommandError, match=r"^Region GB has no household and no taste cluster: nothing to"
    ):
        call_command("retrain", "--region", "gb", stdout=StringIO(), stderr=StringIO())
    assert not TasteCluster.objects.exists()


def test_retraining_every_region_when_none_has_anyone_says_so():
    # given: a region added ahead of its launch, and no other
    RegionFactory(code="GB", name="United Kingdom", time_zone="Europe/London")
    stderr = StringIO()

    # when / then: --all says why nothing runs, as --region does for one such region (it
    # printed nothing and exited 0)
    with pytest.raises(
        CommandError, match=r"^No region has a household or a taste cluster: nothing to retrain"
    ):
        call_command("retrain", "--all", stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue() == ""
    assert not TrainingRun.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "refusal"),
    [
        (["--region", "xx"], r"^Unknown region code: XX\.$"),
        (["--region", "in", "--cluster", "klingon"], r"^Region IN has no taste cluster klingon\.$"),
        (["--region", "gb"], r"^Region GB has no household and no taste cluster: nothing to"),
    ],
)
def test_a_retrain_the_command_cannot_ask_for_is_refused_before_any_progress_bar(
    arguments, refusal
):
    # given: IN with a cluster, and GB with no one in it
    TasteClusterFactory(region=RegionFactory(), slug="tamil", name="Tamil")
    RegionFactory(code="GB", name="United Kingdom", time_zone="Europe/London")
    stderr = StringIO()

    # when / then: the error alone, no "retraining: 0/1 clusters" bar drawn and wiped before it
    with pytest.raises(CommandError, match=refusal):
        call_command("retrain", *arguments, stdout=StringIO(), stderr=stderr)
    assert stderr.getvalue() == ""
    assert not TrainingRun.objects.exists()


# --- Runs on a seeded demo ------------------------------------------------------------------


@pytest.fixture
def seeded(_seeded_world, settings) -> None:
    in_the_module_world(settings, _seeded_world)
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_HEARTBEAT_SECONDS": 0.2}


def _queued_run(slug: str = "tamil") -> TrainingRun:
    cluster = TasteCluster.objects.get(region_id="IN", slug=slug)
    return TrainingRun.objects.create(region_id="IN", taste_cluster=cluster)


def test_a_run_records_the_cluster_table_and_activates_only_through_the_gate(seeded, settings):
    # given: the cluster model only has to beat nothing but the active version
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ()}
    run = _queued_run()

    # when
    run = training_run_execute(run_id=run.pk)

    # then
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.progress == 100
    assert run.model_version.status == ModelVersion.Status.ACTIVE
    assert run.model_version.scope == ModelVersion.Scope.CLUSTER
    row = run.metrics["clusters"]["tamil"]
    for model in ("cluster", "region", "global"):
        assert 0.0 <= row[f"ndcg@10_{model}"] <= 1.0
        assert 0.0 <= row[f"recall@20_{model}"] <= 1.0
    assert {"read signals", "assign clusters", "evaluate", "train", "gate"} <= set(run.timings)
    assert run.data_sizes["cluster_profiles"] > 0
    assert run.attempts == 1
    assert run.heartbeat_at is not None
    assert run.finished_at is not None


def test_a_version_worse_than_the_active_one_is_rejected_and_serving_is_unchanged(
    seeded, settings, admin_client
):
    # given: an active Hindi version, and a gate nobody can pass (twice as good as it); the
    # Hindi cluster, whose gate half holds 17 or 18 profiles whichever ids they were given
    # (Tamil's two could hold no hit at all)
    first = training_run_execute(run_id=_queued_run("hindi").pk)
    assert first.status == TrainingRun.Status.SUCCEEDED, first.error
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_GATE_MARGIN": -1.0}

    # when
    second = training_run_execute(run_id=_queued_run("hindi").pk)

    # then
    assert second.status == TrainingRun.Status.REJECTED
    assert "Not better than the active version" in second.error
    assert second.model_version.status == ModelVersion.Status.REJECTED
    active = ModelVersion.objects.get(
        taste_cluster__slug="hindi", status=ModelVersion.Status.ACTIVE
    )
    assert active.pk == first.model_version_id
    gate = second.metrics["gate"]
    assert gate["passed"] is False
    assert gate["active_ndcg@10"] > 0.0  # judged on its own configuration's figure, not zero
    # and: the refusal says how sure it is: the paired standard error and the profiles
    paired = gate["paired"]
    assert paired["profiles"] == second.metrics["clusters"]["hindi"]["gate"]["judged"] >= 17
    assert paired["se"] == 0.0  # the same configuration on the same signals: no spread
    assert f"standard error {paired['se']:.4f} over {paired['profiles']} profiles" in second.error
    assert second.model_version.metrics["gate"] == gate
    # and: so do the run's and the version's admin pages
    said = f"standard error {paired['se']:.4f} over {paired['profiles']} profiles".encode()
    for page in (
        f"/admin/recommendations/trainingrun/{second.pk}/change/",
        f"/admin/recommendations/modelversion/{second.model_version_id}/change/",
    ):
        response = admin_client.get(page)
        assert response.status_code == 200
        assert b"refused: NDCG@10" in response.content
        assert said in response.content


@pytest.mark.parametrize(
    ("margin", "candidate", "active", "refused"),
    [
        (0.02, 0.0, 0.0, False),  # a tie is within any margin that tolerates a drop
        (0.02, 0.49, 0.5, False),
        (0.02, 0.48, 0.5, True),
        (-1.0, 1.0, 0.5, False),  # twice as good
        (-1.0, 0.99, 0.5, True),
        (-1.0, 0.0, 0.0, True),  # no hit for either: no improvement, however small the base
        (-0.005, 0.5, 0.5, True),  # said as "by the 0.5%", not rounded to "by the 0%"
    ],
)
def test_the_gate_asks_a_negative_margin_for_an_improvement(
    settings, margin, candidate, active, refused
):
    # (z 0: the figures alone, as the gate compared them before it was a guardrail)
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_GATE_MARGIN": margin, "RETRAIN_GATE_Z": 0.0}

    reason = _worse_than_active(
        candidate=candidate,
        active=ModelVersion(pk=7),
        active_ndcg=active,
        how="refitted",
        candidate_scores=None,
        active_scores=None,
    ).reason

    assert bool(reason) is refused, reason
    if refused and margin < 0:  # said as the improvement it asked for, not a "-100% margin"
        assert "Not better than the active version" in reason
        assert f"by the {-margin * 100:g}% the gate asks" in reason


@pytest.mark.parametrize("margin", [0.02, 0.0, -0.005, -1.0])
@pytest.mark.parametrize("candidate", [0.0, 0.2, 0.245, 0.25, 0.3, 0.5])
@pytest.mark.parametrize("active", [0.0, 0.25])
@pytest.mark.parametrize("se", [0.0, 0.05, float("nan")])
def test_a_gate_z_of_0_is_the_comparison_of_the_figures_alone(margin, candidate, active, se):
    # the rule before the guardrail, as it was written
    before = candidate >= active * (1.0 - margin) and (candidate > active or margin >= 0)

    passed, _ = gate_passes(candidate=candidate, active=active, margin=margin, z=0.0, se=se)

    assert passed is before


@pytest.mark.parametrize(
    ("margin", "candidate", "active", "se", "passed"),
    [
        # a margin that tolerates a drop: refused only when shown worse than it
        pytest.param(0.02, 0.40, 0.50, 0.06, True, id="lower-within-its-doubt"),
        pytest.param(0.02, 0.40, 0.50, 0.05, False, id="shown-worse"),
        pytest.param(0.0, 0.0, 0.5, float("nan"), True, id="nothing-shown-by-one-profile"),
        pytest.param(0.02, 0.5, 0.5, 0.0, True, id="a-tie"),
        # a negative margin: passed only when the improvement is shown
        pytest.param(-1.0, 1.05, 0.50, 0.02, True, id="shown-twice-as-good"),
        pytest.param(-1.0, 1.05, 0.50, 0.04, False, id="twice-as-good-within-its-doubt"),
        pytest.param(-0.1, 0.0, 0.0, 0.0, False, id="a-tie-is-no-improvement"),
        pytest.param(-0.1, 0.9, 0.5, float("nan"), False, id="nothing-shown-by-one-profile-"),
    ],
)
def test_the_gate_refuses_only_what_it_shows_worse_and_passes_only_what_it_shows_better(
    margin, candidate, active, se, passed
):
    verdict, bound = gate_passes(candidate=candidate, active=active, margin=margin, z=1.64, se=se)

    assert verdict is passed
    if math.isfinite(se):
        moved = 1.64 * se if margin >= 0 else -1.64 * se
        assert bound == pytest.approx(candidate - active * (1 - margin) + moved)


def test_a_refusal_states_the_paired_difference_its_standard_error_and_profiles(settings):
    # given: two configurations' NDCG@10 on the same 4 profiles, the candidate lower on each
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_GATE_MARGIN": 0.02, "RETRAIN_GATE_Z": 1.64}
    ours = np.array([0.1, 0.2, 0.3, 0.4])
    theirs = np.array([0.5, 0.5, 0.7, 0.8])

    # when
    verdict = _worse_than_active(
        candidate=0.25,
        active=ModelVersion(pk=7),
        active_ndcg=0.625,
        how="refitted",
        candidate_scores=ours,
        active_scores=theirs,
    )

    # then: the paired difference (-0.375; the differences' deviation 0.05, so 0.025 over
    # the root of 4) is recorded and said
    assert verdict.paired == {
        "profiles": 4,
        "difference": -0.375,
        "se": 0.025,
        # the rule's own standard error is that of the differences at the margin, and from
        # 4 differences the doubt is the t quantile with 3 degrees of freedom (2.35), not z
        "bound": pytest.approx(
            0.25
            - 0.98 * 0.625
            + critical_value(1.64, 4) * np.std(ours - 0.98 * theirs, ddof=1) / 2,
            abs=1e-5,
        ),
    }
    assert critical_value(1.64, 4) == pytest.approx(2.342, abs=1e-3)
    assert "Worse than the active version #7 by more than the 2% margin" in verdict.reason
    assert "paired difference -0.3750, standard error 0.0250 over 4 profiles, z 1.64, t 2.34" in (
        verdict.reason
    )


@pytest.mark.parametrize("z", [-1.0, float("nan")])
def test_a_negative_gate_z_is_an_error_naming_the_variable(settings, z):
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_GATE_Z": z}

    (error,) = [m for m in checks.run_checks(tags=["retraining"]) if m.id == "tonight.E005"]

    assert error.level == checks.ERROR
    assert "TONIGHT_RETRAIN_GATE_Z is" in error.msg


def test_the_default_gate_z_passes_the_checks():
    assert not [m for m in checks.run_checks(tags=["retraining"]) if m.id == "tonight.E005"]


def test_a_cluster_served_by_its_own_model_trends_with_its_whole_region(
    seeded, settings, monkeypatch
):
    """The "Trending in India" on a cluster's pages is what India started, whichever recipe
    serves the cluster. A version of the "cluster" recipe learns from the cluster's
    signals alone, and counted trending from them too: Hindi viewers' pages read "Trending
    in India" over what Hindi viewers started, and lost "Popular with Hindi viewers", which
    then ranked titles exactly as that row did."""
    # given: Tamil is served by its own model (what its holdout may choose)
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ()}
    monkeypatch.setattr(
        "recommendations.services.retraining.cluster_finish._recipe",
        lambda row, **_: retraining.RecipeChoice("cluster", "forced"),
    )
    tamil = TasteCluster.objects.get(region_id="IN", slug="tamil")

    # when
    run = training_run_execute(run_id=_queued_run().pk)
    region = model_train(region_code="IN", activate=False)

    # then
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.model_version.metrics["hyperparameters"]["recipe"] == "cluster"
    served, whole = (
        ServingBundle.load(version_id=v.pk, artefact_key=v.artefact_key).index
        for v in (run.model_version, region)
    )
    np.testing.assert_allclose(served.region_row("IN"), whole.region_row("IN"), rtol=1e-3)
    np.testing.assert_allclose(served.cluster_row(tamil.pk), whole.cluster_row(tamil.pk), rtol=1e-3)
    assert not np.allclose(served.region_row("IN"), served.cluster_row(tamil.pk))


def test_rollback_serves_an_earlier_version_again(seeded):
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    old = model_train(region_code="IN", cluster=cluster, activate=True)
    new = model_train(region_code="IN", cluster=cluster, activate=True)
    old.refresh_from_db()
    assert (old.status, new.status) == (ModelVersion.Status.RETIRED, ModelVersion.Status.ACTIVE)

    out = StringIO()
    call_command("rollback_model", f"--version={old.pk}", stdout=out)

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.status, new.status) == (ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED)
    assert f"#{old.pk}" in out.getvalue()
    again = StringIO()
    call_command("rollback_model", f"--version={old.pk}", stdout=again)
    assert "is already the active one; nothing changed" in again.getvalue()
    failed = ModelVersion.objects.create(
        scope="cluster", region_id="IN", taste_cluster=cluster, status="failed"
    )
    with pytest.raises(ValueError, match="cannot be activated"):
        model_version_rollback(version=failed)


def test_a_second_request_for_a_busy_cluster_is_refused(seeded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = training_run_request(region_code="IN", cluster_slug="tamil")
        second = training_run_request(region_code="in", cluster_slug="Tamil")
    assert first.status == TrainingRun.Status.QUEUED
    assert second.status == TrainingRun.Status.REJECTED
    assert f"run #{first.pk}" in second.error
    assert len(callbacks) == 1  # only the first was enqueued
    with pytest.raises(RetrainError, match="no taste cluster"):
        training_run_request(region_code="IN", cluster_slug="klingon")


def test_a_run_whose_cluster_is_locked_by_another_worker_is_rejected(seeded):
    # given: another session (another worker) holds the Tamil lock
    run = _queued_run()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)",
                [retraining.LOCK_NAMESPACE, run.taste_cluster_id],
            )
        # when
        run = training_run_execute(run_id=run.pk)
    finally:
        other.close()
    # then
    assert run.status == TrainingRun.Status.REJECTED
    assert "never run at once" in run.error
    assert not ModelVersion.objects.filter(taste_cluster_id=run.taste_cluster_id).exists()


def _holding_the_locks_of(*runs: TrainingRun):
    """Another session, holding the cluster locks of ``runs``, and its pid (close it to let go)."""
    other = connections.create_connection("default")
    with other.cursor() as cursor:
        for run in runs:
            cursor.execute(
                "SELECT pg_advisory_lock(%s, %s)",
                [retraining.LOCK_NAMESPACE, run.taste_cluster_id],
            )
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    return other, pid


def test_a_run_refused_for_a_lock_no_run_holds_names_the_session_holding_it(seeded):
    # given: the Tamil lock is still held by the session of a worker that stopped answering
    # (frozen, or its machine lost: PostgreSQL ends such a session only when its connection
    # times out, hours later), whose run the reaper has failed; a retrain of Hindi runs
    # meanwhile, under a lock of its own session's
    hindi = _queued_run("hindi")
    TrainingRun.objects.filter(pk=hindi.pk).update(status=TrainingRun.Status.RUNNING)
    run = _queued_run()
    other, pid = _holding_the_locks_of(run)
    try:
        # when
        run = training_run_execute(run_id=run.pk)
    finally:
        other.close()

    # then: refused, saying that no retrain runs and which session holds the lock, and how
    # to end it (it said "Another retrain of cluster 2 is running", though none was)
    assert run.status == TrainingRun.Status.REJECTED
    assert "never run at once" in run.error
    assert "No retrain of IN-Tamil is running" in run.error
    assert f"pid {pid}" in run.error
    assert f"pg_terminate_backend({pid})" in run.error


def test_a_run_refused_while_its_regions_batch_holds_the_lock_names_the_batchs_runs(seeded):
    # given: IN's batch still holds the Tamil lock (it holds every cluster's until it ends,
    # Tamil's run already succeeded), and its Hindi run, whose lock it holds too, still trains
    hindi = _queued_run("hindi")
    TrainingRun.objects.filter(pk=hindi.pk).update(status=TrainingRun.Status.RUNNING)
    run = _queued_run()
    other, _ = _holding_the_locks_of(run, hindi)
    try:
        # when
        run = training_run_execute(run_id=run.pk)
    finally:
        other.close()

    # then: refused, naming the batch's running run; no session to end
    assert run.status == TrainingRun.Status.REJECTED
    assert "never run at once" in run.error
    assert f"run #{hindi.pk}" in run.error
    assert "pg_terminate_backend" not in run.error


def test_stale_runs_are_reaped_and_a_finished_run_is_never_run_again(seeded):
    # given: a run left running by a worker that died long ago, with its half-trained version
    # (which names its run from its creation)
    from django.utils import timezone

    long_ago = timezone.now() - timezone.timedelta(hours=1)
    run = _queued_run()
    TrainingRun.objects.filter(pk=run.pk).update(
        status="running", started_at=long_ago, heartbeat_at=long_ago, attempts=1
    )
    half = ModelVersion.objects.create(
        scope="cluster",
        region_id="IN",
        taste_cluster_id=run.taste_cluster_id,
        metrics={"retrain_runs": [run.pk]},
    )

    # when
    reaped = training_runs_reap()

    # then
    run.refresh_from_db()
    half.refresh_from_db()
    assert reaped == 1
    assert run.status == TrainingRun.Status.FAILED
    assert "Worker lost" in run.error
    assert half.status == ModelVersion.Status.FAILED
    # and a redelivered message for it does nothing
    assert training_run_execute(run_id=run.pk).status == TrainingRun.Status.FAILED
    assert not ModelVersion.objects.filter(status="active").exists()


def test_a_redelivered_running_run_is_restarted_then_given_up(seeded, settings):
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ()}
    run = _queued_run()
    TrainingRun.objects.filter(pk=run.pk).update(status="running", attempts=1)
    assert training_run_execute(run_id=run.pk).attempts == 2  # restarted, then finished

    lost = _queued_run("hindi")
    TrainingRun.objects.filter(pk=lost.pk).update(status="running", attempts=2)
    lost = training_run_execute(run_id=lost.pk)
    assert lost.status == TrainingRun.Status.FAILED
    assert "Gave up" in lost.error


# --- Admin, API and commands ------------------------------------------------------------------


def test_admin_lists_runs_charts_them_and_retrains_now(seeded, settings, admin_client):
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ()}
    run = training_run_execute(run_id=_queued_run().pk)

    listing = admin_client.get("/admin/recommendations/trainingrun/")
    page = admin_client.get(f"/admin/recommendations/trainingrun/{run.pk}/change/")

    assert listing.status_code == 200
    assert b"succeeded" in listing.content
    assert page.status_code == 200
    assert b"<svg" in page.content
    assert b"<polyline" in page.content

    response = admin_client.post(
        "/admin/recommendations/trainingrun/",
        {"action": "retrain_now", "_selected_action": [run.pk]},
        follow=True,
    )
    assert response.status_code == 200
    assert TrainingRun.objects.filter(trigger="admin", taste_cluster=run.taste_cluster).exists()


def test_admin_rolls_back_a_model_version(seeded, admin_client):
    cluster = TasteCluster.objects.get(region_id="IN", slug="tamil")
    old = model_train(region_code="IN", cluster=cluster, activate=True)
    model_train(region_code="IN", cluster=cluster, activate=True)

    admin_client.post(
        "/admin/recommendations/modelversion/",
        {"action": "roll_back_to_version", "_selected_action": [old.pk]},
    )

    old.refresh_from_db()
    assert old.status == ModelVersion.Status.ACTIVE


def test_staff_request_a_retrain_and_poll_it(
    seeded, settings, admin_client, client, django_user_model, django_capture_on_commit_callbacks
):
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ()}

    # Without a broker the run executes in-process once the request commits, after the
    # response: the request answers with the queued run, the poll sees it finished.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        created = admin_client.post(
            "/api/v1/ops/retrains/",
            {"region": "in", "cluster": "tamil"},
            content_type="application/json",
        )
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "queued"
    assert len(callbacks) == 1
    run_id = created.json()["id"]
    polled = admin_client.get(f"/api/v1/ops/retrains/{run_id}/")
    assert polled.status_code == 200
    body = polled.json()
    assert (body["region"], body["cluster"]) == ("IN", "tamil")
    assert body["status"] == "succeeded", body["error"]
    active = ModelVersion.objects.get(
        region_id="IN", taste_cluster__slug="tamil", status=ModelVersion.Status.ACTIVE
    )
    assert body["model_version"] == active.pk

    busy = TrainingRun.objects.create(
        region_id="IN", taste_cluster=TasteCluster.objects.get(region_id="IN", slug="hindi")
    )
    refused = admin_client.post(
        "/api/v1/ops/retrains/",
        {"region": "IN", "cluster": "hindi"},
        content_type="application/json",
    )
    assert refused.status_code == 409
    assert f"run #{busy.pk}" in refused.json()["error"]
    # Anonymous is 403 not_authenticated: the staff operations read the admin sign-in alone,
    # which names no WWW-Authenticate scheme for a 401; a signed-in non-staff user is refused.
    anonymous = client.get(f"/api/v1/ops/retrains/{run_id}/")
    assert anonymous.status_code == 403
    assert anonymous.json()["code"] == "not_authenticated"
    client.force_login(django_user_model.objects.create_user("viewer"))
    not_staff = client.get(f"/api/v1/ops/retrains/{run_id}/")
    assert not_staff.status_code == 403
    assert not_staff.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"region": "ZZ"}, "region", "Unknown region code: ZZ."),
        ({"region": "IN", "cluster": "klingon"}, "cluster", "has no taste cluster klingon"),
    ],
)
def test_a_retrain_of_an_unknown_region_or_cluster_names_that_field(
    admin_client, body, field, message
):
    TasteClusterFactory(region=RegionFactory(code="IN"), slug="tamil")

    response = admin_client.post("/api/v1/ops/retrains/", body, content_type="application/json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not TrainingRun.objects.exists()


def test_a_region_added_after_the_schedules_were_installed_gets_its_nightly_retrain(
    django_capture_on_commit_callbacks,
):
    # given: the schedules installed before any data (as compose does on `up`)
    from django_celery_beat.models import PeriodicTask

    call_command("install_schedules", stdout=StringIO())
    assert not PeriodicTask.objects.filter(task="recommendations.retrain_region").exists()

    # when: a region is added (admin, an import)
    with django_capture_on_commit_callbacks(execute=True):
        RegionFactory(code="JP", name="Japan", time_zone="Asia/Tokyo")

    # then: it retrains nightly, in its own night
    task = PeriodicTask.objects.get(name="retrain JP")
    assert (task.args, str(task.crontab.timezone)) == ('["JP"]', "Asia/Tokyo")


def test_retrain_command_and_schedules(seeded, settings, django_capture_on_commit_callbacks):
    from django_celery_beat.models import PeriodicTask

    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_COMPARE_WITH": ()}
    out = StringIO()
    # Without a broker the run executes in-process once the request commits.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("retrain", "--region=IN", "--cluster=tamil", stdout=out)
    assert "queued" in out.getvalue()
    run = TrainingRun.objects.get(trigger="command")
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    with pytest.raises(CommandError, match="Unknown region"):
        call_command("retrain", "--region=ZZ", stdout=StringIO())

    call_command("install_schedules", stdout=StringIO())
    call_command("install_schedules", stdout=StringIO())
    task = PeriodicTask.objects.get(name="retrain IN")
    assert task.task == "recommendations.retrain_region"
    assert task.crontab.timezone.key == "Asia/Kolkata"
    assert PeriodicTask.objects.filter(task="recommendations.reap_training_runs").count() == 1
