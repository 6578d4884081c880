"""Fixtures shared by the recommendations tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.recommendations.demo_world import small_demo_for_the_module


@pytest.fixture(scope="module")
def _seeded_world(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Path]:
    """A small demo seeded once per module that asks for it; each test's runs and versions
    are undone after it. Tests that must commit (``transaction=True``) cannot use it
    (tests/module_world.py)."""
    root = tmp_path_factory.mktemp("seeded")
    with small_demo_for_the_module(
        django_db_blocker, root, titles=120, profiles=300, seed=5
    ) as world:
        yield world
