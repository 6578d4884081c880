"""Date-times in query strings, and the ``+`` of their offset that arrives as a space.

In a query string an unencoded ``+`` means a space, so a client that sends
``at=2026-12-04T21:00:00+05:30`` as is asks for ``2026-12-04T21:00:00 05:30``
and got "Datetime has wrong format", which does not say what to fix. A
date-time followed by a space and an ``HH:MM`` or ``HHMM`` offset is that
mistake and no other, so it is refused naming it. A control character (a NUL,
a tab) is refused too: Python's reader skips one in some places and reads the
time around it.

Every date-time a query string carries (the homepage's ``at``, the signal
history's ``occurred_after`` and ``occurred_before``) is read by one function,
:func:`query_datetime_parse`, to one grammar: RFC 3339's date-time, as ISO
8601's extended calendar format writes it, with its offset. Python's
``fromisoformat`` (which Django's reader tries first) takes much more: a week
date (``2026-W49-1``), digits without their hyphens and colons, an offset
with seconds (``+05:30:30``) or without its colon, a comma before the
fraction, any character between date and time. No client means those, and a
time read from one was answered as if it were the time sent.
"""

import datetime as dt
import re
from typing import Any

from django import forms
from django_filters import IsoDateTimeFilter
from django_filters.fields import IsoDateTimeField
from rest_framework import serializers

# A date and time (T or space between them), then the space that was a '+', then an
# HH:MM or HHMM offset.
UNENCODED_PLUS = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)? \d{2}:?\d{2}")
UNENCODED_PLUS_MESSAGE = (
    "The '+' of the UTC offset must be sent as %2B: in a query string a '+' reads as a space."
)
#: A time without its offset would be read in the server's zone, hours off the client's.
NAIVE_MESSAGE = "Give a time zone offset (e.g. 'Z' or '+05:30')."
#: The format of a time that must carry its offset. DRF's own sentence writes the offset in
#: brackets, as optional: a client that believed it was refused again, for the offset.
OFFSET_FORMAT_MESSAGE = (
    "Must be a date and time with its UTC offset: YYYY-MM-DDThh:mm[:ss[.uuuuuu]] followed by "
    "Z, +HH:MM or -HH:MM."
)
CONTROL_MESSAGE = "Must not hold a control character (such as NUL or a tab)."
#: NUL to US, and DEL: none is part of a date-time as any client writes one.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def holds_control_character(value: object) -> bool:
    """Whether ``value`` is text holding a control character.

    Python's ISO reader skips a NUL after a time's offset, and a NUL or a tab
    before its ``Z`` (``10:00:00\\x00Z`` reads as 10:00 UTC): the time read was
    not the text sent, and a client's bug that mangled it was answered as if
    the time were well formed.
    """
    return isinstance(value, str) and _CONTROL.search(value) is not None


def plus_sent_unencoded(value: object) -> bool:
    """Whether ``value`` is a date-time whose offset's ``+`` arrived as a space."""
    return isinstance(value, str) and UNENCODED_PLUS.fullmatch(value.strip()) is not None


#: A date that is not YYYY-MM-DD: ISO 8601 has others that Python's reader takes.
CALENDAR_DATE_MESSAGE = (
    "The date must be a calendar date, YYYY-MM-DD: a week date (2026-W49-1), an ordinal "
    "date (2026-341) or a date without its hyphens is not read."
)
#: An offset that is not Z or ±HH:MM: RFC 3339 has no seconds in it, and needs both parts.
OFFSET_MESSAGE = (
    "The UTC offset must be Z, +HH:MM or -HH:MM: hours and minutes with their colon "
    "(not +05:30:30, +0530 or +05)."
)
#: Well formed, but no such moment (month 13, 31 April, 24:00, a leap second).
NO_SUCH_TIME_MESSAGE = "No such date and time ({reason})."

# RFC 3339's date-time (section 5.6), with the seconds optional as ISO 8601's extended
# format allows (the format the 400s have always given, hh:mm[:ss[.uuuuuu]]): ASCII
# digits only ("\d" takes any script's), 'T' or 't' or the space RFC 3339 allows
# between date and time, 'Z' or 'z'.
_DATE = r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
_TIME = (
    r"[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?)?"
)
_OFFSET = r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<offset_hour>[0-9]{2}):(?P<offset_minute>[0-9]{2}))"
_DATE_TIME = re.compile(f"{_DATE}(?:{_TIME}{_OFFSET}?)?")
_CALENDAR_DATE = re.compile(f"{_DATE}(?![0-9])")
_DATE_AND_TIME = re.compile(f"{_DATE}{_TIME}")
_ATTEMPTED_DATE = re.compile(r"[0-9]{4}")


class QueryDateTimeInvalid(ValueError):
    """Why a query string's date-time is refused: ``code`` for the 400, ``message`` for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def query_datetime_parse(text: str) -> dt.datetime:
    """The aware instant a query parameter's text names, or :class:`QueryDateTimeInvalid`.

    The one reader of every query string's date-time, so that each parameter
    takes the same spellings and refuses the others with the same reasons:
    RFC 3339's date-time (``YYYY-MM-DDThh:mm[:ss[.fraction]]`` then ``Z`` or
    ``±HH:MM``). A naive time, or a bare date, is refused as naive: read in the
    server's zone it would be hours off the client's. Digits of a fraction past
    the microsecond are dropped, as Python's reader drops them.
    """
    if holds_control_character(text):
        raise QueryDateTimeInvalid("control", CONTROL_MESSAGE)
    if plus_sent_unencoded(text):
        raise QueryDateTimeInvalid("unencoded_plus", UNENCODED_PLUS_MESSAGE)
    found = _DATE_TIME.fullmatch(text)
    if found is None:
        raise _unread(text)
    if found["hour"] is None or found["offset"] is None:
        raise QueryDateTimeInvalid("naive", NAIVE_MESSAGE)
    if found["sign"] is None:
        zone = dt.UTC
    else:
        hours, minutes = int(found["offset_hour"]), int(found["offset_minute"])
        if hours > 23 or minutes > 59:  # RFC 3339's time-numoffset: hour and minute bounds
            raise QueryDateTimeInvalid("offset", OFFSET_MESSAGE)
        sign = -1 if found["sign"] == "-" else 1
        zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        return dt.datetime(
            int(found["year"]),
            int(found["month"]),
            int(found["day"]),
            int(found["hour"]),
            int(found["minute"]),
            int(found["second"] or 0),
            int((found["fraction"] or "")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError as impossible:  # "month must be in 1..12", "day is out of range ..."
        raise QueryDateTimeInvalid(
            "invalid", NO_SUCH_TIME_MESSAGE.format(reason=impossible)
        ) from None


def _unread(text: str) -> QueryDateTimeInvalid:
    """The most telling reason ``text`` is not the grammar: its date, its offset, or the whole."""
    if _ATTEMPTED_DATE.match(text) and not _CALENDAR_DATE.match(text):
        return QueryDateTimeInvalid("invalid", CALENDAR_DATE_MESSAGE)
    date_and_time = _DATE_AND_TIME.match(text)
    if date_and_time is not None and text[date_and_time.end() :][:1] in ("+", "-"):
        return QueryDateTimeInvalid("offset", OFFSET_MESSAGE)
    return QueryDateTimeInvalid("invalid", OFFSET_FORMAT_MESSAGE)


class QueryDateTimeField(serializers.DateTimeField):
    """DRF's date-time field for query parameters, reading them with :func:`query_datetime_parse`.

    Its own reason for each refusal (an unencoded ``+``, a control character, a
    week date, an offset with seconds, a naive time), where DRF's reader took
    whatever Python's does.
    """

    def to_internal_value(self, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise serializers.ValidationError(OFFSET_FORMAT_MESSAGE, code="invalid")
        try:
            moment = query_datetime_parse(value)
        except QueryDateTimeInvalid as refused:
            raise serializers.ValidationError(refused.message, code=refused.code) from None
        return self.enforce_timezone(moment)


class QueryIsoDateTimeField(IsoDateTimeField):
    """django-filter's ISO date-time, read with :func:`query_datetime_parse`.

    django-filter made a naive time (or a bare date) aware in the current time
    zone, UTC here: a client in India asking for its history since midnight
    got it since 05:30 its time. The homepage's ``at`` and the signals'
    ``occurred_at`` refuse a naive time; so does this, and it takes the spellings
    ``at`` takes and no others.
    """

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values or isinstance(value, dt.datetime):
            return super().to_python(value)
        try:
            moment = query_datetime_parse(str(value))
        except QueryDateTimeInvalid as refused:
            # A form error's message is %-formatted with its params (by django-filter even
            # without any), so the reason, which may hold "%2B", goes in as a param.
            raise forms.ValidationError(
                "%(reason)s", code=refused.code, params={"reason": refused.message}
            ) from None
        return super().to_python(moment)


class QueryIsoDateTimeFilter(IsoDateTimeFilter):
    """django-filter's ISO date-time filter, reading its value with :func:`query_datetime_parse`."""

    field_class = QueryIsoDateTimeField
