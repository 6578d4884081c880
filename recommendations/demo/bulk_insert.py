"""Inserting hundreds of thousands of rows from tuples: COPY on PostgreSQL, bulk_create else.

``bulk_create`` spends tens of microseconds per row in Python (a model
instance, per-field preparation, parameter adaptation) before PostgreSQL sees
anything; at benchmark size (15,000 titles, 100,000 profiles) that is minutes.
On PostgreSQL rows are therefore streamed through ``COPY ... FROM STDIN`` in
text format, built straight from tuples. When the caller needs the new ids,
they are taken from the table's own sequence first (``nextval`` in one query)
and written explicitly, so the sequence stays in step with the table.

Other databases (SQLite for a first local run) get ``bulk_create`` in batches.

Fields the caller does not pass are written with their model default, and
``auto_now``/``auto_now_add`` timestamps with the current time, as ``save()``
would.
"""

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

BATCH_SIZE = 5000
COPY_CHUNK_ROWS = 50_000
NULL = "\\N"  # COPY's text-format NULL
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, dict)):
        value = json.dumps(value)
    elif isinstance(value, dt.datetime):
        value = value.isoformat()
    return str(value).translate(_ESCAPES)


def missing_field_defaults(
    model: type[models.Model], given: Sequence[str]
) -> list[tuple[models.Field, Any]]:
    """The concrete fields not in ``given`` (names or attnames), with the value save() would use."""
    now = timezone.now()
    result = []
    for f in model._meta.concrete_fields:
        if f.primary_key or f.name in given or f.attname in given:
            continue
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            result.append((f, now))
        else:
            result.append((f, f.get_default()))
    return result


def copy_statement(model: type[models.Model], fields: Sequence[str]) -> str:
    """``COPY <table> (<columns>) FROM STDIN`` for these fields of ``model``."""
    quote = connection.ops.quote_name
    columns = [model._meta.get_field(name).column for name in fields]
    return "COPY {} ({}) FROM STDIN".format(
        quote(model._meta.db_table), ", ".join(quote(c) for c in columns)
    )


def _allocate_ids(model: type[models.Model], count: int) -> list[int]:
    pk = model._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def insert_rows(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    return_ids: bool = False,
    advance: Callable[[int], None] | None = None,
) -> list[int]:
    """Insert ``rows`` (tuples of values for ``fields``, attnames for foreign keys).

    Returns the new primary keys in row order when ``return_ids``, else [].
    """
    if not rows:
        return []
    if connection.vendor != "postgresql":
        return _bulk_create(model, fields, rows, return_ids=return_ids, advance=advance)

    defaults = missing_field_defaults(model, fields)
    suffix = "".join(f"\t{copy_text(value)}" for _, value in defaults)
    names = [*fields, *(f.name for f, _ in defaults)]
    ids: list[int] = []
    if return_ids:
        ids = _allocate_ids(model, len(rows))
        names.insert(0, model._meta.pk.name)
    sql = copy_statement(model, names)
    for start in range(0, len(rows), COPY_CHUNK_ROWS):
        chunk = rows[start : start + COPY_CHUNK_ROWS]
        if return_ids:
            lines = [
                f"{pk}\t" + "\t".join(map(copy_text, row)) + suffix
                for pk, row in zip(ids[start : start + len(chunk)], chunk, strict=True)
            ]
        else:
            lines = ["\t".join(map(copy_text, row)) + suffix for row in chunk]
        # Django's psycopg 3 cursor wraps the driver's; COPY lives on the latter.
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            copy.write("\n".join(lines) + "\n")
        if advance:
            advance(len(chunk))
    return ids


def _bulk_create(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    return_ids: bool,
    advance: Callable[[int], None] | None,
) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), BATCH_SIZE):
        chunk = rows[start : start + BATCH_SIZE]
        objects = [model(**dict(zip(fields, row, strict=True))) for row in chunk]
        created = model.objects.bulk_create(objects, batch_size=BATCH_SIZE)
        if return_ids:
            ids += [obj.pk for obj in created]
        if advance:
            advance(len(chunk))
    return ids
