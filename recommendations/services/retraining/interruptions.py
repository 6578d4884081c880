"""A batch cut short by its time limit or by the database, and a task that gave up or whose
retry the broker refused: which errors those are, and what becomes of their runs (queued
again, or failed).
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from celery.exceptions import SoftTimeLimitExceeded
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from recommendations.models import TrainingRun
from recommendations.services.retraining.exceptions import RetrainInterrupted
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.progress import _Reporter
from recommendations.services.retraining.runs import (
    MAX_ATTEMPTS,
    _after_an_outage,
    _fail_unjudged_versions,
    _finish,
    _runs_fail,
)


def _time_limit_reached(error: BaseException) -> bool:
    """Whether ``error`` is the task's soft time limit, or followed from it.

    The limit is raised wherever the worker was; a handler that then touched the database
    on the connection it interrupted raised an ``OperationalError`` in its place.
    """
    return _caused_by(error, (SoftTimeLimitExceeded,))


#: What a database that went away raises: Django's errors, and psycopg's own from a read
#: that goes through the driver's cursor (``COPY``), which Django does not wrap.
_DATABASE_INTERRUPTIONS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)


def _database_interrupted(error: BaseException) -> bool:
    """Whether ``error`` is, or followed from, the database interrupting the batch.

    A restart, a failover, a session ended by an administrator: the connection is gone,
    with the cluster locks its session held, and every later query on it fails too, so
    going on with the batch's other clusters would only fail them one by one. (Django's
    ``OperationalError`` also stands for a deadlock or a statement timeout, which a later
    attempt may get past as well.)
    """
    return _caused_by(error, _DATABASE_INTERRUPTIONS)


def _caused_by(error: BaseException, kinds: tuple[type[BaseException], ...]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, kinds):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _runs_requeue(
    runs: Sequence[TrainingRun], *, reporters: dict[int, _Reporter], error: BaseException
) -> list[int]:
    """Put back to ``queued`` the runs a lost database connection stopped; the ids to retry.

    Not ``failed``: a database restart at night would cost each region its retrain until
    the next night. Not left ``running``: with its heartbeat stopped the reaper would fail
    it as "Worker lost" before the task's retry came. Queued, no request for its cluster
    gets in before the retry (one is refused while a run is queued), and the retry starts
    it afresh under a cluster lock of its own (:func:`_start`); the attempt's half-made
    versions are failed here, never served. A run on its last attempt is failed instead.

    If the database is still away, nothing can be written: the runs stay ``running``
    without a heartbeat, and the retry restarts them as after a lost worker, or the
    reaper fails them; none stays running for good.
    """
    # Django does not reconnect by itself mid-task: a broken connection fails every query.
    # A new one records this (closing the old one also ends any cluster lock it held).
    connection.close()
    reason = f"{type(error).__name__}: {error}".strip()
    again = []
    try:
        for run in runs:
            stage = reporters[run.pk].stage or "starting"
            with transaction.atomic():
                if run.attempts >= MAX_ATTEMPTS:
                    _finish(
                        run,
                        TrainingRun.Status.FAILED,
                        error=(
                            f"Lost the database connection at stage {stage} on its last "
                            f"attempt ({reason})."
                        ),
                        timings=reporters[run.pk].stop(),
                    )
                    _fail_unjudged_versions(
                        run, f"Run #{run.pk} lost the database connection ({reason})."
                    )
                    continue
                queued = TrainingRun.objects.filter(
                    pk=run.pk, status=TrainingRun.Status.RUNNING
                ).update(
                    status=TrainingRun.Status.QUEUED,
                    # The reaper's wait starts again here, not at the request, perhaps hours
                    # ago (a batch that waited its turn): the task's retry is sent next.
                    queued_at=timezone.now(),
                    stage="",
                    progress=0,
                    heartbeat_at=None,
                    error=(
                        f"Interrupted at stage {stage}: the database connection was lost "
                        f"({reason}). Queued again for attempt {run.attempts + 1}."
                    ),
                )
                if queued:
                    _fail_unjudged_versions(
                        run, f"Run #{run.pk} lost the database connection; queued again."
                    )
                    again.append(run.pk)
    except DatabaseError:
        logger.warning(
            "Could not queue retrain runs %s again; their task's retry restarts them",
            [run.pk for run in runs],
            exc_info=True,
        )
        connection.close()
        return [run.pk for run in runs]
    return again


def training_runs_abandon(*, run_ids: Sequence[int], error: BaseException) -> list[int]:
    """Fail the runs still ``queued`` of a retrain task that gave up; the ids failed.

    The task's last word (``recommendations.tasks.RetrainTask.on_failure``): no delivery
    of it will come again, so a run it left queued (put back by :func:`_runs_requeue`, or
    never started because the database was away from the first try) would only block its
    cluster until the reaper's ``RETRAIN_QUEUED_SECONDS``, hours later. Running runs are
    left to the reaper, which tells a lost worker by its heartbeat. The outage that made
    the task give up may have broken the connection: it is replaced once; with the
    database still away nothing can be written, and the reaper says what happened
    (:func:`training_runs_reap`).
    """
    cause = f"{type(error).__name__}: {error}".strip()
    if isinstance(error, RetrainInterrupted) or _database_interrupted(error):
        why = (
            "its task gave up retrying: the database was away longer than the task's retries "
            f"(about 5 minutes) ({cause})"
        )
    else:
        why = f"its task failed ({cause})"

    return _queued_runs_fail(run_ids, why, then="Retrain it again.")


def training_runs_queued_again(*, run_ids: Sequence[int]) -> int:
    """Restart the reaper's clock of the runs still ``queued`` whose task's retry was just
    sent; how many.

    The retry is a new message on the broker, run a little later (seconds to minutes): the
    reaper counts a run's wait from when it was last queued (``queued_at``), not from the
    first message, which may have waited its turn for hours before the task was retried
    (the database was away as it started). Counted from there, the reaper could fail the
    run before its retry came, and the retry then did nothing. Best effort: with the
    database still away the runs keep their earlier time (:func:`_runs_requeue` stamped a
    run put back to queued already).
    """
    return _after_an_outage(
        lambda: TrainingRun.objects.filter(pk__in=run_ids, status=TrainingRun.Status.QUEUED).update(
            queued_at=timezone.now()
        ),
        failed=f"Could not note retrain runs {list(run_ids)} queued again for their retry",
        default=0,
    )


def training_runs_retry_refused(
    *, run_ids: Sequence[int], refused: BaseException, retried_for: BaseException | None
) -> list[int]:
    """Fail the runs still ``queued`` of a retrain task whose retry the broker refused; the ids.

    Celery sends a retry as a new message; when the broker cannot take it (down, out of
    memory, unreachable), it drops the task (``Reject``, not requeued) without calling its
    ``on_failure`` (``recommendations.tasks.RetrainTask.retry``). No delivery will come, so
    a run it leaves queued (put back by :func:`_runs_requeue`, or never started because the
    database was away) would only refuse every request for its cluster until the reaper's
    ``RETRAIN_QUEUED_SECONDS``, hours later, blamed on a lost message. Failed now, its
    cluster can be retrained again as soon as the broker is back, and the reason says what
    happened. Running runs are left to the reaper. As after :func:`training_runs_abandon`,
    a database still away leaves them to the reaper too.
    """
    sent = f"{type(refused).__name__}: {refused}".strip()
    why = f"its task's retry could not be sent (the broker refused it: {sent})"
    if retried_for is not None:
        why += f"; it was retried after {type(retried_for).__name__}: {retried_for}".rstrip()

    return _queued_runs_fail(run_ids, why, then="Retrain it again once the broker is back.")


def _queued_runs_fail(run_ids: Sequence[int], why: str, *, then: str) -> list[int]:
    """Fail the runs of ``run_ids`` still ``queued`` for ``why``, logged; the ids.

    Each reason says whether the run had started before (a retry's run put back to
    queued keeps its earlier error, quoted), then what to do.
    """

    def reason(run: TrainingRun) -> str:
        never = "Not started again" if run.attempts else "Never started"
        before = f" {run.error}" if run.error else ""
        return f"{never}: {why}.{before} {then}"

    failed = _runs_fail(run_ids, (TrainingRun.Status.QUEUED,), reason)
    if failed:
        logger.warning("Retrain runs %s failed: %s", failed, why)
    return failed
