"""A small seeded demo (``seed_demo``) for tests that need planted tastes and history."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management import call_command

from tests.module_world import world_for_the_module


def seed_small_demo(settings, tmp_path, *, titles: int, profiles: int, seed: int) -> None:
    """Seed a demo of this size, its hidden-tastes file under ``tmp_path``."""
    settings.VAR_DIR = tmp_path / "var"  # the demo's hidden-tastes file
    _seed(titles=titles, profiles=profiles, seed=seed)


@contextmanager
def small_demo_for_the_module(
    django_db_blocker, root: Path, *, titles: int, profiles: int, seed: int
) -> Iterator[Path]:
    """:func:`seed_small_demo` as a module world (tests/module_world.py), under ``root``."""
    with world_for_the_module(django_db_blocker, root):
        _seed(titles=titles, profiles=profiles, seed=seed)
        yield root


def _seed(*, titles: int, profiles: int, seed: int) -> None:
    call_command(
        "seed_demo",
        f"--titles={titles}",
        f"--profiles={profiles}",
        f"--seed={seed}",
        "--artwork-images=shared",
        verbosity=0,
    )
