"""The profile read of the API's hot paths: one statement, the ORM's instance, account-scoped."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from profiles.models import Profile
from profiles.selectors import (
    profile_guardians,
    profile_list_with_home_region,
    profile_with_languages,
    profile_with_pin,
)
from tests.factories import AccountFactory, LanguageFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def test_the_profile_and_its_languages_come_in_one_query_as_the_orm_would_load_them():
    account = AccountFactory()
    tamil, hindi = LanguageFactory(code="ta"), LanguageFactory(code="hi")
    profile = ProfileFactory(account=account, name="Meena", is_kids=False)
    profile.preferred_languages.set([tamil, hindi])

    with CaptureQueriesContext(connection) as queries:
        loaded, languages = profile_with_languages(account=account, profile_id=profile.pk)
        assert loaded.account is account

    assert len(queries) == 1
    assert languages == {"ta", "hi"}
    expected = Profile.objects.get(pk=profile.pk)
    for field in Profile._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name
    assert not loaded._state.adding


def test_a_profile_without_languages_has_none():
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    profile.preferred_languages.clear()

    assert profile_with_languages(account=account, profile_id=profile.pk)[1] == set()


def test_another_households_profile_is_not_found():
    profile = ProfileFactory()

    with pytest.raises(Http404):
        profile_with_languages(account=AccountFactory(), profile_id=profile.pk)


def test_the_profiles_with_home_region_come_by_slot_in_one_query():
    # given: a household's profiles made out of slot order, and another household's
    account = AccountFactory()
    second = ProfileFactory(account=account, slot=2)
    first = ProfileFactory(account=account, slot=1)
    ProfileFactory()

    # when: one query, with the household's region (its time zone places the hour), for a
    # household read afresh (its region not loaded with it)
    fresh = Account.objects.get(pk=account.pk)
    with CaptureQueriesContext(connection) as queries:
        profiles = profile_list_with_home_region(account=fresh)
        zones = {profile.account.home_region.time_zone for profile in profiles}

    # then
    assert len(queries) == 1
    assert profiles == [first, second]
    assert zones == {"Asia/Kolkata"}


def test_the_profile_with_a_pin_is_the_first_by_household_and_slot_whose_pin_it_is():
    # given: a profile without a PIN, one with another PIN, then two with this PIN
    account = AccountFactory()
    ProfileFactory(account=account)
    other = ProfileFactory(account=account)
    other.set_pin("9999")
    other.save()
    wanted = [ProfileFactory(account=account) for _ in range(2)]
    for profile in wanted:
        profile.set_pin("1234")
        profile.save()

    # then: the first that matches, its household with it; none among too few tried
    found = profile_with_pin(pin="1234")
    assert found == wanted[0]
    assert found.account == account
    assert profile_with_pin(pin="1234", among=1) is None
    assert profile_with_pin(pin="0000") is None


def test_a_households_guardians_come_with_what_checking_their_unlocks_reads():
    # A guardian's unlock is checked against its PIN and its lock count (profiles.unlock):
    # a field left out of the read would be a query per guardian on every guarded change.
    account = AccountFactory()
    guardian = ProfileFactory(account=account)
    guardian.set_pin("4321")
    guardian.save()

    with CaptureQueriesContext(connection) as queries:
        (found,) = profile_guardians(account_id=account.pk)
        read = (found.pin_hash, found.unlock_generation)

    assert len(queries) == 1
    assert read == (guardian.pin_hash, 0)
