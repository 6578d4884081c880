"""The deployment check that the wrong-PIN limits are counted across every worker."""

import pytest
from django.core import checks
from django.test import override_settings

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DUMMY = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/8",
    }
}


def warnings_named(check_id: str) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=[checks.Tags.caches]) if m.id == check_id]


@pytest.mark.parametrize("caches", [LOCMEM, DUMMY])
def test_a_per_process_cache_in_production_is_warned_of(caches):
    with override_settings(DEBUG=False, CACHES=caches):
        (warning,) = warnings_named("tonight.W001")

    assert warning.level == checks.WARNING
    assert "REDIS_URL" in warning.hint
    assert "PIN" in warning.msg


def test_a_shared_cache_is_not_warned_of():
    with override_settings(DEBUG=False, CACHES=REDIS):
        assert warnings_named("tonight.W001") == []


def test_development_is_not_warned_of():
    with override_settings(DEBUG=True, CACHES=LOCMEM):
        assert warnings_named("tonight.W001") == []
