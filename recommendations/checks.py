"""Deployment checks for what queued retrains and policy updates need from the deployment."""

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


def redis_databases(urls: str | Sequence[str]) -> set[tuple[str, int, int]]:
    """The (host, port, database number) of each ``redis://`` URL in ``urls``.

    Takes a cache ``LOCATION`` (a string of ``,``/``;``-separated URLs, or a list)
    or a broker URL (``;``-separated failover URLs); other schemes are left out.
    """
    if isinstance(urls, str):
        urls = re.split("[;,]", urls)
    databases = set()
    for url in urls:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("redis", "rediss"):
            continue
        number = parse_qs(parts.query).get("db", [parts.path.strip("/")])[0] or "0"
        try:
            databases.add((parts.hostname or "localhost", parts.port or 6379, int(number)))
        except ValueError:  # not a port or a database number: not ours to judge here
            continue
    return databases


@checks.register(checks.Tags.caches, deploy=True)
def broker_cache_database_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when the cache and the Celery broker share one Redis database.

    Django's ``RedisCache.clear()`` is a ``FLUSHDB``: clearing the cache there (an
    operator's shell, a deploy script) would also drop every queued retrain and
    artwork policy update, and the reaper would fail their runs hours later.
    """
    location = settings.CACHES.get("default", {}).get("LOCATION") or ""
    shared = redis_databases(location) & redis_databases(settings.CELERY_BROKER_URL or "")
    if not shared:
        return []
    host, port, number = sorted(shared)[0]
    return [
        checks.Warning(
            f"The cache and the Celery broker share Redis database {number} on {host}:{port}: "
            "clearing the cache (a FLUSHDB) would also drop every queued task.",
            hint="Give REDIS_URL another database number than CELERY_BROKER_URL, "
            "e.g. redis://redis:6379/1 beside a broker on redis://redis:6379/0.",
            id="tonight.W002",
        )
    ]
