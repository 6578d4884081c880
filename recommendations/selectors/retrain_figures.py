"""The retrains' state as a monitoring scrape reads it (``config.metrics.collector``).

A fixed number of queries whatever the number of clusters and runs: a scrape every 15 s
from each Prometheus must cost the database next to nothing.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from recommendations.models import ModelVersion, TrainingRun
from regions.models import Region, TasteCluster


@dataclass(frozen=True)
class ClusterServing:
    """When a taste cluster last retrained well, and when what it serves was trained."""

    region_code: str
    slug: str
    #: When its newest succeeded retrain ended; None if none has.
    retrained_at: dt.datetime | None
    #: When its active cluster version was trained; None while it has none (served by its
    #: region's or the global model).
    model_trained_at: dt.datetime | None


@dataclass(frozen=True)
class RetrainRunCounts:
    queued: int
    running: int
    failed_since: int


def clusters_serving() -> list[ClusterServing]:
    """Every taste cluster, with its last successful retrain and its model's training time.

    One query: a subquery per column, on the index of runs by cluster and status and on
    the one active version per cluster.
    """
    succeeded = TrainingRun.objects.filter(
        taste_cluster=OuterRef("pk"), status=TrainingRun.Status.SUCCEEDED
    ).order_by(F("finished_at").desc(nulls_last=True))
    active = ModelVersion.objects.filter(
        taste_cluster=OuterRef("pk"),
        scope=ModelVersion.Scope.CLUSTER,
        status=ModelVersion.Status.ACTIVE,
    )
    rows = (
        TasteCluster.objects.annotate(
            retrained_at=Subquery(succeeded.values("finished_at")[:1]),
            model_trained_at=Subquery(
                active.values(trained=Coalesce("trained_at", "created_at"))[:1]
            ),
        )
        .order_by("region_id", "slug")
        .values_list("region_id", "slug", "retrained_at", "model_trained_at")
    )
    return [ClusterServing(*row) for row in rows]


def training_run_counts(*, failed_since: dt.datetime) -> RetrainRunCounts:
    """Runs queued and running now, and runs that failed since ``failed_since``: one query,
    on the status index (finished runs of other statuses, most of the table, are not read)."""
    counts = TrainingRun.objects.filter(
        Q(status__in=(TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING))
        | Q(status=TrainingRun.Status.FAILED, finished_at__gte=failed_since)
    ).aggregate(
        queued=Count("pk", filter=Q(status=TrainingRun.Status.QUEUED)),
        running=Count("pk", filter=Q(status=TrainingRun.Status.RUNNING)),
        failed=Count("pk", filter=Q(status=TrainingRun.Status.FAILED)),
    )
    return RetrainRunCounts(
        queued=counts["queued"], running=counts["running"], failed_since=counts["failed"]
    )


def region_codes() -> list[str]:
    """Every region's code: each may have a retrain queue of its own."""
    return list(Region.objects.order_by("code").values_list("code", flat=True))
