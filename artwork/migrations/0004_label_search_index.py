"""A trigram index on the variant's label without its accents (``config.search_indexes``).

The admin's variant search matches ``UPPER(tonight_unaccent(label))``, beside its
title's names, which have their indexes: the label had none, so every search read
every variant and unaccented its label, three times a page (its count, its date bar
and the page): 1.9 s at the benchmark's 67,000 variants. The extension and its
wrapper come from the catalogue's migration.
"""

from django.db import migrations

from config.search_indexes import AddPostgresSearchIndex, unaccented_trigram_index


class Migration(migrations.Migration):
    # Run again, the index is kept (IF NOT EXISTS). Built outside a transaction, as the
    # other search indexes: a plain CREATE INDEX, which holds up writes to variants while
    # it runs (a label a variant, well under a second at 67,000).
    atomic = False

    dependencies = [
        ("artwork", "0003_daily_figures_names"),
        ("catalog", "0007_unaccented_search_indexes"),
    ]

    operations = [
        AddPostgresSearchIndex(
            "artworkvariant", unaccented_trigram_index("label", "variant_unaccent_search")
        ),
    ]
