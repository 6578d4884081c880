"""Model instances from plain SQL rows, for the few reads on the homepage's hot path.

Compiling an ORM query (a join, a filter, an ordering) costs a millisecond or
more of Python per request, several times what PostgreSQL needs to run it.
The request path's reads are fixed, so their SQL is built once per process
and the rows are turned into instances here exactly as the ORM would: the
same columns, the same converters (a SQLite datetime still comes back aware),
``Model.from_db`` so the instances are marked as loaded from the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model

M = TypeVar("M", bound=Model)
_Converter = Callable[[Any, Any, Any], Any]


class RowReader(Generic[M]):
    """Reads ``model``'s concrete columns from a slice of a raw row.

    Parameters
    ----------
    model
    alias
        The table's alias in the SQL that :attr:`columns` goes into.
    using
        The database alias (the default database).
    """

    def __init__(self, model: type[M], *, alias: str, using: str = "default") -> None:
        connection = connections[using]
        quote = connection.ops.quote_name
        self.model = model
        self.using = using
        self.fields = tuple(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.columns = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        self._converters: list[tuple[int, Any, list[_Converter]]] = []
        for i, field in enumerate(self.fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self._converters.append((i, column, found))

    def __len__(self) -> int:
        return len(self.fields)

    def instance(self, row: Sequence[Any], start: int = 0) -> M:
        """The model instance of ``row[start:start + len(self)]``."""
        values = list(row[start : start + len(self.fields)])
        if self._converters:
            connection = connections[self.using]
            for i, column, converters in self._converters:
                for converter in converters:
                    values[i] = converter(values[i], column, connection)
        return self.model.from_db(self.using, self.attnames, values)
