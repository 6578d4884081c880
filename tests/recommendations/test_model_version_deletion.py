"""A deleted model version's artefact files go with it, once its deletion commits."""

from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import reverse

from recommendations.models import ModelVersion
from recommendations.services.model_versions import model_versions_delete
from recommendations.serving import artefacts

# The files must go only after a real commit: each test commits, as the admin does.
pytestmark = pytest.mark.django_db(transaction=True)


def _stored_version(*, key: str | None = None) -> ModelVersion:
    """A retired version with real artefact files in the test's MEDIA_ROOT."""
    version = ModelVersion.objects.create(
        scope=ModelVersion.Scope.GLOBAL, status=ModelVersion.Status.RETIRED
    )
    version.artefact_key = key or artefacts.artefact_key(version.pk)
    version.save(update_fields=["artefact_key"])
    for name in (*artefacts.ARTEFACT_NAMES, artefacts.ROW_RANKER):
        artefacts.artefact_write(version.artefact_key, name, lambda f: f.write(b"PK\x03\x04"))
    return version


def _files(version: ModelVersion) -> list[str]:
    folder = Path(settings.MEDIA_ROOT) / version.artefact_key
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_files_go_only_once_the_deletion_commits():
    # given: two stored versions
    gone, kept = _stored_version(), _stored_version()
    assert len(_files(gone)) == 6

    # when: one is deleted, in a transaction
    with transaction.atomic():
        assert model_versions_delete(versions=ModelVersion.objects.filter(pk=gone.pk)) == 1
        # then: until the commit its files are still there (a rollback would need them)
        assert len(_files(gone)) == 6

    # then: committed, its files and its folder are gone; the other version's stay
    assert _files(gone) == []
    assert not (Path(settings.MEDIA_ROOT) / gone.artefact_key).exists()
    assert len(_files(kept)) == 6


def test_a_deletion_rolled_back_keeps_the_files():
    version = _stored_version()

    def delete_then_fail() -> None:
        with transaction.atomic():
            model_versions_delete(versions=ModelVersion.objects.filter(pk=version.pk))
            raise RuntimeError("the admin's request failed after the delete")

    with pytest.raises(RuntimeError):
        delete_then_fail()

    assert ModelVersion.objects.filter(pk=version.pk).exists()
    assert len(_files(version)) == 6


def test_files_another_version_still_names_are_kept():
    # given: two versions naming the same artefact folder
    first = _stored_version()
    second = _stored_version(key=first.artefact_key)

    # when: one of them is deleted
    model_versions_delete(versions=ModelVersion.objects.filter(pk=first.pk))

    # then: the other still loads its files
    assert len(_files(second)) == 6

    # and once no version names them, they go
    model_versions_delete(versions=ModelVersion.objects.filter(pk=second.pk))
    assert _files(second) == []


def test_a_version_without_artefacts_deletes_nothing_else():
    # given: a version still training, its key not yet set, beside a stored one
    ModelVersion.objects.create(scope=ModelVersion.Scope.GLOBAL)
    kept = _stored_version()
    stray = Path(settings.MEDIA_ROOT) / artefacts.INDEX
    stray.write_bytes(b"not a version's")

    model_versions_delete(versions=ModelVersion.objects.filter(artefact_key=""))

    assert stray.exists()
    assert len(_files(kept)) == 6


def test_the_admin_delete_page_removes_the_versions_files(admin_client):
    version, kept = _stored_version(), _stored_version()
    url = reverse("admin:recommendations_modelversion_delete", args=[version.pk])

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not ModelVersion.objects.filter(pk=version.pk).exists()
    assert _files(version) == []
    assert len(_files(kept)) == 6


def test_the_admins_delete_selected_removes_the_versions_files(admin_client):
    first, second, kept = _stored_version(), _stored_version(), _stored_version()

    response = admin_client.post(
        reverse("admin:recommendations_modelversion_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert _files(first) == _files(second) == []
    assert len(_files(kept)) == 6
