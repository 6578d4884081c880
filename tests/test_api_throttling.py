"""Per-household request limits (config.api.throttling), counted in the real Redis cache.

The limits count in fixed windows of the throttle's clock, which stands still in these
tests unless one moves it: a window ends when a test says so, never while it runs.
"""

import logging
import math
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import caches

from config.api.throttling import (
    CACHE_DOWN_SECONDS,
    HouseholdRateThrottle,
    cache_outage,
    local_counts,
)
from recommendations.models import PageLog, Signal
from recommendations.services.training import model_train
from tests.conftest import token_client
from tests.factories import AccountFactory, AvailabilityFactory, ProfileFactory, TitleFactory
from tests.module_world import module_world, the_module_world
from tests.openapi import api_schema_generate
from tests.recommendations.homepage_world import build_home_world
from tests.recommendations.test_signals_api import event
from tests.recommendations.test_training import _fresh_serving  # noqa: F401

pytestmark = pytest.mark.django_db

#: Where nothing listens: a Redis that is down.
CLOSED_PORT = "redis://127.0.0.1:9/0"
#: The test's own Redis database (tests/workers.py), read before a test points the cache
#: elsewhere.
REDIS_URL = django_settings.CACHES["default"]["LOCATION"]

_home_world = module_world(build_home_world, folder="throttled-home")


def _forget_counts() -> None:
    """Delete every household count in the test's Redis database, and this process's own."""
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match="*throttle_*_account_*"))
    if keys:
        client.delete(*keys)
    local_counts.clear()
    cache_outage.clear()


@pytest.fixture
def clock(monkeypatch) -> Iterator[list[float]]:
    """The throttle's clock, standing still at now until a test moves ``clock[0]``."""
    now = [time.time()]
    monkeypatch.setattr(HouseholdRateThrottle, "timer", lambda self: now[0])
    _forget_counts()
    yield now
    _forget_counts()


def rates(settings, **scopes: str) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes},
    }


def cache_down(settings) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT,
        }
    }


def homepage(client, profile):
    return client.get(f"/api/v1/profiles/{profile.pk}/homepage/?device=tv")


def profiles(client):
    return client.get("/api/v1/profiles/")


def assert_refused(response, *, now: float, seconds: int) -> None:
    """A 429 in the API's error shape, saying when the window ends."""
    wait = math.ceil(seconds - now % seconds)
    assert response.status_code == 429, response.content
    assert response["Retry-After"] == str(wait)
    body = response.json()
    assert body["code"] == "throttled"
    assert body["errors"] == {}
    assert body["message"]
    assert body["retry_after_seconds"] == wait


@pytest.fixture
def world(_home_world, settings, db):
    """The homepage tests' small catalogue, with a model to serve pages from."""
    world = the_module_world(settings, _home_world)
    model_train(region_code=world.region.code)
    return world


def test_the_homepage_past_the_households_rate_is_a_429_and_no_page_is_logged(
    world, settings, clock
):
    # given: 3 homepages an hour, one household of two profiles and two devices
    rates(settings, homepage="3/hour")
    account = AccountFactory(home_region=world.region)
    asha, ravi = ProfileFactory(account=account), ProfileFactory(account=account)
    tv, phone = token_client(account), token_client(account)

    # when: the household asks for 3 pages, across its profiles and devices, then a 4th
    served = [homepage(tv, asha), homepage(phone, ravi), homepage(tv, ravi)]
    refused = homepage(phone, asha)

    # then: the 4th is refused before a page is computed or logged
    assert [r.status_code for r in served] == [200, 200, 200]
    assert_refused(refused, now=clock[0], seconds=3600)
    assert PageLog.objects.filter(profile__account=account).count() == 3


def test_signals_past_the_households_rate_are_a_429_and_nothing_is_stored(settings, clock):
    rates(settings, signals="2/min")
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    client = token_client(account)
    url = f"/api/v1/profiles/{profile.pk}/signals/"

    answers = [client.post(url, {"events": [event(title)]}, format="json") for _ in range(3)]

    assert [r.status_code for r in answers[:2]] == [200, 200]
    assert_refused(answers[2], now=clock[0], seconds=60)
    assert Signal.objects.filter(profile=profile).count() == 2


def test_another_households_token_is_not_affected(world, settings, clock):
    # given: one household that has spent its homepages and its reads
    rates(settings, homepage="1/hour", household_reads="1/hour")
    spent, other = (
        AccountFactory(home_region=world.region),
        AccountFactory(home_region=world.region),
    )
    spent_client, other_client = token_client(spent), token_client(other)
    spent_profile, other_profile = ProfileFactory(account=spent), ProfileFactory(account=other)
    homepage(spent_client, spent_profile)
    profiles(spent_client)
    assert homepage(spent_client, spent_profile).status_code == 429
    assert profiles(spent_client).status_code == 429

    # then: another household's token still gets its own
    assert homepage(other_client, other_profile).status_code == 200
    assert profiles(other_client).status_code == 200


def test_the_reads_share_one_budget_that_the_homepage_does_not_spend(world, settings, clock):
    rates(settings, homepage="2/hour", household_reads="2/hour")
    account = AccountFactory(home_region=world.region)
    profile = ProfileFactory(account=account)
    client = token_client(account)

    assert homepage(client, profile).status_code == 200
    assert profiles(client).status_code == 200
    assert client.get(f"/api/v1/profiles/{profile.pk}/").status_code == 200
    assert client.get(f"/api/v1/profiles/{profile.pk}/signals/").status_code == 429
    assert homepage(client, profile).status_code == 200


def test_the_limit_lifts_when_its_window_ends(settings, clock):
    rates(settings, household_reads="2/hour")
    client = token_client(AccountFactory())
    profiles(client)
    profiles(client)
    clock[0] += 3600 - clock[0] % 3600 - 1  # the window's last second
    assert_refused(profiles(client), now=clock[0], seconds=3600)

    clock[0] += 1  # the next window's first

    assert profiles(client).status_code == 200


def test_deleting_the_count_lifts_the_limit(settings, clock):
    rates(settings, household_reads="2/hour")
    client = token_client(AccountFactory())
    for _ in range(3):
        profiles(client)
    assert profiles(client).status_code == 429

    _forget = redis.Redis.from_url(REDIS_URL)
    _forget.delete(*_forget.scan_iter(match="*throttle_household_reads_account_*"))

    assert profiles(client).status_code == 200


def test_past_a_tenth_of_the_rate_every_request_is_counted_and_the_rate_is_exact(settings, clock):
    # given: 20 reads an hour, of which this process serves 2 from its own count
    rates(settings, household_reads="20/hour")
    account = AccountFactory()
    client = token_client(account)

    answers = [profiles(client).status_code for _ in range(21)]

    # then: in one process, the 21st is the one refused, and Redis holds all 21
    assert answers == [200] * 20 + [429]
    window = int(clock[0] // 3600)
    key = caches["default"].make_key(f"throttle_household_reads_account_{account.pk}_3600_{window}")
    count = redis.Redis.from_url(REDIS_URL)
    assert int(count.get(key)) == 21
    assert 3600 < count.ttl(key) <= 7200


def test_with_the_cache_down_requests_are_served_and_the_outage_logged_once(
    world, settings, clock, caplog, monkeypatch
):
    # given: 1 homepage and 20 reads an hour, and the Redis that counts them down
    rates(settings, homepage="1/hour", household_reads="20/hour")
    account = AccountFactory(home_region=world.region)
    profile = ProfileFactory(account=account)
    client = token_client(account)
    outage_clock = [0.0]
    monkeypatch.setattr(cache_outage, "clock", lambda: outage_clock[0])
    cache_down(settings)
    caplog.set_level(logging.WARNING, logger="config.api.throttling")

    # when: reads within this process's allowance (a tenth), then past it; then homepages
    within = [profiles(client).status_code for _ in range(2)]
    logged_within = len(caplog.records)
    past = [profiles(client).status_code for _ in range(3)]
    pages = [homepage(client, profile).status_code for _ in range(3)]

    # then: every one served; none within the allowance asked the cache, and the outage
    # is one line, however many requests it left uncounted
    assert within == [200, 200]
    assert logged_within == 0
    assert past == [200, 200, 200]
    assert pages == [200, 200, 200]
    assert len(caplog.records) == 1
    assert "request limits not applied" in caplog.records[0].getMessage()

    # and: the cache is asked again (and the outage logged again) once the interval is over
    outage_clock[0] += CACHE_DOWN_SECONDS
    assert homepage(client, profile).status_code == 200
    assert len(caplog.records) == 2


def test_the_schema_documents_the_429_and_its_setting_where_a_limit_applies():
    paths = api_schema_generate()["paths"]
    limited = {
        ("/api/v1/profiles/{profile_id}/homepage/", "get"): "HOMEPAGE_RATE",
        ("/api/v1/profiles/{profile_id}/signals/", "post"): "SIGNALS_RATE",
        ("/api/v1/profiles/{profile_id}/signals/", "get"): "HOUSEHOLD_READS_RATE",
        ("/api/v1/titles/{title_id}/", "get"): "HOUSEHOLD_READS_RATE",
    }
    for (path, method), setting in limited.items():
        answer = paths[path][method]["responses"]["429"]
        assert setting in answer["description"], (path, method)
        assert "Retry-After" in answer["headers"]
    # a write that is not limited documents none
    assert "429" not in paths["/api/v1/profiles/"]["post"]["responses"]
