"""Ending a run once, and failing the versions it leaves unjudged.

Every path that ends a run goes through :func:`_finish` (a finished run stays as it
ended), and every refusal of a version through :func:`_version_reject`: requesting,
executing, the interruptions and the reaper share them, so none can undo another's verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining.log import logger

#: Attempts a run gets in all: a redelivery after its worker died restarts it until this many
#: were made, and the next one fails it.
MAX_ATTEMPTS = 2
ACTIVE_STATUSES = (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)
_T = TypeVar("_T")


def _runs_fail(
    run_ids: Sequence[int], statuses: Sequence[str], error: Callable[[TrainingRun], str]
) -> list[int]:
    """Fail those of ``run_ids`` in ``statuses`` with ``error(run)``; the ids failed.

    Said after an error that may have been the database's own (a restart): a connection it
    broke is replaced once, and with the database still away nothing is written (logged),
    the runs left to the reaper (:func:`training_runs_reap`).
    """
    return _after_an_outage(
        lambda: _runs_fail_now(run_ids, statuses, error),
        failed=f"Could not fail retrain runs {list(run_ids)}; the reaper will",
        default=[],
    )


def _after_an_outage(write: Callable[[], _T], *, failed: str, default: _T) -> _T:
    """``write()``, said after an error that may have been the database's own (a restart).

    A connection the error broke is replaced once; with the database still away nothing
    is written: ``failed`` is logged and ``default`` returned.
    """
    for last in (False, True):
        try:
            return write()
        except DatabaseError:
            if last or connection.in_atomic_block:
                logger.warning(failed, exc_info=True)
                return default
            connection.close()
    return default


def _runs_fail_now(
    run_ids: Sequence[int], statuses: Sequence[str], error: Callable[[TrainingRun], str]
) -> list[int]:
    failed = []
    with transaction.atomic():
        for run in TrainingRun.objects.select_for_update().filter(
            pk__in=run_ids, status__in=statuses
        ):
            reason = error(run)
            if _finish(run, TrainingRun.Status.FAILED, error=reason):
                _fail_unjudged_versions(run, f"Run #{run.pk} failed: {reason}", unless_judged=True)
                failed.append(run.pk)
    return failed


def _finish(
    run: TrainingRun, status: str, *, error: str = "", progress: int | None = None, **fields: object
) -> bool:
    """End a run that has not ended yet; ``False`` when it had (a finished run stays as it is).

    A worker whose run the reaper failed meanwhile (its heartbeat stalled) must not
    turn it back into a success. A run that did not succeed keeps the progress its
    reporter last wrote (``F``, not ``run.progress``: the object in hand is the
    one read at the start, at 0), so a failure shows how far it got; ``progress``
    overrides that (a run its gate rejected was carried through: :func:`_conclude`).
    """
    if progress is None:
        progress = 100 if status == TrainingRun.Status.SUCCEEDED else F("progress")
    return bool(
        TrainingRun.objects.filter(pk=run.pk, status__in=ACTIVE_STATUSES).update(
            status=status, error=error, finished_at=timezone.now(), progress=progress, **fields
        )
    )


def _version_reject(version: ModelVersion, reason: str) -> None:
    """Reject a stored version that nothing has judged yet (still ``ready``), with ``reason``.

    Only from ``ready``: a version the reaper failed meanwhile, or one already activated or
    rejected, keeps its status and its error. Every refusal of a version goes through here,
    so none of them can overwrite another's verdict.
    """
    ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.READY).update(
        status=ModelVersion.Status.REJECTED, error=reason
    )


def _fail_unjudged_versions(run: TrainingRun, error: str, *, unless_judged: bool = False) -> None:
    """Fail the versions a run left half-written (``training``) or ungated (``ready``).

    Only those made for it: its cluster's version and its batch's region and global
    ones, each of which names its runs in ``metrics["retrain_runs"]`` from the moment
    it is created (:func:`_final_version_store`). Not every version of its scopes
    created since it started: another region's batch may be training a global
    version at the same time, alive and well. None of them was served.

    ``unless_judged`` spares the versions another run still queued or running names: a
    run that fails through its own error path (its gate raised) ends alone, and the
    batch's region and global versions name every run of the batch, whose other runs
    may still judge them. A dead worker's runs (the reaper's, a restart's) end together.
    """
    unjudged = (ModelVersion.Status.TRAINING, ModelVersion.Status.READY)
    linked = {pk: runs for pk, runs in _unjudged_linked().items() if run.pk in runs}
    if unless_judged:
        others = _run_statuses(pk for runs in linked.values() for pk in runs if pk != run.pk)
        linked = {
            pk: runs
            for pk, runs in linked.items()
            if not any(others[other] in ACTIVE_STATUSES for other in runs if other != run.pk)
        }
    mine = set(linked)
    if run.model_version_id:
        mine.add(run.model_version_id)
    ModelVersion.objects.filter(pk__in=mine, status__in=unjudged).update(
        status=ModelVersion.Status.FAILED, error=error
    )


def _unjudged_linked() -> dict[int, list[int]]:
    """The ``training`` and ``ready`` versions a retrain made: pk -> the runs each names.

    Read and matched here, not with a JSON ``contains`` lookup, which SQLite (the demo's)
    lacks; the unjudged versions are a handful.
    """
    linked = ModelVersion.objects.filter(
        status__in=(ModelVersion.Status.TRAINING, ModelVersion.Status.READY)
    ).values_list("pk", "metrics__retrain_runs")
    return {pk: runs for pk, runs in linked if isinstance(runs, list) and runs}


def _run_statuses(run_ids: Iterable[int]) -> dict[int, str]:
    """Each run's status; a run since deleted is ``gone`` (it judges nothing either)."""
    run_ids = set(run_ids)
    found = dict(TrainingRun.objects.filter(pk__in=run_ids).values_list("pk", "status"))
    return {pk: found.get(pk, "gone") for pk in run_ids}


def _runs_text(statuses: dict[int, str], runs: Iterable[int], verb: str = "") -> str:
    return ", ".join(f"run #{pk} {verb}{statuses[pk]}" for pk in runs)
