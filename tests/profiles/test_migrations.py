"""The profiles table's migrations give way to a transaction holding it, not hold up the API."""

import importlib

import pytest
from django.db import OperationalError, connection
from django.db.migrations.loader import MigrationLoader

from tests.db_waits import migration_waits_short, reader_holding

pytestmark = pytest.mark.django_db

UNLOCK_GENERATION = "0003_profile_unlock_generation"


def test_adding_the_unlock_generation_gives_way_to_a_transaction_holding_profiles(monkeypatch):
    # given: a transaction that has read the profiles table and is still open (a signal
    # import or a retrain's cluster move holds it so); an ALTER TABLE queued behind it would
    # queue every request that reads a profile, every homepage, behind itself
    migration = importlib.import_module(f"profiles.migrations.{UNLOCK_GENERATION}")
    migration_waits_short(monkeypatch)
    loader = MigrationLoader(connection)
    before = loader.project_state(("profiles", "0002_search_indexes"))
    after = loader.project_state(("profiles", UNLOCK_GENERATION))
    (operation,) = migration.Migration.operations
    with reader_holding("SELECT count(*) FROM profiles_profile") as reader_ended:
        # when
        with (
            pytest.raises(
                OperationalError, match=r"\(2 waits of 200 ms\).*run the migration again"
            ),
            connection.schema_editor() as editor,
        ):
            operation.database_forwards("profiles", editor, before, after)
        # then it gave up after its waits, not when the reader finished
        assert not reader_ended.is_set()


def test_adding_the_unlock_generation_is_one_alter_with_a_constant_default():
    # Metadata only on PostgreSQL 11+: no rewrite, no CHECK validated over the rows, and a
    # database default for the release still serving, whose inserts do not name the column.
    loader = MigrationLoader(connection)
    migration = loader.get_migration("profiles", UNLOCK_GENERATION)

    statements = loader.collect_sql([(migration, False)])

    alters = [sql for sql in statements if sql.startswith("ALTER TABLE")]
    assert alters == [
        'ALTER TABLE "profiles_profile" ADD COLUMN "unlock_generation" integer DEFAULT 0 NOT NULL;'
    ]
