"""PIN-protected profiles: unlock tokens, what they open, and wrong-PIN rate limiting."""

import contextlib
import threading
import time
import types

import pytest
import redis
from django.conf import settings as django_settings
from django.core import signing
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.exceptions import Throttled

from profiles.models import Profile
from profiles.services import profile_create, profile_pin_lock_lift
from profiles.unlock import (
    PIN_CHECKS_RETRY_SECONDS,
    UNLOCK_HEADER,
    PinFailureThrottle,
    WrongPin,
    profile_unlock,
)
from tests.conftest import token_client
from tests.factories import AccountFactory, ProfileFactory

pytestmark = pytest.mark.django_db


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
    # The path to unlock it, as the client would send it: not a template to fill in.
    assert f"POST /api/v1/profiles/{locked.pk}/unlock/" in response.json()["message"]


def test_the_right_pin_returns_a_token_that_opens_the_profile(api_client, locked):
    response = unlock(api_client, locked, "4321")

    assert response.status_code == 200
    assert response.json()["expires_in"] == 3600
    token = response.json()["token"]
    history = api_client.get(f"/api/v1/profiles/{locked.pk}/signals/", HTTP_X_PROFILE_UNLOCK=token)
    assert history.status_code == 200


def test_a_token_stops_opening_the_profile_once_it_expires(
    api_client, locked, settings, monkeypatch
):
    # given: a token that lasts a minute, and opens the profile while it lasts
    settings.TONIGHT = {**settings.TONIGHT, "PROFILE_UNLOCK_SECONDS": 60}
    token = unlock(api_client, locked, "4321").json()["token"]
    path = f"/api/v1/profiles/{locked.pk}/signals/"
    assert api_client.get(path, HTTP_X_PROFILE_UNLOCK=token).status_code == 200

    # when: the signer's clock (and only it) moves past the minute
    issued = time.time()
    monkeypatch.setattr(signing, "time", types.SimpleNamespace(time=lambda: issued + 61))
    response = api_client.get(path, HTTP_X_PROFILE_UNLOCK=token)

    # then
    assert response.status_code == 403
    assert "expired" in response.json()["message"]
    assert response.json()["code"] == "profile_locked"


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


def test_concurrent_wrong_pins_get_no_more_checks_than_the_limit(production_hashing, locked):
    # given: twenty devices guessing at once, against the real (Redis) cache; each check
    # takes production's time, the window a check-then-count race would need
    attempts = 20
    outcomes: list[str] = []
    barrier = threading.Barrier(attempts)

    def guess(pin: str) -> None:
        barrier.wait()
        try:
            profile_unlock(profile=locked, pin=pin)
            outcomes.append("unlocked")
        except WrongPin:
            outcomes.append("checked")
        except Throttled:
            outcomes.append("refused")

    # when
    threads = [threading.Thread(target=guess, args=(f"{n:04d}",)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then: only the limit's worth were hashed; the rest were refused unchecked
    assert sorted(outcomes) == ["checked"] * 5 + ["refused"] * (attempts - 5)


def test_an_attempt_counted_as_support_lifts_the_lock_counts_in_the_new_budget(
    locked, monkeypatch, settings
):
    # given: a cache other than Redis (the demo's per-process one; Redis counts in one
    # script, tested below), and support lifting the profile's wrong-PIN lock (clearing
    # its counts) just after an attempt made its place in the window and before it counted
    # itself there
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "pin-lift-during-a-count",
        }
    }
    cache = caches["default"]
    add, lifted = cache.add, []

    def add_then_lift(*args, **kwargs):
        added = add(*args, **kwargs)
        if not lifted:
            lifted.append(profile_pin_lock_lift(profile=locked))
        return added

    monkeypatch.setattr(cache, "add", add_then_lift)

    # when: the attempt's PIN is wrong
    with pytest.raises(WrongPin):
        profile_unlock(profile=locked, pin="0000")

    # then: it is checked and counted once in each window of the budget the lift gave back,
    # not a 500 for the count that vanished under it
    assert lifted
    assert [window.used for window in PinFailureThrottle(locked).state()] == [1, 1]


@pytest.fixture
def lift_after_a_command(locked, monkeypatch):
    """While in it, lift ``locked``'s lock after the n-th Redis command on its short window.

    The lift is support's real one (``profile_pin_lock_lift``), landing deterministically
    where a concurrent one can: between two commands of a step (Django's incr and decr are
    an EXISTS, then an INCRBY), or after the step's last. Yields the lifts made.
    """
    raw_key = caches["default"].make_key(PinFailureThrottle(locked).keys()[0])
    send = redis.Redis.execute_command

    @contextlib.contextmanager
    def lifting_after(n):
        sent, lifted, lifting = [], [], []

        def execute_command(client, *args, **options):
            answer = send(client, *args, **options)
            if raw_key in args and not lifting:
                sent.append(args[0])
                if len(sent) == n + 1:
                    lifting.append(True)
                    lifted.append(profile_pin_lock_lift(profile=locked))
                    lifting.pop()
            return answer

        with monkeypatch.context() as patched:
            patched.setattr(redis.Redis, "execute_command", execute_command)
            yield lifted

    return lifting_after


def unexpiring_counts(profile):
    """The profile's window keys in Redis (counts and their generations) that have no expiry:
    they would be kept for ever."""
    cache = caches["default"]
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    counts = list(map(cache.make_key, PinFailureThrottle(profile).keys()))
    keys = [*counts, *(f"{key}_generation" for key in counts)]
    return [key for key in keys if client.ttl(key) == -1]


@pytest.mark.parametrize("after", [0, 1, 2], ids=["1st", "2nd", "3rd"])
def test_a_lift_during_a_right_pins_give_back_leaves_no_extra_guess_nor_a_key_kept_for_ever(
    locked, lift_after_a_command, after
):
    # given: an attempt counted in both windows, and support lifting the lock after the
    # after-th Redis command its right PIN's give-back sends for the short window
    throttle = PinFailureThrottle(locked)
    throttle.take()

    # when: the PIN is right, so its places are given back
    with lift_after_a_command(after):
        throttle.give_back()

    # then: the lift's budget starts full, not above it: no window is counted below 0 nor
    # kept without an expiry, and exactly the short rate's wrong PINs are checked
    assert unexpiring_counts(locked) == []
    assert [window.used for window in PinFailureThrottle(locked).state()] == [0, 0]
    outcomes = []
    for _ in range(6):
        try:
            profile_unlock(profile=locked, pin="0000")
        except WrongPin:
            outcomes.append("checked")
        except Throttled:
            outcomes.append("refused")
    assert outcomes == ["checked"] * 5 + ["refused"]


@pytest.mark.parametrize("after", [0, 1, 2], ids=["1st", "2nd", "3rd"])
def test_a_lift_while_a_wrong_pin_is_counted_leaves_no_key_kept_for_ever(
    locked, lift_after_a_command, after
):
    # given: support lifting the lock after the after-th Redis command an attempt's count
    # sends for the short window
    # when: the attempt's PIN is wrong
    with lift_after_a_command(after), pytest.raises(WrongPin):
        profile_unlock(profile=locked, pin="0000")

    # then: it is counted at most once in each window (in the lift's budget, or before the
    # lift and cleared by it), and no window's count is kept without an expiry
    assert unexpiring_counts(locked) == []
    assert all(window.used in (0, 1) for window in PinFailureThrottle(locked).state())


def test_right_pins_counted_before_a_lift_give_back_nothing_of_the_lifts_budget(locked):
    # given: two right PINs counted, support lifting the lock while they are checked, and a
    # wrong PIN counted in the lift's budget
    first, second = PinFailureThrottle(locked), PinFailureThrottle(locked)
    first.take()
    second.take()
    profile_pin_lock_lift(profile=locked)
    with pytest.raises(WrongPin):
        profile_unlock(profile=locked, pin="0000")

    # when: both give their places back
    first.give_back()
    second.give_back()

    # then: their places were in the budget the lift cleared, so neither takes the wrong
    # PIN's: it stays counted
    assert [window.used for window in PinFailureThrottle(locked).state()] == [1, 1]


def test_a_wrong_pin_after_a_lift_stays_counted_when_a_right_pin_from_before_ends(
    api_client, locked, monkeypatch
):
    # given: a right PIN sent to the API, counted, and being checked while support lifts
    # the profile's lock and another device's wrong PIN is counted in the lift's budget
    check_pin, during = Profile.check_pin, []

    def check_while_lifted(profile, pin):
        right = check_pin(profile, pin)
        if right and not during:
            during.append(profile_pin_lock_lift(profile=locked))
            during.append(unlock(token_client(locked.account), locked, "0000").status_code)
        return right

    monkeypatch.setattr(Profile, "check_pin", check_while_lifted)

    # when: the right PIN's answer comes, giving back the place it took before the lift
    assert unlock(api_client, locked, "4321").status_code == 200

    # then: the wrong PIN is still counted in both windows
    assert during[1:] == [403]
    assert [window.used for window in PinFailureThrottle(locked).state()] == [1, 1]


def test_a_count_kept_without_an_expiry_by_an_older_release_is_given_one(locked):
    # given: a window's count that a release before December 2026's left without an expiry
    client = redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])
    short = caches["default"].make_key(PinFailureThrottle(locked).keys()[0])
    client.set(short, 2)
    assert unexpiring_counts(locked) == [short]

    # when: a wrong PIN is counted in it
    with pytest.raises(WrongPin):
        profile_unlock(profile=locked, pin="0000")

    # then: it counts on from where it was, and now expires (as does its generation)
    assert PinFailureThrottle(locked).state()[0].used == 3
    assert unexpiring_counts(locked) == []
    assert 0 < client.ttl(f"{short}_generation") <= client.ttl(short) + 1


@pytest.mark.parametrize("pin", [" 4321", "4321 ", "4321\n", "\t4321\r\n"])
def test_the_right_pin_with_blanks_around_it_is_a_400_not_checked_nor_counted(
    api_client, locked, pin
):
    # given: a client that sends the right PIN with a blank around it, more often than the
    # wrong-PIN limit allows
    for _ in range(6):
        # when
        response = unlock(api_client, locked, pin)

        # then: it does not unlock (the PIN is not "4321"), and it is not a wrong PIN either
        # (a malformed request is refused before any check), so it spends none of the budget
        assert response.status_code == 400
        assert response.json()["errors"] == {"pin": ["The PIN must be exactly 4 digits."]}
    assert unlock(api_client, locked, "4321").status_code == 200


def test_the_right_pin_does_not_count_against_the_limit(api_client, locked):
    for _ in range(4):
        assert unlock(api_client, locked, "0000").status_code == 403
    for _ in range(3):
        assert unlock(api_client, locked, "4321").status_code == 200

    assert unlock(api_client, locked, "0000").status_code == 403
    assert unlock(api_client, locked, "4321").status_code == 429


def test_a_daily_cap_outlasts_the_short_window(api_client, locked, settings, monkeypatch):
    # given: 2 a minute, 3 a day, on a clock the test moves
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "pin_unlock": "2/min",
            "pin_unlock_day": "3/day",
        },
    }
    day_start = 86_400 * 20_000
    minutes = [day_start + 60.0 * m for m in (1, 2, 3)]
    clock = [minutes[0]]
    monkeypatch.setattr(PinFailureThrottle, "timer", lambda self: clock[0])

    def forget() -> None:  # the same fake minutes every run: start and end on clean windows
        for clock[0] in minutes:
            caches["default"].delete_many(PinFailureThrottle(locked).keys())
        clock[0] = minutes[0]

    forget()

    # when: the minute's two, a refusal, the next minute's one, then another minute
    first_minute = [unlock(api_client, locked, "0000").status_code for _ in range(3)]
    clock[0] = minutes[1]
    second_minute = [unlock(api_client, locked, "0000").status_code for _ in range(2)]
    clock[0] = minutes[2]
    third_minute = unlock(api_client, locked, "4321")
    forget()

    # then: the day's three are spent, so even the right PIN waits for the next day
    assert first_minute == [403, 403, 429]
    assert second_minute == [403, 429]
    assert third_minute.status_code == 429
    assert third_minute.json()["retry_after_seconds"] == 86_400 - 180


def test_once_the_days_cap_is_spent_every_refusal_says_to_wait_for_the_next_day(
    api_client, locked, settings, monkeypatch
):
    # given: 5 a minute, 6 a day, and the day's six spent by the second minute
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "pin_unlock": "5/min",
            "pin_unlock_day": "6/day",
        },
    }
    day_start = 86_400 * 20_001
    minutes = [day_start + 3600.0 + 60.0 * m for m in (0, 1)]
    clock = [minutes[0]]
    monkeypatch.setattr(PinFailureThrottle, "timer", lambda self: clock[0])

    def forget() -> None:
        for clock[0] in minutes:
            caches["default"].delete_many(PinFailureThrottle(locked).keys())
        clock[0] = minutes[0]

    forget()
    assert [unlock(api_client, locked, "0000").status_code for _ in range(5)] == [403] * 5
    clock[0] = minutes[1]
    assert unlock(api_client, locked, "0000").status_code == 403

    # when: the device keeps trying in that minute, past the minute's five
    refusals = [unlock(api_client, locked, "4321") for _ in range(6)]
    forget()

    # then: each refusal names the day's end, not the minute's: a client that obeyed a
    # minute's Retry-After was refused again, having been told the wrong wait
    until_tomorrow = 86_400 - 3600 - 60
    assert [r.status_code for r in refusals] == [429] * 6
    assert [r.json()["retry_after_seconds"] for r in refusals] == [until_tomorrow] * 6
    assert {r.headers["Retry-After"] for r in refusals} == {str(until_tomorrow)}


def test_a_short_rate_as_long_as_the_daily_cap_counts_each_wrong_pin_once(
    api_client, locked, settings, monkeypatch
):
    # given: an operator's 3 a day and 10 a day (PIN_UNLOCK_RATE, PIN_UNLOCK_DAILY_RATE):
    # two windows of the same length, which must still be two counts
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "pin_unlock": "3/day",
            "pin_unlock_day": "10/day",
        },
    }
    clock = [86_400 * 20_002 + 3600.0]
    monkeypatch.setattr(PinFailureThrottle, "timer", lambda self: clock[0])
    caches["default"].delete_many(PinFailureThrottle(locked).keys())

    # when: four wrong PINs
    codes = [unlock(api_client, locked, "0000").status_code for _ in range(4)]
    caches["default"].delete_many(PinFailureThrottle(locked).keys())

    # then: three are told the PIN is wrong, the fourth to wait (a wrong PIN counted twice
    # in one shared key let only two through)
    assert codes == [403, 403, 403, 429]


def test_a_profile_without_a_pin_needs_no_token(api_client, profile):
    assert api_client.get(f"/api/v1/profiles/{profile.pk}/signals/").status_code == 200


def test_unlocking_another_households_profile_is_a_404(locked):
    stranger = token_client(AccountFactory())
    assert unlock(stranger, locked, "4321").status_code == 404


# --- Lifting a spent day's lock -----------------------------------------------------------


@pytest.mark.parametrize("how", ["replaced", "removed and set again"])
def test_a_guardian_who_changes_a_locked_profiles_pin_gives_it_a_fresh_budget(
    api_client, account, pin_limits, how
):
    # given: a teen profile whose day's wrong PINs are spent, and its parent, a guardian
    parent = profile_create(account=account, name="Parent", pin="4321")
    teen = profile_create(account=account, name="Teen", maturity_limit=13, pin="2468")
    pin_limits.spend_the_day(teen)
    assert unlock(api_client, teen, "2468").status_code == 429
    guardian = {"HTTP_X_PROFILE_UNLOCK": unlock(api_client, parent, "4321").json()["token"]}
    url = f"/api/v1/profiles/{teen.pk}/"

    # when: the parent gives it a new PIN
    if how == "removed and set again":
        assert api_client.patch(url, {"pin": None}, format="json", **guardian).status_code == 200
    changed = api_client.patch(url, {"pin": "1357"}, format="json", **guardian)

    # then: the new PIN opens it today, and the old counters lock nothing
    assert changed.status_code == 200
    assert unlock(api_client, teen, "1357").status_code == 200


def test_a_refusal_whose_windows_emptied_meanwhile_still_names_its_own_wait(locked, pin_limits):
    # given: an attempt refused by the minute's window, whose places right PINs gave back
    # between the refusal's count and its read of the windows (nothing reads as full)
    throttle = PinFailureThrottle(locked)
    caches["default"].delete_many(throttle.keys())
    now = throttle.timer()

    # when / then: the wait is the refusing window's remainder, not a server error
    assert throttle._wait(now, refused=60) == 60 - now % 60


def test_with_the_cache_down_an_unlock_is_refused_as_unavailable_not_a_server_error(
    account, api_client, settings
):
    # given: a PIN-protected profile, and the Redis that counts wrong PINs is down (a real
    # URL where nothing listens; no count of it is written, so none needs forgetting)
    locked = ProfileFactory(account=account, name="Private")
    locked.set_pin("4321")
    locked.save()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    # when: the right PIN is sent
    response = unlock(api_client, locked, "4321")

    # then: no token (guesses that cannot be counted are not checked), and the client is
    # told in the API's error shape that it may try again, and when, not sent an HTML 500
    assert response.status_code == 503
    assert response.json()["code"] == "pin_checks_unavailable"
    assert "token" not in response.json()
    assert response["Retry-After"] == str(PIN_CHECKS_RETRY_SECONDS)


# --- Locking again: ending a profile's unlocks before their hour ---------------------------


def lock(client, profile):
    return client.delete(f"/api/v1/profiles/{profile.pk}/unlock/")


def opens(client, profile, token, path="signals/"):
    """The status of a read of ``profile``'s data with ``token`` in the unlock header."""
    response = client.get(f"/api/v1/profiles/{profile.pk}/{path}", HTTP_X_PROFILE_UNLOCK=token)
    return response.status_code, response.json().get("code")


def test_locking_again_ends_every_unlock_the_profile_has_given_on_every_device(account, locked):
    # given: the profile unlocked on two devices of the household (the TV and a phone)
    tv, phone = token_client(account), token_client(account)
    on_tv = unlock(tv, locked, "4321").json()["token"]
    on_phone = unlock(phone, locked, "4321").json()["token"]
    assert opens(tv, locked, on_tv)[0] == opens(phone, locked, on_phone)[0] == 200

    # when: the phone locks the profile again, without an unlock of its own
    response = lock(phone, locked)

    # then: neither token opens it any more, the homepage included, in the locked profile's
    # words; the PIN unlocks it again
    assert response.status_code == 204
    assert not response.content
    assert opens(tv, locked, on_tv) == (403, "profile_locked")
    assert opens(phone, locked, on_phone) == (403, "profile_locked")
    assert opens(tv, locked, on_tv, "homepage/?device=tv") == (403, "profile_locked")
    again = unlock(tv, locked, "4321").json()["token"]
    assert opens(tv, locked, again)[0] == 200


def test_locking_a_guardian_again_ends_its_power_to_lift_restrictions(api_client, account):
    # given: a guardian's unlock left on the kids' TV
    parent = profile_create(account=account, name="Parent", pin="4321")
    kid = profile_create(account=account, name="Kid", is_kids=True, maturity_limit=0)
    left_behind = {"HTTP_X_PROFILE_UNLOCK": unlock(api_client, parent, "4321").json()["token"]}
    url = f"/api/v1/profiles/{kid.pk}/"

    # when: the parent locks their profile again (from any device)
    assert lock(token_client(account), parent).status_code == 204

    # then: the token left behind lifts nothing; a new unlock of the guardian does
    lifted = api_client.patch(url, {"maturity_limit": 7}, format="json", **left_behind)
    assert lifted.status_code == 403
    assert lifted.json()["code"] == "guardian_unlock_required"
    kid.refresh_from_db()
    assert kid.maturity_limit == 0
    fresh = {"HTTP_X_PROFILE_UNLOCK": unlock(api_client, parent, "4321").json()["token"]}
    assert api_client.patch(url, {"maturity_limit": 7}, format="json", **fresh).status_code == 200


def test_locking_one_profile_leaves_the_others_unlocks_open(api_client, account, locked):
    other = profile_create(account=account, name="Other", pin="1111")
    token = unlock(api_client, other, "1111").json()["token"]

    assert lock(api_client, locked).status_code == 204

    assert opens(api_client, other, token)[0] == 200


def test_locking_is_idempotent_and_a_profile_without_a_pin_can_be_locked_too(
    api_client, locked, profile
):
    token = unlock(api_client, locked, "4321").json()["token"]

    assert lock(api_client, locked).status_code == 204
    assert lock(api_client, locked).status_code == 204
    assert lock(api_client, profile).status_code == 204

    assert opens(api_client, locked, token) == (403, "profile_locked")
    assert opens(api_client, profile, "")[0] == 200


def test_another_households_token_cannot_lock_a_profile(api_client, locked):
    token = unlock(api_client, locked, "4321").json()["token"]
    stranger = token_client(AccountFactory())

    response = lock(stranger, locked)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert opens(api_client, locked, token)[0] == 200


def test_locking_again_leaves_the_wrong_pin_budget_spent(api_client, locked, pin_limits):
    # given: a profile whose day of wrong PINs is spent: locking must not be a way to a
    # fresh budget, or a guesser would lock between rounds of guesses
    pin_limits.spend_the_day(locked)

    # when
    assert lock(api_client, locked).status_code == 204

    # then
    assert unlock(api_client, locked, "4321").status_code == 429


def test_a_token_from_before_locking_existed_opens_the_profile_until_it_is_locked(
    api_client, locked
):
    # given: a token as the release before this one signed it (profile and PIN only),
    # held by a device when the new release is deployed
    fingerprint = PinFailureThrottle(locked).fingerprint
    token = signing.TimestampSigner(salt="profiles.unlock").sign(f"{locked.pk}:{fingerprint}")

    # when / then: it opens the profile for the rest of its hour, as it did, until a lock
    assert opens(api_client, locked, token)[0] == 200
    assert lock(api_client, locked).status_code == 204
    assert opens(api_client, locked, token) == (403, "profile_locked")


def test_locking_again_is_one_write_after_the_tokens_own_read(api_client, locked):
    with CaptureQueriesContext(connection) as queries:
        assert lock(api_client, locked).status_code == 204

    # the token with the URL's profile in one statement (profiles.authentication), then the
    # household's row lock (which every change of its profiles takes) and the lock's one
    # update; token usage is recorded out of the request (accounts.token_usage)
    statements = [
        query["sql"]
        for query in queries
        if not query["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len(statements) == 3, statements
    assert statements[1].startswith('SELECT "accounts_account"."id"'), statements
    assert statements[1].endswith("FOR UPDATE"), statements
    assert statements[2].startswith('UPDATE "profiles_profile"'), statements


def test_an_unlock_read_before_a_lock_and_answered_after_it_is_ended_too(api_client, locked):
    # given: an unlock request that read the profile with its token, and is still hashing
    # the PIN when another device locks the profile
    as_read = Profile.objects.get(pk=locked.pk)
    assert lock(token_client(locked.account), locked).status_code == 204

    # when: its token is signed afterwards
    token, _ = profile_unlock(profile=as_read, pin="4321")

    # then: it names the count from before the lock, so it opens nothing
    assert opens(api_client, locked, token) == (403, "profile_locked")


def test_checking_an_unlock_after_a_lock_costs_no_query(api_client, locked, profile):
    def queries_of_a_read(read: Profile, token: str) -> list[str]:
        assert opens(api_client, read, token)[0] == 200  # the token's first use, recorded
        with CaptureQueriesContext(connection) as queries:
            assert opens(api_client, read, token)[0] == 200
        return [query["sql"] for query in queries]

    # given: a profile locked again and unlocked, and one without a PIN (nothing is checked)
    assert lock(api_client, locked).status_code == 204
    token = unlock(api_client, locked, "4321").json()["token"]

    # when / then: the unlocked profile's data is read with the same queries as the other's
    unchecked = queries_of_a_read(profile, "")
    assert len(queries_of_a_read(locked, token)) == len(unchecked), unchecked
