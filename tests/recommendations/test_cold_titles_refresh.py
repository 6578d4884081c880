"""A title added after training reaches pages by the catalogue's revision, as in production.

Apart from tests/recommendations/test_cold_titles.py: a test that commits cannot share a
module world.
"""

import time

import pytest

from recommendations.services.training import model_train
from recommendations.serving.bundle import catalogue_cache
from recommendations.serving.cache import model_cache
from recommendations.serving.title_tables import title_tables_cache
from tests.recommendations.homepage_world import build_home_world
from tests.recommendations.test_cold_titles import _action_fan, _released_today, _shown


@pytest.fixture
def _empty_caches():
    caches = (model_cache, title_tables_cache, catalogue_cache)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)  # the background re-read has its own connection
@pytest.mark.usefixtures("_empty_caches")
def test_a_title_added_after_training_reaches_pages_at_the_next_version_check(settings):
    # given: a served page, with the catalogue arrays' own timer far away
    world = build_home_world()
    asha = _action_fan(world)
    model_train(region_code=world.region.code)
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 0,
        "CATALOGUE_REFRESH_SECONDS": 300,
    }
    assert _shown(asha)

    # when: staff add a film released today (the save raises the catalogue's revision)
    film = _released_today(world, "Added By Staff")

    # then: within a re-read, not the timer's five minutes, it is on her page
    _wait_for(lambda: film.pk in _shown(asha))
