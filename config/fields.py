"""Model fields the project needs beyond Django's own."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


class PlainJSONField(models.JSONField):
    """JSON kept as PostgreSQL ``json`` (the text, checked for syntax), not ``jsonb``.

    For write-once logs that are read whole and never queried into, such as
    the page log's items: ``jsonb`` converts every number of a document to a
    ``numeric`` on insert, which for a homepage's 240 items was about 0.35 ms
    of the database's CPU per page (pgbench of the page log insert: 0.82-0.92
    ms with ``jsonb``, 0.46-0.60 ms with ``json``), on the cores that serve
    the page. Lookups into the document (``items__0``) are not available on
    PostgreSQL; other databases store it exactly as ``JSONField`` does.
    """

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if connection.vendor == "postgresql":
            # psycopg parses json itself (Django turns that off for jsonb only).
            return value
        return super().from_db_value(value, expression, connection)


def is_slug_character(character: str) -> bool:
    """A letter, a mark, a digit, "-" or "_": what a slug in any script is made of."""
    return character in "-_" or unicodedata.category(character)[0] in "LMN"


def validate_script_slug(value: str) -> None:
    """Django's Unicode slug, with the combining marks of the Indic scripts kept.

    ``validate_unicode_slug`` is ``^[-\\w]+$``, and ``\\w`` has no marks: "नाटक"
    (drama) fails it, and a slug made to pass drops its vowel signs, so that "बाल"
    (children) and "बल" (strength) are both "बल", one genre.
    """
    if not value or not all(is_slug_character(c) for c in value):
        raise ValidationError(
            "Enter a slug of letters (with their vowel signs and accents), numbers, "
            "underscores or hyphens.",
            code="invalid",
        )


class ScriptSlugFormField(forms.CharField):
    """The form side of :class:`ScriptSlugField`: any script, marks kept.

    ``allow_unicode`` is what admin's prepopulated-slug script reads: without it the
    script transliterates ("Драма" -> "drama", not the "драма" an import files it
    under) or drops the name's letters (Korean, Hindi) altogether.
    """

    allow_unicode = True
    default_validators = [validate_script_slug]


class ScriptSlugField(models.SlugField):
    """A slug in any script, its combining marks kept (:func:`validate_script_slug`)."""

    default_validators = [validate_script_slug]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Unicode, but not through SlugField's allow_unicode, which would put
        # validate_unicode_slug in place of the class's validator.
        kwargs.pop("allow_unicode", None)
        super().__init__(*args, **kwargs)
        self.allow_unicode = True

    def deconstruct(self) -> tuple[str, str, list, dict]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("allow_unicode", None)
        return name, path, args, kwargs

    def formfield(self, **kwargs: Any) -> forms.Field:
        # forms.SlugField would apply validate_unicode_slug again, refusing the marks.
        return models.CharField.formfield(self, **{"form_class": ScriptSlugFormField, **kwargs})
