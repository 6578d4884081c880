"""Deleting model versions: the rows now, their artefact files once that commits.

A version's artefacts are files in storage under its ``artefact_key``
(:mod:`recommendations.serving.artefacts`); deleting its row (admin's delete
page or "Delete selected") used to leave them there for good, megabytes a
version, found by nothing. Admin deletes through :func:`model_versions_delete`,
and so does the nightly prune of old versions (:func:`model_versions_prune`).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingRun
from recommendations.selectors.model_versions import (
    model_versions_expired,
    served_versions_cut,
    unserved_versions_cut,
)
from recommendations.serving.artefacts import artefact_delete

logger = logging.getLogger(__name__)

#: Versions deleted per transaction by the prune: each batch locks its rows and deletes a
#: few files per version once committed.
PRUNE_BATCH = 50


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


def model_versions_prune(*, now: dt.datetime | None = None, batch_size: int = PRUNE_BATCH) -> int:
    """Delete the versions nothing needs any more, with their files; how many went.

    Which ones: :func:`~recommendations.selectors.model_versions.model_versions_expired`.
    Every retrain adds a version and a few megabytes of files to its scope, and until this
    nothing but staff deleted any. Through :func:`model_versions_delete`, ``batch_size`` at
    a time, each batch committed (and its files deleted) on its own: a prune stopped half-way
    keeps what it deleted. Each batch is read again under its lock with the rule's bounds,
    so a version rolled back to after it was chosen (activated again, its ``activated_at``
    now recent) is not deleted under the rollback.
    """
    now = now or timezone.now()
    expired = model_versions_expired(now=now)
    still = Q(status=ModelVersion.Status.RETIRED) & (
        Q(activated_at__lt=served_versions_cut(now=now)) | Q(activated_at__isnull=True)
    )
    still |= Q(
        status__in=(ModelVersion.Status.REJECTED, ModelVersion.Status.FAILED),
        created_at__lt=unserved_versions_cut(now=now),
    )
    deleted = 0
    for start in range(0, len(expired), batch_size):
        batch = expired[start : start + batch_size]
        deleted += model_versions_delete(versions=ModelVersion.objects.filter(still, pk__in=batch))
    if deleted:
        logger.info("pruned %d model version(s) past their keep", deleted)
    return deleted


__all__ = ["ModelVersionsInUse", "model_versions_delete", "model_versions_prune"]
