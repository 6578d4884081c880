"""The household name's trigram index, on the name without its accents (``catalog 0007``).

The admin's and the console's household searches match ``UPPER(tonight_unaccent(name))``
("Sao Paulo" finds "São Paulo"), which ``0002``'s index on ``UPPER(name)`` does not
answer. The extension and its wrapper come from the catalogue's migration.
"""

from django.db import migrations

from config.search_indexes import (
    AddPostgresSearchIndex,
    RemovePostgresSearchIndex,
    trigram_index,
    unaccented_trigram_index,
)


class Migration(migrations.Migration):
    # Each step may be run again (IF NOT EXISTS, IF EXISTS, OR REPLACE), and the old
    # indexes are dropped CONCURRENTLY, which no transaction may hold.
    atomic = False

    dependencies = [
        ("accounts", "0002_search_indexes"),
        ("catalog", "0007_unaccented_search_indexes"),
    ]

    operations = [
        AddPostgresSearchIndex(
            "account", unaccented_trigram_index("name", "account_unaccent_search")
        ),
        RemovePostgresSearchIndex("account", trigram_index("name", "account_name_search")),
    ]
