"""A device's change, deletion or new profile racing a guardian's change of the household.

The device's request is checked against the profiles as it reads them; a guardian's
change that commits between that read and the device's write (a restriction, a new
PIN, the profile locked again) must be what the device's request is checked against,
and must not be written over.
"""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.urls import reverse

from accounts.models import Account
from accounts.services import account_delete
from profiles.models import KIDS_MATURITY_CAP, Profile
from profiles.services import profile_unlocks_end, profile_update, profiles_unlocks_end
from profiles.unlock import profile_unlock
from tests.conftest import token_client
from tests.db_waits import hold_until_waited_on
from tests.factories import (
    AccountFactory,
    LanguageFactory,
    ProfileFactory,
    TasteClusterFactory,
)
from tests.test_admin import form_data


def _guardian_restricts(profile_id: int, started: threading.Event, blocked: threading.Event):
    """Make the profile a PIN-protected kids profile, held uncommitted until someone waits.

    What a guardian's unlocked request does; the service is called directly, as its
    transaction must stay open until the device's request is seen waiting on it.
    """
    try:
        with transaction.atomic():
            profile_update(profile=Profile.objects.get(pk=profile_id), is_kids=True, pin="2468")
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "body"),
    [("patch", {"name": "Mine now"}), ("delete", None)],
    ids=["rename", "delete"],
)
def test_a_change_racing_a_guardians_restriction_is_checked_against_it(method, body):
    # given: an adult profile without a PIN, read by a device while a guardian's change
    # that makes it a PIN-protected kids profile is being written
    account = AccountFactory()
    profile = ProfileFactory(account=account, name="Teen")
    client = token_client(account)
    started, blocked = threading.Event(), threading.Event()
    guardian = threading.Thread(target=_guardian_restricts, args=(profile.pk, started, blocked))
    guardian.start()

    # when: the device renames or deletes it, without the PIN it has not been told of
    try:
        assert started.wait(30)
        response = getattr(client, method)(
            reverse("v1:profile-detail", args=[profile.pk]), body, format="json"
        )
    finally:
        guardian.join()

    # then: refused as a PIN-protected profile, and the guardian's restriction stands
    assert blocked.is_set(), "the device's request never waited on the guardian's change"
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "profile_locked"
    profile = Profile.objects.get(pk=profile.pk)
    assert (profile.is_kids, profile.maturity_limit) == (True, KIDS_MATURITY_CAP)
    assert profile.has_pin
    assert profile.name == "Teen"


def _retrain_moves(profile_id: int, cluster_id: int, started, blocked):
    """Move the profile to another taste cluster, held uncommitted until someone waits.

    The statement a retrain's cluster assignment runs
    (``recommendations.services.clusters.profile_clusters_assign``).
    """
    try:
        with transaction.atomic():
            Profile.objects.filter(pk=profile_id).update(taste_cluster_id=cluster_id)
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_rename_racing_a_retrains_cluster_move_keeps_the_move():
    # given: a profile in one taste cluster, being moved to another by a retrain
    account = AccountFactory()
    old, new = (
        TasteClusterFactory(region=account.home_region),
        TasteClusterFactory(region=account.home_region),
    )
    profile = ProfileFactory(account=account, name="Dad", taste_cluster=old)
    client = token_client(account)
    started, blocked = threading.Event(), threading.Event()
    retrain = threading.Thread(target=_retrain_moves, args=(profile.pk, new.pk, started, blocked))
    retrain.start()

    # when: the household renames the profile, read before the move commits
    try:
        assert started.wait(30)
        response = client.patch(
            reverse("v1:profile-detail", args=[profile.pk]), {"name": "Papa"}, format="json"
        )
    finally:
        retrain.join()

    # then: both changes stand; the rename did not write the old cluster back
    assert blocked.is_set(), "the rename never waited on the retrain's move"
    assert response.status_code == 200, response.content
    profile = Profile.objects.get(pk=profile.pk)
    assert (profile.name, profile.taste_cluster_id) == ("Papa", new.pk)


def _guardian_sets_pin(profile_id: int, started, blocked):
    """Give the profile a PIN, held uncommitted until someone waits."""
    try:
        with transaction.atomic():
            profile_update(profile=Profile.objects.get(pk=profile_id), pin="2468")
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_rename_in_admin_racing_a_guardians_new_pin_keeps_the_pin(client):
    # given: an adult profile without a PIN, its admin page open, and a guardian's PIN
    # being set meanwhile
    LanguageFactory(code="en", name="English", native_name="English")
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", None))
    profile = ProfileFactory(name="Teen")
    url = reverse("admin:profiles_profile_change", args=[profile.pk])
    data = form_data(client.get(url))
    started, blocked = threading.Event(), threading.Event()
    guardian = threading.Thread(target=_guardian_sets_pin, args=(profile.pk, started, blocked))
    guardian.start()

    # when: staff save a new name, read before the PIN commits
    try:
        assert started.wait(30)
        response = client.post(url, {**data, "name": "Renamed"})
    finally:
        guardian.join()

    # then: both stand; the rename did not write the profile's old (empty) PIN back
    assert blocked.is_set(), "the rename never waited on the guardian's change"
    assert response.status_code == 302, response.content
    profile = Profile.objects.get(pk=profile.pk)
    assert (profile.name, profile.has_pin) == ("Renamed", True)


def _guardian_sets_own_pin(profile_id: int, started, blocked):
    """Give an adult profile a PIN (so the household a guardian), held uncommitted until
    someone waits."""
    try:
        with transaction.atomic():
            profile_update(profile=Profile.objects.get(pk=profile_id), pin="1357")
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_adding_a_profile_racing_a_new_guardian_is_checked_against_it():
    # given: a household without a guardian, whose parent is giving their adult profile a
    # PIN (which makes it the household's guardian), uncommitted
    account = AccountFactory()
    parent = ProfileFactory(account=account, name="Parent")
    client = token_client(account)
    started, blocked = threading.Event(), threading.Event()
    guardian = threading.Thread(target=_guardian_sets_own_pin, args=(parent.pk, started, blocked))
    guardian.start()

    # when: a device adds an unrestricted profile, without the guardian's unlock
    try:
        assert started.wait(30)
        response = client.post(
            reverse("v1:profile-list"), {"name": "No limits", "maturity_limit": 18}, format="json"
        )
    finally:
        guardian.join()

    # then: it waited for the guardian's PIN and was refused as the guardian's to allow
    assert blocked.is_set(), "the device's request never waited on the guardian's change"
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "guardian_unlock_required"
    assert list(account.profiles.values_list("name", flat=True)) == ["Parent"]


def _locks_again(profile_id: int, whole_list: bool, started, blocked):
    """Lock the profile again (the household's DELETE .../unlock/, or support's "End
    unlocks on every device" in admin), held uncommitted until someone waits."""
    try:
        with transaction.atomic():
            if whole_list:
                profiles_unlocks_end(profiles=Profile.objects.filter(pk=profile_id))
            else:
                profile_unlocks_end(profile=Profile.objects.get(pk=profile_id))
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("whole_list", [False, True], ids=["household", "admin"])
@pytest.mark.parametrize(
    ("method", "body"),
    [("patch", {"name": "Mine now"}), ("delete", None)],
    ids=["rename", "delete"],
)
def test_a_change_racing_its_profiles_lock_again_is_refused_with_the_ended_token(
    whole_list, method, body
):
    # given: a PIN-protected profile that a device holds an unlock token of, and the
    # profile being locked again on every device meanwhile, uncommitted
    account = AccountFactory()
    profile = ProfileFactory(account=account, name="Private")
    profile.set_pin("2468")
    profile.save()
    token, _ = profile_unlock(profile=profile, pin="2468")
    client = token_client(account)
    started, blocked = threading.Event(), threading.Event()
    household = threading.Thread(
        target=_locks_again, args=(profile.pk, whole_list, started, blocked)
    )
    household.start()

    # when: the device renames or deletes the profile with the token the lock ends
    try:
        assert started.wait(30)
        response = getattr(client, method)(
            reverse("v1:profile-detail", args=[profile.pk]),
            body,
            format="json",
            HTTP_X_PROFILE_UNLOCK=token,
        )
    finally:
        household.join()

    # then: it waited for the lock and was refused as locked, the profile left as it was
    assert blocked.is_set(), "the device's request never waited on the lock"
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "profile_locked"
    assert Profile.objects.get(pk=profile.pk).name == "Private"


def _staff_delete_household(account_id: int, started, blocked):
    """Delete the household as admin does, held uncommitted until someone waits."""
    try:
        with transaction.atomic():
            account_delete(account=Account.objects.get(pk=account_id))
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("method", "detail", "body"),
    [
        ("post", False, {"name": "Guest", "is_kids": True, "maturity_limit": 0}),
        ("patch", True, {"name": "Mine now"}),
        ("delete", True, None),
    ],
    ids=["add", "rename", "delete"],
)
def test_a_change_racing_its_households_deletion_is_refused_as_its_token_is_gone(
    method, detail, body
):
    # given: a household being deleted by staff, uncommitted, as one of its devices sends
    # a change of its profiles (with a token the deletion takes with it)
    account = AccountFactory()
    profile = ProfileFactory(account=account, name="Teen")
    client = token_client(account)
    started, blocked = threading.Event(), threading.Event()
    staff = threading.Thread(target=_staff_delete_household, args=(account.pk, started, blocked))
    staff.start()

    # when
    try:
        assert started.wait(30)
        url = (
            reverse("v1:profile-detail", args=[profile.pk])
            if detail
            else reverse("v1:profile-list")
        )
        response = getattr(client, method)(url, body, format="json")
    finally:
        staff.join()

    # then: it waited for the deletion and is answered as a request after it (its token
    # gone), not a 500; nothing of the household is left
    assert blocked.is_set(), "the device's request never waited on the deletion"
    assert response.status_code == 401, response.content
    assert not Account.objects.filter(pk=account.pk).exists()
    assert not Profile.objects.filter(account_id=account.pk).exists()
