"""``STORAGES`` from the environment: the public artwork's ``default`` and the private
``artefacts`` (config.environment.storages)."""

import json
import runpy
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

ROOT = Path(__file__).resolve().parent.parent
FILE_SYSTEM = "django.core.files.storage.FileSystemStorage"
VARIABLES = (
    "STORAGE_DEFAULT_BACKEND",
    "STORAGE_DEFAULT_OPTIONS",
    "STORAGE_ARTEFACTS_BACKEND",
    "STORAGE_ARTEFACTS_OPTIONS",
)


def storages_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    """``STORAGES`` as ``config/settings.py`` reads it with ``env`` and no other storage
    variable set."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))["STORAGES"]


def test_unset_both_are_the_file_system_under_media_root_as_before(monkeypatch) -> None:
    # Existing deployments and the demo: no options, so the location is MEDIA_ROOT's and an
    # artefact key (models/42) names the same file it always did.
    storages = storages_from_env(monkeypatch)

    assert storages["default"] == {"BACKEND": FILE_SYSTEM}
    assert storages["artefacts"] == {"BACKEND": FILE_SYSTEM}
    # Blank, as compose passes a variable left out, is unset.
    assert storages_from_env(monkeypatch, STORAGE_ARTEFACTS_BACKEND=" ")["artefacts"] == {
        "BACKEND": FILE_SYSTEM
    }


def test_each_alias_takes_its_backend_and_options(monkeypatch) -> None:
    private = {"location": "/srv/tonight/artefacts", "base_url": None}
    storages = storages_from_env(
        monkeypatch,
        STORAGE_DEFAULT_OPTIONS=json.dumps({"location": "/srv/tonight/art"}),
        STORAGE_ARTEFACTS_BACKEND=f" {FILE_SYSTEM} ",
        STORAGE_ARTEFACTS_OPTIONS=json.dumps(private),
    )

    assert storages["default"] == {
        "BACKEND": FILE_SYSTEM,
        "OPTIONS": {"location": "/srv/tonight/art"},
    }
    assert storages["artefacts"] == {"BACKEND": FILE_SYSTEM, "OPTIONS": private}
    assert "staticfiles" in storages


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("STORAGE_DEFAULT_BACKEND", "storages.backends.nowhere.S3", id="no-module"),
        pytest.param("STORAGE_ARTEFACTS_BACKEND", "FileSystemStorage", id="no-dots"),
        pytest.param("STORAGE_ARTEFACTS_BACKEND", "django.core.files.storage.", id="no-class"),
    ],
)
def test_a_backend_that_cannot_be_imported_stops_the_start_naming_it(
    monkeypatch, name, value
) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        storages_from_env(monkeypatch, **{name: value})

    message = str(error.value)
    assert message.startswith(f"{name}={value!r} is not the dotted path")
    assert "django-storages[s3]" in message
    assert FILE_SYSTEM in message  # the default to unset it for


@pytest.mark.parametrize(
    "value",
    [
        pytest.param('{"secret_key": "hunter2"', id="not-json"),
        pytest.param('["secret_key", "hunter2"]', id="not-an-object"),
        pytest.param('"hunter2"', id="a-string"),
    ],
)
@pytest.mark.parametrize("name", ["STORAGE_DEFAULT_OPTIONS", "STORAGE_ARTEFACTS_OPTIONS"])
def test_options_that_are_not_a_json_object_stop_the_start_naming_them(
    monkeypatch, name, value
) -> None:
    with pytest.raises(ImproperlyConfigured) as error:
        storages_from_env(monkeypatch, **{name: value})

    message = str(error.value)
    assert message.startswith(f"{name} is not a JSON object")
    # Options may hold a bucket's keys: the error, in a log, does not repeat them.
    assert "hunter2" not in message


def test_artefacts_may_not_share_the_public_artworks_bucket(monkeypatch) -> None:
    # A backend importable here stands for S3Storage (django-storages is not installed).
    bucket = "django.core.files.storage.InMemoryStorage"
    same = {
        "STORAGE_DEFAULT_BACKEND": bucket,
        "STORAGE_DEFAULT_OPTIONS": '{"location": "art"}',
        "STORAGE_ARTEFACTS_BACKEND": bucket,
        "STORAGE_ARTEFACTS_OPTIONS": '{"location": "art"}',
    }
    with pytest.raises(ImproperlyConfigured, match="STORAGE_ARTEFACTS_BACKEND and STORAGE_"):
        storages_from_env(monkeypatch, **same)

    # Another bucket (or prefix) is theirs alone.
    apart = storages_from_env(monkeypatch, **{**same, "STORAGE_ARTEFACTS_OPTIONS": "{}"})
    assert apart["artefacts"] == {"BACKEND": bucket}
