"""The homepage's row generators, each against what its row's name promises a viewer."""

import datetime as dt

import pytest

from catalog.models import MaturityLevel
from recommendations.services.training import model_train
from recommendations.serving import homepage, recommend
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    GenreFactory,
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TagFactory,
    TitleFactory,
)
from tests.module_world import module_world, the_module_world
from tests.recommendations.homepage_world import NOW, HomeWorld, build_home_world
from tests.recommendations.test_homepage_api import _twin, url
from tests.recommendations.test_training import record, watch

pytestmark = pytest.mark.django_db

_home_world = module_world(build_home_world, folder="home-rows")


@pytest.fixture
def world(_home_world, settings, db) -> HomeWorld:
    return the_module_world(settings, _home_world)


def _rows(profile, **params) -> list[dict]:
    response = token_client(profile.account).get(url(profile, **params))
    assert response.status_code == 200, response.json()
    return response.json()["rows"]


def _proposed(profile, monkeypatch, **params) -> dict[str, list[int]]:
    """Every row the generators proposed for the profile's page, with all its title ids.

    What each generator's rule holds, before the first screen takes from a row the titles
    the rows above it show (which would hide a title a rule wrongly admits).
    """
    proposed: dict[str, list[int]] = {}
    propose = homepage._propose_rows

    def spy(**kwargs):
        proposals = propose(**kwargs)
        ids = kwargs["bundle"].index.title_ids[kwargs["pool"].title_index]
        proposed.update({p.id: ids[p.positions].tolist() for p in proposals})
        return proposals

    monkeypatch.setattr(homepage, "_propose_rows", spy)
    _rows(profile, **params)
    return proposed


def test_new_releases_are_recent_titles_not_old_ones_just_licensed(world, monkeypatch):
    # given: an action fan; a twin of her films released in 1995 and licensed in her region
    # last week (new here, not a new release), beside the catalogue's two recent releases
    # of each genre (released ten days ago)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    for title in world.titles["action"][:3]:
        watch(asha, title, days_ago=4)
    classic = _twin(world.titles["action"][0], "classic")
    classic.release_date = dt.date(1995, 6, 1)
    classic.save()
    AvailabilityFactory(title=classic, region=world.region, starts_at=NOW - dt.timedelta(days=7))
    model_train(region_code=world.region.code)

    # when
    rows = _proposed(asha, monkeypatch, rows=40, items=75)

    # then: the classic is in her rows (it is available and like what she watches), but
    # not in "New Releases", which holds the recent releases
    assert classic.pk in rows["top_picks"]
    recent = {t.pk for films in world.titles.values() for t in films[6:]}
    assert rows["new_releases"]
    assert set(rows["new_releases"]) <= recent


def test_trending_in_a_region_is_that_regions_plays_only(world):
    # given: a second region where the catalogue is licensed but nobody has played anything;
    # every play of the world's fans is in the first region
    korea = RegionFactory(code="KR", name="South Korea", time_zone="Asia/Seoul")
    for title in world.all_titles():
        AvailabilityFactory(title=title, region=korea, starts_at=NOW - dt.timedelta(days=900))
    account = AccountFactory(home_region=korea)
    minji = ProfileFactory(account=account, name="Minji")
    model_train(region_code=None)

    # when
    rows = _rows(minji, rows=40, items=4)

    # then: her page has titles, and no "Trending in South Korea" made of India's plays
    assert rows
    assert not [row["title"] for row in rows if row["type"] == "trending"]


def test_a_seed_without_neighbours_gives_its_place_to_the_next(world):
    # given: Asha finished four action films, then a Japanese documentary that is like
    # nothing in the catalogue (its own language, genre and tags): it has no neighbours,
    # so no "Because you watched" row of its own
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    films = world.titles["action"][:4]
    for days_ago, title in zip((6, 5, 4, 3), films, strict=True):
        watch(asha, title, days_ago=days_ago)
    loner = TitleFactory(
        original_name="loner",
        original_language=LanguageFactory(code="ja", name="Japanese", native_name="日本語"),
        maturity=MaturityLevel.ALL,
    )
    loner.genres.add(GenreFactory(slug="lonely", name="Lonely"))
    loner.tags.add(TagFactory(slug="lonely-tag"))
    AvailabilityFactory(title=loner, region=world.region, starts_at=NOW - dt.timedelta(days=900))
    watch(asha, loner, days_ago=1)
    model_train(region_code=world.region.code)

    # when: a title a row, so that each seed's row has titles of its own to bring
    rows = _rows(asha, rows=40, items=1)

    # then: three "Because you watched" rows, from her three latest films that have any
    named = [row["id"] for row in rows if row["type"] == "because_you_watched"]
    assert f"because_you_watched:{loner.pk}" not in named
    assert set(named) == {f"because_you_watched:{t.pk}" for t in films[1:]}


def test_a_like_older_than_the_signals_read_is_still_a_because_you_liked_seed(world, monkeypatch):
    # given: Asha liked a romance two weeks ago, and since then hovered over many titles: the
    # like is older than the newest signals a request reads (bounded to 10 here), but her
    # title state still says she likes it
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    liked = world.titles["romance"][0]
    record(asha, "thumbs_up", liked, days_ago=14)
    for n, title in enumerate(world.titles["action"] * 3):
        record(asha, "hover", title, days_ago=1 + n / 100)
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", 10)
    model_train(region_code=world.region.code)
    read = recommend.profile_history_rows(profile_id=asha.pk, at=None)
    assert liked.pk not in set(read.signals[:, 1].astype(int).tolist())

    # when
    rows = _rows(asha, rows=40, items=1)

    # then: "Because you liked" it, as the title state says
    named = {row["id"] for row in rows if row["type"] == "because_you_liked"}
    assert named == {f"because_you_liked:{liked.pk}"}
