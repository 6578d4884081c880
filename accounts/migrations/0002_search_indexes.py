"""Indexes for the admin's household searches, on PostgreSQL (``config.search_indexes``).

Households are searched by name in their own list, in the profiles' list and in
the API tokens' list; each read every household. ``pg_trgm`` comes from the
catalogue's migration.
"""

from django.db import migrations

from config.search_indexes import AddPostgresSearchIndex, trigram_index, upper_index


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("catalog", "0005_search_indexes")]

    operations = [
        AddPostgresSearchIndex("account", trigram_index("name", "account_name_search")),
        AddPostgresSearchIndex("account", upper_index("external_id", "account_external_id_search")),
    ]
