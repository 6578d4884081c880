"""The profile name's trigram index, on the name without its accents (``catalog 0007``).

The admin's profile search matches ``UPPER(tonight_unaccent(name))`` ("Zoe" finds
"Zoë"), which ``0002``'s index on ``UPPER(name)`` does not answer. The extension and
its wrapper come from the catalogue's migration.
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
        ("profiles", "0003_profile_unlock_generation"),
        ("catalog", "0007_unaccented_search_indexes"),
    ]

    operations = [
        AddPostgresSearchIndex(
            "profile", unaccented_trigram_index("name", "profile_unaccent_search")
        ),
        RemovePostgresSearchIndex("profile", trigram_index("name", "profile_name_search")),
    ]
