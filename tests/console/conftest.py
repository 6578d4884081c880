"""Fixtures of the console tests: staff and non-staff people, a trained household, fresh caches."""

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.test import Client

from console.access import SECTIONS
from recommendations.serving.cache import chosen_versions, model_cache
from recommendations.serving.homepage import row_ranker_cache
from recommendations.serving.title_tables import title_tables_cache
from tests.console.world import ConsoleWorld, build_console_world
from tests.module_world import module_world, the_module_world

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
    caches = (model_cache, chosen_versions, title_tables_cache, row_ranker_cache)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


@pytest.fixture
def media_served(settings):
    """Serve MEDIA_ROOT as it is now (the suite points it at a temporary folder per test)."""
    settings.ROOT_URLCONF = "tests.console.urls"


def view_permissions(*models: str) -> list[Permission]:
    """The ``view`` permissions of ``app_label.model_name`` models."""
    wanted = Q(pk__in=[])
    for label in models:
        app_label, model_name = label.split(".")
        wanted |= Q(content_type__app_label=app_label, codename=f"view_{model_name}")
    permissions = list(Permission.objects.filter(wanted))
    assert len(permissions) == len(models), models
    return permissions


#: Every model the console's pages show, so every page opens.
CONSOLE_MODELS = tuple(label for models in SECTIONS.values() for label in models)


@pytest.fixture
def staff_user(django_user_model):
    """Staff who may view every model the console shows (and nothing else)."""
    user = django_user_model.objects.create_user(
        username="operator", password=STAFF_PASSWORD, is_staff=True
    )
    user.user_permissions.add(*view_permissions(*CONSOLE_MODELS))
    return user


@pytest.fixture
def viewer_user(django_user_model):
    """Signed in, but not staff: a household member, say."""
    return django_user_model.objects.create_user(username="viewer", password=VIEWER_PASSWORD)


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


# Built and trained once per module (a second or more each time); see tests/module_world.py.
_console_world = module_world(build_console_world, folder="console")


@pytest.fixture
def world(_console_world, settings, db) -> ConsoleWorld:
    return the_module_world(settings, _console_world)
