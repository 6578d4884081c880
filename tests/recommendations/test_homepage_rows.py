"""The homepage's row generators, each against what its row's name promises a viewer."""

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pytest

from catalog.models import MaturityLevel
from recommendations.engine.persistence import save_artefact
from recommendations.services.training import model_train
from recommendations.serving import artefacts, homepage, recommend
from recommendations.serving.bundle import ServingBundle
from recommendations.serving.model_index import ModelIndex
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    CreditFactory,
    EpisodeFactory,
    GenreFactory,
    LanguageFactory,
    PersonFactory,
    ProfileFactory,
    RegionFactory,
    SeasonFactory,
    TagFactory,
    TasteClusterFactory,
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
    proposed = _proposals_kept(monkeypatch)
    _rows(profile, **params)
    return proposed


def _proposals_kept(monkeypatch) -> dict[str, list[int]]:
    """The dict the next page's proposed rows fill: each row's id and all its title ids."""
    proposed: dict[str, list[int]] = {}
    propose = homepage._propose_rows

    def spy(**kwargs):
        proposals = propose(**kwargs)
        ids = kwargs["bundle"].index.title_ids[kwargs["pool"].title_index]
        proposed.update({p.id: ids[p.positions].tolist() for p in proposals})
        return proposals

    monkeypatch.setattr(homepage, "_propose_rows", spy)
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


def test_trending_holds_only_titles_started_lately_however_few_started(world, monkeypatch):
    """The row of "what people in Brazil are starting this week" holds no title last started
    weeks ago. It is the pool's upper quartile by the region's trending; where the region
    started few titles (the demo's Brazil: 25 in a week) that quartile is every title with
    any play in the 28-day window, and half the demo's Brazilian trending tiles had none
    in the last week."""
    # given: a region whose viewers started five films in the last days and one three
    # weeks ago, among 24 films nobody started
    region = RegionFactory(code="BR", name="Brazil", time_zone="America/Sao_Paulo")
    films = []
    for i in range(30):
        film = TitleFactory(original_name=f"filme {i}", original_language=world.english)
        AvailabilityFactory(title=film, region=region, starts_at=NOW - dt.timedelta(days=900))
        films.append(film)
    recent, old = films[:5], films[5]
    for n in range(2):
        viewer = ProfileFactory(account=AccountFactory(home_region=region))
        for days_ago, film in enumerate(recent, start=1):
            record(viewer, "play_start", film, days_ago=days_ago + n)
    earlier = ProfileFactory(account=AccountFactory(home_region=region))
    record(earlier, "play_start", old, days_ago=21)
    account = AccountFactory(home_region=region)
    profile = ProfileFactory(account=account)
    model_train(region_code=region.code)

    # when
    rows = _proposed(profile, monkeypatch, rows=40, items=20)

    # then
    assert rows["trending:BR"], rows
    assert old.pk not in rows["trending:BR"]
    assert set(rows["trending:BR"]) <= {film.pk for film in recent}


def _brazil_started_last_week_and_this_week(world) -> tuple[object, object, object]:
    """Brazil, 30 films: three viewers started one 8 to 9 days ago (decayed, more than one
    start a week ago), a fourth another 2 days ago; 28 nobody started. Returns the film
    last started last week, the one started this week, and a new viewer there."""
    region = RegionFactory(code="BR", name="Brazil", time_zone="America/Sao_Paulo")
    films = []
    for i in range(30):
        film = TitleFactory(original_name=f"filme {i}", original_language=world.english)
        AvailabilityFactory(title=film, region=region, starts_at=NOW - dt.timedelta(days=900))
        films.append(film)
    last_week, this_week = films[0], films[1]
    for days_ago in (8.0, 8.5, 9.0):
        viewer = ProfileFactory(account=AccountFactory(home_region=region))
        record(viewer, "play_start", last_week, days_ago=days_ago)
    viewer = ProfileFactory(account=AccountFactory(home_region=region))
    record(viewer, "play_start", this_week, days_ago=2)
    return last_week, this_week, ProfileFactory(account=AccountFactory(home_region=region))


def _store_index_as_before_started(version, index: ModelIndex, *, trending: np.ndarray) -> None:
    """Overwrite the version's index with the arrays a version trained before ``started``
    stored, written by hand rather than by ``ModelIndex.save`` so that the old format stays
    pinned here whatever ``save`` comes to write."""
    artefacts.artefact_write(
        version.artefact_key,
        artefacts.INDEX,
        lambda target: save_artefact(
            target,
            kind="tonight.model_index",
            version=1,
            title_ids=index.title_ids,
            region_codes=np.array(index.region_codes, dtype=str),
            cluster_ids=index.cluster_ids,
            trending=trending,
            trained_at=index.trained_at,
        ),
    )


def test_trending_holds_only_titles_started_in_the_last_seven_days(world, monkeypatch):
    """A title trends only with a play start in the week before training, as the row's
    reason ("what people in Brazil are starting this week") says. A floor on the decayed
    count (one start a week ago) let in titles whose 8- and 9-day-old starts added up past
    it: about 209 of the demo's trending tiles had no start in the last week."""
    # given
    last_week, this_week, profile = _brazil_started_last_week_and_this_week(world)
    version = model_train(region_code="BR")

    # when
    rows = _proposed(profile, monkeypatch, rows=40, items=20)
    index = ServingBundle.load(version_id=version.pk, artefact_key=version.artefact_key).index

    # then: the film started this week trends; the one last started 8 days ago is not in
    # the row, and the version knows it was not started this week, though its decayed
    # count (the popularity) keeps its older starts
    trending = dict(zip(index.title_ids.tolist(), index.region_row("BR").tolist(), strict=True))
    assert trending[this_week.pk] > 0
    assert trending[last_week.pk] > 0, "older starts dropped from the popularity"
    assert index.started is not None
    started = dict(zip(index.title_ids.tolist(), index.region_started("BR").tolist(), strict=True))
    assert started[this_week.pk]
    assert not started[last_week.pk], "a title with no start this week still trends"
    assert this_week.pk in rows["trending:BR"], rows
    assert last_week.pk not in rows["trending:BR"]


def test_a_title_last_started_last_week_keeps_its_popularity_but_does_not_trend(world):
    """The week's rule is the trending row's and its candidates': the ranker's popularity
    features and a short pool's fill still count a title's older starts. Zeroing them for
    the row zeroed them for the ranking too, and India's NDCG@10 leaned lower for it."""
    # given
    last_week, this_week, _ = _brazil_started_last_week_and_this_week(world)
    version = model_train(region_code="BR")
    bundle = ServingBundle.load(version_id=version.pk, artefact_key=version.artefact_key)
    column = {int(t): i for i, t in enumerate(bundle.index.title_ids.tolist())}

    # when
    candidates, cluster_pop, region_pop = bundle.trending_rows(region_code="BR", cluster_id=None)

    # then: the film last started 8 days ago is popular in Brazil (the ranker's popularity
    # features, and the fill), less than the one started this week, and scores nothing
    # for the trending generator, which proposes the one started this week
    last, this = column[last_week.pk], column[this_week.pk]
    assert region_pop[last] > 0, "older starts dropped from the popularity"
    assert cluster_pop[last] > 0  # a viewer without a cluster: the region's
    assert region_pop[last] < region_pop[this]
    assert candidates[last] == 0, "the trending generator proposes it"
    assert candidates[this] > 0
    assert not bundle.trending_started("BR")[last]


def test_a_version_trained_before_the_weeks_starts_were_kept_still_serves(world, monkeypatch):
    """An index stored before ``started`` (the decayed table alone) loads and serves, its
    trending row guarded as it was then by a floor on the decayed count."""
    # given: Brazil as above, and a film one viewer started 12 days ago (under a start a
    # week ago's worth); the version's index rewritten as it was stored before
    _, this_week, profile = _brazil_started_last_week_and_this_week(world)
    earlier = TitleFactory(original_name="filme antigo", original_language=world.english)
    region = profile.account.home_region
    AvailabilityFactory(title=earlier, region=region, starts_at=NOW - dt.timedelta(days=900))
    viewer = ProfileFactory(account=AccountFactory(home_region=region))
    record(viewer, "play_start", earlier, days_ago=12)
    version = model_train(region_code="BR")
    index = ModelIndex.load(artefacts.artefact_read(version.artefact_key, artefacts.INDEX))
    _store_index_as_before_started(version, index, trending=index.trending)

    # when
    rows = _proposed(profile, monkeypatch, rows=40, items=20)
    bundle = ServingBundle.load(version_id=version.pk, artefact_key=version.artefact_key)

    # then: no week's starts are known, the page has its trending row, and the film started
    # 12 days ago is not in it (the floor cannot keep out the one last started 8 days ago)
    assert bundle.index.started is None
    assert bundle.trending_started("BR") is None
    assert this_week.pk in rows["trending:BR"], rows
    assert earlier.pk not in rows["trending:BR"]


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


def _drama_series(world, name: str, *, episodes: int, first_released: dt.date, days: int = 900):
    """A series like the world's dramas (genre, tag, people), one season of ``episodes``,
    available in the region for ``days``."""
    show = _twin(world.titles["drama"][0], name)
    show.kind = "series"
    show.release_date = first_released
    show.save()
    season = SeasonFactory(title=show, number=1, release_date=first_released)
    parts = [EpisodeFactory(season=season, number=n + 1) for n in range(episodes)]
    AvailabilityFactory(title=show, region=world.region, starts_at=NOW - dt.timedelta(days=days))
    return show, parts


@pytest.mark.parametrize(
    "story",
    [
        "binging a series",
        "deep into a film",
        "sampling a series and a film",
        "binging a series it then thumbed down",
    ],
)
def test_because_you_watched_is_seeded_by_recent_strong_signals_not_samples(
    world, monkeypatch, story
):
    # given: Asha finished three action films last week; yesterday she binged eight of a
    # drama series' ten episodes (not finished), or watched most of a drama film, or only
    # sampled a series' first episode and a film's first minutes
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    films = world.titles["action"][:3]
    for days_ago, title in zip((6, 5, 4), films, strict=True):
        watch(asha, title, days_ago=days_ago)
    show, episodes = _drama_series(world, "binge", episodes=10, first_released=dt.date(2020, 1, 1))
    deep = world.titles["drama"][1]
    if "binging" in story:
        for n, episode in enumerate(episodes[:8]):
            record(asha, "play_start", show, days_ago=1.5 - n / 100, episode=episode)
            record(asha, "complete", show, days_ago=1.495 - n / 100, episode=episode)
        if "thumbed down" in story:
            record(asha, "thumbs_down", show, days_ago=1.0)
        strong = show
    elif "film" in story and "sampling" not in story:
        record(asha, "play_start", deep, days_ago=1.2)
        record(asha, "progress", deep, days_ago=1.1, value=70.0)
        strong = deep
    else:
        record(asha, "play_start", show, days_ago=1.3, episode=episodes[0])
        record(asha, "progress", show, days_ago=1.29, episode=episodes[0], value=12.0)
        record(asha, "play_start", deep, days_ago=1.2)
        record(asha, "progress", deep, days_ago=1.19, value=4.0)
        strong = None
    model_train(region_code=world.region.code)

    # when: a title a row, so that each seed's row has titles of its own to bring
    proposed = _proposed(asha, monkeypatch, rows=40, items=1)

    # then: the title she engaged with most recently, strongly, seeds a row ahead of her
    # oldest completion; a sample (or a title she rated down) seeds none
    named = {key for key in proposed if key.startswith("because_you_watched:")}
    expected = films if strong is None or "thumbed down" in story else [strong, *films[1:]]
    assert named == {f"because_you_watched:{t.pk}" for t in expected}


@pytest.mark.parametrize(
    ("is_series", "progress", "episodes_finished", "watched"),
    [
        (False, homepage.SEED_MIN_PROGRESS, 0, True),
        (False, homepage.SEED_MIN_PROGRESS - 0.5, 0, False),
        (True, 0.0, homepage.SEED_MIN_EPISODES, True),
        (True, 90.0, homepage.SEED_MIN_EPISODES - 1, False),
    ],
)
def test_watched_is_at_least_half_a_film_or_three_episodes_of_a_series(
    is_series, progress, episodes_finished, watched
):
    # A series' progress is its resume episode's: 90% into a second episode is two
    # episodes of it, not most of it.
    history = SimpleNamespace(
        completed=np.array([False]),
        progress=np.array([progress], dtype=np.float32),
        episodes_finished=np.array([episodes_finished], dtype=np.int32),
    )

    assert homepage._watched(history, np.array([is_series])).tolist() == [watched]


def test_because_you_watched_is_not_seeded_by_samples_alone(world, monkeypatch):
    # given: Bela finished nothing; she sampled a drama film (4%) and a series' first
    # episode (12%): she watched neither, so neither may read "which you watched recently"
    account = AccountFactory(home_region=world.region)
    bela = ProfileFactory(account=account, name="Bela")
    show, episodes = _drama_series(world, "sampled", episodes=6, first_released=dt.date(2020, 1, 1))
    sampled = world.titles["drama"][1]
    record(bela, "play_start", show, days_ago=1.3, episode=episodes[0])
    record(bela, "progress", show, days_ago=1.29, episode=episodes[0], value=12.0)
    record(bela, "play_start", sampled, days_ago=1.2)
    record(bela, "progress", sampled, days_ago=1.19, value=4.0)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(bela, monkeypatch, rows=40, items=1)

    # then: her page has rows, and no "Because you watched" one
    assert proposed
    assert not [key for key in proposed if key.startswith("because_you_watched:")]


@pytest.mark.parametrize(
    ("story", "new"),
    [
        ("second season out 20 days ago", True),
        ("second season out 20 days ago, series thumbed down", False),
        ("second season out 20 days ago, licence ended", False),
        ("second season out 200 days ago", False),
        ("second season announced for next month", False),
        ("second season out 20 days ago, no episodes yet", False),
    ],
)
def test_a_series_with_a_new_season_out_is_a_new_release(world, monkeypatch, story, new):
    # given: a drama fan; a drama series that arrived in her region in 2018 (first season),
    # and a second season: out 20 days ago, 200 days ago, or announced for next month
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    for title in world.titles["drama"][:3]:
        watch(asha, title, days_ago=4)
    show, _ = _drama_series(world, "returning", episodes=4, first_released=dt.date(2018, 3, 1))
    days = 200 if "200 days" in story else -30 if "announced" in story else 20
    release = (NOW - dt.timedelta(days=days)).date()
    season = SeasonFactory(title=show, number=2, release_date=release)
    if "no episodes" not in story:
        for n in range(3):
            EpisodeFactory(season=season, number=n + 1)
    if "thumbed down" in story:
        record(asha, "thumbs_down", show, days_ago=30)
    if "licence ended" in story:
        show.availabilities.update(ends_at=NOW - dt.timedelta(days=1))
    model_train(region_code=world.region.code)

    # when
    rows = _proposed(asha, monkeypatch, rows=40, items=75)

    # then: a season out lately makes the series new again, if she may see it and has not
    # rated it down; the rule for films and new series is unchanged
    assert rows["new_releases"]
    assert (show.pk in rows["new_releases"]) is new
    recent = {t.pk for films in world.titles.values() for t in films[6:]}
    assert set(rows["new_releases"]) - {show.pk} <= recent
    if new:
        # and the row's reason, one for all its titles, is true of the series, which arrived
        # in 2018: "Arrived in India in the last 90 days" was not
        (row,) = [row for row in _rows(asha, rows=40, items=75) if row["type"] == "new_releases"]
        assert "new season" in row["reason"], row["reason"]


#: A page built at midnight UTC, where release dates (midnight UTC of their day) fall whole
#: days before it: each edge below is reached exactly, at any time of day the test runs.
_MIDNIGHT = NOW.replace(hour=0, minute=0, second=0, microsecond=0)


def _proposed_at(profile, monkeypatch, at: dt.datetime) -> dict[str, list[int]]:
    """:func:`_proposed` of the page built as of ``at`` (the API builds it as of now)."""
    proposed = _proposals_kept(monkeypatch)
    homepage.homepage_build(profile=profile, device="tv", at=at, n_rows=40, n_items=75)
    return proposed


def test_new_releases_and_critically_acclaimed_hold_their_edges_and_no_more(world, monkeypatch):
    # given: an action and drama fan, and twins of an action film at each edge of the rows'
    # rules, as of a page at midnight: arrived in the region exactly 90 days before it or
    # 91; released exactly 730 days before it (arrived 10 days before) or 731, or to be
    # released the day after it (offered already); a series
    # whose second season came out exactly 90 days before it or 91; critic scores 80 and 79
    at = _MIDNIGHT
    days = dt.timedelta(days=1)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    for k, title in enumerate([*world.titles["action"][:3], *world.titles["drama"][:3]]):
        record(asha, "play_start", title, at=at - (4 + k / 10) * days)
        record(asha, "complete", title, at=at - (4 + k / 10) * days + dt.timedelta(hours=2))
    action = world.titles["action"][0]

    def twin(name: str, *, released: dt.date, arrived: dt.datetime, critic_score: int = 50):
        title = _twin(action, name)
        title.release_date, title.critic_score = released, critic_score
        title.save()
        AvailabilityFactory(title=title, region=world.region, starts_at=arrived)
        return title

    long_ago = (at - 200 * days).date()
    arrived_90 = twin("arrived 90", released=long_ago, arrived=at - 90 * days)
    arrived_91 = twin("arrived 91", released=long_ago, arrived=at - 91 * days)
    released_730 = twin("released 730", released=(at - 730 * days).date(), arrived=at - 10 * days)
    released_731 = twin("released 731", released=(at - 731 * days).date(), arrived=at - 10 * days)
    premiere = twin("premiere", released=(at + days).date(), arrived=at - 10 * days)
    score_80 = twin("score 80", released=long_ago, arrived=at - 900 * days, critic_score=80)
    score_79 = twin("score 79", released=long_ago, arrived=at - 900 * days, critic_score=79)
    seasons = {}
    for out in (90, 91):
        show, _ = _drama_series(
            world, f"season {out}", episodes=4, first_released=dt.date(2018, 3, 1)
        )
        season = SeasonFactory(title=show, number=2, release_date=(at - out * days).date())
        for n in range(3):
            EpisodeFactory(season=season, number=n + 1)
        seasons[out] = show
    model_train(region_code=world.region.code)

    # when
    rows = _proposed_at(asha, monkeypatch, at)

    # then: every one of them is in her pool (Top Picks holds it all), and each row holds
    # the title on its edge and not the one a day (a point) past it
    edges = [
        arrived_90,
        arrived_91,
        released_730,
        released_731,
        premiere,
        score_80,
        score_79,
        *seasons.values(),
    ]
    assert {t.pk for t in edges} <= set(rows["top_picks"])
    new = set(rows["new_releases"])
    assert arrived_90.pk in new
    assert arrived_91.pk not in new
    assert released_730.pk in new
    assert released_731.pk not in new
    assert premiere.pk not in new  # offered ahead of its release, new only once out
    assert seasons[90].pk in new
    assert seasons[91].pk not in new
    acclaimed = set(rows["critically_acclaimed"])
    assert score_80.pk in acclaimed
    assert score_79.pk not in acclaimed


def test_a_version_without_the_weeks_starts_trends_from_exactly_one_start_a_week_ago(
    world, monkeypatch
):
    """The floor of a version stored before ``started`` is one start exactly a week before
    training, as the float32 table holds it: a title with exactly that much trends, one with
    the next float32 below it does not."""
    # given: Brazil as above; the version's index rewritten as stored before ``started``,
    # with two films nobody started given exactly the floor and the float32 just under it
    _, this_week, profile = _brazil_started_last_week_and_this_week(world)
    region = profile.account.home_region
    at_floor, under = (
        TitleFactory(original_name=name, original_language=world.english)
        for name in ("at the floor", "under the floor")
    )
    for film in (at_floor, under):
        AvailabilityFactory(title=film, region=region, starts_at=NOW - dt.timedelta(days=900))
    version = model_train(region_code="BR")
    index = ModelIndex.load(artefacts.artefact_read(version.artefact_key, artefacts.INDEX))
    trending = index.trending.copy()
    column = {int(t): i for i, t in enumerate(index.title_ids.tolist())}
    brazil = index.region_codes.index("BR")
    floor = np.float32(homepage.TRENDING_ROW_MIN)
    trending[brazil, column[at_floor.pk]] = floor
    trending[brazil, column[under.pk]] = np.nextafter(floor, np.float32(0.0))
    _store_index_as_before_started(version, index, trending=trending)

    # when
    rows = _proposed(profile, monkeypatch, rows=40, items=75)

    # then: both are in the pool; the one at the floor trends, the one under it does not
    assert {at_floor.pk, under.pk} <= set(rows["top_picks"])
    assert this_week.pk in rows["trending:BR"], rows
    assert at_floor.pk in rows["trending:BR"]
    assert under.pk not in rows["trending:BR"]


def test_a_title_that_seeds_because_you_watched_seeds_no_because_you_liked(world, monkeypatch):
    # given: Asha finished an action film and liked it, and liked a romance (twice: a
    # second tap on another device): the action film seeds "Because you watched"
    # (finished), so her likes' rows are the romance's
    at = _MIDNIGHT
    hour = dt.timedelta(hours=1)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    both, romance = world.titles["action"][0], world.titles["romance"][0]
    record(asha, "play_start", both, at=at - 30 * hour)
    record(asha, "complete", both, at=at - 28 * hour)
    record(asha, "thumbs_up", both, at=at - 27 * hour)
    record(asha, "thumbs_up", romance, at=at - 26 * hour)
    record(asha, "thumbs_up", romance, at=at - 25 * hour)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed_at(asha, monkeypatch, at)
    serving = recommend.profile_serving(profile=asha, at=at)
    liked = serving.history.liked()

    # then: what she likes is each title once, newest first (the seeds, in their order)
    title_ids = serving.bundle.index.title_ids
    assert [int(title_ids[t]) for t in liked] == [romance.pk, both.pk]
    # ... and one row is about the action film, not two saying the same
    assert f"because_you_watched:{both.pk}" in proposed
    named = {key for key in proposed if key.startswith("because_you_liked:")}
    assert named == {f"because_you_liked:{romance.pk}"}


def test_a_genre_with_too_few_titles_to_discover_gives_its_place_to_the_next(world, monkeypatch):
    # given: six genres (thrillers are the comedies, family films the romances), and Asha
    # midway through six of the eight dramas: they carry much of her pool's play
    # probability, but a genre row leaves out what she is resuming, so a drama row would
    # hold two titles, too few to show
    for slug, films in (("thriller", "comedy"), ("family", "romance")):
        genre = GenreFactory(slug=slug, name=slug.title())
        for title in world.titles[films]:
            title.genres.add(genre)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    for title in world.titles["drama"][:6]:
        record(asha, "play_start", title, days_ago=2.1)
        record(asha, "progress", title, days_ago=2, value=40.0)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: the genre rows are four genres with titles enough, not the dramas' row, which
    # took one of the four places and was dropped (a page of three genre rows or fewer)
    genres = {key: titles for key, titles in proposed.items() if key.startswith("genre:")}
    drama = world.titles["drama"][0].genres.get()
    assert f"genre:{drama.pk}" not in genres, genres
    assert len(genres) == homepage.MAX_GENRE_ROWS, genres
    assert all(len(titles) >= homepage.ROW_MIN_ITEMS for titles in genres.values()), genres


def test_trending_is_the_upper_quartile_of_the_titles_it_can_hold(world, monkeypatch):
    # given: Asha midway through the region's six most started films (films 0 and 1 of
    # the action films, romances and comedies; her own starts lift them further): the
    # pool's upper quartile by the region's trending is its top eight, six of which a
    # trending row leaves out as she is resuming them
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    resumed = [t for genre in ("action", "romance", "comedy") for t in world.titles[genre][:2]]
    for title in resumed:
        record(asha, "play_start", title, days_ago=2.1)
        record(asha, "progress", title, days_ago=2, value=40.0)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: the row is the upper quartile of the titles it can show (a row's worth), not
    # the two left of the whole pool's, too few to show
    trending = proposed[f"trending:{world.region.code}"]
    assert not {t.pk for t in resumed} & set(trending)
    assert len(trending) >= homepage.ROW_MIN_ITEMS, trending


def test_popular_in_a_cluster_is_the_upper_quartile_of_the_titles_it_can_hold(world, monkeypatch):
    # given: a cluster of the comedy and drama fans, and Asha in it, midway through five of
    # its eight most started films: the pool's upper quartile by the cluster's popularity
    # (films 0 to 3 of the comedies and dramas), five of which the cluster's row leaves out
    TasteClusterFactory(region=world.region, slug="everyone", name="Everyone", is_default=True)
    cluster = TasteClusterFactory(region=world.region, slug="laughs", name="Laughs")
    for fan in world.fans[4:]:
        fan.taste_cluster = cluster
        fan.save()
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha", taste_cluster=cluster)
    resumed = [*world.titles["comedy"][:3], *world.titles["drama"][:2]]
    for title in resumed:
        record(asha, "play_start", title, days_ago=2.1)
        record(asha, "progress", title, days_ago=2, value=40.0)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: the row is the upper quartile of the titles it can show, not the three left of
    # the whole pool's, too few to show
    popular = proposed[f"popular_in:{cluster.pk}"]
    assert not {t.pk for t in resumed} & set(popular)
    assert len(popular) >= homepage.ROW_MIN_ITEMS, popular


def test_a_language_with_too_few_titles_to_discover_gives_its_place_to_the_next(world, monkeypatch):
    # given: Asha reads Tamil and also picked English and Hindi; the catalogue's six Tamil
    # films, three of which she is midway through: a Tamil row would hold three titles,
    # too few to show
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    films = []
    for i in range(6):
        film = TitleFactory(original_name=f"tamil {i}", original_language=tamil)
        AvailabilityFactory(title=film, region=world.region, starts_at=NOW - dt.timedelta(days=900))
        films.append(film)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha", display_language=tamil)
    asha.preferred_languages.set([world.english, world.hindi, tamil])
    for film in films[:3]:
        record(asha, "play_start", film, days_ago=2.1)
        record(asha, "progress", film, days_ago=2, value=40.0)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: both language rows are languages with titles enough (English and Hindi), not
    # a Tamil row that took one of the two places and was dropped
    languages = {key: titles for key, titles in proposed.items() if key.startswith("language:")}
    assert set(languages) == {"language:en", "language:hi"}, languages
    assert all(len(titles) >= homepage.ROW_MIN_ITEMS for titles in languages.values()), languages


def test_a_genre_too_thin_for_a_row_gives_its_place_however_likely_its_titles(world, monkeypatch):
    # given: Asha, who finished three action films, and a genre of three other action
    # films ("Heist"): the three she is likeliest to play next, whose play probability
    # outweighs that of any other genre's eight; but three are too few for a row
    heists = GenreFactory(slug="heist", name="Heist")
    for title in world.titles["action"][3:6]:
        title.genres.add(heists)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    for days_ago, title in enumerate(world.titles["action"][:3], start=1):
        watch(asha, title, days_ago=days_ago)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: the four genre rows are the four genres with titles enough
    genres = {key for key in proposed if key.startswith("genre:")}
    assert f"genre:{heists.pk}" not in genres, genres
    assert len(genres) == homepage.MAX_GENRE_ROWS, genres


def test_the_pools_strongest_language_has_a_row_though_the_profile_never_picked_it(
    world, monkeypatch
):
    # given: Asha reads English and picked no other language, and watches Tamil films
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    genre, director = GenreFactory(slug="tamil-drama"), PersonFactory(name="tamil director")
    films = []
    for i in range(7):
        film = TitleFactory(original_name=f"tamil {i}", original_language=tamil)
        film.genres.add(genre)
        CreditFactory(title=film, person=director, role="director")
        AvailabilityFactory(title=film, region=world.region, starts_at=NOW - dt.timedelta(days=900))
        films.append(film)
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha", display_language=world.english)
    asha.preferred_languages.set([])
    for days_ago, film in enumerate(films[:2], start=1):
        watch(asha, film, days_ago=days_ago)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: her display language's row, and one of the language her viewing points to
    languages = {key for key in proposed if key.startswith("language:")}
    assert languages == {"language:en", "language:ta"}, languages


def test_a_regions_only_cluster_gets_no_popular_row_beside_its_trending_row(world, monkeypatch):
    # given: the region's one cluster, its default, which everybody there belongs to once
    # assigned (here the comedy and drama fans so far, so that its popularity still orders
    # titles otherwise than the region's), and Asha in it
    cluster = TasteClusterFactory(
        region=world.region, slug="everyone", name="Everyone", is_default=True
    )
    for fan in world.fans[4:]:
        fan.taste_cluster = cluster
        fan.save()
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha", taste_cluster=cluster)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: "Trending in <region>" and no "Popular with Everyone viewers": the region
    # and the cluster are the same viewers
    assert f"trending:{world.region.code}" in proposed
    assert not [key for key in proposed if key.startswith("popular_in:")], list(proposed)


def test_three_likes_make_rows_for_the_two_newest_only(world, monkeypatch):
    # given: Asha liked an action film, then a romance, then a comedy, and watched none
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    liked = [world.titles[genre][0] for genre in ("action", "romance", "comedy")]
    for days_ago, title in zip((3, 2, 1), liked, strict=True):
        record(asha, "thumbs_up", title, days_ago=days_ago)
    model_train(region_code=world.region.code)

    # when
    proposed = _proposed(asha, monkeypatch, rows=40, items=20)

    # then: "Because you liked" the comedy and the romance; the action film's row would be
    # a third row of a page's few saying the same kind of thing
    rows = {key for key in proposed if key.startswith("because_you_liked:")}
    assert rows == {f"because_you_liked:{liked[2].pk}", f"because_you_liked:{liked[1].pk}"}
