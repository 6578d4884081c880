"""``AnyOf`` and ``unaccented`` outside PostgreSQL: SQLite, the first local run's database,
gets a plain IN and a Python stand-in for the unaccent wrapper.

The suite runs on PostgreSQL, so these tests open Django's SQLite backend on a database
in memory of their own and compile the ORM's queries for it.
"""

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.db.models.sql import InsertQuery
from django.db.utils import ConnectionHandler

from catalog.models import Person
from config.lookups import AnyOf
from recommendations.models import Signal


@pytest.fixture
def sqlite(django_db_blocker) -> Iterator[BaseDatabaseWrapper]:
    """Django's SQLite backend on an empty database in memory, with the signal table."""
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
    )
    connection = handler["default"]
    with django_db_blocker.unblock(), connection.schema_editor() as editor:
        editor.create_model(Signal)
        editor.create_model(Person)
    with django_db_blocker.unblock():
        yield connection
        connection.close()


def store(connection: BaseDatabaseWrapper, signal: Signal) -> None:
    """Insert as the ORM does on that connection (the suite's own is PostgreSQL)."""
    query = InsertQuery(Signal)
    query.insert_values([f for f in Signal._meta.concrete_fields if f.name != "id"], [signal])
    query.get_compiler(connection=connection).execute_sql(returning_fields=None)


def ids_of(connection: BaseDatabaseWrapper, queryset: models.QuerySet) -> list[int]:
    compiler = queryset.values_list("profile_id", flat=True).query.get_compiler(
        connection=connection
    )
    return [row[0] for row in compiler.results_iter()]


def test_uuids_are_bound_and_matched_as_sqlite_stores_them(sqlite):
    # given: a signal with its event id, stored as Django stores a UUID on SQLite
    event = uuid.uuid4()
    store(
        sqlite,
        Signal(
            profile_id=7,
            kind="play_start",
            device="tv",
            occurred_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            received_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            client_event_id=event,
        ),
    )

    # when: it is looked up by its id as a UUID, and as text (either is accepted)
    by_uuid = Signal.objects.filter(
        AnyOf(F("profile_id"), [7, 8]), AnyOf(F("client_event_id"), [uuid.uuid4(), event])
    )
    by_text = Signal.objects.filter(AnyOf(F("client_event_id"), {str(event)}, db_type="uuid"))

    # then: found both ways (a UUID could not be bound; the dashed text matched nothing)
    assert ids_of(sqlite, by_uuid) == [7]
    assert ids_of(sqlite, by_text) == [7]
    assert ids_of(sqlite, Signal.objects.filter(AnyOf(F("client_event_id"), []))) == []


def test_names_are_matched_without_their_accents_on_sqlite_too(sqlite):
    # given: people whose names carry accents, stored on the demo's database
    query = InsertQuery(Person)
    query.insert_values(
        [f for f in Person._meta.concrete_fields if f.name != "id"],
        [Person(name=n, external_id=n) for n in ("Pelé", "Amélie", "Pell")],
    )
    query.get_compiler(connection=sqlite).execute_sql(returning_fields=None)

    def names(term: str) -> set[str]:
        query = Person.objects.filter(name__unaccented__icontains=term).values_list("name")
        return {row[0] for row in query.query.get_compiler(connection=sqlite).results_iter()}

    # then: as the admin's search finds them on PostgreSQL, marks and case aside
    assert names("pele") == {"Pelé"}
    assert names("AMELIE") == {"Amélie"}
    assert names("Pelé") == {"Pelé"}
    assert names("pel") == {"Pelé", "Pell"}
    assert names("100%") == set()
