"""The admin's name searches match without accents, off indexes (``config.search_indexes``).

Staff typing "Pele" or "Amelie" did not find "Pelé" or "Amélie". The searches now
compare ``UPPER(tonight_unaccent(column))``, which the ``UPPER(column)`` trigram
indexes of ``0005`` do not answer: each is replaced by one on that expression. The
``unaccent`` extension is created here for every app's (trusted, as ``pg_trgm`` is, and
left installed going back), with the immutable wrapper the indexes need. On other
databases nothing is done.
"""

from django.db import migrations

from config.search_indexes import (
    AddPostgresSearchIndex,
    CreateUnaccentedFunction,
    KeepUnaccentExtension,
    RemovePostgresSearchIndex,
    trigram_index,
    unaccented_trigram_index,
)

#: (model, column, the 0005 index, the index on the column without its accents)
REPLACED = (
    ("title", "original_name", "title_name_search", "title_unaccent_search"),
    ("titlelocalization", "name", "localization_name_search", "localization_unaccent_search"),
    ("person", "name", "person_name_search", "person_unaccent_search"),
    ("credit", "character", "credit_character_search", "credit_unaccent_search"),
    ("season", "name", "season_name_search", "season_unaccent_search"),
    ("episode", "name", "episode_name_search", "episode_unaccent_search"),
)


class Migration(migrations.Migration):
    # Each step may be run again (IF NOT EXISTS, IF EXISTS, OR REPLACE), and the old
    # indexes are dropped CONCURRENTLY, which no transaction may hold.
    atomic = False

    dependencies = [("catalog", "0006_title_maturity_unrated_is_adult")]

    operations = [
        KeepUnaccentExtension(),
        CreateUnaccentedFunction(),
        *(
            operation
            for model, column, old, new in REPLACED
            for operation in (
                AddPostgresSearchIndex(model, unaccented_trigram_index(column, new)),
                RemovePostgresSearchIndex(model, trigram_index(column, old)),
            )
        ),
    ]
