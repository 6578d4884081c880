"""Rows left behind by profiles deleted before December 2026's deletion-race fixes.

The signal and page logs keep a profile's id without a foreign key, so nothing in the
database refused a row whose profile was deleted around it, and nothing swept it later.
"""

import datetime as dt
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from profiles.models import Profile
from profiles.selectors import profile_orphans_count
from profiles.services import profile_orphans_prune
from recommendations import tasks
from recommendations.models import PageLog, Signal
from tests.factories import ProfileFactory, TitleFactory

pytestmark = pytest.mark.django_db


def _signals(profile, n: int) -> None:
    now = timezone.now()
    Signal.objects.bulk_create(
        Signal(
            profile_id=profile.pk,
            title=TitleFactory(),
            kind="impression",
            device="tv",
            occurred_at=now - dt.timedelta(minutes=i),
            client_event_id=uuid.uuid4(),
        )
        for i in range(n)
    )


def _pages(profile, n: int) -> None:
    now = timezone.now()
    for i in range(n):
        at = now - dt.timedelta(hours=i)
        PageLog.objects.create(
            id=uuid.uuid4(),
            profile_id=profile.pk,
            generated_at=at,
            device="tv",
            region=profile.account.home_region_id,
            hour=at.hour,
            weekday=at.weekday(),
        )


def _delete_behind_the_apps_back(profile) -> None:
    """Delete the profile's row, and what has a foreign key to it, as the old race left it:
    its signals and pages stay (the log tables have no foreign key to refuse them)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM recommendations_profiletitlestate WHERE profile_id = %s", [profile.pk]
        )
        cursor.execute(
            "DELETE FROM profiles_profile_preferred_languages WHERE profile_id = %s", [profile.pk]
        )
        cursor.execute("DELETE FROM profiles_profile WHERE id = %s", [profile.pk])
    assert not Profile.objects.filter(pk=profile.pk).exists()


@pytest.fixture
def households():
    """Three profiles with signals and pages; the middle one deleted behind the app's back."""
    kept_before, gone, kept_after = ProfileFactory(), ProfileFactory(), ProfileFactory()
    for profile, signals, pages in ((kept_before, 3, 2), (gone, 5, 3), (kept_after, 2, 1)):
        _signals(profile, signals)
        _pages(profile, pages)
    _delete_behind_the_apps_back(gone)
    return kept_before, gone, kept_after


def _profiles_with(model) -> dict[int, int]:
    counts: dict[int, int] = {}
    for profile_id in model.objects.values_list("profile_id", flat=True):
        counts[profile_id] = counts.get(profile_id, 0) + 1
    return counts


@pytest.mark.parametrize(("batch_size", "ids_batch"), [(5000, 1000), (2, 1)])
def test_the_sweep_deletes_a_deleted_profiles_rows_and_keeps_the_others(
    households, batch_size, ids_batch
):
    # given: a profile deleted without its signals and pages (before December 2026's fixes)
    kept_before, _, kept_after = households
    assert profile_orphans_count() == {Signal: 5, PageLog: 3}

    # when: the sweep runs, in batches smaller than what it finds
    deleted = profile_orphans_prune(batch_size=batch_size, ids_batch=ids_batch)

    # then: the deleted profile's rows are gone, every other profile's stay
    assert deleted == {Signal: 5, PageLog: 3}
    assert _profiles_with(Signal) == {kept_before.pk: 3, kept_after.pk: 2}
    assert _profiles_with(PageLog) == {kept_before.pk: 2, kept_after.pk: 1}
    assert profile_orphans_count() == {Signal: 0, PageLog: 0}
    assert profile_orphans_prune() == {Signal: 0, PageLog: 0}


def test_the_newest_profiles_rows_wait_for_a_newer_profile():
    # given: the newest profile deleted behind the app's back, so no profile has a higher id
    older = ProfileFactory()
    newest = ProfileFactory()
    _signals(older, 1)
    _signals(newest, 2)
    _delete_behind_the_apps_back(newest)

    # when the sweep runs, then: an id above every existing profile's may be a profile
    # still being created; its rows are left
    assert profile_orphans_prune() == {Signal: 0, PageLog: 0}
    assert _profiles_with(Signal) == {older.pk: 1, newest.pk: 2}

    # and: once a newer profile exists, the deleted one is below it and its rows go
    ProfileFactory()
    assert profile_orphans_prune() == {Signal: 2, PageLog: 0}
    assert _profiles_with(Signal) == {older.pk: 1}


def test_the_nightly_task_sweeps_and_reports_them(households):
    result = tasks.prune_logs()

    assert (result["orphan_signals"], result["orphan_pages"]) == (5, 3)
    assert Signal.objects.count() == 5


def test_the_command_counts_them_with_dry_run_and_deletes_them_without(households):
    out = StringIO()
    call_command("prune_logs", "--dry-run", stdout=out)
    assert "5 signal(s) and 3 page log(s) of deleted profiles" in out.getvalue()
    assert Signal.objects.count() == 10

    out = StringIO()
    call_command("prune_logs", stdout=out, stderr=StringIO())
    assert "5 signal(s) and 3 page log(s) of deleted profiles" in out.getvalue()
    assert Signal.objects.count() == 5
    assert PageLog.objects.count() == 3
