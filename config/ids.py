"""Database ids as the API reads them: in URLs and in query strings.

Primary keys are PostgreSQL ``bigint``s, so no row has an id above
``2**63 - 1``. PostgreSQL compares a larger number and finds nothing, but
SQLite (the development database) raises ``OverflowError`` while binding it,
which was a 500. So such an id is refused before it reaches a query: a path
holding one is not a URL of the API (404), a query parameter holding one is
bad input (400 naming it).
"""

import re

import django_filters
from django import forms
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

#: The largest id a row can have (PostgreSQL's bigint).
ID_MAX = 2**63 - 1


def id_from_text(text: str) -> int | None:
    """The id a typed or linked value names, None when it names none.

    ASCII digits only, at most :data:`ID_MAX`: ``str.isdigit()`` is also true of
    "²" (``int`` raises) and of "١٢" (which no household's id is written as), and
    a 20-digit number is past every row. The rule :class:`IdConverter` applies to a
    URL's id, for the staff pages' search boxes and links; the API's query strings and
    bodies read ids through :class:`IdField`.
    """
    text = text.strip()
    if not re.fullmatch(IdConverter.regex, text):
        return None
    number = int(text)
    return number if number <= ID_MAX else None


class IdConverter:
    """``<id:name>``: at most 19 digits, at most :data:`ID_MAX`; anything else does not match.

    Registered in ``config.urls`` for every API route naming a row.
    """

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = id_from_text(value)
        if number is None:
            raise ValueError(f"{value} is beyond the largest id ({ID_MAX})")  # Django: no match
        return number

    def to_url(self, value: int) -> str:
        return str(value)


def is_id_text(text: str) -> bool:
    """Whether ``text`` is written as an id is: ASCII digits, surrounding blanks aside.

    ``int()`` also reads other scripts' digits ("٢"), and DRF's and Django's integer
    fields "2.0" and "+2": each would name the same row as "2" where a path, through
    :class:`IdConverter`, refuses them.
    """
    return re.fullmatch("[0-9]+", text.strip()) is not None


class IdField(serializers.IntegerField):
    """An id in a query string or body: 1 to :data:`ID_MAX`, a 400 naming the field otherwise."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(**kwargs)

    def to_internal_value(self, data: object) -> int:
        if isinstance(data, str) and not is_id_text(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdFormField(forms.IntegerField):
    """Django's integer field, refusing what :func:`is_id_text` refuses."""

    def to_python(self, value: object) -> int | None:
        if isinstance(value, str) and value.strip() and not is_id_text(value):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX})
class IdFilter(django_filters.NumberFilter):
    """An id filter (django-filter): 1 to :data:`ID_MAX`, a 400 naming the parameter otherwise."""

    field_class = IdFormField

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)
