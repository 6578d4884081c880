"""A world built once for a test module and rolled back after it.

Building a seeded or trained world costs seconds; a module whose tests all start
from the same one builds it once, inside a transaction that is rolled back when
the module ends. Each test still runs in its own savepoint inside it (pytest-django's
``django_db``), so what one test writes is gone before the next begins, exactly as
when each built its own world. Files the world writes (artwork, the demo's hidden
tastes) go to a folder of the module's, which each test is pointed at.

Only for modules without ``transaction=True`` tests: one would run inside the world's
open transaction (what it commits is not seen by other connections) and flush the world.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import transaction
from django.test import override_settings
from pytest_django.fixtures import Settings


@contextmanager
def world_for_the_module(django_db_blocker, root: Path, **overrides: Any) -> Iterator[Path]:
    """Inside: the database is open and writes to it are undone afterwards; media and
    ``VAR_DIR`` are under ``root``, and ``overrides`` are settings. Build the world in it."""
    with (
        override_settings(MEDIA_ROOT=root / "media", VAR_DIR=root / "var", **overrides),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        yield root
        transaction.set_rollback(True)


def in_the_module_world(settings: Settings, root: Path) -> None:
    """Point a test at the module world's files (the root conftest gives each test its own
    media folder, where the world's artwork is not)."""
    settings.MEDIA_ROOT = root / "media"
    settings.VAR_DIR = root / "var"
