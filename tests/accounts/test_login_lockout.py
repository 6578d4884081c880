"""The admin sign-in (which also signs staff in to the console and the staff API) stops
checking passwords for a username from one address after too many wrong ones."""

import runpy
from datetime import timedelta
from pathlib import Path

import pytest
from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db.models import F
from django.test import Client, RequestFactory

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "right-horse-battery"
ATTACKER = "198.51.100.7"
ELSEWHERE = "203.0.113.20"
PROXY = "172.18.0.1"  # a TLS proxy in front, as compose's network gives it an address


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", password=PASSWORD)


def sign_in(
    username: str,
    password: str,
    *,
    address: str = ATTACKER,
    client: Client | None = None,
    **headers: str,
):
    """The admin's login form, posted from ``address`` as a browser would post it."""
    client = client or Client(REMOTE_ADDR=address)
    return client.post(
        "/admin/login/",
        {"username": username, "password": password, "next": "/console/"},
        headers=headers,
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

    # a minute before the cool-off ends: still locked, and this attempt restarts the wait,
    # so two minutes later (a minute past the first lock's end) it is still locked
    since_last_failure(settings.AXES_COOLOFF_TIME - timedelta(minutes=1))
    assert sign_in("admin", PASSWORD).status_code == 429
    since_last_failure(timedelta(minutes=2))
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


def trust_x_forwarded_for(settings, monkeypatch: pytest.MonkeyPatch, proxies: str) -> None:
    """The client-address settings as ``TRUST_X_FORWARDED_FOR=proxies`` makes them."""
    loaded = settings_from_env(monkeypatch, TRUST_X_FORWARDED_FOR=proxies)
    for name in (
        "TRUST_X_FORWARDED_FOR",
        "AXES_IPWARE_META_PRECEDENCE_ORDER",
        "AXES_IPWARE_PROXY_ORDER",
        "AXES_IPWARE_PROXY_COUNT",
        "IPWARE_STRICT",
    ):
        setattr(settings, name, loaded[name])


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "client"),
    [
        pytest.param("0", ATTACKER, PROXY, id="not-trusted-by-default"),
        pytest.param("1", ATTACKER, ATTACKER, id="one-proxy"),
        pytest.param("1", f"192.0.2.66, {ATTACKER}", ATTACKER, id="a-client-written-entry"),
        pytest.param("2", f"192.0.2.66, {ATTACKER}, 203.0.113.9", ATTACKER, id="two-proxies"),
        pytest.param("1", None, PROXY, id="no-header-the-connection"),
    ],
)
def test_the_client_address_is_the_one_the_outermost_trusted_proxy_appended(
    settings, monkeypatch, proxies, forwarded_for, client
) -> None:
    trust_x_forwarded_for(settings, monkeypatch, proxies)
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=PROXY, headers=headers)

    assert get_client_ip_address(request) == client


@pytest.mark.django_db
def test_behind_the_proxy_a_guesser_is_locked_whatever_it_forwards_and_others_are_not(
    settings, monkeypatch, admin_user
) -> None:
    trust_x_forwarded_for(settings, monkeypatch, "1")

    # when: every guess claims another address before the one the proxy appends
    statuses = [
        sign_in(
            "admin", f"guess-{n}", address=PROXY, x_forwarded_for=f"192.0.2.{n}, {ATTACKER}"
        ).status_code
        for n in range(5)
    ]

    # then: the guesser is locked, the admin signing in through the same proxy is not
    assert statuses == [200] * 4 + [429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}
    assert signed_in(sign_in("admin", PASSWORD, address=PROXY, x_forwarded_for=ELSEWHERE))


@pytest.mark.django_db
def test_a_forwarded_address_does_not_escape_the_lock_unless_trusted(admin_user) -> None:
    # given: the default, X-Forwarded-For not believed
    statuses = [
        sign_in("admin", f"guess-{n}", x_forwarded_for=f"192.0.2.{n}").status_code for n in range(5)
    ]

    assert statuses == [200] * 4 + [429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}


@pytest.mark.parametrize(
    ("behind_proxy", "proxies", "warned"),
    [(True, 0, True), (True, 1, False), (False, 0, False)],
)
def test_the_deploy_check_warns_when_the_proxy_hides_every_clients_address(
    settings, behind_proxy, proxies, warned
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if behind_proxy else None
    settings.TRUST_X_FORWARDED_FOR = proxies

    def ids(deploy: bool) -> list[str]:
        found = checks.run_checks(tags=["security"], include_deployment_checks=deploy)
        return [m.id for m in found]

    assert ("tonight.W003" in ids(deploy=True)) == warned
    assert "tonight.W003" not in ids(deploy=False)
