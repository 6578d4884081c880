import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from catalog.models import MaturityLevel
from profiles import services
from profiles.models import (
    KIDS_MATURITY_CAP,
    MAX_PROFILES_PER_ACCOUNT,
    NAME_TAKEN_MESSAGE,
    Profile,
)
from profiles.services import LIMIT_MESSAGE, profile_create, profile_delete, profile_update
from recommendations.models import PageLog, ProfileTitleState, Signal
from tests.factories import AccountFactory, TitleFactory
from tests.test_admin_deletion import LOGS, _history

pytestmark = pytest.mark.django_db


def test_sixth_profile_is_refused_naming_the_limit():
    account = AccountFactory()
    for i in range(MAX_PROFILES_PER_ACCOUNT):
        profile_create(account=account, name=f"P{i}")

    with pytest.raises(ValidationError) as error:
        profile_create(account=account, name="Sixth")

    assert "at most 5 profiles" in str(error.value.message_dict["account"])
    assert account.profiles.count() == MAX_PROFILES_PER_ACCOUNT


def test_deleted_profile_frees_its_slot():
    account = AccountFactory()
    created = [profile_create(account=account, name=f"P{i}") for i in range(5)]
    created[2].delete()

    replacement = profile_create(account=account, name="New")

    assert replacement.slot == 3


def test_a_profiles_deletion_is_one_statement_per_table_however_long_its_history():
    # given: a profile with signals, pages and a title state
    profile = profile_create(account=AccountFactory(), name="Asha")
    _history(profile, TitleFactory(), signals=40, pages=5)

    # when
    with CaptureQueriesContext(connection) as queries:
        profile_delete(profile=profile)

    # then: none of its log rows is read into Python (as Django does for a table with
    # delete receivers or cascades of its own), each table is one DELETE
    statements = [q["sql"] for q in queries.captured_queries]
    assert not [sql for sql in statements if any(f'SELECT "{t}".' in sql for t in LOGS)]
    deletes = [sql.split('"')[1] for sql in statements if sql.startswith("DELETE")]
    assert sorted(deletes) == sorted(
        [
            "profiles_profile_preferred_languages",
            Signal._meta.db_table,
            ProfileTitleState._meta.db_table,
            PageLog._meta.db_table,
            Profile._meta.db_table,
        ]
    )
    assert not Signal.objects.filter(profile_id=profile.pk).exists()


def test_database_refuses_a_sixth_slot_even_bypassing_the_service():
    account = AccountFactory()
    with pytest.raises(IntegrityError):
        Profile.objects.create(account=account, name="Rogue", slot=MAX_PROFILES_PER_ACCOUNT + 1)


@pytest.mark.django_db(transaction=True)
def test_racing_for_the_fifth_slot_creates_one_profile():
    # given an account with four profiles
    account = AccountFactory()
    for i in range(4):
        profile_create(account=account, name=f"P{i}")
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def create(name: str) -> None:
        close_old_connections()
        barrier.wait()
        try:
            profile_create(account=account, name=name)
            outcomes.append("created")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    # when six requests race for the last slot
    threads = [threading.Thread(target=create, args=(f"Racer {i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one wins
    assert sorted(outcomes) == ["created"] + ["refused"] * 5
    assert Profile.objects.filter(account=account).count() == MAX_PROFILES_PER_ACCOUNT


@pytest.mark.django_db(transaction=True)
def test_racing_renames_to_one_name_rename_one_profile_and_name_the_field():
    # given: four profiles of one household
    account = AccountFactory()
    profiles = [profile_create(account=account, name=f"P{i}") for i in range(4)]
    barrier = threading.Barrier(len(profiles))
    outcomes: list[object] = []

    def rename(profile: Profile) -> None:
        close_old_connections()
        barrier.wait()
        try:
            profile_update(profile=profile, name="Movie night")
            outcomes.append("renamed")
        except ValidationError as error:
            outcomes.append(error.message_dict)
        finally:
            connection.close()

    # when: each is renamed to the same name at once
    threads = [threading.Thread(target=rename, args=(profile,)) for profile in profiles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: one is renamed, the others are told which field clashed (not an IntegrityError)
    refused = {"name": ["This account already has a profile with that name."]}
    assert sorted(outcomes, key=str) == ["renamed"] + [refused] * 3
    assert account.profiles.filter(name="Movie night").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_name_taken_between_validation_and_the_write_is_refused_naming_the_field(
    monkeypatch,
):
    """The database's refusal, not only full_clean's, is a field error (never a 500).

    Renames under the account's row lock never get here (the race test above: each is
    validated after the last one's commit), so this takes a rename that does not take
    the lock, committed on another connection just after this one validated.
    """
    # given: two profiles of one household, and a write by another connection that takes
    # the name between this rename's validation and its write
    account = AccountFactory()
    asha = profile_create(account=account, name="Asha")
    ravi = profile_create(account=account, name="Ravi")
    validated = services._validated

    def then_taken_meanwhile(profile: Profile) -> Profile:
        checked = validated(profile)

        def rename_elsewhere() -> None:
            try:
                Profile.objects.filter(pk=ravi.pk).update(name="movie night")
            finally:
                connection.close()

        elsewhere = threading.Thread(target=rename_elsewhere)
        elsewhere.start()
        elsewhere.join(10)
        assert not elsewhere.is_alive(), "the other connection's rename waited on this one"
        return checked

    monkeypatch.setattr(services, "_validated", then_taken_meanwhile)

    # when
    with pytest.raises(ValidationError) as refused:
        profile_update(profile=asha, name="Movie night")

    # then: refused on the name, as a clash found by validation is, and nothing written
    assert refused.value.message_dict == {"name": [NAME_TAKEN_MESSAGE]}
    assert Profile.objects.get(pk=asha.pk).name == "Asha"
    assert Profile.objects.get(pk=ravi.pk).name == "movie night"


@pytest.mark.django_db(transaction=True)
def test_a_slot_taken_between_validation_and_the_write_is_refused_naming_the_limit(
    monkeypatch,
):
    """As above, for the slot: the constraint a clash broke names the field, not a 500."""
    # given: a household with four profiles, and a write by another connection that moves
    # one of them into the free fifth slot between this creation's validation and its write
    account = AccountFactory()
    first = profile_create(account=account, name="P0")
    for i in range(1, MAX_PROFILES_PER_ACCOUNT - 1):
        profile_create(account=account, name=f"P{i}")
    validated = services._validated

    def then_taken_meanwhile(profile: Profile) -> Profile:
        checked = validated(profile)

        def move_elsewhere() -> None:
            try:
                Profile.objects.filter(pk=first.pk).update(slot=MAX_PROFILES_PER_ACCOUNT)
            finally:
                connection.close()

        elsewhere = threading.Thread(target=move_elsewhere)
        elsewhere.start()
        elsewhere.join(10)
        assert not elsewhere.is_alive(), "the other connection's write waited on this one"
        return checked

    monkeypatch.setattr(services, "_validated", then_taken_meanwhile)

    # when
    with pytest.raises(ValidationError) as refused:
        profile_create(account=account, name="Late")

    # then: refused on the household's limit, as a full household is, and nothing written
    assert refused.value.message_dict == {"account": [LIMIT_MESSAGE]}
    assert not Profile.objects.filter(account=account, name="Late").exists()


def test_a_pin_of_non_ascii_digits_is_refused():
    account = AccountFactory()
    profile = profile_create(account=account, name="Asha")

    with pytest.raises(ValidationError) as error:
        profile_update(profile=profile, pin="١٢٣٤")

    assert error.value.message_dict == {"pin": ["The PIN must be exactly 4 digits."]}


def test_profile_names_are_unique_within_an_account_ignoring_case():
    account = AccountFactory()
    profile_create(account=account, name="Asha")

    with pytest.raises(ValidationError) as error:
        profile_create(account=account, name="asha")

    assert "already has a profile with that name" in str(error.value)
    profile_create(account=AccountFactory(), name="Asha")  # another household may reuse it


def test_kids_profile_defaults_to_the_cap_and_cannot_exceed_it():
    account = AccountFactory()
    kids = profile_create(account=account, name="Kids", is_kids=True)
    assert kids.maturity_limit == KIDS_MATURITY_CAP

    with pytest.raises(ValidationError) as error:
        profile_create(
            account=account, name="Teen", is_kids=True, maturity_limit=MaturityLevel.SIXTEEN
        )
    assert "maturity_limit" in error.value.message_dict


def test_kids_cap_holds_in_the_database():
    account = AccountFactory()
    with pytest.raises(IntegrityError):
        Profile.objects.create(
            account=account, name="K", slot=1, is_kids=True, maturity_limit=MaturityLevel.EIGHTEEN
        )


def test_turning_a_profile_into_kids_lowers_its_limit():
    profile = profile_create(account=AccountFactory(), name="Sam")
    profile_update(profile=profile, is_kids=True)
    profile.refresh_from_db()
    assert profile.maturity_limit == KIDS_MATURITY_CAP


def test_pin_is_stored_hashed_and_checked():
    profile = profile_create(account=AccountFactory(), name="Dad", pin="4321")
    profile.refresh_from_db()

    assert "4321" not in profile.pin_hash
    assert profile.pin_hash.startswith(("pbkdf2_", "argon2", "bcrypt", "scrypt"))
    assert profile.check_pin("4321")
    assert not profile.check_pin("1234")

    profile_update(profile=profile, pin=None)
    profile.refresh_from_db()
    assert not profile.has_pin


@pytest.mark.parametrize("pin", ["123", "12345", "abcd"])
def test_malformed_pins_are_refused(pin):
    with pytest.raises(ValidationError) as error:
        profile_create(account=AccountFactory(), name="X", pin=pin)
    assert "4 digits" in str(error.value)
