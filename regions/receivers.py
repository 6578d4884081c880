"""Model signal receivers that keep each region's default taste cluster.

Connected in ``regions.apps``. A receiver rather than ``TasteCluster.delete()``: a
queryset's ``delete()`` (admin's "Delete selected", the shell) calls no model's
``delete()``, but sends ``pre_delete`` for each row it deletes.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from .models import DEFAULT_CLUSTER_KEPT, Region, TasteCluster, region_lock


def taste_cluster_default_delete_refuse(
    *,
    instance: TasteCluster,
    using: str,
    origin: Model | QuerySet | None = None,
    **_: Any,
) -> None:
    """Refuse to delete a region's default cluster while the region keeps other clusters.

    Left without it, the region's assignment put everybody no keyed community holds in
    its alphabetically first cluster. A region deleted takes all its clusters, and a
    deletion of all of a region's clusters leaves it with none (as before any was added:
    its next first cluster is made its default by ``TasteCluster.save``, or "Everyone" by
    ``region_default_cluster_ensure``). Read with the region's row locked, as
    ``TasteCluster.save`` reads it: a cluster deleted while another save moved the
    default to it was read as no default, and the region kept a cluster and no default.
    Refused, the deletion is rolled back to the savepoint ``TasteCluster.delete`` and
    ``TasteClusterQuerySet.delete`` open, so the caller's transaction goes on. One read
    and the lock per cluster deleted, none when its region goes with it.
    """
    if isinstance(origin, Region) or (isinstance(origin, QuerySet) and origin.model is Region):
        return
    region_lock(region_code=instance.region_id, using=using)
    clusters = TasteCluster._default_manager.using(using)
    going: Any = [instance.pk]
    if isinstance(origin, QuerySet) and origin.model is TasteCluster:
        going = origin.values("pk")
    left_without_default = (
        clusters.filter(pk=instance.pk, is_default=True).exists()
        and clusters.filter(region_id=instance.region_id).exclude(pk__in=going).exists()
    )
    if left_without_default:
        raise ValidationError(
            f"{instance} is {instance.region_id}'s default taste cluster. {DEFAULT_CLUSTER_KEPT}"
        )
