"""The reaper: the runs that will never finish by themselves (a lost worker, a lost
message) and the versions left unjudged after their runs ended.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining.configuration import (
    queued_seconds,
    retrain_queue,
    stale_seconds,
)
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.runs import (
    ACTIVE_STATUSES,
    _fail_unjudged_versions,
    _finish,
    _run_statuses,
    _runs_text,
    _unjudged_linked,
)


def training_runs_reap(
    *, older_than_seconds: float | None = None, queued_for_seconds: float | None = None
) -> int:
    """Fail runs that will never finish by themselves; returns how many.

    - Running runs whose heartbeat went stale (their worker died). The versions
      they left unfinished (``training``) or ungated (``ready``) are failed too:
      none was served, and none may be activated or rolled back to later.
    - Queued runs last queued longer than ``RETRAIN_QUEUED_SECONDS`` ago (``queued_at``:
      their request, or their task's retry): their message was lost or no worker
      listens to their queue, and while one is queued every request for its cluster is
      refused. Not counted from the request: a run put back to queued for its task's
      retry hours after it was asked for would be failed before the retry came.

    Then the versions a retrain left unjudged after its runs had ended
    (:func:`_fail_orphaned_versions`), which no reap of a run finds: not counted.
    """
    now = timezone.now()
    if older_than_seconds is None:
        older_than_seconds = stale_seconds()
    if queued_for_seconds is None:
        queued_for_seconds = queued_seconds()
    cutoff = now - dt.timedelta(seconds=older_than_seconds)
    queued_cutoff = now - dt.timedelta(seconds=queued_for_seconds)
    reaped = 0
    with transaction.atomic():
        stale = list(
            TrainingRun.objects.select_for_update(skip_locked=True).filter(
                Q(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff)
                | Q(status=TrainingRun.Status.QUEUED, queued_at__lt=queued_cutoff)
            )
        )
        for run in stale:
            if run.status == TrainingRun.Status.QUEUED:
                _finish(run, TrainingRun.Status.FAILED, error=_never_started(run))
                reaped += 1
                continue
            _finish(
                run,
                TrainingRun.Status.FAILED,
                error=f"Worker lost: no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S}.",
            )
            _fail_unjudged_versions(run, f"Run #{run.pk} lost its worker.")
            reaped += 1
    _fail_orphaned_versions()
    return reaped


def _never_started(run: TrainingRun) -> str:
    """Why the reaper fails a run still queued: it cannot tell a lost message from a task that
    gave up retrying while the database was away (which could not write that it gave up,
    :func:`training_runs_abandon`), so it names both; a run queued again after an
    interruption says so, with the interruption."""
    queue = retrain_queue(run.region_id)
    if run.attempts:
        return (
            f"Never started again: queued again after attempt {run.attempts} at "
            f"{run.queued_at:%Y-%m-%d %H:%M:%S} and no worker took it since (its task gave up "
            "retrying while the database was away, its message was lost, or no worker listens "
            f"to {queue}). {run.error}"
        ).strip()
    if run.queued_at - run.created_at > dt.timedelta(seconds=1):  # sent again by a retry
        return (
            f"Never started: requested at {run.created_at:%Y-%m-%d %H:%M:%S}, queued again "
            f"for its task's retry at {run.queued_at:%Y-%m-%d %H:%M:%S}, and no worker took "
            f"it since (its task gave up retrying while the database was away, its message "
            f"was lost, or no worker listens to {queue})."
        )
    return (
        f"Never started: queued since {run.queued_at:%Y-%m-%d %H:%M:%S} and no worker took "
        f"it (its message was lost, no worker listens to {queue}, or its task gave up "
        "retrying while the database was away)."
    )


def _fail_orphaned_versions() -> int:
    """Fail the versions whose runs all ended before judging them; returns how many.

    A version created after its run was reaped (the worker lived on) is rejected by
    its worker at best, and one whose gate raised is failed with its run
    (:func:`_execute`); a worker that dies first leaves it ``ready`` for good, since
    no reap of a finished run finds it again, and admin's "activate" takes ``ready``
    versions (for ``train_models --no-activate``). Versions naming no run are
    ``train_models``' own and left alone; so are those a run still queued or running may judge.
    A run never runs again once ended, and activation happens only under a
    running run's lock (:func:`_conclude`, :func:`_fallback_activate`), so a
    version seen here with every run ended can no longer be served by its retrain.
    """
    linked = _unjudged_linked()
    statuses = _run_statuses(pk for runs in linked.values() for pk in runs)
    failed = 0
    for pk, runs in linked.items():
        if any(statuses[run] in ACTIVE_STATUSES for run in runs):
            continue
        error = f"Never judged: its retrain ended without gating it ({_runs_text(statuses, runs)})."
        if ModelVersion.objects.filter(
            pk=pk, status__in=(ModelVersion.Status.TRAINING, ModelVersion.Status.READY)
        ).update(status=ModelVersion.Status.FAILED, error=error):
            logger.warning("Model version %s failed: %s", pk, error)
            failed += 1
    return failed
