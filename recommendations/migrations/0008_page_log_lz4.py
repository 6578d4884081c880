"""Page log JSON columns compressed with lz4 instead of pglz.

Every homepage writes one page log whose items (a few KB of JSON) PostgreSQL
compresses on insert; pglz cost about twice lz4's CPU there, on the same cores
that serve the page. Only the compression method of new values changes; no
data is rewritten. A server built without lz4 keeps pglz (the statement is
skipped, not failed), and other databases are left alone.
"""

from django.db import migrations

COLUMNS = ("items", "rows", "taste")

FORWARD = """
DO $$
BEGIN
    ALTER TABLE recommendations_pagelog {};
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
    RAISE NOTICE 'lz4 is not available on this server; page logs keep pglz';
END $$;
""".format(", ".join(f"ALTER COLUMN {c} SET COMPRESSION lz4" for c in COLUMNS))

BACKWARD = "ALTER TABLE recommendations_pagelog {};".format(
    ", ".join(f"ALTER COLUMN {c} SET COMPRESSION pglz" for c in COLUMNS)
)


def forward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD)


def backward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0007_page_log_taste")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
