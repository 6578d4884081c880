"""console.moments: (weekday, hour) -> the next such moment in the household's time zone."""

import datetime as dt
import zoneinfo

import pytest

from console.moments import local_moment

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# Wednesday 2026-03-04 10:20 in Kolkata (04:50 UTC).
NOW = dt.datetime(2026, 3, 4, 4, 50, tzinfo=dt.UTC)


def test_a_later_day_of_this_week_is_this_week():
    at = local_moment(weekday=4, hour=21, zone=KOLKATA, now=NOW)

    assert at == dt.datetime(2026, 3, 6, 21, 0, tzinfo=KOLKATA)
    assert at.utcoffset() == dt.timedelta(hours=5, minutes=30)


def test_the_current_hour_counts_as_next_and_an_earlier_hour_today_is_next_week():
    assert local_moment(weekday=2, hour=10, zone=KOLKATA, now=NOW) == dt.datetime(
        2026, 3, 4, 10, 0, tzinfo=KOLKATA
    )
    assert local_moment(weekday=2, hour=9, zone=KOLKATA, now=NOW) == dt.datetime(
        2026, 3, 11, 9, 0, tzinfo=KOLKATA
    )


def test_wall_clock_time_is_kept_across_a_daylight_saving_change():
    # New York moves to summer time on Sunday 2026-03-08.
    at = local_moment(weekday=0, hour=20, zone=NEW_YORK, now=NOW)

    assert (at.date(), at.hour) == (dt.date(2026, 3, 9), 20)
    assert at.utcoffset() == dt.timedelta(hours=-4)


@pytest.mark.parametrize(("weekday", "hour"), [(7, 0), (-1, 0), (0, 24)])
def test_out_of_range_values_are_refused(weekday, hour):
    with pytest.raises(ValueError, match="must be in"):
        local_moment(weekday=weekday, hour=hour, zone=KOLKATA, now=NOW)
