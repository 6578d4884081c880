"""A world built once for a test module and rolled back after it.

Building a seeded or trained world costs seconds; a module whose tests all start
from the same one builds it once, inside a transaction that is rolled back when
the module ends. Each test still runs in its own savepoint inside it (pytest-django's
``django_db``), so what one test writes is gone before the next begins, exactly as
when each built its own world. Files the world writes (artwork, the demo's hidden
tastes) go to a folder of the module's, which each test is pointed at.

A module world is a module-scoped fixture that unblocks the database. It lives from the
first test that asks for it to the end of its module, so the tests of a module that do
not ask for it run first (:func:`module_worlds_last`, from the root conftest): no test
sees a world it did not ask for. A module with a world may have no ``transaction=True``
test: that one would run inside the world's open transaction (what it commits no other
connection sees) and flush the world; collection stops with an error instead.

A rollback undoes rows but not the ids they took: PostgreSQL's sequences move on. So a
world's ids, and a test's, would depend on what the session ran before (a profile's id
decides which half of a holdout it is judged on, and so which recipe a retrain serves).
A world is built, and each of its tests starts, from the ids after the committed rows
(:func:`ids_restart`): the same in the full suite as in the module alone.
"""

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.apps import apps
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import override_settings
from pytest_django.fixtures import Settings

from artwork.selection import artwork_serving
from recommendations.serving.bundle import catalogue_cache
from recommendations.serving.cache import chosen_versions, model_cache
from recommendations.serving.homepage import row_ranker_cache
from recommendations.serving.title_tables import title_tables_cache
from tests.hashers import cheap_password_hashing

T = TypeVar("T")


@contextmanager
def world_for_the_module(django_db_blocker, root: Path, **overrides: Any) -> Iterator[Path]:
    """Inside: the database is open and writes to it are undone afterwards; media and
    ``VAR_DIR`` are under ``root``, passwords and PINs hash cheaply (tests/hashers.py), and
    ``overrides`` are settings. Build the world in it."""
    with (
        cheap_password_hashing(),
        override_settings(MEDIA_ROOT=root / "media", VAR_DIR=root / "var", **overrides),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        ids_restart()
        yield root
        transaction.set_rollback(True)
    serving_caches_clear()


def module_world(build: Callable[[], T], *, folder: str) -> Any:
    """A module-scoped fixture yielding ``(root, build())``, built in :func:`world_for_the_module`
    with its files under a fresh ``folder``: the one shape most module worlds take."""

    @pytest.fixture(scope="module")
    def fixture(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[Path, T]]:
        with world_for_the_module(django_db_blocker, tmp_path_factory.mktemp(folder)) as root:
            yield root, build()

    return fixture


def in_the_module_world(settings: Settings, root: Path) -> None:
    """Point a test at the module world's files (the root conftest gives each test its own
    media folder, where the world's artwork is not), with serving's caches emptied."""
    settings.MEDIA_ROOT = root / "media"
    settings.VAR_DIR = root / "var"
    serving_caches_clear()
    ids_restart()


def the_module_world(settings: Settings, built: tuple[Path, T]) -> T:
    """One test's module world: ``built`` is ``(root, world)`` as the module fixture yields
    it. The test is pointed at the world's files, with serving's caches emptied, and gets a
    copy of the world's objects: a test that changes one in memory (and saves it, undone
    with the test) leaves the next test the world as built, as the database does."""
    root, world = built
    in_the_module_world(settings, root)
    return copy.deepcopy(world)


def ids_restart() -> None:
    """Every table's next id is one past the largest it holds (1 when empty), whatever ids
    the session's undone rows took.

    Tests only: ``setval`` is never rolled back, and the ids it sets are safe only because
    what is visible here is all there is (rows undone since are gone, no other connection
    writes): an undone world leaves its sequences past its ids, and so past every row.
    """
    models = apps.get_models(include_auto_created=True)
    with connection.cursor() as cursor:
        cursor.execute("\n".join(connection.ops.sequence_reset_sql(no_style(), models)))


def serving_caches_clear() -> None:
    """Forget what this process's serving read: a world built once has the same ids in every
    test, so an entry a former test left (its versions, its re-rated catalogue, both undone
    since) would be found by the next, where a world of its own never matched it."""
    for cache in (
        model_cache,
        chosen_versions,
        row_ranker_cache,
        title_tables_cache,
        catalogue_cache,
    ):
        cache.clear()
    artwork_serving.clear()


def _uses_a_module_world(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(
        fixturedef.scope == "module" and "django_db_blocker" in fixturedef.argnames
        for fixturedefs in info.name2fixturedefs.values()
        for fixturedef in fixturedefs
    )


def _transactional(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    fixtures = getattr(item, "fixturenames", ())
    return bool(marker and marker.kwargs.get("transaction")) or "transactional_db" in fixtures


def module_worlds_last(items: list[pytest.Item]) -> None:
    """Reorder ``items`` in place: in each run of one module's tests, those that use a module
    world after those that do not (otherwise in their order)."""
    worlds = {getattr(item, "module", None) for item in items if _uses_a_module_world(item)}
    for item in items:
        if getattr(item, "module", None) in worlds and _transactional(item):
            raise pytest.UsageError(
                f"{item.nodeid} is transaction=True in a module with a module world "
                "(tests/module_world.py): move one of them to a module of its own."
            )
    ordered: list[pytest.Item] = []
    run: list[pytest.Item] = []
    for item in [*items, None]:
        if run and (item is None or getattr(item, "module", None) is not run[0].module):
            ordered.extend(sorted(run, key=_uses_a_module_world))
            run.clear()
        if item is not None:
            run.append(item)
    items[:] = ordered
