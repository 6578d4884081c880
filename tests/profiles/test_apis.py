import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from profiles.models import Profile
from tests.conftest import token_client
from tests.factories import AccountFactory, LanguageFactory, ProfileFactory

pytestmark = pytest.mark.django_db

LIST_URL = reverse("v1:profile-list")


def detail_url(profile_id: int) -> str:
    return reverse("v1:profile-detail", args=[profile_id])


def test_requests_without_a_token_are_refused():
    response = APIClient().get(LIST_URL)
    assert response.status_code == 401
    assert response.json()["message"]


def test_a_revoked_or_unknown_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-key")
    response = client.get(LIST_URL)
    assert response.status_code == 401
    assert response.json() == {
        "message": "Invalid or revoked token.",
        "code": "authentication_failed",
        "errors": {},
    }


def test_list_shows_only_the_tokens_own_profiles(api_client, account):
    mine = ProfileFactory(account=account, name="Mine")
    ProfileFactory(name="Theirs")

    response = api_client.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert [p["id"] for p in body["results"]] == [mine.pk]
    assert body["count"] == 1


def test_create_returns_the_profile_without_its_pin(api_client):
    LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")

    response = api_client.post(
        LIST_URL,
        {"name": "Meena", "preferred_languages": ["ta"], "display_language": "ta", "pin": "2468"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Meena"
    assert body["preferred_languages"] == ["ta"]
    assert body["has_pin"] is True
    assert "pin" not in body
    assert "pin_hash" not in body


def test_sixth_profile_gets_a_400_naming_the_limit(api_client, account):
    for i in range(5):
        ProfileFactory(account=account, name=f"P{i}")

    response = api_client.post(LIST_URL, {"name": "Sixth"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert "at most 5 profiles" in body["message"]
    assert body["errors"]["account"] == ["An account can have at most 5 profiles."]


def test_field_errors_name_the_field_and_the_reason(api_client):
    response = api_client.post(
        LIST_URL, {"name": "", "maturity_limit": 99, "pin": "12"}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"name", "maturity_limit", "pin"}
    assert errors["pin"] == ["The PIN must be exactly 4 digits."]


def test_duplicate_name_is_a_field_error(api_client, account):
    ProfileFactory(account=account, name="Asha")
    response = api_client.post(LIST_URL, {"name": "ASHA"}, format="json")
    assert response.status_code == 400
    assert "already has a profile with that name" in response.json()["message"]


def test_kids_profile_cannot_be_raised_above_its_cap(api_client):
    response = api_client.post(
        LIST_URL, {"name": "Kid", "is_kids": True, "maturity_limit": 18}, format="json"
    )
    assert response.status_code == 400
    assert "maturity_limit" in response.json()["errors"]


def test_update_and_delete_own_profile(api_client, account):
    profile = ProfileFactory(account=account, name="Old")

    response = api_client.patch(detail_url(profile.pk), {"name": "New"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "New"

    response = api_client.delete(detail_url(profile.pk))
    assert response.status_code == 204
    assert not Profile.objects.filter(pk=profile.pk).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_another_accounts_profile_is_a_404(api_client, method):
    other = ProfileFactory(account=AccountFactory(), name="Other")

    response = getattr(api_client, method)(detail_url(other.pk), {"name": "x"}, format="json")

    assert response.status_code == 404
    assert Profile.objects.get(pk=other.pk).name == "Other"


def test_two_households_tokens_are_isolated():
    first, second = AccountFactory(), AccountFactory()
    profile = ProfileFactory(account=first)
    assert token_client(first).get(detail_url(profile.pk)).status_code == 200
    assert token_client(second).get(detail_url(profile.pk)).status_code == 404
