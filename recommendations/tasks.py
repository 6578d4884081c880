"""Celery entry points of retraining: thin, taking ids, each calling one service.

Queues are in ``CELERY_TASK_ROUTES`` (Celery deprecates the decorator's ``queue``):
the fan-out and the reaper on ``default``; each cluster retrain on its region's
queue, chosen when the run is enqueued (``retraining.retrain_queue``).
"""

from typing import Any

from celery import shared_task
from celery.exceptions import Reject, Retry
from django.conf import settings

from artwork.services import artwork_daily_prune, artwork_files_prune
from config.celery import RETRY_ON_TRANSIENT_ERRORS, TRANSIENT_ERRORS, BoundedDeliveryTask
from profiles.services import profile_orphans_prune
from recommendations.models import PageLog, Signal
from recommendations.services.model_versions import model_versions_prune
from recommendations.services.retention import page_logs_prune, sign_in_logs_prune
from recommendations.services.retraining import (
    RetrainInterrupted,
    region_retrain_request,
    training_run_execute,
    training_runs_abandon,
    training_runs_execute,
    training_runs_queued_again,
    training_runs_reap,
    training_runs_retry_refused,
)


class RetrainTask(BoundedDeliveryTask):
    """A retrain task that fails the runs it leaves queued when it gives up.

    Celery calls ``on_failure`` once no retry will come: the retries after a database
    outage ran out (``max_retries``: about five minutes), with the runs the interrupted
    attempt put back to "queued", or never started; or the task raised what it does not
    retry on. Left queued, each would refuse every request for its cluster until the
    reaper's ``RETRAIN_QUEUED_SECONDS`` (6 hours), the night's retrain lost with no word
    of why. Not called for a retry (nor for one the broker refused: ``retry`` fails those
    runs), nor for a lost worker (the message is handed on); called too at the hard time
    limit, when the batch's runs were started long before (running runs are the reaper's:
    it tells a dead worker by its heartbeat). An eager ``apply`` that propagates its error
    does not call it either (``retraining.requesting._enqueue`` says what failed).
    """

    def on_failure(self, exc: Exception, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        training_runs_abandon(run_ids=_run_ids(args, kwargs), error=exc)

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's retry, which notes the runs it queues again, or fails them if refused.

        Celery sends a retry as a new message. Sent, the runs the task leaves queued are
        stamped queued again (``queued_at``): the reaper counts their wait from there, not
        from a first message that may have waited hours for its worker. Refused by the
        broker (unreachable, out of memory), Celery raises ``Reject``: the task's message
        is dropped and ``on_failure`` is not called, so those runs stayed queued, refusing
        every request for their clusters until the reaper's ``RETRAIN_QUEUED_SECONDS``,
        whose reason blamed a lost message. They are failed now, saying so: no delivery can
        come, and failed they can be retrained again as soon as the broker is back. An
        eager task (no broker) or a direct call sends nothing; an eager one's runs are failed
        by whoever ran it (``retraining.requesting._run_here``).
        """
        request = self.request
        sends = not (request.is_eager or request.called_directly)
        try:
            retried = super().retry(*args, **kwargs)
        except Retry:
            if sends:
                training_runs_queued_again(run_ids=_run_ids(request.args, request.kwargs))
            raise
        except Reject as refused:
            if sends:
                cause = refused.reason if isinstance(refused.reason, BaseException) else refused
                training_runs_retry_refused(
                    run_ids=_run_ids(request.args, request.kwargs),
                    refused=cause,
                    retried_for=kwargs.get("exc"),
                )
            raise
        if sends:  # throw=False: sent, and returned rather than raised
            training_runs_queued_again(run_ids=_run_ids(request.args, request.kwargs))
        return retried


def _run_ids(args: Any, kwargs: Any) -> list[int]:
    """The run ids a retrain task was called with (one run's task or a batch's)."""
    ids = args[0] if args else (kwargs or {}).get("run_ids", (kwargs or {}).get("run_id"))
    return ids if isinstance(ids, list) else [ids]


# A retrain of the largest cluster takes minutes. At the soft limit the batch stops and
# fails its runs; the hard limit is the backstop after which the worker child is killed
# (the run is then reaped, never stuck).
RETRAIN_SOFT_LIMIT = settings.TONIGHT["RETRAIN_SOFT_LIMIT_SECONDS"]
RETRAIN_HARD_LIMIT = settings.TONIGHT["RETRAIN_HARD_LIMIT_SECONDS"]
# How every retrain task is delivered, whether it runs one cluster or a region's at once:
# acknowledged after it ran (a worker lost mid-run hands the message on), within the
# limits above, retried on a broker or disk hiccup and when the database went away, as
# the fan-out is: before a run started (the retry starts it), or midway (its runs are put
# back to "queued" and the retry starts them afresh, under their cluster locks and within
# retraining.MAX_ATTEMPTS; ``RetrainInterrupted``). Retrying only on ConnectionError and
# OSError, a database restart left the night's runs "running" until the reaper called
# their worker lost.
_RETRAIN_TASK = {
    "bind": True,
    "base": RetrainTask,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "soft_time_limit": RETRAIN_SOFT_LIMIT,
    "time_limit": RETRAIN_HARD_LIMIT,
    **RETRY_ON_TRANSIENT_ERRORS,
    "autoretry_for": (*TRANSIENT_ERRORS, OSError, RetrainInterrupted),
}


@shared_task(name="recommendations.retrain_cluster", **_RETRAIN_TASK)
def retrain_cluster(self, run_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run a queued retrain; idempotent, so a redelivered message is harmless."""
    return training_run_execute(run_id=run_id, task_id=self.request.id or "").status


@shared_task(name="recommendations.retrain_clusters", **_RETRAIN_TASK)
def retrain_clusters(self, run_ids: list[int]) -> list[str]:  # type: ignore[no-untyped-def]
    """Run a region's queued cluster retrains together (one read, shared comparators).

    Always sent with its region's queue; idempotent per run, like ``retrain_cluster``.
    """
    runs = training_runs_execute(run_ids=run_ids, task_id=self.request.id or "")
    return [run.status for run in runs]


@shared_task(
    name="recommendations.retrain_region",
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=120,
    # A retry after the database dropped the fan-out makes the runs it rolled back; one that
    # had committed them makes "rejected" runs (their clusters are busy), never a second retrain.
    **RETRY_ON_TRANSIENT_ERRORS,
)
def retrain_region(region_code: str, trigger: str = "schedule") -> list[int]:
    """Fan a region's retrain out to one run per taste cluster, on the region's queue."""
    return [run.pk for run in region_retrain_request(region_code=region_code, trigger=trigger)]


@shared_task(
    name="recommendations.reap_training_runs",
    acks_late=True,
    soft_time_limit=60,
    time_limit=120,
)
def reap_training_runs() -> int:
    """Fail runs whose worker died (stale heartbeat), runs no worker took (lost message), and
    versions their retrain left unjudged."""
    return training_runs_reap()


@shared_task(
    name="recommendations.prune_logs",
    acks_late=True,
    reject_on_worker_lost=True,
    # Each batch commits on its own: a run killed at the limit keeps what it deleted, and
    # the next night carries on from there (a first run on a long backlog may take several).
    soft_time_limit=30 * 60,
    time_limit=35 * 60,
    # A retry after the database dropped it carries on from what the earlier try deleted.
    **RETRY_ON_TRANSIENT_ERRORS,
)
def prune_logs() -> dict[str, int]:
    """Delete page logs, admin sign-ins, the artwork variants' daily figures and model
    versions (with their files) past their keep, artwork files no variant names
    (``artwork.services``) and the signals and pages of deleted profiles; how many of
    each went.

    Sign-ins, files, daily figures and model versions first: each is short (a day's figures
    a night, a version or a few a scope), and a page backlog that outlasts the soft time
    limit (night after night, until it is worked off) must not keep them from running.
    The signals and pages of deleted profiles last (``profiles.services``): what the
    page prune deleted by age they need not find, and the first night's sweep of what
    older releases left behind, if long, goes on the next night as the pages' does.
    """
    sign_ins = sign_in_logs_prune()
    artwork_files = artwork_files_prune()
    artwork_daily = artwork_daily_prune()
    model_versions = model_versions_prune()
    pages = page_logs_prune()
    orphans = profile_orphans_prune()
    return {
        "pages": pages,
        "sign_ins": sign_ins,
        "artwork_files": artwork_files,
        "artwork_daily": artwork_daily,
        "model_versions": model_versions,
        "orphan_signals": orphans[Signal],
        "orphan_pages": orphans[PageLog],
    }
