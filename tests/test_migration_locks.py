"""Migrations must not stall the big tables' writes while they run in production.

The signal log (every client batch), the page log (every homepage) and the
title states (every play) are large and written all the time. A plain
``CREATE INDEX`` on one holds off every insert for as long as the build reads
the table; a column type change, a ``SET NOT NULL`` or an unbatched ``UPDATE``
holds its lock over a whole-table pass, and ``DROP INDEX`` without
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

import pytest
from django.db import connection
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
        re.compile(r"DROP COLUMN|RENAME COLUMN|RENAME TO|DROP TABLE"),
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


def migration_hazards(
    loader: MigrationLoader, *, running_code: bool = False
) -> dict[tuple[str, str], list[str]]:
    """Every migration's statements that hold a big table's lock over a pass of it
    (``running_code``: that break the release still serving while it runs)."""
    dropped_indexes = re.compile(r'DROP INDEX (?!CONCURRENTLY)(IF EXISTS )?"?(\w+)"?')
    big_indexes = set(_index_tables())
    found: dict[tuple[str, str], list[str]] = {}
    for key, migration in loader.graph.nodes.items():
        if key[0] not in PROJECT_APPS:
            continue
        statements = loader.collect_sql([(migration, False)])
        if running_code:
            found[key] = [
                f"{statement.strip()[:160]} ... {reason}"
                for statement in statements
                for pattern, reason in _BREAKS_RUNNING_CODE
                if pattern.search(statement)
            ]
            continue
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
            if dropped and dropped[2] in big_indexes:
                problems.append(
                    "drops an index without CONCURRENTLY, queuing every insert behind the "
                    "longest reader: use RemoveIndexConcurrently (atomic = False)"
                )
            found.setdefault(key, []).extend(
                f"{statement.strip()[:160]} ... {reason}" for reason in problems
            )
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
    hazards = migration_hazards(MigrationLoader(connection), running_code=True)

    new = {key: problems for key, problems in hazards.items() if key not in COMMITTED_BREAKING}
    assert not new, "\n".join(
        f"{app}.{name}: {problem}" for (app, name), problems in new.items() for problem in problems
    )
    assert set(COMMITTED_BREAKING) <= set(hazards), set(COMMITTED_BREAKING) - set(hazards)
