"""Model artefacts in Django storage: one directory per model version, ``.npz`` files only.

Every read, write and delete goes through ``storages["artefacts"]``
(:data:`ARTEFACT_STORAGE`), apart from the public artwork's ``default``. Unless the
environment configures it (``STORAGE_ARTEFACTS_BACKEND``, ``STORAGE_ARTEFACTS_OPTIONS``:
``config.environment.storages``) it is the file system under ``MEDIA_ROOT``, one host's:
web nodes and workers on several machines read the same files only once it names shared
storage, a private bucket for instance (README, Deploying). Every file is written by an
engine estimator's ``save`` into memory first and stored whole; the version row
becomes ``ready`` only after all of them are stored, so a reader never meets a
half-written version. Loading uses ``allow_pickle=False`` (the engine's
``load``), so an artefact can never run code in the web process.
"""

import io
import os
from collections.abc import Callable
from contextlib import suppress
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages

ALS = "als.npz"
CONTENT = "content.npz"
POPULARITY = "popularity.npz"
RANKER = "ranker.npz"
INDEX = "index.npz"
ARTEFACT_NAMES = (INDEX, ALS, CONTENT, POPULARITY, RANKER)
# Stored only when the version's training had logged pages to fit it on.
ROW_RANKER = "row_ranker.npz"


#: The ``STORAGES`` alias of model and artwork policy artefacts: never the public
#: ``default``, whose files a bucket or CDN may serve to anyone.
ARTEFACT_STORAGE = "artefacts"


def artefact_storage() -> Storage:
    """The storage artefacts live in, looked up per call so a settings change is seen."""
    return storages[ARTEFACT_STORAGE]


def artefact_key(version_id: int) -> str:
    """Storage directory of a version's artefacts, e.g. ``models/42``."""
    return f"{settings.TONIGHT['MODEL_ARTEFACT_ROOT'].strip('/')}/{version_id}"


def artefact_write(key: str, name: str, save: Callable[[IO[bytes]], Any]) -> str:
    """Store what ``save(file)`` writes as ``<key>/<name>``; returns the stored path.

    An existing file of that name (a retried write) is replaced, never kept
    beside a renamed copy.
    """
    buffer = io.BytesIO()
    save(buffer)
    storage = artefact_storage()
    path = f"{key}/{name}"
    if storage.exists(path):
        storage.delete(path)
    stored = storage.save(path, ContentFile(buffer.getvalue()))
    if stored != path:  # a storage that renamed instead of replacing would break loading
        raise RuntimeError(f"storage wrote {stored!r} instead of {path!r}")
    return stored


def artefact_read(key: str, name: str) -> io.BytesIO:
    """The bytes of ``<key>/<name>`` in memory, for an engine ``load``."""
    with artefact_storage().open(f"{key}/{name}", "rb") as handle:
        return io.BytesIO(handle.read())


def artefact_delete(key: str) -> None:
    """Remove a version's artefacts (a failed version's leftovers, a flushed demo's versions).

    The row ranker too, and the directory once empty (on a filesystem storage): what a
    deleted version leaves in storage is nobody's, and nothing else removes it.
    """
    storage = artefact_storage()
    for name in (*ARTEFACT_NAMES, ROW_RANKER):
        path = f"{key}/{name}"
        if storage.exists(path):
            storage.delete(path)
    if key and hasattr(storage, "path"):
        with suppress(OSError, NotImplementedError):
            os.rmdir(storage.path(key))
