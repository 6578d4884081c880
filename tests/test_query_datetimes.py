"""The one reader of a query string's date-times: RFC 3339, and a reason for what it is not."""

import datetime as dt

import pytest

from config.api.query_datetimes import (
    CALENDAR_DATE_MESSAGE,
    NAIVE_MESSAGE,
    OFFSET_FORMAT_MESSAGE,
    OFFSET_MESSAGE,
    QueryDateTimeInvalid,
    query_datetime_parse,
)

INDIA = dt.timezone(dt.timedelta(hours=5, minutes=30))


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-12-07T21:00:00Z", dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC)),
        ("2026-12-07T21:00Z", dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC)),
        ("2026-12-07T21:00:00+05:30", dt.datetime(2026, 12, 7, 21, tzinfo=INDIA)),
        ("2026-12-07T21:00:00-00:00", dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC)),
        # RFC 3339 allows lower case, and a space between date and time
        ("2026-12-07t21:00:00z", dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC)),
        ("2026-12-07 21:00:00Z", dt.datetime(2026, 12, 7, 21, tzinfo=dt.UTC)),
        ("2026-12-07T21:00:00.123Z", dt.datetime(2026, 12, 7, 21, 0, 0, 123000, tzinfo=dt.UTC)),
        # a nanosecond clock's digits past the microsecond are dropped, as before
        (
            "2026-12-07T21:00:00.123456789Z",
            dt.datetime(2026, 12, 7, 21, 0, 0, 123456, tzinfo=dt.UTC),
        ),
        (
            "2026-12-07T21:00:00+14:00",
            dt.datetime(2026, 12, 7, 21, tzinfo=dt.timezone(dt.timedelta(hours=14))),
        ),
    ],
)
def test_rfc_3339_date_times_are_read_as_the_instant_they_name(text, instant):
    moment = query_datetime_parse(text)

    assert moment == instant
    assert moment.utcoffset() == instant.utcoffset()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # spellings Python's fromisoformat takes, and the API took, that no client means
        ("2026-12-07T21:00:00+05:30:30", OFFSET_MESSAGE),
        ("2026-12-07T21:00:00+05:30:30.5", OFFSET_MESSAGE),
        ("2026-12-07T21:00:00+0530", OFFSET_MESSAGE),
        ("2026-12-07T21:00:00+05", OFFSET_MESSAGE),
        ("2026-12-07T21:00:00+05:30Z", OFFSET_MESSAGE),
        ("2026-12-07T21:00:00+24:00", OFFSET_MESSAGE),
        ("2026-W50-1T21:00:00Z", CALENDAR_DATE_MESSAGE),
        ("2026W501T21:00:00Z", CALENDAR_DATE_MESSAGE),
        ("20261207T210000Z", CALENDAR_DATE_MESSAGE),
        ("2026-341T21:00Z", CALENDAR_DATE_MESSAGE),
        ("2026-12-7T21:00Z", CALENDAR_DATE_MESSAGE),
        ("2026-12-07X21:00:00Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07\u200321:00:00Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07T21Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07T9:00Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07T21:00:00,5Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07T21:00:00.Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07T21:00:00 Z", OFFSET_FORMAT_MESSAGE),
        ("2026-12-07T21:00:00\u00a0Z", OFFSET_FORMAT_MESSAGE),
        ("\uff12\uff10\uff12\uff16-12-07T21:00Z", OFFSET_FORMAT_MESSAGE),  # fullwidth digits
        (" 2026-12-07T21:00:00Z", OFFSET_FORMAT_MESSAGE),
        ("tonight", OFFSET_FORMAT_MESSAGE),
        ("", OFFSET_FORMAT_MESSAGE),
        # without an offset, or without a time: as the docs have it, refused as naive
        ("2026-12-07T21:00:00", NAIVE_MESSAGE),
        ("2026-12-07", NAIVE_MESSAGE),
    ],
)
def test_other_spellings_are_refused_with_the_reason(text, reason):
    with pytest.raises(QueryDateTimeInvalid) as refused:
        query_datetime_parse(text)

    assert refused.value.message == reason


@pytest.mark.parametrize(
    "text", ["2026-13-01T00:00Z", "2026-04-31T00:00Z", "2026-12-07T24:00Z", "2026-12-31T23:59:60Z"]
)
def test_a_well_formed_moment_that_does_not_exist_says_which_part(text):
    with pytest.raises(QueryDateTimeInvalid) as refused:
        query_datetime_parse(text)

    assert refused.value.message.startswith("No such date and time (")
    assert "must be in" in refused.value.message or "out of range" in refused.value.message
