"""Rows left behind by profiles deleted before December 2026's deletion-race fixes.

The signal and page logs keep a profile's id without a foreign key, so nothing in the
database refused a row whose profile was deleted around it, and nothing swept it later.
"""

import datetime as dt
import threading
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from profiles.models import Profile
from profiles.selectors import profile_ids_handed_out, profile_orphans_count
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


def test_the_newest_profiles_rows_go_without_waiting_for_a_newer_profile():
    # given: the newest profile deleted behind the app's back, so no profile has a higher id
    older = ProfileFactory()
    newest = ProfileFactory()
    _signals(older, 1)
    _signals(newest, 2)
    _pages(newest, 1)
    _delete_behind_the_apps_back(newest)
    assert profile_orphans_count() == {Signal: 2, PageLog: 1}

    # when: the sweep runs
    deleted = profile_orphans_prune()

    # then: its id was handed out before the sweep began, so its rows are looked at and go
    assert deleted == {Signal: 2, PageLog: 1}
    assert _profiles_with(Signal) == {older.pk: 1}
    assert _profiles_with(PageLog) == {}


def _created_in_a_transaction_of_its_own(
    title_id: int, created: list[int], ready: threading.Event, go: threading.Event
) -> None:
    """Create a profile and a signal of it in one transaction, committed once ``go`` is set.

    What an import does (``import_interactions`` creates a household and its signals in
    one); the id is handed out as the profile's row is inserted, long before the commit.
    """
    try:
        with transaction.atomic():
            profile = ProfileFactory(name="Just in")
            Signal.objects.create(
                profile_id=profile.pk,
                title_id=title_id,
                kind="impression",
                device="tv",
                occurred_at=timezone.now(),
                client_event_id=uuid.uuid4(),
            )
            created.append(profile.pk)
            ready.set()
            assert go.wait(30)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_profile_created_while_the_sweep_walks_keeps_its_rows():
    # given: a profile deleted behind the app's back, and another being created in its own
    # transaction (id handed out, not committed) as the sweep begins
    kept, gone = ProfileFactory(), ProfileFactory()
    _signals(kept, 1)
    _signals(gone, 2)
    _delete_behind_the_apps_back(gone)
    created: list[int] = []
    ready, go = threading.Event(), threading.Event()
    creator = threading.Thread(
        target=_created_in_a_transaction_of_its_own,
        args=(TitleFactory().pk, created, ready, go),
    )
    creator.start()
    assert ready.wait(30)
    assert profile_ids_handed_out() >= created[0]  # within the walk's bound

    # when: the sweep walks one id a statement, the new profile commits after its first
    # statement, and another profile is created, with a signal, after that
    later: list[Profile] = []

    def commit_the_creation(fraction: float) -> None:
        if not go.is_set():
            go.set()
            creator.join()
            later.append(ProfileFactory())
            _signals(later[0], 1)

    try:
        deleted = profile_orphans_prune(batch_size=1, ids_batch=1, progress=commit_the_creation)
    finally:
        go.set()
        creator.join()

    # then: the deleted profile's rows went; the new profile's stay, and so do those of the
    # profile created after the sweep began
    assert deleted == {Signal: 2, PageLog: 0}
    assert _profiles_with(Signal) == {kept.pk: 1, created[0]: 1, later[0].pk: 1}


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
