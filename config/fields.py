"""Model fields the project needs beyond Django's own."""

from __future__ import annotations

from typing import Any

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
