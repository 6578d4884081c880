"""Root fixtures: every test runs on PostgreSQL and Redis, uploads in a throw-away folder."""

import math
import signal
import time
import uuid
import warnings
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.models import Account
from accounts.services import api_token_create
from accounts.token_usage import token_usage
from tests import workers
from tests.factories import AccountFactory, ProfileFactory
from tests.flush import flush_by_delete
from tests.hashers import CHEAP_HASHER, cheap_hashers
from tests.module_world import module_worlds_last
from tests.workers import worker_number, worker_redis_url, worker_services_separate


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker's cache and broker on a Redis database of its own."""
    worker = worker_number()
    if worker is not None:
        worker_services_separate(worker)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within a module, tests that use its module world run last (tests/module_world.py)."""
    module_worlds_last(items)


@pytest.fixture(autouse=True)
def _sigint_kept(request) -> Iterator[None]:
    """A test that leaves Ctrl-C blocked or its handler changed has it put back, and is named.

    Children keep a blocked (or ignored) SIGINT across exec: in the whole suite every
    command the interrupt tests stopped with Ctrl-C waited out their 60 s instead (their
    children now unblock it themselves), after something left the worker with it blocked.
    """
    before = signal.getsignal(signal.SIGINT)
    yield
    changed = []
    if signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        changed.append("blocked")
    if signal.getsignal(signal.SIGINT) != before:
        signal.signal(signal.SIGINT, before)
        changed.append("its handler changed")
    if changed:
        warnings.warn(
            f"{request.node.nodeid} left SIGINT {' and '.join(changed)}; put back",
            stacklevel=1,
        )


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    # A retrain's signal snapshot too: a test must not leave files in the checkout's var/.
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_SIGNAL_CACHE_DIR": str(tmp_path / "cache")}
    # Production's manifest storage needs collectstatic; pages under test do not.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _cheap_password_hashing(settings) -> None:
    """Passwords and PINs hash with PBKDF2 at 1,000 iterations (tests/hashers.py)."""
    settings.PASSWORD_HASHERS = cheap_hashers()


@pytest.fixture
def production_hashing(settings) -> None:
    """Production's hashers: for a test whose claim needs a check to take its real time (ask
    for it before the fixtures that hash), or that reads the settings as the site runs."""
    settings.PASSWORD_HASHERS = [h for h in settings.PASSWORD_HASHERS if h != CHEAP_HASHER]


@pytest.fixture(autouse=True)
def _token_usage_written_only_when_asked(monkeypatch) -> None:
    """The process writes tokens' last-used times once a minute, as whichever request
    finishes then ends; the test client ends a request inside its call, so in a suite of
    several minutes that was now and then a request whose statements a test counts (one
    more than the test's own). Tests of that write flush it themselves."""
    monkeypatch.setattr(token_usage, "flush_seconds", math.inf)


@pytest.fixture(autouse=True)
def _fresh_artwork_serving(settings):
    """Each test decides with its own variants and policy, read on its first page.

    A test's data lives in its uncommitted transaction, which the background
    re-read of a warm process (its own connection) cannot see; so a test keeps
    the state of its first page unless it asks for checks (``ARTWORK_CHECK_SECONDS``
    0: every page, synchronously).
    """
    from artwork.selection import artwork_serving

    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 3600.0}
    artwork_serving.clear()
    yield
    artwork_serving.clear()


@pytest.fixture(autouse=True)
def _no_background_rereads(settings):
    """Serving's tables are re-read on the request's thread or not at all, unless a test asks.

    The same reason as the artwork's: a background re-read runs on a connection of its
    own, which cannot see a test's uncommitted data, and swapped in what it read. A
    module-scoped world that outlived the 60 s title-table interval had its tables replaced
    mid-module (the simulation's determinism test failed so, once). Tests of refreshing
    set their own intervals.
    """
    settings.TONIGHT = {
        **settings.TONIGHT,
        "CATALOGUE_REFRESH_SECONDS": 3600.0,
        "TITLE_TABLES_REFRESH_SECONDS": 3600.0,
    }


@pytest.fixture(scope="session", autouse=True)
def _transactional_tests_end_with_delete() -> Iterator[None]:
    """A transactional test's closing flush deletes its rows (tests/flush.py): a
    ``TRUNCATE`` of every table cost each of them a second or more."""
    with flush_by_delete():
        yield


@pytest.fixture(scope="session", autouse=True)
def _suite_runs_on_postgresql(django_db_setup, django_db_blocker) -> None:
    """The suite's claims are about PostgreSQL; refuse to pass quietly on SQLite."""
    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql", (
            "Tests must run on PostgreSQL: set DATABASE_URL (make test does)."
        )


@pytest.fixture(scope="session", autouse=True)
def _suite_runs_on_redis(_suite_runs_on_postgresql) -> None:
    """The suite's claims are about a real broker and a shared cache; refuse to pass without.

    Without ``CELERY_BROKER_URL`` the settings run tasks in-process
    (``CELERY_TASK_ALWAYS_EAGER``) and fall back to a per-process cache: the
    integration tests would be skipped and the throttling tests would count in
    one process's memory, and the suite would still look green.
    """
    from django.conf import settings
    from django.core.cache import cache

    how = "run the tests with `make test` (it points them at Redis), or set its TEST_ENV"
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")), (
        f"CELERY_BROKER_URL must be a Redis URL: {how}."
    )
    assert not settings.CELERY_TASK_ALWAYS_EAGER, f"tasks must go through the broker: {how}."
    backend = settings.CACHES["default"]["BACKEND"]
    assert backend == "django.core.cache.backends.redis.RedisCache", (
        f"the default cache is {backend}, not Redis: {how}."
    )
    probe = f"test-suite-probe:{uuid.uuid4()}"
    try:
        cache.set(probe, "ok", timeout=10)
        answer = cache.get(probe)
        cache.delete(probe)
    except Exception as error:  # any failure (refused, timed out, auth) means no usable Redis
        pytest.fail(f"Redis at {settings.CACHES['default']['LOCATION']} failed: {error}; {how}.")
    assert answer == "ok", f"Redis did not return what was stored: {how}."
    worker = worker_number()
    if worker is not None:
        _worker_has_its_own_redis(worker)


def _worker_has_its_own_redis(worker: int) -> None:
    """The live cache and broker are on the worker's database (tests/workers.py): had either
    been made before the settings moved, this worker would share gw0's."""
    from django.conf import settings
    from django.core.cache import cache
    from redis import Redis

    from config.celery import app

    ours = settings.CACHES["default"]["LOCATION"]
    assert ours == worker_redis_url(workers.configured["cache"], worker)
    probe = f"test-worker-probe:{uuid.uuid4()}"
    cache.set(probe, "ok", timeout=10)
    try:
        assert Redis.from_url(ours).exists(cache.make_key(probe)), (
            f"worker gw{worker}'s cache is not on {ours}"
        )
    finally:
        cache.delete(probe)
    broker = app.connection_for_write().as_uri()
    assert urlsplit(broker).path == urlsplit(settings.CELERY_BROKER_URL).path, (
        f"worker gw{worker}'s broker is {broker}, not {settings.CELERY_BROKER_URL}"
    )


@pytest.fixture
def account(db) -> Account:
    return AccountFactory()


@pytest.fixture
def profile(account):
    return ProfileFactory(account=account, name="Asha")


def token_client(account: Account) -> APIClient:
    key = api_token_create(account=account, name="test device")[1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api_client(account) -> APIClient:
    """An API client holding a token of ``account``."""
    return token_client(account)


@pytest.fixture
def locked(account, monkeypatch) -> Iterator:
    """A profile of ``account`` with the PIN 4321, its wrong-PIN count cleared before and after.

    The limit counts in fixed windows; hashing PINs is slow enough for a test to cross
    a minute's end, so the throttle's clock stands still unless a test moves it.
    """
    from profiles.unlock import PinFailureThrottle

    now = time.time()
    monkeypatch.setattr(PinFailureThrottle, "timer", lambda self: now)
    profile = ProfileFactory(account=account, name="Private")
    profile.set_pin("4321")
    profile.save()
    PinFailureThrottle(profile).clear()
    yield profile
    PinFailureThrottle(profile).clear()
