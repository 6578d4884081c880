"""Reads of the retrains (``TrainingRun``) that the commands report on.

The runs are written by ``recommendations.services.retraining``; the staff
console's charts read them in ``console.selectors``.
"""

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery

from accounts.models import Account
from recommendations.models import FINISHED_RUN_STATUSES, TrainingRun
from regions.models import Region, TasteCluster


def cluster_region_codes() -> list[str]:
    """The regions that have a taste cluster or a household, by code: what ``retrain --all``
    retrains.

    A region with households and no cluster yet (a first start's import) is one: its
    first retrain gives it its default cluster. One with neither has no one to serve.
    """
    # EXISTS, not joins: a join of a region's clusters with its households is their product.
    clusters = TasteCluster.objects.filter(region_id=OuterRef("code"))
    households = Account.objects.filter(home_region_id=OuterRef("code"))
    return list(
        Region.objects.filter(Exists(clusters) | Exists(households))
        .order_by("code")
        .values_list("code", flat=True)
    )


def taste_clusters_named(
    clusters: QuerySet[TasteCluster], *, cluster_slug: str
) -> QuerySet[TasteCluster]:
    """Those of ``clusters`` that ``cluster_slug`` names: the one with exactly that slug, else
    those whose slug it is in another case (``retrain --cluster TAMIL``).

    Slugs are unique per region only as written (``cluster_region_slug_unique``), so
    ``tamil`` and ``Tamil`` may both exist: matched in any case first, "Retrain now" and a
    region's retrain, which pass a cluster's own slug, took whichever came first, and the
    region's other cluster was never retrained. Two clusters found here are ambiguous.
    """
    exact = clusters.filter(slug=cluster_slug)
    return exact if exact.exists() else clusters.filter(slug__iexact=cluster_slug)


def clusters_count(*, region_code: str, cluster_slug: str | None = None) -> int:
    """How many taste clusters the region has (a region's retrain is one run per cluster), or
    of them ``cluster_slug`` names, as a retrain request matches it
    (:func:`taste_clusters_named`)."""
    clusters = TasteCluster.objects.filter(region_id=region_code)
    if cluster_slug is not None:
        clusters = taste_clusters_named(clusters, cluster_slug=cluster_slug)
    return clusters.count()


def clusters_retrained(*, region_code: str, cluster_slug: str | None = None) -> bool:
    """Whether the cluster (every cluster of the region, without one) has a retrain that succeeded.

    ``retrain --if-empty`` asks this rather than "has any run finished", so that a
    demo whose retrain failed, or whose operator retrained one cluster by hand, is
    retrained on the next ``make demo-data``, and one that succeeded is not. False
    for a region (or a slug) with no cluster: there is nothing retrained to keep.
    """
    clusters = TasteCluster.objects.filter(region_id=region_code.upper())
    if cluster_slug is not None:
        clusters = taste_clusters_named(clusters, cluster_slug=cluster_slug)
    unretrained = clusters.exclude(training_runs__status=TrainingRun.Status.SUCCEEDED)
    return clusters.exists() and not unretrained.exists()


def training_run_running(*, after_pk: int, region_codes: Collection[str]) -> TrainingRun | None:
    """The oldest run of these regions running now among those after ``after_pk``, if any.

    What ``retrain``'s progress bar shows beside its count: the runs it asked for
    are the ones newer than the newest before it asked, and a region's batch runs
    one cluster at a time, so the oldest running is the one under way. Its cluster
    comes with it: the bar names it.
    """
    return (
        TrainingRun.objects.filter(
            pk__gt=after_pk, region_id__in=region_codes, status=TrainingRun.Status.RUNNING
        )
        .select_related("taste_cluster")
        .order_by("pk")
        .first()
    )


def training_runs_finished_count() -> int:
    """How many retrains have ended, whatever their outcome: what ``demo_info`` points to.

    Rejected and failed runs count with the succeeded: each has stages and timings
    in admin worth opening, and a newcomer's first question may be why one failed.
    """
    return TrainingRun.objects.filter(status__in=FINISHED_RUN_STATUSES).count()


def training_run_newest_pk() -> int:
    """The newest run's id, 0 without any: ``retrain``'s own runs are the ones after it."""
    return TrainingRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def training_runs_list(*, pks: Iterable[int]) -> list[TrainingRun]:
    """These runs, oldest first, their clusters with them (``retrain --wait`` says each)."""
    return list(
        TrainingRun.objects.filter(pk__in=list(pks)).select_related("taste_cluster").order_by("pk")
    )


def training_runs_unsuccessful(*, pks: Iterable[int]) -> list[TrainingRun]:
    """Those of these runs that did not succeed, oldest first, their clusters with them.

    Read again once all have finished: ``retrain --wait`` fails unless every one succeeded,
    so that scripts and cron jobs see a retrain that did not.
    """
    return list(
        TrainingRun.objects.filter(pk__in=list(pks))
        .exclude(status=TrainingRun.Status.SUCCEEDED)
        .select_related("taste_cluster")
        .order_by("pk")
    )


@dataclass(frozen=True)
class ClusterRetrainState:
    """A taste cluster's newest finished retrain, and when one last ended well."""

    region_code: str
    slug: str
    newest_pk: int | None
    newest_status: str | None
    newest_error: str
    ended_well_at: dt.datetime | None


def clusters_retrain_state() -> list[ClusterRetrainState]:
    """Every taste cluster that has a retrain run, with its newest finished run and when a
    run of it last succeeded or was rejected by its gate (which a working retrain is).

    A cluster with no run yet (new, before its first night) is left out. One query:
    a subquery per column on the index of runs by cluster and status.
    """
    newest_first = (F("finished_at").desc(nulls_last=True), F("pk").desc())
    finished = TrainingRun.objects.filter(
        taste_cluster=OuterRef("pk"), status__in=FINISHED_RUN_STATUSES
    ).order_by(*newest_first)
    ended_well = TrainingRun.objects.filter(
        taste_cluster=OuterRef("pk"),
        status__in=(TrainingRun.Status.SUCCEEDED, TrainingRun.Status.REJECTED),
    ).order_by(*newest_first)
    clusters = (
        TasteCluster.objects.filter(
            Exists(TrainingRun.objects.filter(taste_cluster=OuterRef("pk")))
        )
        .annotate(
            newest_pk=Subquery(finished.values("pk")[:1]),
            newest_status=Subquery(finished.values("status")[:1]),
            newest_error=Subquery(finished.values("error")[:1]),
            ended_well_at=Subquery(ended_well.values("finished_at")[:1]),
        )
        .order_by("region_id", "slug")
        .values_list(
            "region_id", "slug", "newest_pk", "newest_status", "newest_error", "ended_well_at"
        )
    )
    return [
        ClusterRetrainState(
            region_code=region_code,
            slug=slug,
            newest_pk=newest_pk,
            newest_status=newest_status,
            newest_error=newest_error or "",
            ended_well_at=ended_well_at,
        )
        for region_code, slug, newest_pk, newest_status, newest_error, ended_well_at in clusters
    ]
