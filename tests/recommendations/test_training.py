"""Training model versions: the data adapter, artefacts in storage, atomic activation."""

import datetime as dt
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.models import MaturityLevel
from recommendations import progress
from recommendations.engine.confidence import SignalCode
from recommendations.engine.ranking import FEATURE_NAMES, PlayRanker
from recommendations.management.interrupts import Terminated
from recommendations.models import ModelVersion, Signal, TrainingRun
from recommendations.selectors import training as data
from recommendations.services import training as training_service
from recommendations.services.model_versions import model_versions_delete
from recommendations.services.retraining import training_runs_reap
from recommendations.services.signals import signal_batch_record
from recommendations.services.training import (
    RankerExamples,
    model_train,
    model_version_activate,
)
from recommendations.serving import artefacts
from recommendations.serving.bundle import ServingBundle
from recommendations.serving.cache import model_cache
from recommendations.signal_events import SignalEvent
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    CreditFactory,
    EpisodeFactory,
    GenreFactory,
    LanguageFactory,
    PersonFactory,
    ProfileFactory,
    RegionFactory,
    SeasonFactory,
    TagFactory,
    TasteClusterFactory,
    TitleFactory,
)
from tests.module_world import module_world, the_module_world
from tests.terminals import FakeTerminal

pytestmark = pytest.mark.django_db
NOW = timezone.now()
GENRES = ("action", "romance", "comedy")


@pytest.fixture(autouse=True)
def _fresh_serving(settings):
    """Every request asks which version is active, and re-reads the catalogue."""
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 0,
        "CATALOGUE_REFRESH_SECONDS": 0,
    }
    model_cache.clear()
    yield
    model_cache.clear()


def record(
    profile,
    kind: str,
    title,
    *,
    days_ago: float = 1.0,
    at: dt.datetime | None = None,
    episode=None,
    value=None,
    page_id=None,
) -> None:
    """Store one signal through the ingest service (so the derived title state follows).

    ``title`` is a title or its id; ``at``, when given, is the moment instead of
    ``days_ago`` before ``NOW``.
    """
    signal_batch_record(
        profile=profile,
        events=[
            SignalEvent(
                index=0,
                kind=kind,
                title_id=getattr(title, "pk", title),
                episode_id=episode.pk if episode else None,
                value=value,
                device="tv",
                occurred_at=at or NOW - dt.timedelta(days=days_ago),
                client_event_id=uuid.uuid4(),
                page_id=page_id,
                row="",
                position=None,
                artwork_variant_id=None,
            )
        ],
    )


def watch(profile, title, *, days_ago: float = 1.0) -> None:
    record(profile, "play_start", title, days_ago=days_ago + 0.01)
    record(profile, "complete", title, days_ago=days_ago)


@dataclass
class World:
    region: object
    titles: dict[str, list]  # genre -> its four films
    fans: list  # other profiles, each a fan of one genre

    def all_titles(self) -> list:
        return [t for films in self.titles.values() for t in films]


def build_world() -> World:
    """Three genres of four films each, alike within a genre (genre, tag, director).

    Two fans per genre, in their own households, watched every film of their
    genre, so the collaborative model, the content model and trending all have
    structure to find.
    """
    region = RegionFactory()
    english = LanguageFactory()
    titles: dict[str, list] = {}
    for genre_slug in GENRES:
        genre = GenreFactory(slug=genre_slug)
        tag = TagFactory(slug=f"{genre_slug}-tag")
        director = PersonFactory(name=f"{genre_slug} director")
        films = []
        for i in range(4):
            title = TitleFactory(original_name=f"{genre_slug} {i}", original_language=english)
            title.genres.add(genre)
            title.tags.add(tag)
            CreditFactory(title=title, person=director, role="director")
            AvailabilityFactory(title=title, region=region)
            films.append(title)
        titles[genre_slug] = films
    fans = []
    for genre_slug in GENRES:
        for n in range(2):
            fan = ProfileFactory(account=AccountFactory(home_region=region), name=f"fan {n}")
            for i, title in enumerate(titles[genre_slug]):
                watch(fan, title, days_ago=2 + i + n)
            fans.append(fan)
    return World(region=region, titles=titles, fans=fans)


# Built once for the module (tests/module_world.py), not for each of its tests.
_world = module_world(build_world, folder="world")


@pytest.fixture
def world(_world, settings, db) -> World:
    return the_module_world(settings, _world)


# --- The data adapter -------------------------------------------------------------------------


def test_completion_hours_weigh_a_finished_season_by_its_runtime():
    # given: one profile, a film (title 0) and a 3-episode season (title 1) of 30-minute episodes
    episodes = data.EpisodeTable(
        episode_ids=np.array([10, 11, 12], dtype=np.int64),
        season_index=np.array([0, 0, 0], dtype=np.int32),
        runtime_hours=np.array([0.5, 0.5, 0.5], dtype=np.float32),
        season_hours=np.array([1.5], dtype=np.float32),
        season_size=np.array([3], dtype=np.int32),
    )
    complete, play = SignalCode.COMPLETE, SignalCode.PLAY_START
    # when: the film, then episodes 10, 11, 10 again and 12 are completed, with a play between
    hours = data.completion_hours(
        profile_index=np.zeros(6, dtype=np.int32),
        title_index=np.array([0, 1, 1, 1, 1, 1], dtype=np.int32),
        episode_id=np.array([-1, 10, 11, 10, -1, 12], dtype=np.int64),
        kind=np.array([complete, complete, complete, complete, play, complete], dtype=np.int8),
        timestamp=np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        episodes=episodes,
        title_runtime_hours=np.array([2.0, 0.5], dtype=np.float32),
    )
    # then: the film counts its runtime, episodes theirs, and the season's last episode the season
    assert hours[0] == pytest.approx(2.0)
    assert hours[1:4] == pytest.approx([0.5, 0.5, 0.5])
    assert np.isnan(hours[4])
    assert hours[5] == pytest.approx(1.5)


def test_signals_load_as_arrays_with_dense_indices_and_rewatch_flags(world):
    fan = world.fans[0]
    title = world.titles["action"][0]
    record(fan, "play_start", title, days_ago=0.5)  # after its completion: a rewatch

    titles = data.title_ids()
    facts = data.catalogue_facts(titles)
    signals = data.training_signals(
        titles=titles, episodes=data.episode_table(), title_runtime_hours=facts.runtime_hours
    )

    assert signals.n_titles == 12
    assert signals.n_profiles == len(world.fans)
    assert list(signals.profile_ids) == sorted(p.pk for p in world.fans)
    mine = signals.profile_index == list(signals.profile_ids).index(fan.pk)
    on_title = signals.title_index == list(titles).index(title.pk)
    plays = mine & on_title & (signals.kind == SignalCode.PLAY_START)
    assert sorted(signals.rewatch[plays]) == [False, True]
    completions = mine & on_title & (signals.kind == SignalCode.COMPLETE)
    assert signals.commitment_hours[completions] == pytest.approx([110 / 60])


def test_a_season_completed_through_the_log_weighs_the_season(world):
    series = TitleFactory(kind="series", runtime_minutes=30)
    AvailabilityFactory(title=series, region=world.region)
    season = SeasonFactory(title=series, number=1)
    episodes = [EpisodeFactory(season=season, number=n, runtime_minutes=30) for n in (1, 2, 3)]
    fan = world.fans[0]
    for i, episode in enumerate(episodes):
        record(fan, "complete", series, episode=episode, days_ago=3 - i)

    titles = data.title_ids()
    facts = data.catalogue_facts(titles)
    signals = data.training_signals(
        titles=titles, episodes=data.episode_table(), title_runtime_hours=facts.runtime_hours
    )
    on_series = signals.title_index == list(titles).index(series.pk)
    hours = signals.commitment_hours[on_series & (signals.kind == SignalCode.COMPLETE)]
    assert sorted(hours) == pytest.approx([0.5, 0.5, 1.5])


def test_title_features_group_genres_first_and_link_alike_titles(world):
    titles = data.title_ids()
    features = data.title_features(titles)
    assert features.matrix.shape[0] == 12
    assert features.n_genres == 3
    genres = features.genre_table()
    assert genres.sum(axis=1).tolist() == [1.0] * 12
    first, second = (list(titles).index(t.pk) for t in world.titles["action"][:2])
    other = list(titles).index(world.titles["comedy"][0].pk)
    rows = features.matrix.toarray()
    assert (rows[first] * rows[second]).sum() > (rows[first] * rows[other]).sum()


def test_availability_windows_are_evaluated_at_any_instant(world):
    late = TitleFactory()
    AvailabilityFactory(
        title=late, region=world.region, starts_at=NOW + dt.timedelta(days=3), ends_at=None
    )
    titles = data.title_ids()
    windows = data.availability_windows(titles)
    at = list(titles).index(late.pk)
    assert not windows.available(NOW.timestamp(), world.region.code)[at]
    assert windows.available((NOW + dt.timedelta(days=4)).timestamp(), world.region.code)[at]
    assert not windows.available((NOW + dt.timedelta(days=4)).timestamp(), "ZZ")[at]


# --- Training, storage and activation ---------------------------------------------------------


def test_training_stores_every_artefact_and_activates_the_version(world):
    version = model_train(region_code=world.region.code)

    assert version.status == ModelVersion.Status.ACTIVE
    assert version.scope == ModelVersion.Scope.REGION
    assert version.serving_mode == "prior"
    assert version.artefact_key == f"models/{version.pk}"
    assert version.n_profiles == len(world.fans)
    assert version.n_titles == 12
    assert version.n_interactions > 0
    assert set(version.metrics["seconds"]) >= {"read", "als", "content", "store"}
    for name in artefacts.ARTEFACT_NAMES:
        path = f"{version.artefact_key}/{name}"
        assert default_storage.exists(path)
        with default_storage.open(path, "rb") as handle:
            assert handle.read(2) == b"PK"  # a zip of .npy arrays, never a pickle
    ranker = PlayRanker.load(artefacts.artefact_read(version.artefact_key, artefacts.RANKER))
    assert ranker.mode == "prior"


def test_a_versions_seconds_count_the_page_logs_it_read(world):
    # The console's "Training seconds (stages summed)" adds these up: reading the page
    # logs was left out, and on the demo it was most of a learned version's time (the
    # command said 32.5 s, the chart 7.7 s).
    version = model_train(region_code=world.region.code)
    given = model_train(region_code=world.region.code, ranker_examples=synthetic_examples())

    assert "page_logs" in version.metrics["seconds"]
    assert "page_logs" not in given.metrics["seconds"]  # nothing read: the caller gave them


def test_a_new_version_retires_the_previous_one_of_its_scope_only(world):
    global_version = model_train(region_code=None)
    first = model_train(region_code=world.region.code)
    second = model_train(region_code=world.region.code)

    statuses = dict(ModelVersion.objects.values_list("pk", "status"))
    assert statuses == {
        global_version.pk: "active",
        first.pk: "retired",
        second.pk: "active",
    }
    assert second.activated_at is not None

    # Rolling back is activating a retired version.
    model_version_activate(version=first)
    statuses = dict(ModelVersion.objects.values_list("pk", "status"))
    assert (statuses[first.pk], statuses[second.pk]) == ("active", "retired")


def test_the_database_refuses_two_active_versions_in_one_scope(world):
    model_train(region_code=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(scope="global", status="active")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.create(scope="global", region=world.region)


def test_only_a_complete_version_can_be_activated(world):
    half_written = ModelVersion.objects.create(scope="global")
    with pytest.raises(ValueError, match="training"):
        model_version_activate(version=half_written)


def test_a_failed_training_changes_nothing_that_is_served(world, monkeypatch):
    active = model_train(region_code=world.region.code)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(training_service, "model_version_store", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        model_train(region_code=world.region.code)

    failed = ModelVersion.objects.exclude(pk=active.pk).get()
    assert failed.status == "failed"
    assert "disk full" in failed.error
    active.refresh_from_db()
    assert active.status == "active"


def test_a_version_the_reaper_failed_while_it_trained_stays_failed_and_is_never_served(
    world,
):
    # given: a version serves, and a retrain run's worker trains the next one, alive, but
    # with a heartbeat the reaper judges stale
    active = model_train(region_code=world.region.code)
    long_ago = timezone.now() - dt.timedelta(hours=1)
    run = TrainingRun.objects.create(
        region=world.region, taste_cluster=TasteClusterFactory(region=world.region)
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, started_at=long_ago, heartbeat_at=long_ago, attempts=1
    )

    # and: the reaper fails the run, and the version it names, as the fit is being stored
    def reaped_as_it_stores(stage: str) -> None:
        if stage == "store":
            assert training_runs_reap() == 1

    # when: the fit ends (and would activate what it made)
    with pytest.raises(training_service.VersionFailedWhileTraining, match="lost its worker"):
        model_train(
            region_code=world.region.code,
            stage=reaped_as_it_stores,
            metrics={"retrain_runs": [run.pk]},
        )

    # then: the version stays failed, with the reaper's reason, and its artefacts are gone
    version = ModelVersion.objects.exclude(pk=active.pk).get()
    assert (version.status, version.error) == (
        ModelVersion.Status.FAILED,
        f"Run #{run.pk} lost its worker.",
    )
    assert not default_storage.exists(f"{version.artefact_key}/{artefacts.INDEX}")

    # and: what served still serves, and the failed version can never be activated
    active.refresh_from_db()
    assert active.status == ModelVersion.Status.ACTIVE
    with pytest.raises(ValueError, match="is failed; it cannot be activated"):
        model_version_activate(version=version)


def test_a_fit_that_raises_after_the_reaper_failed_its_version_keeps_the_reapers_reason(
    world, monkeypatch
):
    # given: a retrain run's version, failed by the reaper (stale heartbeat) while it trains
    long_ago = timezone.now() - dt.timedelta(hours=1)
    run = TrainingRun.objects.create(
        region=world.region, taste_cluster=TasteClusterFactory(region=world.region)
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, started_at=long_ago, heartbeat_at=long_ago, attempts=1
    )

    def reaped_then_broken(*, version, models) -> None:
        assert training_runs_reap() == 1
        raise RuntimeError("disk full")

    monkeypatch.setattr(training_service, "model_version_store", reaped_then_broken)

    # when: the worker, alive after all, fails to store the fit
    with pytest.raises(RuntimeError, match="disk full"):
        model_train(region_code=world.region.code, metrics={"retrain_runs": [run.pk]})

    # then: the reaper's reason comes first, the fit's after it
    version = ModelVersion.objects.get(metrics__retrain_runs=[run.pk])
    assert version.status == ModelVersion.Status.FAILED
    assert version.error == f"Run #{run.pk} lost its worker. Then: RuntimeError: disk full"


def synthetic_examples(n: int = 6000, seed: int = 0) -> RankerExamples:
    """Logged impressions whose plays follow the CF score: enough for a learned ranker."""
    rng = np.random.default_rng(seed)
    features = rng.random((n, len(FEATURE_NAMES))).astype(np.float32)
    cf = FEATURE_NAMES.index("cf_score")
    labels = rng.random(n) < 0.05 + 0.5 * features[:, cf]
    return RankerExamples(features=features, labels=labels)


def test_logged_impressions_switch_the_ranker_from_prior_to_learned(world):
    version = model_train(region_code=world.region.code, ranker_examples=synthetic_examples())
    assert version.serving_mode == "learned"
    ranker = PlayRanker.load(artefacts.artefact_read(version.artefact_key, artefacts.RANKER))
    assert ranker.mode == "learned"


def test_train_models_command_trains_global_and_each_region(world):
    out = StringIO()
    call_command("train_models", stdout=out, stderr=StringIO())
    assert "global: version #" in out.getvalue()
    assert f"{world.region.code}: version #" in out.getvalue()
    assert ModelVersion.objects.filter(status="active").count() == 2


def test_train_models_keeps_its_clock_running_through_a_step_that_reports_nothing(
    world, monkeypatch
):
    # given: a content fit that lasts until the bar has been drawn three times with nothing
    # new to say (a fit is one call: it reports nothing until it ends), the clock ticking fast
    monkeypatch.setattr(progress, "CLOCK_SECONDS", 0.01)
    err = FakeTerminal()  # the bar a terminal shows
    drawn = f"{world.region.code}: content ["
    fit = training_service.content_fit

    def long_fit(*args, **kwargs):
        deadline = time.monotonic() + 20.0  # a failure, not a wait: three ticks take 30 ms
        while err.getvalue().count(drawn) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        return fit(*args, **kwargs)

    monkeypatch.setattr(training_service, "content_fit", long_fit)

    # when
    call_command("train_models", "--region", world.region.code, stdout=StringIO(), stderr=err)

    # then: the bar was drawn again while the step ran, its elapsed time moving; until
    # December 2026 it was drawn once as the step began, then stood still (a minute of
    # "content [00:12]" on a large catalogue, as if the command had hung)
    assert err.getvalue().count(drawn) >= 3
    # and: the step counts what it does, once it can: the content model's titles
    titles = len(data.title_ids())
    assert f"{world.region.code}: content {titles}/{titles} titles" in err.getvalue()


def test_train_models_off_a_terminal_writes_a_line_per_stage_naming_it(world):
    # given: stderr that is not a terminal (cron, `docker compose logs`, a pipe)
    err = StringIO()

    # when
    call_command("train_models", "--region", world.region.code, stdout=StringIO(), stderr=err)

    # then: a plain line per stage, each naming the scope and the stage; until December
    # 2026 the bar was redrawn in place (a carriage return each), its clock twice a second
    written = err.getvalue()
    assert "\r" not in written
    lines = written.splitlines()
    assert all(re.match(rf"{world.region.code}: [a-z ]+", line) for line in lines), lines
    assert f"{world.region.code}: als [" in written
    assert Counter(line.split(" [")[0] for line in lines).most_common(1)[0][1] == 1


def test_train_models_at_a_past_moment_trains_on_what_was_known_then(world):
    # given: the fans' plays spread over the last week
    at = timezone.now() - dt.timedelta(days=4.5)
    known = Signal.objects.filter(occurred_at__lt=at).count()
    assert 0 < known < Signal.objects.count()

    # when: the region's model is trained as of four and a half days ago
    call_command(
        "train_models", "--region", world.region.code, "--at", at.isoformat(), stdout=StringIO()
    )

    # then: it learned from the signals before that moment only
    version = ModelVersion.objects.get(status="active", region=world.region)
    assert version.n_signals == known


def test_train_models_refuses_a_moment_it_cannot_read_or_from_the_future(world):
    with pytest.raises(CommandError, match="--at: 'last tuesday' is not an ISO 8601"):
        call_command("train_models", "--at", "last tuesday")
    tomorrow = (timezone.now() + dt.timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match=r"--at: .* is in the future"):
        call_command("train_models", "--at", tomorrow)
    assert not ModelVersion.objects.exists()


def test_train_models_refuses_a_window_without_signals_and_keeps_the_active_model(world):
    # given: a served model, and a clock a year before every signal
    call_command("train_models", "--region", world.region.code, stdout=StringIO())
    active = ModelVersion.objects.get(status="active", region=world.region)
    long_ago = (timezone.now() - dt.timedelta(days=800)).date().isoformat()

    # when / then: it says where the signals are, and trains (and activates) nothing
    with pytest.raises(CommandError, match=r"no signals in the training window .* --at "):
        call_command("train_models", "--region", world.region.code, "--at", long_ago)
    assert list(ModelVersion.objects.filter(status="active", region=world.region)) == [active]
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize(
    ("command", "arguments", "message"),
    [
        ("train_models", ["--seed", "-1"], "--seed: -1 is not a whole number from 0 to 4294967295"),
        ("train_models", ["--at", "0001-01-01"], "--at: 0001-01-01T00:00:00+00:00 is before 1990"),
        ("seed_demo", ["--as-of", "2999-01-01"], "--as-of: 2999-01-01 is not a day from 1990"),
        ("seed_demo", ["--seed", "-1"], "--seed: -1 is not a whole number from 0"),
        ("simulate_traffic", ["--until", "1970-01-02"], "is before 1990-01-01"),
        ("evaluate_artwork_policy", ["--days", "nan"], "--days: nan is not a number above 0"),
        (
            "evaluate_artwork_policy",
            ["--max-impressions", "-1"],
            "-1 is not a whole number from 1 up",
        ),
        ("retrain", ["--region", "IN", "--timeout", "0"], "--timeout: 0 is not a number above"),
        # An option that only means something beside another was ignored without it: the
        # operator's "--timeout 60" or "--no-tune" had no effect, and nothing said so.
        ("retrain", ["--region", "IN", "--timeout", "60"], "--timeout needs --wait"),
        ("evaluate_recommendations", ["--no-tune"], "--no-tune needs --by-cluster"),
        # Read as no region at all, it evaluated every region's households.
        ("evaluate_recommendations", ["--region", " "], "--region is empty"),
        # --all trained every region, the --region named beside it passed over in silence.
        ("train_models", ["--all", "--region", "IN"], "not allowed with argument --all"),
    ],
)
def test_a_commands_bad_argument_is_named_before_it_changes_anything(
    world, command, arguments, message
):
    before = (Signal.objects.count(), ModelVersion.objects.count())

    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(command, *arguments, stdout=StringIO(), stderr=StringIO())

    assert (Signal.objects.count(), ModelVersion.objects.count()) == before


@pytest.mark.parametrize(
    ("interrupt", "status"),
    [(KeyboardInterrupt, 130), (Terminated, 143)],
    ids=["ctrl-c", "sigterm"],
)
def test_an_interrupted_train_models_fails_its_version_and_says_where_it_stopped(
    world, monkeypatch, interrupt, status
):
    # given: the fit stopped by Ctrl-C (or SIGTERM, which the command takes as one)
    def stopped(*args, **kwargs):
        raise interrupt

    monkeypatch.setattr(training_service, "models_fit", stopped)
    code = world.region.code

    # when
    with pytest.raises(CommandError) as raised:
        call_command("train_models", "--region", code, stdout=StringIO(), stderr=StringIO())

    # then: a line saying where it stopped and what serves, not a traceback, the shell's
    # status for the signal, and no version left "training" for ever (no run owns it, so
    # nothing reaped it, and the console listed it as training)
    assert str(raised.value).startswith(f"Interrupted while training {code} (")
    assert "serves as before" in str(raised.value)
    assert raised.value.returncode == status
    assert not ModelVersion.objects.filter(status=ModelVersion.Status.TRAINING).exists()
    (version,) = ModelVersion.objects.filter(region=world.region)
    assert version.status == ModelVersion.Status.FAILED
    assert "Interrupted" in version.error


def test_maturity_facts_are_read_for_the_filters(world):
    adult = TitleFactory(maturity=MaturityLevel.EIGHTEEN)
    facts = data.catalogue_facts(data.title_ids())
    assert facts.maturity.max() == MaturityLevel.EIGHTEEN
    assert facts.maturity[list(data.title_ids()).index(adult.pk)] == 18


# --- The request path's shortcuts agree with the engine ---------------------------------------


def test_the_serving_genre_affinity_is_the_engines_for_the_current_bucket():
    import scipy.sparse as sp

    from recommendations.engine.ranking import hour_bucket, hour_genre_affinity
    from recommendations.serving.scoring import bucket_genre_affinity

    rng = np.random.default_rng(4)
    table = (rng.random((30, 6)) < 0.3).astype(np.float32)
    played = rng.integers(0, 30, size=40)
    buckets = hour_bucket(rng.integers(0, 24, size=40))
    expected = hour_genre_affinity(
        hour_buckets=buckets, title_index=played, title_genres=sp.csr_matrix(table)
    )
    for bucket in range(6):
        got = bucket_genre_affinity(genre_rows=table[played], in_bucket=buckets == bucket)
        assert got == pytest.approx(expected[bucket], abs=1e-6)


def test_artefacts_are_stored_loaded_and_deleted_in_their_own_storage(
    world, settings, tmp_path, django_capture_on_commit_callbacks
):
    # given: the artefacts alias pointed somewhere else than the public artwork's MEDIA_ROOT
    # (a private bucket in production); MEDIA_ROOT empty (the module world's holds the files
    # of this module's other tests)
    settings.MEDIA_ROOT = tmp_path / "media"
    private = tmp_path / "private-artefacts"
    settings.STORAGES = {
        **settings.STORAGES,
        "artefacts": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(private)},
        },
    }

    # when: a version trains, then another replaces it
    first = model_train(region_code=world.region.code)

    # then: its files are there, under their usual key, and nothing is under MEDIA_ROOT
    assert {p.name for p in (private / first.artefact_key).iterdir()} >= set(
        artefacts.ARTEFACT_NAMES
    )
    assert not (Path(settings.MEDIA_ROOT) / first.artefact_key).exists()
    # and: serving loads it from there (the same key, the other storage)
    bundle = ServingBundle.load(version_id=first.pk, artefact_key=first.artefact_key)
    assert bundle.n_titles == 12

    # when: it is retired by the next version and deleted
    second = model_train(region_code=world.region.code)
    with django_capture_on_commit_callbacks(execute=True):
        model_versions_delete(versions=ModelVersion.objects.filter(pk=first.pk))

    # then: its files went from the artefacts storage; the serving version's stay
    assert not (private / first.artefact_key).exists()
    assert (private / second.artefact_key / artefacts.INDEX).is_file()
    assert not (Path(settings.MEDIA_ROOT) / "models").exists()
