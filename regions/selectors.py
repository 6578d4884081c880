"""Reads of the regions Tonight serves."""

import logging
import zoneinfo

from django.db.models import QuerySet, Value
from django.db.models.functions import Concat

from .models import Region, TasteCluster
from .time_zones import INVALID_ZONE_LOGGED, zone_named

logger = logging.getLogger(__name__)


def region_codes() -> list[str]:
    """Every region's code, alphabetically: the order ``train_models --all`` trains them in."""
    return list(Region.objects.order_by("code").values_list("code", flat=True))


def region_time_zones() -> dict[str, zoneinfo.ZoneInfo]:
    """Each region's time zone by code, leaving out (with an error logged) a zone that is none.

    ``Region.save()`` refuses such a zone, but a bulk write or a data migration does not
    check it, and one made every catalogue load raise: every region's homepages failed.
    Left out, the region's pages are computed in UTC, as its readers do for a region
    they do not find (:mod:`regions.time_zones`).
    """
    zones = {}
    for code, name in Region.objects.order_by("code").values_list("code", "time_zone"):
        zone = zone_named(name)
        if zone is None:
            logger.error(INVALID_ZONE_LOGGED, code, name)
        else:
            zones[code] = zone
    return zones


def region_time_zones_invalid(*, using: str = "default") -> list[tuple[str, str]]:
    """The (code, zone) of each region whose zone is no IANA zone, by code."""
    regions = Region.objects.using(using).order_by("code").values_list("code", "time_zone")
    return [(code, name) for code, name in regions if zone_named(name) is None]


def regions_without_default_cluster(*, using: str = "default") -> list[tuple[str, str]]:
    """The (code, first slug) of each region that has taste clusters and no default, by code.

    The first slug is the cluster its assignment puts everybody no keyed community holds in
    (``recommendations.services.clusters``: the default's place, first by slug without one).
    """
    first: dict[str, str] = {}
    defaulted: set[str] = set()
    clusters = (
        TasteCluster.objects.using(using)
        .order_by("region", "slug")
        .values_list("region_id", "slug", "is_default")
    )
    for code, slug, is_default in clusters:
        first.setdefault(code, slug)
        if is_default:
            defaulted.add(code)
    return [(code, slug) for code, slug in first.items() if code not in defaulted]


def region_exists(*, code: str) -> bool:
    return Region.objects.filter(code=code).exists()


# What lists show for a region or a cluster is no column: staff copy it into a search box.
# Both are built for every row, a few dozen of them; keep each in step with its ``__str__``.


def region_codes_labelled(*, containing: str) -> QuerySet[Region]:
    """The codes of the regions whose label as lists show it ("India (IN)") contains
    ``containing``, in any case and accents aside: its name, its code or both."""
    return (
        Region.objects.alias(label=Concat("name", Value(" ("), "code", Value(")")))
        .filter(label__unaccented__icontains=containing)
        .values("pk")
    )


def taste_cluster_ids_labelled(*, containing: str) -> QuerySet[TasteCluster]:
    """The ids of the clusters whose label as lists show it ("IN-Tamil") contains
    ``containing``, in any case and accents aside."""
    return (
        TasteCluster.objects.alias(label=Concat("region_id", Value("-"), "name"))
        .filter(label__unaccented__icontains=containing)
        .values("pk")
    )
