"""The token read that also reads the URL's profile: same access rules, one statement."""

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from accounts.services import api_token_create, api_token_revoke
from profiles.authentication import ProfileTokenAuthentication
from profiles.models import Profile
from profiles.selectors import profile_for_request
from tests.factories import AccountFactory, LanguageFactory, ProfileFactory

pytestmark = pytest.mark.django_db


def _request(key: str, **kwargs: object) -> Request:
    django_request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {key}")
    return Request(django_request, parser_context={"kwargs": kwargs})


def _authenticate(request: Request):
    return ProfileTokenAuthentication().authenticate(request)


def test_the_urls_profile_comes_with_the_token_in_one_statement():
    account = AccountFactory()
    profile = ProfileFactory(account=account, name="Meena")
    profile.preferred_languages.set([LanguageFactory(code="ta")])
    key = api_token_create(account=account, name="tv")[1]
    request = _request(key, profile_id=profile.pk)

    with CaptureQueriesContext(connection) as queries:
        principal, token = _authenticate(request)
        loaded, languages = profile_for_request(
            request, account=principal.account, profile_id=profile.pk
        )

    assert len(queries) == 1
    assert token.account.pk == account.pk
    assert loaded.account is principal.account
    assert languages == {"ta"}
    expected = Profile.objects.get(pk=profile.pk)
    for field in Profile._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(expected, field.attname), field.name


def test_another_households_profile_is_a_404_without_a_second_read():
    stranger, household = AccountFactory(), AccountFactory()
    profile = ProfileFactory(account=household)
    key = api_token_create(account=stranger, name="tv")[1]
    request = _request(key, profile_id=profile.pk)
    principal, _ = _authenticate(request)

    with CaptureQueriesContext(connection) as queries, pytest.raises(Http404):
        profile_for_request(request, account=principal.account, profile_id=profile.pk)
    assert len(queries) == 0


def test_a_profile_other_than_the_one_read_is_read_on_its_own():
    account = AccountFactory()
    first, second = ProfileFactory(account=account), ProfileFactory(account=account)
    key = api_token_create(account=account, name="tv")[1]
    request = _request(key, profile_id=first.pk)
    principal, _ = _authenticate(request)

    with CaptureQueriesContext(connection) as queries:
        loaded, _ = profile_for_request(request, account=principal.account, profile_id=second.pk)

    assert loaded.pk == second.pk
    assert len(queries) == 1


def test_urls_without_a_profile_and_bad_tokens_are_as_before():
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    token, key = api_token_create(account=account, name="tv")

    principal, _ = _authenticate(_request(key))
    assert principal.account.pk == account.pk

    with pytest.raises(exceptions.AuthenticationFailed):
        _authenticate(_request("not-a-key", profile_id=profile.pk))
    api_token_revoke(token=token)
    with pytest.raises(exceptions.AuthenticationFailed):
        _authenticate(_request(key, profile_id=profile.pk))
