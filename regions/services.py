"""State changes to regions, their licence windows and their taste clusters.

A region's nightly retrain (``recommendations.schedules``) follows the region: installed
when it is created, moved when its zone changes, deleted with it.

A region that has taste clusters has exactly one default, which holds everybody whose
viewing points to no keyed community (``recommendations.services.clusters``). The
functions here are the only writes that keep it so: a region's first cluster is made its
default, ticking another cluster moves the default to it, the default is not unticked,
and it is not deleted while the region keeps other clusters. Each reads the region's
clusters with the region's row locked (:func:`region_lock`), so that a deletion or an
addition racing a move waits for it and sees its result; the partial unique constraint
``cluster_one_default_per_region`` refuses a second default whatever writes it.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import QuerySet

from catalog.models import Language, Title
from recommendations.schedules import (
    region_schedule_delete,
    region_schedule_install,
    region_schedule_time_zone_move,
)

from .models import DEFAULT_CLUSTER_KEPT, TASTE_CLUSTER_REGION_FIXED, Region, TasteCluster

#: What :func:`taste_cluster_update` changes; a cluster's region is fixed once it exists.
TASTE_CLUSTER_UPDATABLE = ("slug", "name", "languages", "is_default")


def title_windows_lock(*, title_id: int) -> None:
    """Hold the title's row until the transaction ends, before one of its windows changes.

    The catalogue import gives a title an open window only where it has none, and
    locks the titles it is about to give one
    (``recommendations.services.dataset_import.catalogue._open_windows_ensure``): a window staff
    save meanwhile is then either read by the import or saved after it commits, never
    missed by its read and joined by an open window that makes the title live now.
    ``FOR NO KEY UPDATE``, as an update of the title takes, so that ingest's inserts
    naming the title do not wait. Call it inside the transaction that saves the window.
    """
    list(Title.objects.filter(pk=title_id).select_for_update(no_key=True).values_list("pk"))


def region_lock(*, region_code: str, using: str | None = None) -> None:
    """Hold the region's row until the transaction ends, before its default cluster is read
    to be moved, kept or left behind.

    Each taste cluster service reads the region's clusters and writes by what it read:
    unserialised, a cluster ticked while another was deleted or added left the region
    without a default, or with two (the constraint's refusal, a server error). ``FOR NO KEY
    UPDATE``: rows that point at the region (accounts, windows) are written meanwhile.
    """
    list(
        Region._default_manager.using(using or router.db_for_write(Region))
        .select_for_update(no_key=True)
        .filter(pk=region_code)
        .values_list("pk")
    )


def taste_cluster_create(
    *,
    region: Region | str,
    slug: str,
    name: str,
    languages: Iterable[Language | str] = (),
    is_default: bool = False,
) -> TasteCluster:
    """Add a cluster to a region; ticked, it becomes the region's default.

    A region's first cluster is its default whatever ``is_default`` says: with none, the
    assignment put everybody no keyed community holds in the region's alphabetically first
    cluster. A cluster added unticked to a region that has clusters and no default (a write
    that bypassed these services left it so) is not ticked: which cluster holds everybody is
    staff's choice there (``tonight.W008`` names the region).
    """
    region_code = region if isinstance(region, str) else region.pk
    with transaction.atomic():
        region_lock(region_code=region_code)
        clusters = TasteCluster.objects.filter(region_id=region_code)
        if is_default:
            clusters.filter(is_default=True).update(is_default=False)
        else:
            is_default = not clusters.exists()
        cluster = TasteCluster(region_id=region_code, slug=slug, name=name, is_default=is_default)
        cluster.save()
        if languages:
            cluster.languages.set(languages)
    return cluster


def taste_cluster_default_set(*, cluster: TasteCluster) -> TasteCluster:
    """Make ``cluster`` its region's default, unticking the former one in the same
    transaction, with the region's row locked so that two clusters ticked at once move the
    default in turn (unserialised, the later tick met the earlier one's and the constraint
    refused it: a server error). ``cluster`` then holds the tick as stored."""
    with transaction.atomic():
        region_lock(region_code=cluster.region_id)
        TasteCluster.objects.filter(region_id=cluster.region_id, is_default=True).exclude(
            pk=cluster.pk
        ).update(is_default=False)
        TasteCluster.objects.filter(pk=cluster.pk).update(is_default=True)
    cluster.is_default = True
    return cluster


def taste_cluster_update(*, cluster: TasteCluster, data: dict[str, Any]) -> TasteCluster:
    """Change a cluster's slug, name, languages or tick; only the fields ``data`` names.

    A tick moves the region's default to the cluster (:func:`taste_cluster_default_set`);
    an untick of the region's default is refused (``DEFAULT_CLUSTER_KEPT``), and one of a
    cluster that is not the default changes nothing. Only what ``data`` names is written,
    so an object loaded before the default moved away from it (or to it) and renamed
    neither takes the default back nor gives it up. A cluster's region is fixed: its
    profiles are households of its region, placed by that region's retrains, and its
    versions and runs were trained on that region's signals. A community of another
    region is a new cluster there.
    """
    unknown = set(data) - set(TASTE_CLUSTER_UPDATABLE)
    if "region" in unknown or "region_id" in unknown:
        raise ValidationError({"region": TASTE_CLUSTER_REGION_FIXED})
    if unknown:
        raise TypeError(f"Not a taste cluster's updatable field: {', '.join(sorted(unknown))}")
    fields = [field for field in ("slug", "name") if field in data]
    with transaction.atomic():
        if "is_default" in data:
            region_lock(region_code=cluster.region_id)
            stored = TasteCluster.objects.filter(pk=cluster.pk).values_list("is_default", flat=True)
            cluster.is_default = stored.get()
            if data["is_default"] and not cluster.is_default:
                taste_cluster_default_set(cluster=cluster)
            elif not data["is_default"] and cluster.is_default:
                raise ValidationError({"is_default": DEFAULT_CLUSTER_KEPT})
        if fields:
            for field in fields:
                setattr(cluster, field, data[field])
            cluster.save(update_fields=fields)
        if "languages" in data:
            cluster.languages.set(data["languages"])
    return cluster


def taste_clusters_delete(
    *, clusters: QuerySet[TasteCluster] | Iterable[TasteCluster]
) -> tuple[int, dict[str, int]]:
    """Delete clusters together; refused, in words, when a region would keep clusters and
    lose its default.

    Left without it, the region's assignment put everybody no keyed community holds in its
    alphabetically first cluster. All of a region's clusters deleted together leave it with
    none, as before any was added (its next first cluster is made its default, or
    "Everyone" by ``region_default_cluster_ensure``). Read with the regions' rows locked,
    in the order of their codes: a cluster deleted while another transaction moved the
    default to it was read as no default, and the region kept a cluster and no default.
    Raised inside this function's own transaction (a savepoint of the caller's), the
    refusal leaves the caller's transaction usable.
    """
    ids = (
        list(clusters.values_list("pk", flat=True))
        if isinstance(clusters, QuerySet)
        else [cluster.pk for cluster in clusters]
    )
    with transaction.atomic():
        regions = sorted(
            set(TasteCluster.objects.filter(pk__in=ids).values_list("region_id", flat=True))
        )
        for region_code in regions:
            region_lock(region_code=region_code)
        going = TasteCluster.objects.filter(pk__in=ids)
        for default in going.filter(is_default=True).order_by("region_id"):
            others = TasteCluster.objects.filter(region_id=default.region_id).exclude(pk__in=ids)
            if others.exists():
                raise ValidationError(
                    f"{default} is {default.region_id}'s default taste cluster. "
                    f"{DEFAULT_CLUSTER_KEPT}"
                )
        return going.delete()


def taste_cluster_delete(*, cluster: TasteCluster) -> tuple[int, dict[str, int]]:
    """Delete one cluster (see :func:`taste_clusters_delete`, which refuses the default)."""
    return taste_clusters_delete(clusters=[cluster])


def region_create(
    *,
    code: str,
    name: str,
    default_language: Language | str,
    time_zone: str,
    retrain_schedule: bool = True,
) -> Region:
    """Add a region, and with ``retrain_schedule`` its nightly retrain once it commits.

    Its own retrain only, and only if it has none, so operators' edits stay (the other
    defaults are ``install_schedules``'s). Without ``retrain_schedule`` (staff who may
    add a region but not a retrain's schedule) it gets one when staff who may save it,
    or at the next ``install_schedules``.
    """
    language_code = default_language if isinstance(default_language, str) else default_language.pk
    region = Region(code=code, name=name, default_language_id=language_code, time_zone=time_zone)
    region.save(force_insert=True)
    if retrain_schedule:
        transaction.on_commit(lambda: region_schedule_install(region_code=code))
    return region


def region_update(
    *, region: Region, data: dict[str, Any], retrain_schedule_follow: bool = True
) -> Region:
    """Change a region's name, default language or time zone; only the fields ``data``
    names.

    Its nightly retrain is at 04:00 in its zone: a zone changed moves it once the change
    commits (``schedules.region_schedule_time_zone_move``, which leaves a schedule
    operators changed alone), unless ``retrain_schedule_follow`` is off (a change by staff
    who may not reschedule it). The zone it had is read before the write, the only moment
    it can be.
    """
    fields = [field for field in ("name", "default_language", "time_zone") if field in data]
    unknown = set(data) - set(fields)
    if unknown:
        raise TypeError(f"Not a region's updatable field: {', '.join(sorted(unknown))}")
    old_zone = Region.objects.filter(pk=region.pk).values_list("time_zone", flat=True).first()
    for field in fields:
        setattr(region, field, data[field])
    region.save(update_fields=fields)
    new_zone, code = region.time_zone, region.pk
    if retrain_schedule_follow and old_zone is not None and old_zone != new_zone:
        transaction.on_commit(
            lambda: region_schedule_time_zone_move(
                region_code=code, old_zone=old_zone, new_zone=new_zone
            )
        )
    return region


def regions_delete(*, regions: QuerySet[Region] | Iterable[Region]) -> tuple[int, dict[str, int]]:
    """Delete regions, and their nightly retrains in the same transaction.

    Left behind, a retrain's schedule sent ``retrain_region`` for a region that no longer
    exists every night, each an "Unknown region code" error in the worker's log, for good.
    """
    codes = (
        list(regions.values_list("pk", flat=True))
        if isinstance(regions, QuerySet)
        else [region.pk for region in regions]
    )
    with transaction.atomic():
        deleted = Region.objects.filter(pk__in=codes).delete()
        for code in codes:
            region_schedule_delete(region_code=code)
    return deleted


def region_delete(*, region: Region) -> tuple[int, dict[str, int]]:
    """Delete one region and its nightly retrain (see :func:`regions_delete`)."""
    return regions_delete(regions=[region])
