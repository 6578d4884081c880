"""The deployment checks that name each region whose time zone is no time zone, and each
whose taste clusters have no default."""

from collections.abc import Callable, Sequence
from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db import DatabaseError, router

from .models import Region
from .selectors import region_time_zones_invalid, regions_without_default_cluster


@checks.register(checks.Tags.database)
def region_time_zones_check(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Warn of each region whose zone a write that bypassed ``Region.save()`` made bad.

    Its pages are served on the UTC clock and its nightly retrain is not scheduled
    (``install_schedules`` skips it) until the zone is corrected; the serving log says so
    at each catalogue load, but a deploy should say it before anyone reads a log. Tagged
    ``database``, so it runs with ``migrate`` (compose's ``migrate`` service, every ``up``)
    and ``check --database default``, never in a plain ``check``, which needs no database.
    A warning, not an error: an error would stop ``migrate`` and every service after it,
    all regions' pages for one region's clock.
    """
    invalid = _regions_read(databases, region_time_zones_invalid)
    if not invalid:
        return []
    named = ", ".join(f"{code} ({zone!r})" for code, zone in invalid)
    return [
        checks.Warning(
            f"Regions whose time zone is not an IANA time zone: {named}. Their homepages are "
            "computed on the UTC clock and their nightly retrains are not scheduled.",
            hint="Correct each zone in admin (Regions), e.g. 'Asia/Kolkata', then run "
            "install_schedules again.",
            obj="regions.Region",
            id="tonight.W005",
        )
    ]


@checks.register(checks.Tags.database)
def region_default_clusters_check(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[checks.CheckMessage]:
    """Warn of each region that has taste clusters and none of them its default.

    Its retrains put everybody no keyed community holds in its alphabetically first
    cluster. ``regions.services`` (which make a region's first cluster its default) and
    admin's pages keep a default; a write that bypasses them (a bare ``save()`` or
    ``delete()``, ``QuerySet.update()``, ``bulk_create``, a data migration, ``loaddata``)
    or a region whose clusters were added before them may have none. Run with ``migrate`` and
    ``check --database default``, as the time zone check is; a warning for the same reason.
    """
    without = _regions_read(databases, regions_without_default_cluster)
    if not without:
        return []
    named = ", ".join(f"{code} (its first cluster, {slug!r}, holds them)" for code, slug in without)
    return [
        checks.Warning(
            "Regions whose taste clusters have no default, which holds everybody no keyed "
            f"community holds: {named}.",
            hint="Tick one cluster of each as its default on the region's page in admin "
            "(Regions), then retrain the region.",
            obj="regions.Region",
            id="tonight.W008",
        )
    ]


def _regions_read(
    databases: Sequence[str] | None, read: Callable[..., list[tuple[str, str]]]
) -> list[tuple[str, str]]:
    """What ``read`` finds in the regions' database when this run of the checks covers it
    (``migrate``, ``check --database``); nothing otherwise, nor before the regions'
    migration (a fresh database has no region to check yet)."""
    alias = router.db_for_read(Region)
    if alias not in (databases or ()):
        return []
    try:
        return read(using=alias)
    except DatabaseError:
        return []
