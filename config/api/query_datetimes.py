"""Date-times in query strings, and the ``+`` of their offset that arrives as a space.

In a query string an unencoded ``+`` means a space, so a client that sends
``at=2026-12-04T21:00:00+05:30`` as is asks for ``2026-12-04T21:00:00 05:30``
and got "Datetime has wrong format", which does not say what to fix. A
date-time followed by a space and an ``HH:MM`` or ``HHMM`` offset is that
mistake and no other, so it is refused naming it. A control character (a NUL,
a tab) is refused too: Python's reader skips one in some places and reads the
time around it.
"""

import re
from typing import Any

from django import forms
from django.utils.dateparse import parse_datetime
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


class QueryDateTimeField(serializers.DateTimeField):
    """DRF's date-time field for query parameters: names an unencoded ``+`` as the mistake,
    and refuses a control character rather than reading the time around it."""

    default_error_messages = {
        "unencoded_plus": UNENCODED_PLUS_MESSAGE,
        "control": CONTROL_MESSAGE,
    }

    def to_internal_value(self, value: Any) -> Any:
        if holds_control_character(value):
            self.fail("control")
        if plus_sent_unencoded(value):
            self.fail("unencoded_plus")
        return super().to_internal_value(value)


def _naive(value: object) -> bool:
    """Whether ``value`` is a date or date-time written without a UTC offset."""
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        moment = parse_datetime(value.strip())
    except ValueError:  # well formed, impossible (month 13): the field's own error says so
        return False
    return moment is not None and moment.tzinfo is None


class QueryIsoDateTimeField(IsoDateTimeField):
    """django-filter's ISO date-time, refusing what it would read in the server's time zone.

    django-filter makes a naive time (or a bare date) aware in the current time
    zone, UTC here: a client in India asking for its history since midnight
    got it since 05:30 its time. The homepage's ``at`` and the signals'
    ``occurred_at`` refuse a naive time; so does this.
    """

    # A form error's message is %-formatted with its params (by django-filter even without
    # any), so the literal "%2B" goes in as a param.
    default_error_messages = {
        "unencoded_plus": UNENCODED_PLUS_MESSAGE.replace("%2B", "%(encoded)s"),
        "naive": NAIVE_MESSAGE,
        "control": CONTROL_MESSAGE,
    }

    def to_python(self, value: Any) -> Any:
        if holds_control_character(value):
            raise forms.ValidationError(self.error_messages["control"], code="control")
        if plus_sent_unencoded(value):
            raise forms.ValidationError(
                self.error_messages["unencoded_plus"],
                code="unencoded_plus",
                params={"encoded": "%2B"},
            )
        if _naive(value):
            raise forms.ValidationError(self.error_messages["naive"], code="naive")
        return super().to_python(value)


class QueryIsoDateTimeFilter(IsoDateTimeFilter):
    """django-filter's ISO date-time filter, naming an unencoded ``+`` as the mistake."""

    field_class = QueryIsoDateTimeField
