"""Titles added to the catalogue after a version was trained, served before the next retrain.

A version's title index is the catalogue at training time; serving extends it with the
titles added since whenever it re-reads the catalogue arrays. These tests add a title
after training and read it back through the API, as a client would; the refresh is
driven as production drives it (the catalogue's revision, or ``CATALOGUE_REFRESH_SECONDS``
0, which reads on every use).
"""

import datetime as dt

import pytest

from catalog.models import MaturityLevel
from recommendations.services.training import model_train
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    ProfileFactory,
    RegionFactory,
)
from tests.module_world import module_world, the_module_world
from tests.recommendations.homepage_world import NOW, HomeWorld, build_home_world
from tests.recommendations.test_homepage_api import _twin, url
from tests.recommendations.test_homepage_rows import _proposals_kept
from tests.recommendations.test_training import record, watch

pytestmark = pytest.mark.django_db

_home_world = module_world(build_home_world, folder="cold-titles")


@pytest.fixture
def world(_home_world, settings, db) -> HomeWorld:
    world = the_module_world(settings, _home_world)
    settings.TONIGHT = {**settings.TONIGHT, "CATALOGUE_REFRESH_SECONDS": 0}
    return world


def _released_today(world: HomeWorld, name: str, *, maturity=MaturityLevel.ALL, region=None):
    """An action film like the others, released and licensed in ``region`` today."""
    film = _twin(world.titles["action"][0], name)
    film.release_date = NOW.date()
    film.maturity = maturity
    film.save()
    AvailabilityFactory(
        title=film, region=region or world.region, starts_at=NOW - dt.timedelta(hours=2)
    )
    return film


def _rows(profile, **params) -> dict[str, list[int]]:
    response = token_client(profile.account).get(url(profile, **params))
    assert response.status_code == 200, response.json()
    rows = response.json()["rows"]
    return {row["id"]: [item["title_id"] for item in row["items"]] for row in rows}


def _shown(profile) -> set[int]:
    return {title for ids in _rows(profile, rows=40, items=75).values() for title in ids}


def _recommended(profile) -> list[int]:
    response = token_client(profile.account).get(
        f"/api/v1/profiles/{profile.pk}/recommendations/?n=200&device=tv"
    )
    assert response.status_code == 200, response.json()
    return [item["title_id"] for item in response.json()["results"]]


def _action_fan(world: HomeWorld, name: str = "Asha", **kwargs):
    profile = ProfileFactory(account=AccountFactory(home_region=world.region), name=name, **kwargs)
    for title in world.titles["action"][:3]:
        watch(profile, title, days_ago=4)
    return profile


def test_a_title_added_after_training_is_a_new_release_and_in_its_genre_row(world, monkeypatch):
    # given: an action fan's region trained, then an action film released today
    asha = _action_fan(world)
    model_train(region_code=world.region.code)
    film = _released_today(world, "Out Today")
    action = world.titles["action"][0].genres.get()

    # when: her next page (with every row its generators proposed) and ranked list,
    # without a retrain
    proposed = _proposals_kept(monkeypatch)
    rows = _rows(asha, rows=40, items=75)
    recommended = _recommended(asha)

    # then: it is on her page, proposed for the new releases and her action row (the
    # first screen shows a title once, in the highest row that has it), and recommended
    assert film.pk in {title for ids in rows.values() for title in ids}, rows
    assert film.pk in proposed["new_releases"], proposed
    assert film.pk in proposed[f"genre:{action.pk}"], proposed
    assert film.pk in recommended
    # and, its genres, tag and director being those of a film she watched, "Because you
    # watched" proposes it (its content vector is in the version's vocabulary)
    because = [ids for row, ids in proposed.items() if row.startswith("because_you_watched")]
    assert because, proposed
    assert any(film.pk in ids for ids in because), proposed


def test_a_title_added_after_training_that_a_profile_started_is_continued(world):
    # given: the film released after training, started from its detail page and stopped
    asha = _action_fan(world)
    model_train(region_code=world.region.code)
    film = _released_today(world, "Started Tonight")
    record(asha, "play_start", film, days_ago=0.02)
    record(asha, "progress", film, days_ago=0.01, value=35.0)

    # when
    rows = _rows(asha, rows=40, items=75)

    # then: the homepage resumes it, as /continue-watching/ does
    assert rows["continue_watching"][0] == film.pk
    listed = token_client(asha.account).get(
        f"/api/v1/profiles/{asha.pk}/continue-watching/?device=tv"
    )
    assert [item["title_id"] for item in listed.json()["results"]] == [film.pk]


def test_a_title_added_after_training_that_a_profile_finished_is_not_offered_again(world):
    # given: the film released after training, watched to the end
    asha = _action_fan(world)
    model_train(region_code=world.region.code)
    film = _released_today(world, "Seen Already")
    watch(asha, film, days_ago=0.01)

    # when
    rows = _rows(asha, rows=40, items=75)

    # then: seen, so in no row of discovery (and not being resumed)
    assert not any(film.pk in ids for row, ids in rows.items() if row != "watch_again"), rows
    assert film.pk not in _recommended(asha)


def test_a_title_added_after_training_keeps_maturity_and_region_rules(world):
    # given: a kid, and an adult in another region; a film for adults released today in
    # the world's region, and a film for everyone released today elsewhere only
    kid = _action_fan(world, "Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN)
    model_train(region_code=world.region.code)
    adults_only = _released_today(world, "After Dark", maturity=MaturityLevel.EIGHTEEN)
    elsewhere = _released_today(world, "Not Here", region=RegionFactory(code="ZZ"))
    adult = _action_fan(world, "Adult")

    # when
    kid_titles, adult_titles = _shown(kid), _shown(adult)

    # then: the kid sees neither; the adult sees the film for adults but not the other
    # region's
    assert adults_only.pk not in kid_titles
    assert elsewhere.pk not in kid_titles
    assert adults_only.pk in adult_titles
    assert elsewhere.pk not in adult_titles
    assert elsewhere.pk not in _recommended(adult)
    assert adults_only.pk not in _recommended(kid)


def test_a_page_with_titles_added_after_training_costs_the_same_three_round_trips(
    world, settings, django_assert_num_queries
):
    # given: a title added after training, and a process that has read the catalogue since
    asha = _action_fan(world)
    model_train(region_code=world.region.code)
    film = _released_today(world, "Cheap To Serve")
    client = token_client(asha.account)
    client.get(url(asha))  # reads the catalogue arrays and extends the version onto them
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 60,
        "CATALOGUE_REFRESH_SECONDS": 60,
    }
    client.get(url(asha))

    # then: the token with the profile and its languages; the signals with the title
    # states; the page log insert (as tests/recommendations/test_homepage_api.py counts)
    with django_assert_num_queries(3):
        response = client.get(url(asha, rows=40, items=75))
    assert response.status_code == 200
    assert film.pk in {item["title_id"] for row in response.json()["rows"] for item in row["items"]}
