"""A region's time zone as its pages are computed: its IANA zone, or UTC, said loudly.

``Region.save()`` refuses a name that is no IANA zone, but a bulk write,
``QuerySet.update()``, ``loaddata`` or a data migration does not call it, and the
database cannot check a zone name. One such region must not fail every page of its
households (nor, read with the others, every region's): it is served on the UTC
clock, and an error is logged each time its zone is read for serving, until it is
corrected in admin. ``check --database default`` (and ``migrate``) names it too
(``regions.checks``).
"""

import datetime as dt
import functools
import logging
import zoneinfo

logger = logging.getLogger(__name__)

#: Logged (an error) where a region's zone is read for serving and is no zone.
INVALID_ZONE_LOGGED = (
    "Region %s's time zone %r is not an IANA time zone: its local hours and weekdays are "
    "taken in UTC until it is corrected in admin (Regions)"
)


@functools.cache
def _iana_names() -> frozenset[str]:
    # Read once per process: listing them walks the zone files.
    return frozenset(zoneinfo.available_timezones())


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone ``name`` names, None if it names none.

    Checked against the names first, as ``validate_time_zone`` checks a saved one:
    ``ZoneInfo`` itself raises a different error for each way a name can be wrong
    (a folder of zones such as ``"America"`` is an ``IsADirectoryError``).
    """
    if name not in _iana_names():
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return None


def region_zone_or_utc(*, code: str, name: str) -> dt.tzinfo:
    """Region ``code``'s zone ``name``; UTC, with an error logged, if it is no zone."""
    zone = zone_named(name)
    if zone is None:
        logger.error(INVALID_ZONE_LOGGED, code, name)
        return dt.UTC
    return zone
