"""Indexes for the admin's catalogue searches, on PostgreSQL (``config.search_indexes``).

Each search field's match was a scan of its table: a title search read every
title and localised name, three times a page (the list, and the date bar's
bounds and years), about 250 ms each at 15,000 titles. ``pg_trgm`` is created
here for every app's search indexes; it is a trusted extension (PostgreSQL 13
and later), so the database's owner may create it, and one created beforehand
is kept (and left installed going back). On other databases nothing is done.
"""

from django.db import migrations

from config.search_indexes import (
    AddPostgresSearchIndex,
    KeepTrigramExtension,
    trigram_index,
    upper_index,
)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_genre_slug_keeps_marks")]

    operations = [
        KeepTrigramExtension(),
        AddPostgresSearchIndex("title", trigram_index("original_name", "title_name_search")),
        AddPostgresSearchIndex("title", upper_index("external_id", "title_external_id_search")),
        AddPostgresSearchIndex(
            "titlelocalization", trigram_index("name", "localization_name_search")
        ),
        AddPostgresSearchIndex("person", trigram_index("name", "person_name_search")),
        AddPostgresSearchIndex("person", upper_index("external_id", "person_external_id_search")),
        AddPostgresSearchIndex("credit", trigram_index("character", "credit_character_search")),
        AddPostgresSearchIndex("season", trigram_index("name", "season_name_search")),
        AddPostgresSearchIndex("episode", trigram_index("name", "episode_name_search")),
    ]
