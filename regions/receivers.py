"""Model signal receivers that keep each region's default taste cluster.

Connected in ``regions.apps``. A receiver rather than ``TasteCluster.delete()``: a
queryset's ``delete()`` (admin's "Delete selected", the shell) calls no model's
``delete()``, but sends ``pre_delete`` for each row it deletes.
"""

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from .models import DEFAULT_CLUSTER_KEPT, Region, TasteCluster


def taste_cluster_default_delete_refuse(
    *, instance: TasteCluster, origin: Model | QuerySet | None = None, **_: Any
) -> None:
    """Refuse to delete a region's default cluster while the region keeps other clusters.

    Left without it, the region's assignment put everybody no keyed community holds in
    its alphabetically first cluster. A region deleted takes all its clusters, and a
    deletion of all of a region's clusters leaves it with none (as before any was added,
    which ``region_default_cluster_ensure`` gives its default again). One read per cluster
    deleted, none when its region goes with it.
    """
    if isinstance(origin, Region) or (isinstance(origin, QuerySet) and origin.model is Region):
        return
    going: Any = [instance.pk]
    if isinstance(origin, QuerySet) and origin.model is TasteCluster:
        going = origin.values("pk")
    left_without_default = (
        TasteCluster.objects.filter(pk=instance.pk, is_default=True).exists()
        and TasteCluster.objects.filter(region_id=instance.region_id).exclude(pk__in=going).exists()
    )
    if left_without_default:
        raise ValidationError(
            f"{instance} is {instance.region_id}'s default taste cluster. {DEFAULT_CLUSTER_KEPT}"
        )
