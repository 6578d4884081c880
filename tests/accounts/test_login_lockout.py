"""The admin sign-in (which also signs staff in to the console and the staff API) stops
checking passwords for a username from one address after too many wrong ones."""

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db.models import F
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "right-horse-battery"
ATTACKER = "198.51.100.7"
ELSEWHERE = "203.0.113.20"


@pytest.fixture(autouse=True)
def _cheap_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", password=PASSWORD)


def sign_in(username: str, password: str, *, address: str = ATTACKER, client: Client | None = None):
    """The admin's login form, posted from ``address`` as a browser would post it."""
    client = client or Client(REMOTE_ADDR=address)
    return client.post(
        "/admin/login/", {"username": username, "password": password, "next": "/console/"}
    )


def guess(times: int, *, username: str = "admin", address: str = ATTACKER) -> list[int]:
    return [sign_in(username, f"guess-{n}", address=address).status_code for n in range(times)]


def signed_in(response) -> bool:
    return response.status_code == 302 and response.headers["Location"] == "/console/"


@pytest.mark.django_db
def test_wrong_passwords_then_the_right_one_is_refused_with_the_lockout_page(
    settings, admin_user
) -> None:
    assert settings.AXES_FAILURE_LIMIT == 5

    # when: five wrong passwords, then the right one
    statuses = guess(5)
    client = Client(REMOTE_ADDR=ATTACKER)
    response = sign_in("admin", PASSWORD, client=client)

    # then: four ordinary form errors, and the fifth locks; the right password is not let in
    assert statuses == [200, 200, 200, 200, 429]
    assert response.status_code == 429
    assert response.headers["Retry-After"] == str(15 * 60)
    page = " ".join(response.content.decode().split())
    assert "Too many wrong passwords for “admin” from your address" in page
    assert "locked for 15 minutes" in page
    assert 'href="/admin/login/?next=/console/"' in page
    assert client.get("/console/").status_code == 302  # no session was opened
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_the_lock_holds_only_for_that_username_from_that_address(
    admin_user, django_user_model
) -> None:
    django_user_model.objects.create_user("editor", password=PASSWORD, is_staff=True)
    assert guess(5)[-1] == 429

    # the real admin elsewhere, and another person from the guessing address, sign in
    assert signed_in(sign_in("admin", PASSWORD, address=ELSEWHERE))
    assert signed_in(sign_in("editor", PASSWORD, address=ATTACKER))
    # while the guessed username stays locked from there
    assert sign_in("admin", PASSWORD, address=ATTACKER).status_code == 429


@pytest.mark.django_db
def test_a_right_password_forgets_the_wrong_ones_before_it(admin_user) -> None:
    assert guess(4) == [200] * 4
    assert signed_in(sign_in("admin", PASSWORD))

    # four more typos would be eight in the cool-off window, were the first four counted
    assert guess(4) == [200] * 4
    assert signed_in(sign_in("admin", PASSWORD))


@pytest.mark.django_db
def test_the_lock_ends_a_cool_off_after_the_last_wrong_password(settings, admin_user) -> None:
    assert guess(5)[-1] == 429

    def since_last_failure(elapsed: timedelta) -> None:
        """Move the recorded failures back, as if ``elapsed`` had passed since them."""
        AccessAttempt.objects.update(attempt_time=F("attempt_time") - elapsed)

    # a minute before the cool-off ends: still locked (and this attempt restarts the wait)
    since_last_failure(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
    assert sign_in("admin", PASSWORD).status_code == 429

    since_last_failure(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    assert signed_in(sign_in("admin", PASSWORD))


@pytest.mark.django_db
def test_axes_reset_username_unlocks_at_once(admin_user) -> None:
    assert guess(5)[-1] == 429

    call_command("axes_reset_username", "admin")

    assert signed_in(sign_in("admin", PASSWORD))


@pytest.mark.django_db
def test_api_tokens_are_neither_counted_nor_refused(admin_user, api_client) -> None:
    # given: the admin locked out from the address the API client calls from too
    assert guess(5, address="127.0.0.1")[-1] == 429
    attempts = AccessAttempt.objects.count()

    # when: wrong tokens, then the household's own
    stranger = Client()
    wrong = [
        stranger.get("/api/v1/profiles/", HTTP_AUTHORIZATION=f"Token wrong-{n}").status_code
        for n in range(6)
    ]
    response = api_client.get("/api/v1/profiles/")

    # then
    assert wrong == [401] * 6
    assert response.status_code == 200
    assert AccessAttempt.objects.count() == attempts


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def test_the_limit_and_the_cool_off_come_from_the_environment(monkeypatch) -> None:
    loaded = settings_from_env(monkeypatch, LOGIN_FAILURE_LIMIT="3", LOGIN_COOLOFF_MINUTES="60")
    assert loaded["AXES_FAILURE_LIMIT"] == 3
    assert loaded["AXES_COOLOFF_TIME"] == timedelta(hours=1)

    # a zero cool-off would let every attempt expire at once: no lockout at all
    with pytest.raises(ImproperlyConfigured, match="LOGIN_COOLOFF_MINUTES"):
        settings_from_env(monkeypatch, LOGIN_COOLOFF_MINUTES="0")
