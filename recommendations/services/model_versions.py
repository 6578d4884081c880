"""Deleting model versions: the rows now, their artefact files once that commits.

A version's artefacts are files in storage under its ``artefact_key``
(:mod:`recommendations.serving.artefacts`); deleting its row (admin's delete
page or "Delete selected") used to leave them there for good, megabytes a
version, found by nothing. Admin deletes through :func:`model_versions_delete`,
and so should any prune of old versions.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet

from recommendations.models import ModelVersion
from recommendations.serving.artefacts import artefact_delete

logger = logging.getLogger(__name__)


def model_versions_delete(*, versions: QuerySet[ModelVersion]) -> int:
    """Delete ``versions``; their artefact files go after the commit. How many rows went.

    The files are deleted only once the deletion has committed
    (``transaction.on_commit``): a deletion rolled back (a failed admin request, a
    caller's error later in its transaction) leaves a version whose files are all
    still there, which serving or a rollback may load. A folder another version
    still names once the deletion has committed is kept (keys are ``models/<id>``,
    but nothing in the database makes them unique). A file that cannot be deleted
    is logged, not raised: the rows are already gone.
    """
    with transaction.atomic():
        # Locked, so a key set while this runs (a retrain storing its version) is seen.
        keys = set(
            versions.select_for_update()
            .exclude(artefact_key="")
            .values_list("artefact_key", flat=True)
        )
        deleted = versions.delete()[1].get(ModelVersion._meta.label, 0)
        if keys:
            transaction.on_commit(lambda: _artefacts_delete_unnamed(keys), robust=True)
    return deleted


def _artefacts_delete_unnamed(keys: set[str]) -> None:
    """Delete the artefact folders of ``keys`` that no version names now."""
    named = set(
        ModelVersion.objects.filter(artefact_key__in=keys).values_list("artefact_key", flat=True)
    )
    for key in sorted(keys - named):
        artefact_delete(key)
    if keys - named:
        logger.info("deleted the artefacts of %d deleted model version(s)", len(keys - named))


__all__ = ["model_versions_delete"]
