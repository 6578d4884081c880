"""``column = ANY(%s)``: one array parameter instead of one placeholder per value.

Django's ``__in`` renders N placeholders, which psycopg must split and bind one
by one; for the hundreds of ids in a signal batch that costs milliseconds per
query on the ingest and homepage paths. Used directly as a filter expression:
``Title.objects.filter(AnyOf(F("pk"), ids))``. Other databases get a plain IN.
"""

from collections.abc import Iterable
from typing import Any

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
