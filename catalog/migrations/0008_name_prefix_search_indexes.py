"""Prefix indexes for a title search of one or two letters (``config.search_indexes``).

Such a term has no trigram, so the names' trigram indexes (``0007``) were read whole
for it, and a letter found anywhere in a name listed most of the catalogue. The title
lists now match a search of short terms alone at the start of the names
(``IndexedSearchAdminMixin.short_terms_match_prefixes``), which these B-trees, on the
same unaccented upper-case expression in ``text_pattern_ops`` order, find as a range.
PostgreSQL only, as ``0005`` and ``0007``; the tables are the catalogue's (thousands of
rows, written by staff and imports), so a plain build.
"""

from django.db import migrations

from config.search_indexes import AddPostgresSearchIndex, unaccented_prefix_index


class Migration(migrations.Migration):
    dependencies = [("catalog", "0007_unaccented_search_indexes")]

    operations = [
        AddPostgresSearchIndex(
            "title", unaccented_prefix_index("original_name", "title_unaccent_prefix")
        ),
        AddPostgresSearchIndex(
            "titlelocalization", unaccented_prefix_index("name", "localization_unaccent_prefix")
        ),
    ]
