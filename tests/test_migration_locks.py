"""Migrations must not stall the big tables' writes while they run in production.

The signal log (every client batch), the page log (every homepage) and the
title states (every play) are large and written all the time. A plain
``CREATE INDEX`` on one holds off every insert for as long as the build reads
the table; a column type change, a ``SET NOT NULL`` or an unbatched ``UPDATE``
holds its lock over a whole-table pass, so does a new CHECK or foreign key
validated as it is added (rather than ``NOT VALID`` and validated later), and ``DROP INDEX`` without
``CONCURRENTLY`` queues every insert behind the longest reader (a retrain's).
The SQL each migration would run (what ``manage.py sqlmigrate`` prints) is read
here: a new migration that does one of those to a big table fails, with the way
out in its message. The committed ones that do are listed, and the README's
"Migrations on a large database" says what to do before deploying each.

``migrate`` also runs while the previous release still serves (compose's
one-shot ``migrate`` service before web is replaced; any rolling deploy), so a
migration must leave the schema that release reads and writes usable: no
``NOT NULL`` column it does not know to fill, no column or table it still
selects dropped or renamed.
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.db import connection, models
from django.db.migrations.loader import MigrationLoader

#: The tables that are large and written on every request.
BIG_TABLES = (
    "recommendations_signal",
    "recommendations_pagelog",
    "recommendations_profiletitlestate",
)
#: Migrations already committed (and deployed somewhere) that hold a big table's lock over a
#: pass of the table, and what each does: README, "Migrations on a large database". Not a
#: place to wave a new one through: a new migration that must do this gets a README entry.
COMMITTED = {
    ("recommendations", "0001_initial"): "creates the signal table (empty)",
    ("recommendations", "0002_signal_log_shape_and_title_state"): "signal_time_brin, drops",
    ("recommendations", "0003_drop_signal_page_index"): "drops signal_page",
    ("recommendations", "0005_page_log"): "creates the page log (empty)",
    ("recommendations", "0009_page_log_plain_json"): "rewrites the page log (jsonb to json)",
    ("recommendations", "0010_signal_history_partial_indexes"): "two signal indexes",
    ("recommendations", "0011_title_state_playback_at"): "updates every title state",
}

_TABLES = "|".join(BIG_TABLES)
_HAZARDS = (
    (
        re.compile(rf'CREATE (UNIQUE )?INDEX (?!CONCURRENTLY)[^;]* ON "?({_TABLES})"?\b'),
        "builds an index while every insert waits: use "
        "django.contrib.postgres.operations.AddIndexConcurrently (atomic = False)",
    ),
    (
        re.compile(rf'ALTER TABLE "?({_TABLES})"?[^;]* ALTER COLUMN [^;]* TYPE '),
        "changes a column's type, which rewrites (or at least scans) the table under an "
        "exclusive lock: add a new column, backfill it in batches, switch reads, drop the old "
        "one (widening a varchar is metadata only: list it in COMMITTED, saying so)",
    ),
    (
        re.compile(rf'ALTER TABLE "?({_TABLES})"?[^;]* SET NOT NULL'),
        "scans the whole table under an exclusive lock: add a CHECK (...) NOT VALID "
        "constraint, VALIDATE it, then SET NOT NULL",
    ),
    (
        re.compile(rf'ALTER TABLE "?({_TABLES})"?[^;]* ADD CONSTRAINT [^;]* UNIQUE'),
        "builds a unique index while every insert waits: build it CONCURRENTLY first, "
        "then ADD CONSTRAINT ... USING INDEX",
    ),
    (
        # A CHECK or a foreign key (a new column's REFERENCES too) is validated by reading
        # every row under a lock that holds off the table's writes.
        re.compile(
            rf'ALTER TABLE "?({_TABLES})"?[^;]*'
            r"( ADD CONSTRAINT [^;]* (CHECK|FOREIGN KEY)| REFERENCES )(?![^;]*NOT VALID)"
        ),
        "validates a constraint by reading the whole table while its writes wait: add it "
        "NOT VALID, then VALIDATE CONSTRAINT in a later migration (which lets writes through)",
    ),
    (
        re.compile(
            rf'ALTER TABLE "?({_TABLES})"?[^;]* ADD COLUMN [^;]* DEFAULT [^;]*'
            r"(clock_timestamp|random|gen_random_uuid|uuid_generate)",
            re.IGNORECASE,
        ),
        "adds a column with a volatile default, which rewrites the table: add it nullable "
        "(or with a constant default), backfill in batches",
    ),
    (
        re.compile(rf'UPDATE "?({_TABLES})"?\b(?![^;]* LIMIT)'),
        "updates every row in one transaction: backfill in batches outside the migration",
    ),
)


#: Schema changes that break the release still serving while ``migrate`` runs.
_BREAKS_RUNNING_CODE = (
    (
        re.compile(r"ALTER COLUMN [^;]* DROP DEFAULT"),
        "leaves a NOT NULL column without a database default, so the running release's "
        "inserts (which do not name it) fail until it is replaced: give the field a "
        "db_default",
    ),
    (
        # A table's RENAME TO, not an index's: no query names an index.
        re.compile(r"DROP COLUMN|RENAME COLUMN|ALTER TABLE [^;]* RENAME TO|DROP TABLE"),
        "drops or renames what the running release still selects: first release code that "
        "no longer uses it (state-only, SeparateDatabaseAndState), drop it in a later one",
    ),
)
#: Migrations already committed that do, and why that was or is acceptable.
COMMITTED_BREAKING = {
    ("artwork", "0002_artwork_policy"): "updated_at: staff-only inserts of artwork variants",
    ("recommendations", "0002_signal_log_shape_and_title_state"): "is_rewatch",
    ("recommendations", "0007_page_log_taste"): "taste: the old release's page log inserts",
}
PROJECT_APPS = ("accounts", "profiles", "catalog", "regions", "artwork", "recommendations")


def _index_tables() -> dict[str, str]:
    """Index name -> table, for the big tables' indexes in the migrated models' state."""
    from django.apps import apps

    tables: dict[str, str] = {}
    for model in apps.get_models():
        if model._meta.db_table in BIG_TABLES:
            for index in model._meta.indexes:
                tables[index.name] = model._meta.db_table
    return tables


def _added_nullable(statement: str, statements: list[str]) -> bool:
    """Whether ``statement`` drops the default of a column its migration adds as nullable.

    Django gives a new column its Python default for the rows already there and then
    drops it; a nullable column left without one is what the old release's inserts,
    which do not name it, may leave NULL.
    """
    dropped = re.search(r'ALTER TABLE ("\w+") ALTER COLUMN ("\w+") DROP DEFAULT', statement)
    if not dropped:
        return False
    table, column = (re.escape(name) for name in dropped.groups())
    added = re.compile(rf"ALTER TABLE {table} ADD COLUMN {column} [^;]*(?<!NOT) NULL\b")
    return any(added.search(other) for other in statements)


def _project_sql(loader: MigrationLoader) -> Iterator[tuple[tuple[str, str], Any, list[str]]]:
    """Each of the project's migrations, with the SQL ``sqlmigrate`` would print for it."""
    for key, migration in loader.graph.nodes.items():
        if key[0] in PROJECT_APPS:
            yield key, migration, loader.collect_sql([(migration, False)])


def _found(problems: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{statement.strip()[:160]} ... {reason}" for statement, reason in problems]


def migration_hazards(loader: MigrationLoader) -> dict[tuple[str, str], list[str]]:
    """Every migration's statements that hold a big table's lock over a pass of it."""
    dropped_indexes = re.compile(r'DROP INDEX (?!CONCURRENTLY)(IF EXISTS )?"?(\w+)"?')
    big_indexes = set(_index_tables())
    found: dict[tuple[str, str], list[str]] = {}
    for key, migration, statements in _project_sql(loader):
        # Removed index names are the model state's of the time: read them from the migration.
        for operation in migration.operations:
            name = getattr(operation, "name", "")
            if type(operation).__name__ == "RemoveIndex" and getattr(
                operation, "model_name", ""
            ) in ("signal", "pagelog", "profiletitlestate"):
                big_indexes.add(name)
        for statement in statements:
            problems = [reason for pattern, reason in _HAZARDS if pattern.search(statement)]
            dropped = dropped_indexes.search(statement)
            if (
                dropped
                and (
                    dropped[2] in big_indexes
                    # A field's own index (db_index), named after its table: Django keeps the
                    # table's first 26 characters of a name it must shorten.
                    or dropped[2].startswith(tuple(table[:26] for table in BIG_TABLES))
                )
            ):
                problems.append(
                    "drops an index without CONCURRENTLY, queuing every insert behind the "
                    "longest reader: use RemoveIndexConcurrently (atomic = False)"
                )
            found.setdefault(key, []).extend(_found((statement, r) for r in problems))
    return {key: problems for key, problems in found.items() if problems}


def running_code_breaks(loader: MigrationLoader) -> dict[tuple[str, str], list[str]]:
    """Every migration's statements that break the release still serving while it runs."""
    found = {
        key: _found(
            (statement, reason)
            for statement in statements
            for pattern, reason in _BREAKS_RUNNING_CODE
            if pattern.search(statement) and not _added_nullable(statement, statements)
        )
        for key, _, statements in _project_sql(loader)
    }
    return {key: problems for key, problems in found.items() if problems}


# Not in a test transaction: collecting a concurrent operation's SQL refuses to run inside one.
@pytest.mark.django_db(transaction=True)
def test_no_new_migration_holds_a_big_tables_lock_over_a_pass_of_it() -> None:
    hazards = migration_hazards(MigrationLoader(connection))

    new = {key: problems for key, problems in hazards.items() if key not in COMMITTED}
    assert not new, "\n".join(
        f"{app}.{name}: {problem}" for (app, name), problems in new.items() for problem in problems
    )
    # A listed migration the check no longer finds means the check went blind to it.
    assert set(COMMITTED) <= set(hazards), set(COMMITTED) - set(hazards)


@pytest.mark.django_db(transaction=True)
def test_no_new_migration_breaks_the_release_still_serving_while_it_runs() -> None:
    hazards = running_code_breaks(MigrationLoader(connection))

    new = {key: problems for key, problems in hazards.items() if key not in COMMITTED_BREAKING}
    assert not new, "\n".join(
        f"{app}.{name}: {problem}" for (app, name), problems in new.items() for problem in problems
    )
    assert set(COMMITTED_BREAKING) <= set(hazards), set(COMMITTED_BREAKING) - set(hazards)


def _with_migration(*operations: object) -> MigrationLoader:
    """The project's migrations and one more after the last of recommendations'."""
    from django.db import migrations

    loader = MigrationLoader(connection)
    (parent,) = loader.graph.leaf_nodes("recommendations")
    migration = migrations.Migration("9999_probe", "recommendations")
    migration.dependencies = [parent]
    migration.operations = list(operations)
    loader.graph.add_node(("recommendations", "9999_probe"), migration)
    loader.graph.add_dependency(migration, ("recommendations", "9999_probe"), parent)
    return loader


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "operation",
    [
        lambda m: m.AddConstraint(
            model_name="signal",
            constraint=models.CheckConstraint(
                condition=models.Q(position__gte=0), name="signal_probe_check"
            ),
        ),
        lambda m: m.AddField(
            model_name="signal",
            name="probe",
            field=models.ForeignKey(
                "profiles.profile", models.CASCADE, null=True, db_index=False, related_name="+"
            ),
        ),
        lambda m: m.AlterField(
            model_name="profiletitlestate",
            name="completed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        lambda m: m.AddIndex(
            model_name="signal", index=models.Index(fields=["row"], name="signal_probe_row")
        ),
    ],
    ids=[
        "check constraint",
        "foreign key",
        "a field's index dropped",
        "index (the probe's control)",
    ],
)
def test_a_new_migration_that_holds_a_big_tables_writes_is_a_hazard(operation) -> None:
    # given: a new migration adding a constraint that PostgreSQL validates by reading every
    # row under the lock that holds off their inserts (no NOT VALID), or dropping the index
    # Django made for a field (db_index) without CONCURRENTLY
    from django.db import migrations

    loader = _with_migration(operation(migrations))

    # when
    hazards = migration_hazards(loader)

    # then
    assert ("recommendations", "9999_probe") in hazards


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "operation",
    [
        lambda m: m.AddField(
            model_name="pagelog",
            name="probe",
            field=models.CharField(max_length=8, null=True, default="x"),
        ),
        lambda m: m.RenameIndex(
            model_name="signal", new_name="signal_probe_renamed", old_name="signal_profile_shown"
        ),
    ],
    ids=["nullable column with a default", "index renamed"],
)
def test_a_change_the_serving_release_does_not_notice_is_no_break(operation) -> None:
    # given: a nullable column whose Python default is dropped from the database (the old
    # release's inserts leave it NULL, as it may be), or an index renamed (no query names it)
    from django.db import migrations

    loader = _with_migration(operation(migrations))

    # when
    hazards = running_code_breaks(loader)

    # then
    assert ("recommendations", "9999_probe") not in hazards
