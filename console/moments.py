"""The moment a staff preview is for: a weekday and an hour in the household's time zone."""

import datetime as dt

from regions.models import Region
from regions.time_zones import region_zone_or_utc, zone_named

WEEKDAYS: tuple[str, ...] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


def local_moment(*, weekday: int, hour: int, zone: dt.tzinfo, now: dt.datetime) -> dt.datetime:
    """The next ``weekday`` at ``hour``:00 local time, counting the current hour as next.

    The next occurrence rather than the last: a preview asks "what will this
    profile see on Friday at nine", and everything the profile did up to now
    belongs in the answer (the page's history is read up to the moment).
    Returns an aware datetime in ``zone`` (a nonexistent local time in a DST
    gap resolves as ``zoneinfo`` does, to the offset before the change).
    """
    if not 0 <= weekday <= 6:
        raise ValueError("weekday must be in 0..6 (Monday is 0)")
    if not 0 <= hour <= 23:
        raise ValueError("hour must be in 0..23")
    local_now = now.astimezone(zone)
    this_hour = local_now.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    days_ahead = (weekday - this_hour.weekday()) % 7
    candidate = (this_hour + dt.timedelta(days=days_ahead)).replace(hour=hour)
    if candidate < this_hour:
        candidate += dt.timedelta(days=7)
    return candidate.replace(tzinfo=zone)


def region_zone(region: Region) -> dt.tzinfo:
    """The region's IANA zone; UTC, logged, if a write that bypassed its save made it none.

    UTC as the API serves such a region (:mod:`regions.time_zones`): a preview shows
    the page a client would get, rather than every console page of the region's
    households failing.
    """
    return region_zone_or_utc(code=region.code, name=region.time_zone)


def region_zone_label(region: Region) -> str:
    """The zone's name as a page shows it beside a moment, saying so if UTC stands in."""
    if zone_named(region.time_zone) is None:
        return f"UTC: the region's time zone {region.time_zone!r} is no time zone"
    return region.time_zone
