"""A signal import racing the deletion of a profile it imported before.

The import reads which source users have a profile already, then locks those
profiles and writes their signals. A household's deletion of one of them that
commits in between must be answered as one that came before the import: the
user gets a new profile, rather than signals written for a deleted one.
"""

import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from profiles.models import Profile
from profiles.services import profile_delete
from recommendations.models import ProfileTitleState, Signal
from tests.db_waits import hold_until_waited_on
from tests.factories import LanguageFactory, RegionFactory
from tests.recommendations.test_dataset_import import MOVIES, write


def _household_deletes(profile_id: int, started, blocked) -> None:
    """Delete the profile, held uncommitted until another session waits on it."""
    try:
        with transaction.atomic():
            profile_delete(profile=Profile.objects.get(pk=profile_id))
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


def _import(path) -> None:
    call_command("import_interactions", str(path), "--region", "IN", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_a_profile_deleted_while_its_user_is_imported_again_is_replaced_not_written_to(
    tmp_path,
):
    # given: a catalogue, and user 1 imported once
    LanguageFactory()
    RegionFactory(code="IN")
    movies = write(tmp_path, MOVIES, "movies.csv")
    call_command("import_catalogue", str(movies), "--region", "IN", stdout=io.StringIO())
    _import(write(tmp_path, "userId,movieId,rating,timestamp\n1,1,5.0,964982703\n"))
    (first,) = Profile.objects.filter(external_id="1")
    started, blocked = threading.Event(), threading.Event()
    household = threading.Thread(target=_household_deletes, args=(first.pk, started, blocked))
    household.start()

    # when: user 1 is imported again while the household's deletion of its profile commits
    try:
        assert started.wait(30)
        _import(write(tmp_path, "userId,movieId,rating,timestamp\n1,2,4.0,964982704\n", "2.csv"))
    finally:
        household.join()

    # then: the deleted profile left nothing behind, and user 1 has a new profile with
    # the new rating only
    assert blocked.is_set(), "the import never waited on the deletion"
    assert not Signal.objects.filter(profile_id=first.pk).exists()
    assert not ProfileTitleState.objects.filter(profile_id=first.pk).exists()
    (again,) = Profile.objects.filter(external_id="1")
    assert again.pk != first.pk
    assert set(again.title_states.values_list("title__external_id", flat=True)) == {"2"}
