"""Requesting retrains: one run per cluster created ``queued``, its task sent on the
region's queue once the transaction commits, or run in this process when no broker is
configured.
"""

from __future__ import annotations

from collections.abc import Sequence

from celery import Task
from celery.exceptions import Retry
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from recommendations.models import TrainingRun
from recommendations.selectors.training_runs import taste_clusters_named
from recommendations.services.clusters import region_default_cluster_ensure
from recommendations.services.retraining.configuration import retrain_queue
from recommendations.services.retraining.exceptions import RetrainError, RetrainNotQueued
from recommendations.services.retraining.log import logger
from recommendations.services.retraining.runs import ACTIVE_STATUSES, _finish, _runs_fail
from regions.models import Region, TasteCluster


def _cluster(region_code: str, cluster_slug: str | None) -> TasteCluster:
    if not Region.objects.filter(code=region_code).exists():
        raise RetrainError(f"Unknown region code: {region_code}.")
    clusters = TasteCluster.objects.filter(region_id=region_code)
    if cluster_slug is None:
        # The region's default cluster, made first for a region that has none (an import's).
        region_default_cluster_ensure(region_code=region_code)
        cluster = clusters.filter(is_default=True).first()
    else:
        named = list(taste_clusters_named(clusters, cluster_slug=cluster_slug)[:3])
        if len(named) > 1:
            raise RetrainError(
                f"Region {region_code} has taste clusters "
                f"{', '.join(cluster.slug for cluster in named)}, which {cluster_slug} names "
                "alike: give the slug exactly as it is written.",
                field="cluster",
            )
        cluster = named[0] if named else None
    if cluster is None:
        raise RetrainError(
            f"Region {region_code} has no taste cluster {cluster_slug or 'default'}.",
            field="cluster",
        )
    return cluster


def _enqueue(runs: Sequence[TrainingRun]) -> None:
    """Send one task for ``runs`` (of one region) on the region's queue once the caller commits."""
    from recommendations.tasks import retrain_cluster, retrain_clusters  # tasks import us

    ids = [run.pk for run in runs]
    if not ids:
        return

    task, args = (retrain_cluster, [ids[0]]) if len(ids) == 1 else (retrain_clusters, [ids])

    def send() -> None:
        queue = retrain_queue(runs[0].region_id)
        if task.app.conf.task_always_eager:
            _run_here(task, args, ids)
            return
        try:
            result = task.apply_async(args=args, queue=queue)
        except Exception as error:
            # A run left queued with no message would block its cluster's retrains (the
            # request refuses while one is queued); fail it, and tell the caller.
            message = f"Could not queue the retrain on {queue}: {type(error).__name__}: {error}"
            TrainingRun.objects.filter(pk__in=ids, status=TrainingRun.Status.QUEUED).update(
                status=TrainingRun.Status.FAILED, error=message, finished_at=timezone.now()
            )
            raise RetrainNotQueued(
                f"{message} (run {', '.join(f'#{pk}' for pk in ids)} marked failed).", ids
            ) from error
        TrainingRun.objects.filter(pk__in=ids, celery_task_id="").update(celery_task_id=result.id)

    transaction.on_commit(send)


def _run_here(task: Task, args: list, ids: list[int]) -> None:
    """Without a broker, run the retrain task in this process; fail its runs if it raises.

    Celery's eager ``apply_async`` still takes a producer from the broker's pool, and with
    no broker URL kombu warns it "reverts to localhost" (an AMQP broker nobody configured)
    on every command: hence ``apply``. An error it raises is the retrain's own, not a
    refused send (it used to be reported as "Could not queue the retrain"), and nothing
    retries it: a database error is raised as Celery's ``Retry`` that no worker will act
    on. So its runs not yet ended are failed with what failed, and the caller, which
    reports how its runs ended, says so (the staff API's 201, admin's message, the command).

    Ctrl-C (or SIGTERM, in a command that takes it as one) fails them too, and goes on up:
    no worker will take them up again, and left ``running`` they blocked their clusters
    until the reaper called their worker lost, up to a minute later with beat and never
    without it.
    """
    try:
        result = task.apply(args=args)
    except KeyboardInterrupt:
        _runs_fail(
            ids,
            ACTIVE_STATUSES,
            lambda run: (
                f"Interrupted at stage {run.stage or 'starting'} (Ctrl-C or SIGTERM) in the "
                "process that ran it: no broker is configured, so nothing runs it again."
            ),
        )
        raise
    except Exception as error:
        cause = error.exc if isinstance(error, Retry) and error.exc is not None else error
        message = (
            "The retrain failed in this process (no broker is configured, so nothing retries "
            f"it): {type(cause).__name__}: {cause}"
        ).strip()
        logger.exception("Retrain runs %s failed in-process", ids)
        _runs_fail(ids, ACTIVE_STATUSES, lambda run: message)
        return
    TrainingRun.objects.filter(pk__in=ids, celery_task_id="").update(celery_task_id=result.id)


def retrains_run_here() -> bool:
    """Whether a retrain requested now runs in the caller's process (no broker configured),
    rather than on a worker: what an interrupted caller stops is then the retrain itself."""
    from recommendations.tasks import retrain_cluster  # tasks import us

    return bool(retrain_cluster.app.conf.task_always_eager)


def training_run_request(
    *,
    region_code: str,
    cluster_slug: str | None = None,
    trigger: str = TrainingRun.Trigger.COMMAND,
    requested_by: AbstractBaseUser | None = None,
    enqueue: bool = True,
) -> TrainingRun:
    """Create a run of the cluster's retrain and enqueue it after commit.

    While another run of the same cluster is queued or running, the new run is
    created ``rejected`` with the reason (and nothing is enqueued): the
    cluster row is locked for the check, so two requests cannot both pass it.
    ``enqueue=False`` leaves the sending to the caller (a region's fan-out
    sends its clusters' runs as one task).
    """
    cluster = _cluster(region_code.upper(), cluster_slug)
    user = requested_by if requested_by is not None and requested_by.is_authenticated else None
    with transaction.atomic():
        TasteCluster.objects.select_for_update().get(pk=cluster.pk)
        busy = (
            TrainingRun.objects.filter(taste_cluster=cluster, status__in=ACTIVE_STATUSES)
            .order_by("created_at")
            .first()
        )
        run = TrainingRun.objects.create(
            region_id=cluster.region_id,
            taste_cluster=cluster,
            trigger=trigger,
            requested_by=user,
        )
        if busy is not None:
            _finish(
                run,
                TrainingRun.Status.REJECTED,
                error=f"Another retrain of {cluster} is {busy.status} (run #{busy.pk}).",
            )
            run.refresh_from_db()
            return run
        if enqueue:
            _enqueue([run])
    return run


def region_retrain_request(
    *,
    region_code: str,
    trigger: str = TrainingRun.Trigger.REGION,
    requested_by: AbstractBaseUser | None = None,
) -> list[TrainingRun]:
    """One run per taste cluster of the region, executed together by one task.

    Together, the clusters share one read of the signals and one fit of each
    comparator (:func:`training_runs_execute`); each keeps its own run, lock and gate.
    """
    code = region_code.upper()
    if not Region.objects.filter(code=code).exists():
        raise RetrainError(f"Unknown region code: {code}.")
    region_default_cluster_ensure(region_code=code)
    slugs = TasteCluster.objects.filter(region_id=code).order_by("-is_default", "slug")
    with transaction.atomic():
        runs = [
            training_run_request(
                region_code=code,
                cluster_slug=slug,
                trigger=trigger,
                requested_by=requested_by,
                enqueue=False,
            )
            for slug in slugs.values_list("slug", flat=True)
        ]
        _enqueue([run for run in runs if run.status == TrainingRun.Status.QUEUED])
    return runs
