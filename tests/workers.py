"""Parallel test workers (pytest-xdist) sharing one Redis: each on a database of its own.

pytest-django gives each worker its own PostgreSQL database (``test_tonight_gw0``, ...),
in which ids start at 1 again. On one Redis database the workers' cache keys would meet:
the wrong-PIN counters are keyed by profile id, so a profile 3 of one worker would spend
another's profile 3's tries; and a test's ``cache.clear()`` empties the whole database
under the other worker's test. So each worker moves its cache and broker down from the
configured database, by its number: gw0 keeps ``TEST_REDIS_URL``'s, gw1 takes the one
below, and so on, wrapping round Redis's sixteen.
"""

import os
from urllib.parse import parse_qs, urlsplit, urlunsplit

#: Redis's default number of databases (``databases`` in redis.conf).
REDIS_DATABASES = 16
#: The cache's location as configured, before this worker moved it (for the suite's check).
configured: dict[str, str] = {}


def worker_number() -> int | None:
    """This process's pytest-xdist worker number (gw3 is 3), or None when not a worker."""
    name = os.environ.get("PYTEST_XDIST_WORKER")
    return int(name.removeprefix("gw")) if name else None


def worker_redis_url(url: str, worker: int) -> str:
    """``url`` moved to worker ``worker``'s database; URLs that are not Redis's unchanged."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return url
    if "db" in parse_qs(parts.query):
        raise ValueError(
            f"{url}: give the Redis database in the path (redis://host:6379/15), "
            "not as ?db=, so that each test worker can be given its own"
        )
    if not 0 <= worker < REDIS_DATABASES:
        raise ValueError(
            f"test worker {worker}: Redis has {REDIS_DATABASES} databases, one a worker; "
            "run fewer workers (-n)"
        )
    configured = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(configured - worker) % REDIS_DATABASES}"))


def worker_services_separate(worker: int) -> None:
    """Point this process's cache, broker and the children it starts at the worker's database.

    Runs before any test touches the cache or the broker (from the root conftest's
    ``pytest_configure``): the cache's connection and Celery's configuration are made on
    first use, from the settings changed here; the root conftest's session check confirms it.
    """
    from django.conf import settings

    from config.celery import app

    cache = settings.CACHES["default"]
    if "LOCATION" in cache:
        configured["cache"] = cache["LOCATION"]
        cache["LOCATION"] = worker_redis_url(cache["LOCATION"], worker)
    settings.CELERY_BROKER_URL = worker_redis_url(settings.CELERY_BROKER_URL, worker)
    app.conf.broker_url = settings.CELERY_BROKER_URL
    # Celery workers, gunicorn and manage.py started by a test read the environment.
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name):
            os.environ[name] = worker_redis_url(os.environ[name], worker)
