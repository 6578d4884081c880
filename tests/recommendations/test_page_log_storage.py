"""The page log, written on every homepage: stored and compressed cheaply, committed without
waiting."""

import contextlib
import threading
import uuid
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.db.models.signals import post_delete
from django.utils import timezone

from accounts.models import Account
from accounts.services import account_delete
from profiles.models import Profile
from profiles.services import profile_delete
from recommendations.models import PageLog
from recommendations.services.homepage import page_log_create
from recommendations.serving.homepage import Page, PageContext, PageItem, PageRow
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db


def _json_columns(attribute: str) -> dict[str, str]:
    """``attribute`` (SQL over ``pg_attribute``) of the page log's JSON columns, by name."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT attname, {attribute} FROM pg_attribute "  # noqa: S608 - the tests' own SQL
            "WHERE attrelid = 'recommendations_pagelog'::regclass "
            "AND attname IN ('items', 'rows', 'taste')"
        )
        return dict(cursor.fetchall())


def test_page_log_json_columns_use_lz4_where_the_server_has_it():
    methods = _json_columns("attcompression")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' "
            "AND 'lz4' = ANY(enumvals)"
        )
        has_lz4 = cursor.fetchone() is not None
    assert set(methods) == {"items", "rows", "taste"}
    if has_lz4:
        assert set(methods.values()) == {"l"}
    else:  # the migration skipped the change; the server's default (pglz) stays
        assert "l" not in methods.values()


def test_page_log_json_columns_are_plain_json_and_read_back_as_written():
    # given: the columns' types, and a page log written through the ORM (not the request
    # path's insert), with a JSON string, nested values and non-ASCII text
    types = _json_columns("format_type(atttypid, atttypmod)")
    profile = ProfileFactory()
    written = PageLog.objects.create(
        id=uuid.uuid4(),
        profile=profile,
        generated_at=timezone.now(),
        device="tv",
        region=profile.account.home_region_id,
        hour=20,
        weekday=4,
        rows=[["because_you_watched:7", "because_you_watched", 0.5], "a string"],
        items=[[7, 0, 0, None, 0.25], [8, 0, 1, 3, 1.0]],
        taste={"drama": 0.75, "comédie": 0.25},
    )

    # when
    read = PageLog.objects.get(pk=written.pk)
    listed = PageLog.objects.filter(pk=written.pk).values_list("rows", "items", "taste").get()

    # then
    assert types == {"items": "json", "rows": "json", "taste": "json"}
    for got in ((read.rows, read.items, read.taste), listed):
        assert got == (written.rows, written.items, written.taste)


def _synchronous_commit() -> str:
    """The connection's current ``synchronous_commit``."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def _page() -> Page:
    """A one-row, one-title page, as a homepage build returns it."""
    item = PageItem(
        title_id=7,
        name="A title",
        match=91,
        progress=None,
        variant_id=None,
        artwork_path="/static/placeholder.png",
        propensity=1.0,
    )
    return Page(
        page_id=uuid.uuid4(),
        generated_at=timezone.now(),
        context=PageContext(device="tv", region="IN", cluster=None, hour=20, weekday=4),
        model_version=0,
        ranker="prior",
        row_ranker="prior",
        rows=[PageRow(id="top_picks", type="top_picks", title="Top", reason="Why", items=[item])],
        taste={"drama": 1.0},
    )


@pytest.mark.django_db(transaction=True)
def test_a_page_log_commits_on_its_own_and_leaves_the_session_synchronous():
    """The asynchronous commit is the insert's own: signals written next on the same
    connection must still wait for the disk."""
    profile = ProfileFactory()
    page = _page()

    # when: the page log is written inside an outer transaction, so the setting the insert
    # made for its transaction can be read before that transaction ends
    with transaction.atomic():
        page_log_create(profile=profile, page=page)
        during = _synchronous_commit()
    after = _synchronous_commit()

    # then: the insert's transaction commits without waiting; the session does not
    assert during == "off"
    assert after == "on"
    log = PageLog.objects.get(pk=page.page_id)
    assert log.items == [[7, 0, 0, None, 1.0]]
    assert log.rows == [["top_picks", "top_picks", 0.0]]
    assert log.taste == {"drama": 1.0}
    assert (log.device, log.hour, log.weekday, log.model_version_id) == ("tv", 20, 4, None)


def test_the_page_of_a_profile_deleted_since_the_request_read_it_is_not_logged():
    # given: the request read the profile; the household's deletion of it then committed
    # (the deletion's own DELETE of the profile's pages ran before this page existed)
    profile = ProfileFactory()
    profile_delete(profile=Profile.objects.get(pk=profile.pk))

    # when
    page_log_create(profile=profile, page=_page())

    # then: no page outlives its profile (the log keeps no foreign key to refuse it)
    assert not PageLog.objects.filter(profile_id=profile.pk).exists()


@contextlib.contextmanager
def _page_logged_beside_the_deletion(profile: Profile) -> Iterator[None]:
    """While the profile's deletion runs (its rows deleted, not yet committed), a homepage
    of the profile logs its page on a connection of its own, as a request would."""
    errors: list[BaseException] = []

    def log_page() -> None:
        try:
            page_log_create(profile=profile, page=_page())
        except BaseException as error:  # handed to the test's thread
            errors.append(error)
        finally:
            connection.close()

    def beside(sender: type, instance: Profile, **_: object) -> None:
        if instance.pk == profile.pk:
            thread = threading.Thread(target=log_page)
            thread.start()
            thread.join(timeout=30)

    post_delete.connect(beside, sender=Profile, weak=False)
    try:
        yield
    finally:
        post_delete.disconnect(beside, sender=Profile)
    assert not errors, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("deleted", ["the profile", "its household"])
def test_a_page_logged_while_its_profiles_deletion_commits_does_not_outlive_it(deleted):
    # given: a profile, and a page of it logged after the deletion's DELETE of its pages but
    # before the deletion commits (the insert reads the profile as still there)
    profile = ProfileFactory()
    other = ProfileFactory()
    page_log_create(profile=other, page=_page())

    # when
    with _page_logged_beside_the_deletion(profile):
        if deleted == "the profile":
            profile_delete(profile=Profile.objects.get(pk=profile.pk))
        else:
            account_delete(account=Account.objects.get(pk=profile.account_id))

    # then: no page outlives its profile; another profile's pages stay
    assert not PageLog.objects.filter(profile_id=profile.pk).exists()
    assert PageLog.objects.filter(profile_id=other.pk).count() == 1
