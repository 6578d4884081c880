"""PIN-protected profiles: unlock tokens, what they open, and wrong-PIN rate limiting."""

import pytest
from django.core.cache import caches

from profiles.unlock import UNLOCK_HEADER, PinFailureThrottle
from tests.conftest import token_client
from tests.factories import AccountFactory, ProfileFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(account):
    profile = ProfileFactory(account=account, name="Private")
    profile.set_pin("4321")
    profile.save()
    caches["default"].delete(PinFailureThrottle(profile.pk).key)
    yield profile
    caches["default"].delete(PinFailureThrottle(profile.pk).key)


def unlock(client, profile, pin):
    return client.post(f"/api/v1/profiles/{profile.pk}/unlock/", {"pin": pin}, format="json")


@pytest.mark.parametrize(
    "path", ["homepage/", "recommendations/", "signals/", "continue-watching/"]
)
def test_a_pin_protected_profile_needs_an_unlock_token(api_client, locked, path):
    response = api_client.get(f"/api/v1/profiles/{locked.pk}/{path}")

    assert response.status_code == 403
    assert UNLOCK_HEADER in response.json()["message"]
    assert response.json()["code"] == "profile_locked"


def test_the_right_pin_returns_a_token_that_opens_the_profile(api_client, locked):
    response = unlock(api_client, locked, "4321")

    assert response.status_code == 200
    assert response.json()["expires_in"] == 3600
    token = response.json()["token"]
    history = api_client.get(f"/api/v1/profiles/{locked.pk}/signals/", HTTP_X_PROFILE_UNLOCK=token)
    assert history.status_code == 200


def test_a_token_does_not_open_another_profile_or_survive_a_pin_change(api_client, account, locked):
    other = ProfileFactory(account=account, name="Other")
    other.set_pin("1111")
    other.save()
    token = unlock(api_client, locked, "4321").json()["token"]

    response = api_client.get(f"/api/v1/profiles/{other.pk}/signals/", HTTP_X_PROFILE_UNLOCK=token)
    assert response.status_code == 403

    locked.set_pin("9999")
    locked.save()
    response = api_client.get(f"/api/v1/profiles/{locked.pk}/signals/", HTTP_X_PROFILE_UNLOCK=token)
    assert response.status_code == 403


def test_a_forged_token_is_refused(api_client, locked):
    response = api_client.get(
        f"/api/v1/profiles/{locked.pk}/signals/", HTTP_X_PROFILE_UNLOCK=f"{locked.pk}:x:y"
    )
    assert response.status_code == 403


def test_wrong_pins_are_rate_limited_per_profile(api_client, locked):
    for _ in range(5):
        assert unlock(api_client, locked, "0000").status_code == 403

    blocked = unlock(api_client, locked, "4321")

    assert blocked.status_code == 429
    assert blocked.json()["retry_after_seconds"] > 0
    # Another client of the same household is blocked too: the limit is the profile's.
    assert unlock(token_client(locked.account), locked, "4321").status_code == 429


def test_a_profile_without_a_pin_needs_no_token(api_client, profile):
    assert api_client.get(f"/api/v1/profiles/{profile.pk}/signals/").status_code == 200


def test_unlocking_another_households_profile_is_a_404(locked):
    stranger = token_client(AccountFactory())
    assert unlock(stranger, locked, "4321").status_code == 404
