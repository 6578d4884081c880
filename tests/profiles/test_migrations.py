"""The profiles table's migrations: its schema changes give way to a transaction holding it,
not hold up the API; its names stored before they were composed are rewritten composed."""

import importlib
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from accounts.models import Account
from tests.db_waits import migration_waits_short, reader_holding
from tests.factories import AccountFactory, ProfileFactory

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


COMPOSED = ("profiles", "0006_profile_names_composed")
BEFORE_COMPOSED = ("profiles", "0005_alter_profile_name")


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate([target])


@pytest.fixture
def before_names_composed() -> Iterator[None]:
    """The profiles app migrated back to before 0006, and forward again after the test."""
    _migrate(BEFORE_COMPOSED)
    try:
        yield
    finally:
        _migrate(COMPOSED)


def _names(account: Account) -> list[tuple[int, str]]:
    return list(account.profiles.order_by("slot").values_list("slot", "name"))


def test_names_stored_decomposed_are_rewritten_composed_and_clashes_renamed(
    before_names_composed, capsys
):
    # given: names stored as typed, before names were saved composed (NFC)
    alone, clash, twins, long_, tidy = (AccountFactory() for _ in range(5))
    ProfileFactory(account=alone, name="Zoe\u0308")  # e + diaeresis
    ProfileFactory(account=clash, name="Jose\u0301")  # e + acute, stored first
    ProfileFactory(account=clash, name="jos\u00e9")  # é, stored since: the same name
    # the dot below and the dot above typed in either order: one name composed
    ProfileFactory(account=twins, name="a\u0307\u0323")
    ProfileFactory(account=twins, name="A\u0323\u0307")
    # 50 characters as stored, 49 composed, and "(2)" needed: cut to fit
    ProfileFactory(account=long_, name="Q" * 48 + "e\u0301")
    ProfileFactory(account=long_, name="q" * 48 + "\u00e9")
    ProfileFactory(account=long_, name="Q" * 45 + "\u0958" * 5)  # 55 composed: over 50
    # cut where a vowel sign would be parted from its letter: both go
    ProfileFactory(account=long_, name="Q" * 45 + "\u0915\u093f" + "e\u0301")
    ProfileFactory(account=long_, name="q" * 45 + "\u0915\u093f" + "\u00e9")
    untouched = ProfileFactory(account=tidy, name="Zo\u00eb")
    capsys.readouterr()

    # when
    _migrate(COMPOSED)

    # then: each name composed; of two that compose alike, the one stored composed (or the
    # lower slot) keeps it and the other takes " (2)"; one too long composed is left
    assert _names(alone) == [(1, "Zo\u00eb")]
    assert _names(clash) == [(1, "Jos\u00e9 (2)"), (2, "jos\u00e9")]
    assert _names(twins) == [(1, "\u1ea1\u0307"), (2, "\u1ea0\u0307 (2)")]
    assert _names(long_) == [
        (1, "Q" * 46 + " (2)"),
        (2, "q" * 48 + "\u00e9"),
        (3, "Q" * 45 + "\u0958" * 5),
        (4, "Q" * 45 + " (2)"),
        (5, "q" * 45 + "\u0915\u093f\u00e9"),
    ]
    assert _names(tidy) == [(1, untouched.name)]
    # and the operator is told which profiles, by ids alone
    said = capsys.readouterr().out
    over = long_.profiles.get(slot=3)
    assert f"profile {over.pk} (household {long_.pk}): left as stored" in said
    for renamed in (clash.profiles.get(slot=1), twins.profiles.get(slot=2)):
        assert f"profile {renamed.pk} (household {renamed.account_id}): renamed" in said
    assert "4 household(s)" in said
    assert "Jos" not in said
    assert "Zo" not in said


def test_rewriting_names_again_changes_nothing_and_reversing_it_keeps_them(
    before_names_composed, capsys
):
    account = AccountFactory()
    ProfileFactory(account=account, name="Jose\u0301")
    ProfileFactory(account=account, name="Jos\u00e9")
    _migrate(COMPOSED)
    composed = _names(account)
    capsys.readouterr()

    # when: reversed (a no-op), then run again
    _migrate(BEFORE_COMPOSED)
    _migrate(COMPOSED)

    # then
    assert _names(account) == composed == [(1, "Jos\u00e9 (2)"), (2, "Jos\u00e9")]
    assert capsys.readouterr().out == ""
