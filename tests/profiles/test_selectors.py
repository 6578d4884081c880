"""The profile read of the API's hot paths: one statement, the ORM's instance, account-scoped."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from profiles.models import Profile
from profiles.selectors import profile_with_languages
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
