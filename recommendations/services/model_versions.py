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

from recommendations.models import ModelVersion, TrainingRun
from recommendations.serving.artefacts import artefact_delete

logger = logging.getLogger(__name__)


class ModelVersionsInUse(ValueError):
    """Some of the versions asked to be deleted are in use; none of them was deleted."""


#: Runs that may still judge, and so activate, the version they name.
_JUDGING = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)


def model_versions_delete(*, versions: QuerySet[ModelVersion]) -> int:
    """Delete ``versions``; their artefact files go after the commit. How many rows went.

    Refused whole (:class:`ModelVersionsInUse`, nothing deleted) when one of them is in
    use (:func:`_in_use`): deleted, the active version of a scope left its homepages
    failing (503) until staff activated another, and a version a retrain was judging
    failed that retrain. A "delete selected" that half-deleted would leave staff to
    work out which went.

    The files are deleted only once the deletion has committed
    (``transaction.on_commit``): a deletion rolled back (a failed admin request, a
    caller's error later in its transaction) leaves a version whose files are all
    still there, which serving or a rollback may load. A folder another version
    still names once the deletion has committed is kept (keys are ``models/<id>``,
    but nothing in the database makes them unique). A file that cannot be deleted
    is logged, not raised: the rows are already gone.
    """
    with transaction.atomic():
        # Locked, so a key set while this runs (a retrain storing its version) is seen, and
        # so is a status an activation (which locks its scope's versions) changed meanwhile.
        locked = list(
            versions.select_related(None)
            .select_for_update()
            .only(
                "pk", "scope", "region_id", "taste_cluster_id", "status", "metrics", "artefact_key"
            )
        )
        refusals = _in_use(locked)
        if refusals:
            raise ModelVersionsInUse(" ".join(refusals) + " Nothing was deleted.")
        keys = {version.artefact_key for version in locked if version.artefact_key}
        deleted = (
            ModelVersion.objects.filter(pk__in=[version.pk for version in locked])
            .delete()[1]
            .get(ModelVersion._meta.label, 0)
        )
        if keys:
            transaction.on_commit(lambda: _artefacts_delete_unnamed(keys), robust=True)
    return deleted


def _in_use(versions: list[ModelVersion]) -> list[str]:
    """Why each of ``versions`` that is in use must stay, one sentence per kind of use.

    - The active version of its scope: serving reads only that one, and nothing
      activates another by itself (a profile of the scope got a 503 until staff did).
    - A ``training`` or ``ready`` version a retrain still queued or running names
      (``metrics["retrain_runs"]``): the run is fitting or gating it and may activate
      it; deleted, the run failed on a missing row. Once its runs have ended it is
      deletable (the reaper fails such a version that was never judged).
    """
    active = [v for v in versions if v.status == ModelVersion.Status.ACTIVE]
    reasons = []
    if active:
        named = ", ".join(f"#{v.pk} ({v.scope_label})" for v in active)
        if len(active) == 1:
            (version,) = active
            reasons.append(
                f"Version #{version.pk} serves {version.scope_label}: its homepages would fail "
                "until another version were activated. Activate (or roll back to) another "
                "version of that scope first."
            )
        else:
            reasons.append(
                f"Versions {named} serve their scopes: their homepages would fail until other "
                "versions were activated. Activate (or roll back to) others first."
            )
    unjudged = {
        v.pk: runs
        for v in versions
        if v.status in (ModelVersion.Status.TRAINING, ModelVersion.Status.READY)
        and isinstance(runs := (v.metrics or {}).get("retrain_runs"), list)
        and runs
    }
    if unjudged:
        statuses = dict(
            TrainingRun.objects.filter(
                pk__in={run for runs in unjudged.values() for run in runs}, status__in=_JUDGING
            ).values_list("pk", "status")
        )
        for pk, runs in unjudged.items():
            judging = [run for run in runs if run in statuses]
            if judging:
                text = ", ".join(f"run #{run} is {statuses[run]}" for run in judging)
                reasons.append(
                    f"Version #{pk} is being judged by its retrain ({text}): it can be "
                    "deleted once that has ended."
                )
    return reasons


def _artefacts_delete_unnamed(keys: set[str]) -> None:
    """Delete the artefact folders of ``keys`` that no version names now."""
    named = set(
        ModelVersion.objects.filter(artefact_key__in=keys).values_list("artefact_key", flat=True)
    )
    for key in sorted(keys - named):
        artefact_delete(key)
    if keys - named:
        logger.info("deleted the artefacts of %d deleted model version(s)", len(keys - named))


__all__ = ["ModelVersionsInUse", "model_versions_delete"]
