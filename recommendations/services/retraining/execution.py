"""A worker's part: start each run of a batch under its cluster lock, run the region's
pipeline, and record each cluster's outcome as it comes; a batch that fails or is stopped
ends its runs here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from recommendations.models import TrainingRun
from recommendations.services.retraining.configuration import heartbeat_seconds
from recommendations.services.retraining.exceptions import RetrainError, RetrainInterrupted
from recommendations.services.retraining.interruptions import (
    _database_interrupted,
    _runs_requeue,
    _time_limit_reached,
)
from recommendations.services.retraining.locks import _cluster_lock, _lock_refusal
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.outcomes import RetrainOutcome, _conclude
from recommendations.services.retraining.pipeline import region_retrain
from recommendations.services.retraining.progress import _Heartbeat, _Reporter, _Reporters
from recommendations.services.retraining.runs import MAX_ATTEMPTS, _fail_unjudged_versions, _finish


def _start(run_id: int, task_id: str, locks: contextlib.ExitStack) -> TrainingRun | None:
    """Take the run's cluster lock and mark it running; ``None`` when it must not run now.

    A finished run is left alone (a redelivered message), a run whose cluster
    is locked by another worker is rejected (if still queued), and a run
    already restarted :data:`MAX_ATTEMPTS` times is failed.
    """
    run = TrainingRun.objects.get(pk=run_id)
    if run.is_finished:
        return None
    acquired = locks.enter_context(_cluster_lock(run.taste_cluster_id))
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.is_finished:
            return None
        if not acquired:
            if run.status == TrainingRun.Status.QUEUED:
                _finish(run, TrainingRun.Status.REJECTED, error=_lock_refusal(run))
            # Running without us holding the lock: its own worker is alive; leave it.
            return None
        if run.status == TrainingRun.Status.RUNNING:  # redelivered: its worker died
            _fail_unjudged_versions(run, f"Run #{run.pk} lost its worker; restarted.")
        if run.attempts >= MAX_ATTEMPTS:
            _finish(
                run,
                TrainingRun.Status.FAILED,
                error=(
                    f"Gave up after {run.attempts} attempts (each was cut short: its worker, "
                    "or its database connection, was lost)."
                ),
            )
            return None
        now = timezone.now()
        TrainingRun.objects.filter(pk=run_id).update(
            status=TrainingRun.Status.RUNNING,
            attempts=run.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            celery_task_id=task_id or run.celery_task_id,
            stage="starting",
            progress=0,
            error="",
            model_version=None,
        )
    run.refresh_from_db()
    return run


def training_run_execute(*, run_id: int, task_id: str = "") -> TrainingRun:
    """Run a queued retrain (the Celery task's body); idempotent, see the module docstring."""
    return training_runs_execute(run_ids=[run_id], task_id=task_id)[0]


def training_runs_execute(*, run_ids: Sequence[int], task_id: str = "") -> list[TrainingRun]:
    """Run queued retrains of one region's clusters together; idempotent per run.

    Each run is started under its own cluster lock (held until the batch
    ends); the runs that start share one read and one fit of each comparator
    (:func:`region_retrain`), and each finishes with its own outcome. An error
    in the shared part fails every started run; an error in one cluster's own
    part fails that run only. Runs of several regions are executed region by region.
    """
    regions = dict(TrainingRun.objects.filter(pk__in=run_ids).values_list("pk", "region_id"))
    if len(set(regions.values())) > 1:
        for code in sorted(set(regions.values())):
            training_runs_execute(
                run_ids=[pk for pk in run_ids if regions.get(pk) == code], task_id=task_id
            )
        return [TrainingRun.objects.get(pk=pk) for pk in run_ids]
    with contextlib.ExitStack() as locks:
        started = [run for run in (_start(pk, task_id, locks) for pk in run_ids) if run is not None]
        if started:
            _execute(started)
    return [TrainingRun.objects.get(pk=pk) for pk in run_ids]


def _execute(runs: list[TrainingRun]) -> None:
    heartbeats = {run.pk: _Heartbeat(run.pk, heartbeat_seconds()) for run in runs}
    for heartbeat in heartbeats.values():
        heartbeat.start()
    reporters = {run.pk: _Reporter(run) for run in runs}
    done: set[int] = set()

    def record(run: TrainingRun, outcome: RetrainOutcome | Exception) -> None:
        """Finish a run as soon as its cluster is done (the others may still be training)."""
        heartbeats[run.pk].stop()
        done.add(run.pk)
        try:
            finish(run, outcome)
        except Exception as error:
            if _time_limit_reached(error) or _database_interrupted(error):
                # Its end was not written, or rolled back with its activation (the limit
                # came as it concluded): the batch's stop fails it, or queues it again. Kept
                # in ``done``, it stayed "running", its heartbeat stopped, until the reaper
                # called its worker lost. A run whose end did commit is left as it ended.
                done.discard(run.pk)
            raise

    def finish(run: TrainingRun, outcome: RetrainOutcome | Exception) -> None:
        if isinstance(outcome, Exception):
            reason = f"{type(outcome).__name__}: {outcome}"
            _finish(run, TrainingRun.Status.FAILED, error=reason, timings=reporters[run.pk].stop())
            # Its version stored, its gate raised (a MemoryError): nothing judges it any more,
            # and no reap may come soon (the demo runs no beat).
            _fail_unjudged_versions(run, f"Run #{run.pk} failed: {reason}", unless_judged=True)
            return
        timings = reporters[run.pk].close()
        try:
            _conclude(run, outcome, timings=timings)
        except Exception as error:  # the run is already marked done: never leave it running
            if _time_limit_reached(error) or _database_interrupted(error):
                raise  # the batch stops: its unfinished runs are failed, or queued again
            logger.exception("Concluding retrain run %s failed", run.pk)
            reason = f"{type(error).__name__}: {error}"
            _finish(run, TrainingRun.Status.FAILED, error=reason, timings=timings)
            _fail_unjudged_versions(run, f"Run #{run.pk} failed: {reason}", unless_judged=True)

    try:
        region_retrain(runs=runs, report=_Reporters(reporters), on_outcome=record)
    except Exception as error:
        stopped = _time_limit_reached(error)
        if not stopped and _database_interrupted(error):
            unfinished = [run for run in runs if run.pk not in done]
            logger.warning(
                "Retrain runs %s lost their database connection; queueing them again",
                [run.pk for run in unfinished],
                exc_info=True,
            )
            if again := _runs_requeue(unfinished, reporters=reporters, error=error):
                raise RetrainInterrupted(
                    f"Lost the database connection: {type(error).__name__}: {error}", again
                ) from error
            return
        if isinstance(error, RetrainError):
            # A reason, not a fault (a region with no one to learn from): a traceback read
            # as a bug, on the operator's terminal when no broker ran it elsewhere.
            logger.error("Retrain runs %s failed: %s", [run.pk for run in runs], error)
        else:
            logger.exception("Retrain runs %s failed", [run.pk for run in runs])
        reason = f"{type(error).__name__}: {error}"
        if stopped:
            # Raised wherever the batch was, perhaps in the middle of a query, which leaves
            # the connection unusable ("another command is already in progress"): a new one
            # records the failure (and closing the old one releases its cluster locks).
            connection.close()
            reason = (
                "Stopped at the retrain's soft time limit (TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS)"
                " before this cluster was done; the versions it had not gated are failed."
            )
        for run in runs:
            if run.pk not in done:
                _finish(
                    run, TrainingRun.Status.FAILED, error=reason, timings=reporters[run.pk].stop()
                )
                _fail_unjudged_versions(
                    run,
                    f"Run #{run.pk} {reason[0].lower()}{reason[1:]}"
                    if stopped
                    else f"Run #{run.pk} failed: {reason}",
                    unless_judged=True,
                )
    finally:
        for heartbeat in heartbeats.values():
            heartbeat.stop()
