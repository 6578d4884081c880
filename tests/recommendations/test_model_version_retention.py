"""The nightly prune of model versions: what serves, what a rollback or the rankers' training
may load and what staff still read stays; the rest goes, with its files."""

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.core.management import call_command
from django.utils import timezone

from recommendations import tasks
from recommendations.models import ModelVersion
from recommendations.selectors.model_versions import model_versions_expired
from recommendations.services import model_versions as model_versions_service
from recommendations.services.model_versions import model_versions_prune
from recommendations.serving import artefacts
from tests.factories import RegionFactory

# Files go only after a real commit, and each batch commits on its own.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = timezone.now()
ACTIVE, RETIRED = ModelVersion.Status.ACTIVE, ModelVersion.Status.RETIRED
REJECTED, FAILED = ModelVersion.Status.REJECTED, ModelVersion.Status.FAILED
READY, TRAINING = ModelVersion.Status.READY, ModelVersion.Status.TRAINING


@pytest.fixture(autouse=True)
def keep(settings):
    """Two retired versions per scope for rollback, rejected and failed ones for 30 days, the
    rankers' 28 days of pages (they reach 28 days, 3 h and 5 min back)."""
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSIONS_KEPT": 2,
        "MODEL_VERSION_KEEP_DAYS": 30,
        "RANKER_LOG_DAYS": 28,
    }


def stored(
    status: str,
    *,
    region=None,
    activated_days_ago: float | None = None,
    created_days_ago: float = 0,
    key: str | None = None,
) -> ModelVersion:
    """A version with real artefact files in the test's MEDIA_ROOT."""
    scope = ModelVersion.Scope.REGION if region else ModelVersion.Scope.GLOBAL
    version = ModelVersion.objects.create(scope=scope, region=region, status=status)
    version.artefact_key = key or artefacts.artefact_key(version.pk)
    version.created_at = NOW - dt.timedelta(days=created_days_ago)
    if activated_days_ago is not None:
        version.activated_at = NOW - dt.timedelta(days=activated_days_ago)
    ModelVersion.objects.filter(pk=version.pk).update(
        artefact_key=version.artefact_key,
        created_at=version.created_at,
        activated_at=version.activated_at,
    )
    for name in (*artefacts.ARTEFACT_NAMES, artefacts.ROW_RANKER):
        artefacts.artefact_write(version.artefact_key, name, lambda f: f.write(b"PK\x03\x04"))
    return version


def files(version: ModelVersion) -> int:
    folder = Path(django_settings.MEDIA_ROOT) / version.artefact_key
    return len(list(folder.iterdir())) if folder.exists() else 0


def remaining() -> set[int]:
    return set(ModelVersion.objects.values_list("pk", flat=True))


def test_the_prune_keeps_what_serves_rolls_back_trains_and_is_read_and_deletes_the_rest():
    # given: the global scope, activated every ten days from 100 days ago until 50
    old = [stored(RETIRED, activated_days_ago=days) for days in (100, 90, 80)]
    rollback = [stored(RETIRED, activated_days_ago=days) for days in (70, 60)]
    serving = stored(ACTIVE, activated_days_ago=50)
    # and a region activated more often: its pages of the last 28 days came from three versions
    region = RegionFactory()
    stopped_before_the_rankers_window = stored(RETIRED, region=region, activated_days_ago=50)
    served_into_it = stored(RETIRED, region=region, activated_days_ago=40)  # until 20 days ago
    region_rollback = [stored(RETIRED, region=region, activated_days_ago=d) for d in (20, 10)]
    region_serving = stored(ACTIVE, region=region, activated_days_ago=5)
    # and versions that never served, old and recent
    unserved_old = [
        stored(REJECTED, created_days_ago=31),
        stored(FAILED, region=region, created_days_ago=40),
    ]
    unserved_recent = [
        stored(REJECTED, created_days_ago=29),
        stored(FAILED, region=region, created_days_ago=1),
    ]
    # and what only staff or a running retrain act on: never pruned, however old
    awaiting = [stored(READY, created_days_ago=100), stored(TRAINING, created_days_ago=100)]

    # when
    assert model_versions_prune(now=NOW) == 6

    # then: the active ones, the two newest retired of each scope, the version that served
    # pages the rankers still learn from, recent unserved ones and the unjudged ones stay
    kept = [
        *rollback,
        serving,
        served_into_it,
        *region_rollback,
        region_serving,
        *unserved_recent,
        *awaiting,
    ]
    assert remaining() == {v.pk for v in kept}
    assert all(files(v) == 6 for v in kept)
    # and what went, went with its files
    for version in [*old, stopped_before_the_rankers_window, *unserved_old]:
        assert files(version) == 0
        assert not (Path(django_settings.MEDIA_ROOT) / version.artefact_key).exists()


def test_rolled_back_to_counts_from_its_last_activation():
    # given: D served, then A, then B; A was rolled back to 30 days ago, C replaced it later
    oldest = stored(RETIRED, activated_days_ago=95)  # D
    rolled_back_to = stored(RETIRED, activated_days_ago=30)  # A, first activated before B
    replaced = stored(RETIRED, activated_days_ago=35)  # B
    newest = stored(RETIRED, activated_days_ago=29.5)  # C
    stored(ACTIVE, activated_days_ago=29.4)

    # then: the two most recently activated retired ones stay (C and A), B and D go
    assert sorted(model_versions_expired(now=NOW)) == sorted([oldest.pk, replaced.pk])
    assert {rolled_back_to.pk, newest.pk} <= remaining()


def test_a_folder_a_kept_version_names_stays():
    gone = stored(REJECTED, created_days_ago=40)
    shares = stored(ACTIVE, activated_days_ago=5, key=gone.artefact_key)

    assert model_versions_prune(now=NOW) == 1

    assert remaining() == {shares.pk}
    assert files(shares) == 6


def test_the_prune_deletes_in_batches_each_committed_on_its_own(settings, monkeypatch):
    settings.TONIGHT = {**settings.TONIGHT, "MODEL_VERSIONS_KEPT": 0}
    expired = [stored(REJECTED, created_days_ago=40 + n) for n in range(5)]
    batches = []
    real_delete = model_versions_service.model_versions_delete

    def delete(*, versions):
        batches.append(sorted(versions.values_list("pk", flat=True)))
        return real_delete(versions=versions)

    monkeypatch.setattr(model_versions_service, "model_versions_delete", delete)

    assert model_versions_prune(now=NOW, batch_size=2) == 5

    assert [len(batch) for batch in batches] == [2, 2, 1]
    assert all(files(v) == 0 for v in expired)


def test_a_version_rolled_back_to_while_the_prune_runs_is_not_deleted(monkeypatch):
    # given: a retired version past every keep, chosen by the prune...
    stored(ACTIVE, activated_days_ago=40)
    for days in (50, 60):
        stored(RETIRED, activated_days_ago=days)
    chosen = stored(RETIRED, activated_days_ago=90)
    expired = model_versions_expired(now=NOW)
    assert expired == [chosen.pk]

    # ... and rolled back to (then replaced again) before the prune deleted it
    ModelVersion.objects.filter(pk=chosen.pk).update(activated_at=timezone.now())
    monkeypatch.setattr(model_versions_service, "model_versions_expired", lambda **kwargs: expired)

    # when
    assert model_versions_prune(now=NOW) == 0

    # then: it stays, a recent rollback's version
    assert ModelVersion.objects.filter(pk=chosen.pk).exists()
    assert files(chosen) == 6


def test_the_task_and_the_command_prune_model_versions():
    stored(ACTIVE, activated_days_ago=5)
    stored(REJECTED, created_days_ago=40)
    stored(FAILED, created_days_ago=50)

    out = StringIO()
    call_command("prune_logs", "--dry-run", stdout=out)
    assert (
        "2 model version(s) no rollback, ranker training or staff need "
        "(TONIGHT_MODEL_VERSIONS_KEPT=2, TONIGHT_MODEL_VERSION_KEEP_DAYS=30)" in out.getvalue()
    )
    assert ModelVersion.objects.count() == 3

    out = StringIO()
    call_command("prune_logs", stdout=out, stderr=StringIO())
    assert "Deleted 0 page log(s)" in out.getvalue()
    assert "2 model version(s) no rollback" in out.getvalue()
    assert ModelVersion.objects.count() == 1

    stored(REJECTED, created_days_ago=40)
    assert tasks.prune_logs()["model_versions"] == 1
    assert ModelVersion.objects.count() == 1


@pytest.mark.parametrize("setting", ["MODEL_VERSIONS_KEPT", "MODEL_VERSION_KEEP_DAYS"])
def test_a_negative_keep_is_an_error(settings, setting):
    settings.TONIGHT = {**settings.TONIGHT, setting: -1}

    (error,) = [m for m in checks.run_checks(tags=["retention"]) if m.id == "tonight.E008"]

    assert f"TONIGHT_{setting}" in error.msg
