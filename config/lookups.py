"""Lookups of our own: ``AnyOf`` and the searches' ``unaccented`` transform.

``column = ANY(%s)``: one array parameter instead of one placeholder per value.
Django's ``__in`` renders N placeholders, which psycopg must split and bind one
by one; for the hundreds of ids in a signal batch that costs milliseconds per
query on the ingest and homepage paths. Used directly as a filter expression:
``Title.objects.filter(AnyOf(F("pk"), ids))``. Other databases get a plain IN.
"""

import unicodedata
from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.lookups import Unaccent
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Lookup


class AnyOf(Lookup):
    lookup_name = "any_of"
    prepare_rhs = False

    def __init__(self, lhs: F | Any, rhs: Iterable[Any], *, db_type: str | None = None) -> None:
        """``db_type`` casts the array on PostgreSQL (``"uuid"`` when the values are text)."""
        super().__init__(lhs, list(rhs))
        self.db_type = db_type

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if not self.rhs:
            return "1 = 0", []
        # ``prepare_rhs`` is off for PostgreSQL's one array, so the column's own conversion
        # happens here: SQLite has no UUID type and stores a UUID as its 32 hex digits, which
        # neither a uuid.UUID (unbindable) nor its dashed text would match.
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=False) for value in self.rhs]
        placeholders = ", ".join(["%s"] * len(values))
        return f"{lhs} IN ({placeholders})", [*lhs_params, *values]

    def as_postgresql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        cast = f"::{self.db_type}[]" if self.db_type else ""
        return f"{lhs} = ANY(%s{cast})", [*lhs_params, self.rhs]


#: PostgreSQL's ``unaccent`` behind an ``IMMUTABLE`` function of ours (created by
#: ``catalog 0007``), which an index may hold; SQLite gets a Python stand-in of that name.
UNACCENTED_FUNCTION = "tonight_unaccent"


class Unaccented(Unaccent):
    """``name__unaccented__icontains``: both sides without their accents ("Pele" finds "Pelé").

    Django's ``unaccent`` transform calls ``unaccent()``, which PostgreSQL declares
    ``STABLE`` (its dictionary could change), so no index can hold it and every search
    read its whole table. This calls the immutable wrapper, on which the admin's trigram
    indexes are built (``config.search_indexes``). Registered for text columns by
    ``config.apps``.
    """

    lookup_name = "unaccented"
    function = UNACCENTED_FUNCTION


def unaccented(text: str | None) -> str | None:
    """``text`` without its combining marks, as SQLite's stand-in for the wrapper.

    Near PostgreSQL's ``unaccent`` for the Latin letters staff type ("é", "ã", "ç", "ë"),
    not its rules exactly: a letter no decomposition splits ("ø", "ł", "æ") is kept.
    """
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def sqlite_unaccented_register(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """Give each new SQLite connection (the embedded demo's) the wrapper's function.

    A ``connection_created`` receiver: PostgreSQL's comes from the migration instead.
    """
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            UNACCENTED_FUNCTION, 1, unaccented, deterministic=True
        )
