"""System checks for what the profiles' PIN protection needs from the deployment."""

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

#: Cache backends whose counts live in one process (or nowhere).
PER_PROCESS_CACHES = frozenset(
    {
        "django.core.cache.backends.locmem.LocMemCache",
        "django.core.cache.backends.dummy.DummyCache",
    }
)


def cache_is_per_process() -> bool:
    """Whether wrong PINs are counted by each server process alone (or not at all)."""
    return settings.CACHES.get("default", {}).get("BACKEND", "") in PER_PROCESS_CACHES


@checks.register(checks.Tags.caches)
def pin_limit_cache_check(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """Warn when the wrong-PIN limits would be counted per process.

    ``profiles.unlock.PinFailureThrottle`` counts wrong PINs in the default
    cache. In a per-process cache each gunicorn worker keeps its own count, so
    with N workers N times the limit gets through (and DummyCache counts
    nothing). Development (``DEBUG``) is left alone: the demo runs that way.
    """
    if settings.DEBUG or not cache_is_per_process():
        return []
    backend = settings.CACHES["default"]["BACKEND"]
    return [
        checks.Warning(
            f"The default cache ({backend.rsplit('.', 1)[-1]}) is not shared between "
            "processes, so the wrong-PIN limits are counted per worker (or, by DummyCache, "
            "not at all): with N workers, N times as many PIN guesses get through.",
            hint="Set REDIS_URL (redis://...; a redis:// CELERY_BROKER_URL also serves) so that "
            "every worker shares one cache.",
            id="tonight.W001",
        )
    ]
