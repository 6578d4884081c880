"""The transactional tests' closing flush (tests/flush.py) empties what TRUNCATE would."""

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from tests.factories import (
    CreditFactory,
    EpisodeFactory,
    ProfileFactory,
    SignalFactory,
    TitleLocalizationFactory,
)


def test_every_foreign_key_is_deferred_so_deletes_may_come_in_any_order(db) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE contype = 'f' AND NOT (condeferrable AND condeferred)"
        )
        immediate = cursor.fetchall()
    assert immediate == [], "a DELETE flush needs every foreign key checked at commit"


def test_no_table_has_a_trigger_a_delete_would_fire(db) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal"
        )
        assert cursor.fetchall() == []


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_every_table_empty_whatever_refers_to_what() -> None:
    # Rows that refer to one another across apps, so a delete in table order would be
    # refused if the keys were checked at once.
    profile = ProfileFactory()
    episode = EpisodeFactory()
    SignalFactory(profile=profile, title=episode.season.title)
    CreditFactory(title=episode.season.title)
    TitleLocalizationFactory(title=episode.season.title)
    models = [m for m in apps.get_models() if m._meta.managed and not m._meta.proxy]
    assert sum(m._default_manager.exists() for m in models) >= 8

    call_command("flush", verbosity=0, interactive=False, inhibit_post_migrate=True)

    assert [m._meta.label for m in models if m._default_manager.exists()] == []
