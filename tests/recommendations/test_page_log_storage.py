"""The page log, written on every homepage, is compressed with the cheaper method."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_page_log_json_columns_use_lz4_where_the_server_has_it():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'recommendations_pagelog'::regclass "
            "AND attname IN ('items', 'rows', 'taste')"
        )
        methods = dict(cursor.fetchall())
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        has_lz4 = cursor.fetchone() is not None
    assert set(methods) == {"items", "rows", "taste"}
    if has_lz4:
        assert set(methods.values()) == {"l"}
    else:  # the migration skipped the change; the server's default (pglz) stays
        assert "l" not in methods.values()
