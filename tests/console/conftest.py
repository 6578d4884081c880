"""Fixtures of the console tests: staff and non-staff people, a trained household, fresh caches."""

import pytest
from django.test import Client

from recommendations.serving.cache import model_cache
from recommendations.serving.homepage import row_ranker_cache
from recommendations.serving.title_tables import title_tables_cache
from tests.console.world import build_console_world

STAFF_PASSWORD = "staff-pass-123"
VIEWER_PASSWORD = "viewer-pass-123"


@pytest.fixture(autouse=True)
def _fresh_serving(settings):
    """Each test trains its own versions: serving must not answer from a former test's."""
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 0,
        "CATALOGUE_REFRESH_SECONDS": 0,
        "TITLE_TABLES_REFRESH_SECONDS": 0,
    }
    caches = (model_cache, title_tables_cache, row_ranker_cache)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


@pytest.fixture
def media_served(settings):
    """Serve MEDIA_ROOT as it is now (the suite points it at a temporary folder per test)."""
    settings.ROOT_URLCONF = "tests.console.urls"


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="operator", password=STAFF_PASSWORD, is_staff=True
    )


@pytest.fixture
def viewer_user(django_user_model):
    """Signed in, but not staff: a household member, say."""
    return django_user_model.objects.create_user(username="viewer", password=VIEWER_PASSWORD)


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


@pytest.fixture
def world(db):
    return build_console_world()
