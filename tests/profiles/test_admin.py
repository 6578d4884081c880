"""The profile admin pages: refusals shown as form errors, and the wrong-PIN lock support lifts."""

import datetime as dt
import json
import re
import threading

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import connection, transaction
from django.db.models.signals import post_init
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.exceptions import Throttled

from accounts.models import Account
from profiles.models import KIDS_MATURITY_CAP, MAX_PROFILES_PER_ACCOUNT, Profile
from profiles.services import (
    LIMIT_MESSAGE,
    profile_change_locked,
    profile_create,
    profile_delete,
    profile_pin_lock_lift,
)
from profiles.unlock import WrongPin, profile_unlock
from tests.conftest import token_client
from tests.db_waits import hold_until_waited_on
from tests.factories import AccountFactory, LanguageFactory
from tests.profiles.conftest import DAILY_CAP
from tests.test_admin import form_data

DUPLICATE = "Another profile of this account has this name"


@pytest.fixture
def staff(db, client: Client) -> Client:
    LanguageFactory(code="en", name="English", native_name="English")
    client.force_login(get_user_model().objects.create_superuser("staff", "s@example.com", None))
    return client


def account_url(account: Account) -> str:
    return reverse("admin:accounts_account_change", args=[account.pk])


@pytest.mark.parametrize(
    ("first", "second"),
    [("Guest", "Guest"), ("Guest", "guest"), ("Gu\u00e9st", "Gue\u0301st")],  # é; e, accent
)
def test_two_new_inline_rows_with_one_name_are_a_form_error(staff, first, second):
    # given
    account = AccountFactory()
    data = form_data(staff.get(account_url(account)))
    data["profiles-TOTAL_FORMS"] = "2"
    for i, name in enumerate([first, second]):
        data.update({f"profiles-{i}-name": name, f"profiles-{i}-maturity_limit": "13"})

    # when
    response = staff.post(account_url(account), data)

    # then
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[0].errors == {}
    assert DUPLICATE in formset.forms[1].errors["name"][0]
    assert not account.profiles.exists()


def test_a_new_row_may_not_take_the_name_an_existing_row_is_given(staff):
    # given: "Asha" renamed to "Guest" in the same POST as a new row "guest"
    account = AccountFactory()
    profile_create(account=account, name="Asha")
    data = form_data(staff.get(account_url(account)))
    data["profiles-0-name"] = "Guest"
    data["profiles-TOTAL_FORMS"] = "2"
    data.update({"profiles-1-name": "guest", "profiles-1-maturity_limit": "13"})

    # when
    response = staff.post(account_url(account), data)

    # then
    assert response.status_code == 200
    assert list(account.profiles.values_list("name", flat=True)) == ["Asha"]


def test_a_deleted_row_gives_its_name_up(staff):
    account = AccountFactory()
    profile_create(account=account, name="Asha")
    data = form_data(staff.get(account_url(account)))
    data["profiles-0-DELETE"] = "on"
    data["profiles-0-name"] = "Guest"
    data["profiles-TOTAL_FORMS"] = "2"
    data.update({"profiles-1-name": "Guest", "profiles-1-maturity_limit": "13"})

    response = staff.post(account_url(account), data)

    assert response.status_code == 302
    assert list(account.profiles.values_list("name", flat=True)) == ["Guest"]


def _rival_takes_the_last_slot(
    account: Account, started: threading.Event, blocked: threading.Event
) -> None:
    """Take the account's last slot in a transaction held until someone waits on its lock.

    The admin's form check reads the committed count (one slot free) and passes;
    its service then waits on the account row this transaction locked, and
    finds the slot taken once it commits: the race the service's lock decides.
    ``blocked`` is set once a session is seen waiting on this one (not merely on
    some lock), so the test knows the admin's save really raced it.
    """
    try:
        with transaction.atomic():
            profile_create(account=account, name="Rival")
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


def race_for_the_last_slot(account: Account, post) -> object:
    """``post()``'s response, sent while a rival holds the account's last slot uncommitted."""
    started, blocked = threading.Event(), threading.Event()
    rival = threading.Thread(target=_rival_takes_the_last_slot, args=(account, started, blocked))
    rival.start()
    try:
        assert started.wait(30)
        response = post()
    finally:
        rival.join()
    assert blocked.is_set(), "the save never waited on the rival's transaction"
    return response


@pytest.mark.django_db(transaction=True)
def test_losing_the_last_slot_while_saving_a_new_profile_is_a_form_error(staff):
    # given: one slot free when the form is checked, taken before the service saves
    account = AccountFactory()
    for i in range(MAX_PROFILES_PER_ACCOUNT - 1):
        profile_create(account=account, name=f"P{i}")

    # when
    response = race_for_the_last_slot(
        account,
        lambda: staff.post(
            reverse("admin:profiles_profile_add"),
            {"account": account.pk, "name": "Late", "maturity_limit": 18},
        ),
    )

    # then: the page again, saying why, not a 500
    assert response.status_code == 200
    assert LIMIT_MESSAGE in response.content.decode()
    assert sorted(account.profiles.values_list("name", flat=True))[-1] == "Rival"
    assert not Profile.objects.filter(name="Late").exists()


@pytest.mark.django_db(transaction=True)
def test_losing_the_last_slot_while_saving_the_accounts_inline_is_a_form_error(staff):
    # given: a new inline row for the last slot, which a rival takes meanwhile
    account = AccountFactory()
    for i in range(MAX_PROFILES_PER_ACCOUNT - 1):
        profile_create(account=account, name=f"P{i}")
    data = form_data(staff.get(account_url(account)))
    new = MAX_PROFILES_PER_ACCOUNT - 1
    data["profiles-TOTAL_FORMS"] = str(MAX_PROFILES_PER_ACCOUNT)
    data.update({f"profiles-{new}-name": "Late", f"profiles-{new}-maturity_limit": "13"})

    # when
    response = race_for_the_last_slot(account, lambda: staff.post(account_url(account), data))

    # then
    assert response.status_code == 200
    assert LIMIT_MESSAGE in response.content.decode()
    assert account.profiles.count() == MAX_PROFILES_PER_ACCOUNT
    assert not Profile.objects.filter(name="Late").exists()


# --- The wrong-PIN lock: seen and lifted by support ----------------------------------------


def changelist_url() -> str:
    return reverse("admin:profiles_profile_changelist")


def change_url(profile: Profile) -> str:
    return reverse("admin:profiles_profile_change", args=[profile.pk])


def lift(client: Client, *profiles: Profile):
    return client.post(
        changelist_url(),
        {"action": "lift_pin_lock", "_selected_action": [p.pk for p in profiles]},
    )


@pytest.fixture
def spent(pin_limits) -> Profile:
    """A teen profile whose day's wrong PINs are spent: even its right PIN is refused today."""
    profile = profile_create(account=AccountFactory(), name="Teen", maturity_limit=13, pin="2468")
    pin_limits.spend_the_day(profile)
    with pytest.raises(Throttled):
        profile_unlock(profile=profile, pin="2468")
    return profile


def test_support_sees_the_lock_and_lifts_it_and_the_right_pin_unlocks(staff, spent):
    # given: the change page says the profile is locked, and until when (the UTC day's end)
    page = staff.get(change_url(spent)).content.decode()
    assert "Locked until" in page
    tomorrow = (timezone.now() + dt.timedelta(days=1)).date()
    assert f"{tomorrow:%Y-%m-%d} 00:00 UTC" in page

    # when
    response = lift(staff, spent)

    # then: the right PIN opens it, the page says so, and the admin log records who lifted it
    assert response.status_code == 302
    token, _ = profile_unlock(profile=spent, pin="2468")
    assert token
    assert "Not locked" in staff.get(change_url(spent)).content.decode()
    entry = LogEntry.objects.get(object_id=str(spent.pk), action_flag=CHANGE)
    assert entry.user.username == "staff"
    assert "wrong-PIN lock" in entry.get_change_message()


def test_the_lock_is_shown_and_lifted_from_the_last_wrong_pin_not_the_first_refusal(
    staff, pin_limits
):
    # given: a profile whose day's wrong PINs were just spent, each answered "wrong PIN",
    # none refused yet (the ``spent`` profile's refused try counts one past the budget, so
    # a lock read only from a count above the budget passed there and told support here
    # "Not locked" while the household's right PIN was refused)
    profile = profile_create(account=AccountFactory(), name="Teen", maturity_limit=13, pin="2468")
    pin_limits.spend_the_day(profile)

    # when / then: support sees the lock, and the lift reports when it would have ended
    page = staff.get(change_url(profile)).content.decode()
    assert "Locked until" in page
    assert profile_pin_lock_lift(profile=profile) is not None
    # and: a profile so spent is locked indeed (spent again, as the lift cleared it)
    pin_limits.spend_the_day(profile)
    with pytest.raises(Throttled):
        profile_unlock(profile=profile, pin="2468")


def test_after_the_lock_is_lifted_wrong_pins_count_again_from_zero(staff, spent):
    # given
    lift(staff, spent)

    # when: the day's budget again, and one more
    for _ in range(DAILY_CAP):
        with pytest.raises(WrongPin):
            profile_unlock(profile=spent, pin="0000")

    # then: a full budget was given back (no more, no less), and it counts as before
    with pytest.raises(Throttled):
        profile_unlock(profile=spent, pin="2468")


def test_lifting_the_lock_needs_change_permission_on_profiles(db, client, spent):
    # given: staff who may only view profiles
    viewer = get_user_model().objects.create_user("viewer", password=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_profile"))
    client.force_login(viewer)
    assert "lift_pin_lock" not in client.get(changelist_url()).content.decode()

    # when: the action is posted anyway
    lift(client, spent)

    # then: the profile is still locked, and nothing was logged
    with pytest.raises(Throttled):
        profile_unlock(profile=spent, pin="2468")
    assert not LogEntry.objects.filter(object_id=str(spent.pk)).exists()


def test_lifting_the_lock_on_a_whole_list_reads_only_the_profiles_with_a_pin(staff, spent):
    """Selected across 100,000 profiles, the action read every one into memory, with its
    household, language and cluster, to skip those without a PIN."""
    # given: the locked profile among thirty without a PIN
    others = [
        profile_create(account=AccountFactory(), name=f"No PIN {i}", maturity_limit=13)
        for i in range(30)
    ]
    built: list[Profile] = []

    def count(sender, instance, **kwargs):
        built.append(instance)

    # when: every profile is selected
    post_init.connect(count, sender=Profile)
    try:
        response = lift(staff, spent, *others)
    finally:
        post_init.disconnect(count, sender=Profile)

    # then: the lock is lifted, the others are counted, and only the profile with a PIN was read
    assert response.status_code == 302
    assert profile_unlock(profile=spent, pin="2468")[0]
    assert {p.pk for p in built} == {spent.pk}
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["Wrong-PIN lock lifted on 1 profile(s). 30 have no PIN."]


def test_a_pin_changed_in_the_admin_starts_a_fresh_budget(staff, spent):
    data = form_data(staff.get(change_url(spent)))

    response = staff.post(change_url(spent), {**data, "pin": "1357"})

    assert response.status_code == 302
    spent.refresh_from_db()
    token, _ = profile_unlock(profile=spent, pin="1357")
    assert token


def test_the_change_page_opens_when_the_wrong_pin_counters_cannot_be_read(staff, settings):
    # given a PIN-protected profile, and the cache that holds its counters unreachable (a
    # real Redis client at a port nothing listens on)
    profile = profile_create(account=AccountFactory(), name="Teen", maturity_limit=13, pin="2468")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }

    # when support opens it
    response = staff.get(change_url(profile))

    # then the rest of the page is there, and the lock is said to be unknown, not guessed
    assert response.status_code == 200
    assert "Unknown: the cache that counts wrong PINs did not answer" in response.content.decode()


@pytest.mark.parametrize(
    ("backend", "per_process"),
    [
        ("django.core.cache.backends.locmem.LocMemCache", True),
        ("django.core.cache.backends.redis.RedisCache", False),
    ],
)
def test_the_lock_line_says_when_its_counts_are_this_process_alone(
    staff, settings, backend, per_process
):
    # The demo runs without Redis: each gunicorn worker counts its own wrong PINs, so the
    # page read "0 counted" after a wrong PIN another worker had answered.
    settings.CACHES = {"default": {**settings.CACHES["default"], "BACKEND": backend}}
    profile = profile_create(account=AccountFactory(), name="Teen", maturity_limit=13, pin="2468")

    page = staff.get(change_url(profile)).content.decode()

    assert "Not locked" in page
    assert ("this server process only" in page) is per_process


def test_the_list_keeps_each_household_together_and_tells_namesakes_apart(staff):
    # The demo has 70 household names used more than once ("The Sinha family" 11 times):
    # sorted by account name then slot, their profiles interleaved, and the list read as
    # one family with a dozen profiles in slot 1.
    first, second = AccountFactory(name="The Sinhas"), AccountFactory(name="The Sinhas")
    for account in (second, first):
        for name in ("A", "B"):
            profile_create(account=account, name=name)

    response = staff.get(changelist_url())

    listed = [(p.account_id, p.slot) for p in response.context["cl"].result_list]
    assert listed == [(first.pk, 1), (first.pk, 2), (second.pk, 1), (second.pk, 2)]
    page = response.content.decode()
    assert f"The Sinhas (#{first.pk})" in page
    assert f"The Sinhas (#{second.pk})" in page


# --- A change page opened before someone else changed the profile -------------------------


def guardian_patch(profile: Profile, body: dict) -> None:
    """The household's change through the API, as a guardian's device makes it."""
    response = token_client(profile.account).patch(
        reverse("v1:profile-detail", args=[profile.pk]), body, format="json"
    )
    assert response.status_code == 200, response.content


def test_a_rename_in_admin_keeps_the_kids_limit_a_guardian_set_after_the_page_opened(staff):
    # given: an adult profile's change page open, and the household making it a kids
    # profile meanwhile
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))
    guardian_patch(profile, {"is_kids": True})

    # when: staff change only the name
    response = staff.post(change_url(profile), {**data, "name": "Little one"})

    # then: the name is changed and the restriction stands: the page's old "adult, 18+"
    # was not written back
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.name, profile.is_kids, profile.maturity_limit) == (
        "Little one",
        True,
        KIDS_MATURITY_CAP,
    )


def test_a_name_with_a_control_character_is_a_form_error_in_admin_too(staff):
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))

    response = staff.post(change_url(profile), {**data, "name": "Te\x1ben"})

    assert response.status_code == 200  # the page again, with the error
    assert "Must not hold a control character" in response.content.decode()
    profile.refresh_from_db()
    assert profile.name == "Teen"


@pytest.mark.parametrize("where", ["profile", "household"])
def test_a_name_written_with_a_combining_accent_is_taken_in_admin_too(staff, where):
    # given: "José" with é, and another profile renamed to "José" typed as e + U+0301
    account = AccountFactory()
    profile_create(account=account, name="Jos\u00e9")
    ravi = profile_create(account=account, name="Ravi")
    if where == "profile":
        url = change_url(ravi)
        data = {**form_data(staff.get(url)), "name": "Jose\u0301"}
    else:
        url = account_url(account)
        data = {**form_data(staff.get(url)), "profiles-1-name": "Jose\u0301"}

    # when
    response = staff.post(url, data)

    # then: the page again, with the error; nothing renamed
    assert response.status_code == 200
    assert re.search(f"already has a profile with that name|{DUPLICATE}", response.content.decode())
    assert sorted(account.profiles.values_list("name", flat=True)) == ["Jos\u00e9", "Ravi"]


@pytest.mark.parametrize(
    ("staff_change", "guardian_change", "field"),
    [
        ({"maturity_limit": "16"}, {"maturity_limit": 13}, "maturity limit"),
        ({"name": "Guest"}, {"name": "Ravi"}, "name"),
    ],
    ids=["maturity", "name"],
)
def test_a_field_changed_in_admin_and_meanwhile_by_the_household_is_refused(
    staff, staff_change, guardian_change, field
):
    # given: the page open, and the household changing the same field meanwhile
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))
    guardian_patch(profile, guardian_change)
    before = Profile.objects.values("name", "is_kids", "maturity_limit").get(pk=profile.pk)

    # when
    response = staff.post(change_url(profile), {**data, **staff_change})

    # then: the page again, saying what changed meanwhile; the household's value stands
    assert response.status_code == 200
    page = response.content.decode()
    assert f"changed the {field} of this profile since this page was opened" in page
    assert Profile.objects.values("name", "is_kids", "maturity_limit").get(pk=profile.pk) == (
        before
    )


def test_a_new_pin_in_admin_is_refused_when_the_household_changed_the_pin_meanwhile(staff):
    # given: the page open on a profile without a PIN, and the household giving it one
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))
    guardian_patch(profile, {"pin": "2468"})

    # when: staff set another
    response = staff.post(change_url(profile), {**data, "pin": "1357"})

    # then: refused; the household's PIN stands
    assert response.status_code == 200
    assert "changed the PIN of this profile since this page was opened" in (
        response.content.decode()
    )
    profile.refresh_from_db()
    assert profile.check_pin("2468")


def test_a_change_in_admin_to_another_field_than_the_households_is_saved(staff):
    # given: the household lowers the limit while staff give the profile a PIN
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))
    guardian_patch(profile, {"maturity_limit": 13})

    # when
    response = staff.post(change_url(profile), {**data, "pin": "1357"})

    # then: both stand
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.maturity_limit, profile.check_pin("1357")) == (13, True)


def _household_deletes(profile_id: int, started: threading.Event, blocked: threading.Event):
    """Delete the profile as the API does, held uncommitted until someone waits on it."""
    try:
        with transaction.atomic():
            profile = Profile.objects.get(pk=profile_id)
            with profile_change_locked(account=profile.account, profile_id=profile_id) as locked:
                profile_delete(profile=locked)
            started.set()
            hold_until_waited_on(blocked)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_rename_in_admin_of_a_profile_deleted_meanwhile_says_so_not_a_500(staff):
    # given: the page open, and the household deleting the profile while staff save
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))
    started, blocked = threading.Event(), threading.Event()
    household = threading.Thread(target=_household_deletes, args=(profile.pk, started, blocked))
    household.start()

    # when: the save reads the profile before the deletion commits
    try:
        assert started.wait(30)
        response = staff.post(change_url(profile), {**data, "name": "Renamed"}, follow=True)
    finally:
        household.join()

    # then: the admin's own answer for an object that is gone
    assert blocked.is_set(), "the save never waited on the deletion"
    assert response.redirect_chain[-1] == (reverse("admin:index"), 302)
    assert [str(message) for message in response.context["messages"]] == [
        f"profile with ID “{profile.pk}” doesn\N{RIGHT SINGLE QUOTATION MARK}t exist. "
        "Perhaps it was deleted?"
    ]
    assert not Profile.objects.filter(pk=profile.pk).exists()


def test_a_rename_on_the_accounts_page_keeps_a_kids_limit_set_after_the_page_opened(staff):
    # given: the household's page open in admin, and the household making the profile a
    # kids profile meanwhile
    account = AccountFactory()
    profile = profile_create(account=account, name="Teen")
    data = form_data(staff.get(account_url(account)))
    guardian_patch(profile, {"is_kids": True})

    # when: staff rename it in the profiles' inline
    response = staff.post(account_url(account), {**data, "profiles-0-name": "Little one"})

    # then
    assert response.status_code == 302
    profile.refresh_from_db()
    assert (profile.name, profile.is_kids, profile.maturity_limit) == (
        "Little one",
        True,
        KIDS_MATURITY_CAP,
    )


def test_a_row_changed_on_the_accounts_page_and_meanwhile_by_the_household_is_refused(staff):
    account = AccountFactory()
    profile = profile_create(account=account, name="Teen")
    data = form_data(staff.get(account_url(account)))
    guardian_patch(profile, {"maturity_limit": 13})

    response = staff.post(account_url(account), {**data, "profiles-0-maturity_limit": "16"})

    assert response.status_code == 200
    assert "changed the maturity limit of the profile “Teen” since this page was opened" in (
        response.content.decode()
    )
    profile.refresh_from_db()
    assert profile.maturity_limit == 13


@pytest.mark.django_db(transaction=True)
def test_a_row_of_the_accounts_page_deleted_meanwhile_is_said_not_a_500(staff):
    # given: the household's page open, and the household deleting a profile while staff save
    account = AccountFactory()
    profile = profile_create(account=account, name="Teen")
    data = form_data(staff.get(account_url(account)))
    started, blocked = threading.Event(), threading.Event()
    household = threading.Thread(target=_household_deletes, args=(profile.pk, started, blocked))
    household.start()

    # when: staff rename it
    try:
        assert started.wait(30)
        response = staff.post(account_url(account), {**data, "profiles-0-name": "Renamed"})
    finally:
        household.join()

    # then: the page again, saying so
    assert blocked.is_set(), "the save never waited on the deletion"
    assert response.status_code == 200
    assert "The profile “Teen” was deleted since this page was opened" in (
        response.content.decode()
    )
    assert not account.profiles.exists()


# --- Ending a profile's unlocks from the admin ----------------------------------------------


def end_unlocks(client: Client, *profiles: Profile):
    return client.post(
        changelist_url(),
        {"action": "end_unlocks", "_selected_action": [p.pk for p in profiles]},
    )


def api_unlock(client, profile: Profile, pin: str) -> str:
    response = client.post(f"/api/v1/profiles/{profile.pk}/unlock/", {"pin": pin}, format="json")
    assert response.status_code == 200
    return response.json()["token"]


def api_read(client, profile: Profile, token: str) -> int:
    """The status of a read of ``profile``'s signals with ``token`` as its unlock."""
    return client.get(
        f"/api/v1/profiles/{profile.pk}/signals/", HTTP_X_PROFILE_UNLOCK=token
    ).status_code


def test_support_ends_a_profiles_unlocks_and_the_token_given_before_opens_it_no_more(
    staff, pin_limits
):
    # given: the adult profile unlocked on the kids' TV, and another household's unlocked too
    account = AccountFactory()
    adult = profile_create(account=account, name="Parent", pin="2468")
    other = profile_create(account=AccountFactory(), name="Other", pin="1357")
    tv, elsewhere = token_client(account), token_client(other.account)
    on_tv = api_unlock(tv, adult, "2468")
    other_token = api_unlock(elsewhere, other, "1357")
    assert api_read(tv, adult, on_tv) == 200

    # when: support ends the adult profile's unlocks from its list
    response = end_unlocks(staff, adult)

    # then: the token given before no longer opens it through the API, the PIN does again,
    # the other household's unlock is untouched, and the admin log says who did it
    assert response.status_code == 302
    assert api_read(tv, adult, on_tv) == 403
    assert api_read(tv, adult, api_unlock(tv, adult, "2468")) == 200
    assert api_read(elsewhere, other, other_token) == 200
    entry = LogEntry.objects.get(object_id=str(adult.pk), action_flag=CHANGE)
    assert entry.user.username == "staff"
    assert entry.object_repr == str(adult)
    assert "Ended its unlocks" in entry.get_change_message()
    assert not LogEntry.objects.filter(object_id=str(other.pk)).exists()
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == ["Unlocks ended on every device for 1 profile(s)."]


def test_ending_unlocks_is_one_update_for_every_selected_profile(staff):
    # given: twelve PIN-protected profiles in six households, and three without a PIN
    with_pin = [
        profile_create(account=AccountFactory(), name=f"P{i}", pin="2468") for i in range(12)
    ]
    without = [profile_create(account=AccountFactory(), name=f"N{i}") for i in range(3)]
    built: list[Profile] = []

    def count(sender, instance, **kwargs):
        built.append(instance)

    # when: the whole list is selected ("Select all 15"), with its joins and its order
    post_init.connect(count, sender=Profile)
    try:
        with CaptureQueriesContext(connection) as queries:
            response = staff.post(
                changelist_url(),
                {
                    "action": "end_unlocks",
                    "select_across": "1",
                    "index": "0",
                    "_selected_action": [with_pin[0].pk],
                },
            )
    finally:
        post_init.disconnect(count, sender=Profile)

    # then: one UPDATE raised every PIN-protected profile's generation by one, none was saved
    # row by row, each has its log entry (written together), the others are only counted
    assert response.status_code == 302
    sql = [q["sql"] for q in queries.captured_queries]
    updates = [s for s in sql if s.startswith('UPDATE "profiles_profile"')]
    assert len(updates) == 1
    assert "+ 1" in updates[0]
    assert len([s for s in sql if s.startswith('INSERT INTO "django_admin_log"')]) == 1
    generations = dict(Profile.objects.values_list("pk", "unlock_generation"))
    assert {generations[p.pk] for p in with_pin} == {1}
    assert {generations[p.pk] for p in without} == {0}
    assert {p.pk for p in built} == {p.pk for p in with_pin}
    assert len(built) == len(with_pin)
    logged = LogEntry.objects.filter(action_flag=CHANGE).values_list("object_id", flat=True)
    assert sorted(map(int, logged)) == sorted(p.pk for p in with_pin)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [
        "Unlocks ended on every device for 12 profile(s). 3 have no PIN, so no unlock to end."
    ]


def test_ending_unlocks_needs_change_permission_on_profiles(db, client, api_client, account):
    # given: an unlocked profile, and staff who may only view profiles
    locked = profile_create(account=account, name="Private", pin="2468")
    token = api_unlock(api_client, locked, "2468")
    viewer = get_user_model().objects.create_user("viewer", password=None, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_profile"))
    client.force_login(viewer)
    assert "end_unlocks" not in client.get(changelist_url()).content.decode()

    # when: the action is posted anyway
    end_unlocks(client, locked)

    # then: the token still opens the profile, and nothing was logged
    assert api_read(api_client, locked, token) == 200
    assert not LogEntry.objects.filter(object_id=str(locked.pk)).exists()


def test_support_finds_a_household_by_its_id_and_ends_all_its_unlocks_at_once(staff, pin_limits):
    # given: two PIN-protected profiles of one household, unlocked, and a household beside it
    account = AccountFactory()
    parent = profile_create(account=account, name="Parent", pin="2468")
    teen = profile_create(account=account, name="Teen", maturity_limit=13, pin="1357")
    neighbour = profile_create(account=AccountFactory(), name="Parent", pin="2468")
    tv = token_client(account)
    tokens = {p.pk: api_unlock(tv, p, pin) for p, pin in ((parent, "2468"), (teen, "1357"))}
    beside = api_unlock(token_client(neighbour.account), neighbour, "2468")

    # when: the profile list is searched for the household as it shows it (#id), and the
    # action is run on every profile the search found
    response = staff.post(
        f"{changelist_url()}?q=%23{account.pk}",
        {
            "action": "end_unlocks",
            "select_across": "1",
            "index": "0",
            "_selected_action": [parent.pk],
        },
    )

    # then: both of its profiles are locked again, the household beside it is not
    assert response.status_code == 302
    assert api_read(tv, parent, tokens[parent.pk]) == 403
    assert api_read(tv, teen, tokens[teen.pk]) == 403
    assert api_read(token_client(neighbour.account), neighbour, beside) == 200
    assert LogEntry.objects.filter(action_flag=CHANGE).count() == 2


def _history_mentioning(text: str) -> list[tuple[str, str]]:
    """Admin history entries whose name or change message mentions ``text`` (JSON-escaped, as
    messages store it)."""
    escaped = json.dumps(text)[1:-1]
    return [
        (entry.object_repr, entry.change_message)
        for entry in LogEntry.objects.all()
        if text in entry.object_repr or escaped in entry.change_message
    ]


def _household_with_history(staff: Client) -> tuple[Account, Profile, Profile]:
    """A household whose two profiles staff changed on its page, the first on its own too."""
    account = AccountFactory(name="The Okafors")
    ada = profile_create(account=account, name="Adaeze")
    ben = profile_create(account=account, name="Benedikt")
    url = reverse("admin:profiles_profile_change", args=[ada.pk])
    data = form_data(staff.get(url))
    data["maturity_limit"] = "13"
    assert staff.post(url, data).status_code == 302
    data = form_data(staff.get(account_url(account)))
    data["profiles-0-maturity_limit"] = "16"
    data["profiles-1-maturity_limit"] = "16"
    assert staff.post(account_url(account), data).status_code == 302
    assert _history_mentioning("Adaeze")
    return account, ada, ben


@pytest.mark.django_db(transaction=True)  # the household's device deletes in its own request
@pytest.mark.parametrize("where", ["its admin page", "its row on the household's page", "the API"])
def test_a_deleted_profiles_name_leaves_admins_history(staff, where):
    # given: admin history naming the profile, on its own entries and its household's
    account, ada, _ = _household_with_history(staff)
    entries = LogEntry.objects.count()

    # when
    if where == "its admin page":
        url = reverse("admin:profiles_profile_delete", args=[ada.pk])
        assert staff.post(url, {"post": "yes"}).status_code == 302
    elif where == "its row on the household's page":
        data = form_data(staff.get(account_url(account)))
        data["profiles-0-DELETE"] = "on"
        assert staff.post(account_url(account), data).status_code == 302
    else:
        assert token_client(account).delete(f"/api/v1/profiles/{ada.pk}/").status_code == 204

    # then: no entry names the deleted profile; what was done, when, by whom, to which id stays
    assert not Profile.objects.filter(pk=ada.pk).exists()
    assert _history_mentioning("Adaeze") == []
    assert LogEntry.objects.count() >= entries
    assert LogEntry.objects.filter(
        object_id=str(ada.pk), content_type__model="profile", object_repr__contains=str(ada.pk)
    ).exists()
    # and: the household's other profile is named as before
    assert _history_mentioning("Benedikt")


@pytest.mark.django_db(transaction=True)
def test_a_profile_named_only_on_its_households_page_leaves_admins_history(staff):
    # given: a profile that staff changed only as a row of its household's page
    account, _, ben = _household_with_history(staff)

    # when
    assert token_client(account).delete(f"/api/v1/profiles/{ben.pk}/").status_code == 204

    # then
    assert _history_mentioning("Benedikt") == []
    assert _history_mentioning("Adaeze")


@pytest.mark.django_db(transaction=True)
def test_a_deleted_households_names_leave_admins_history(staff):
    # given
    account, *_ = _household_with_history(staff)

    # when
    url = reverse("admin:accounts_account_delete", args=[account.pk])
    assert staff.post(url, {"post": "yes"}).status_code == 302

    # then: neither the household's name nor its profiles' are in admin's history any more
    assert not Account.objects.filter(pk=account.pk).exists()
    for name in ("Okafors", "Adaeze", "Benedikt"):
        assert _history_mentioning(name) == [], name
    assert LogEntry.objects.filter(
        object_id=str(account.pk), content_type__model="account", object_repr__contains="deleted"
    ).exists()


@pytest.mark.parametrize(
    "typed", [" 1234", "1234 ", "1234\n", "\t1234", " ", "١٢٣٤", "123", "12345", "12a4"]
)
def test_a_pin_in_admin_is_four_ascii_digits_as_typed_as_the_api_takes_it(staff, typed):
    # given: a profile without a PIN
    profile = profile_create(account=AccountFactory(), name="Teen")
    data = form_data(staff.get(change_url(profile)))

    # when: staff type a PIN with blanks around it, or no PIN the API would take
    response = staff.post(change_url(profile), {**data, "pin": typed})

    # then: a form error on the PIN, saying what a PIN is; nothing was set
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["pin"] == ["The PIN must be exactly 4 digits."]
    profile.refresh_from_db()
    assert not profile.has_pin


@pytest.mark.parametrize("where", ["add", "change", "household"])
def test_a_name_that_composing_lengthens_past_50_characters_is_a_name_error_in_admin(staff, where):
    # given: 50 characters as typed, 55 once composed (NFC), as the profile is saved
    from tests.profiles.test_apis import LENGTHENED_NAME

    account = AccountFactory()
    teen = profile_create(account=account, name="Teen")
    if where == "add":
        url = reverse("admin:profiles_profile_add")
        data = {**form_data(staff.get(url)), "account": str(account.pk), "name": LENGTHENED_NAME}
    elif where == "change":
        url = change_url(teen)
        data = {**form_data(staff.get(url)), "name": LENGTHENED_NAME}
    else:
        url = account_url(account)
        data = {**form_data(staff.get(url)), "profiles-0-name": LENGTHENED_NAME}

    # when
    response = staff.post(url, data)

    # then: the page again, the error on the name's field, saying why
    assert response.status_code == 200
    if where == "household":
        errors = response.context["inline_admin_formsets"][0].formset.forms[0].errors
    else:
        errors = response.context["adminform"].form.errors
    assert errors["name"] == [
        "Ensure this value has at most 50 characters in Unicode's composed form (NFC), as "
        "names are saved: it has 55."
    ]
    assert list(account.profiles.values_list("name", flat=True)) == ["Teen"]
