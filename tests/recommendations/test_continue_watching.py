"""GET /profiles/{id}/continue-watching/ shows only what the profile may open now."""

import datetime as dt
import time
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from artwork.selection import artwork_serving
from catalog.models import MaturityLevel
from profiles.models import Profile
from recommendations.models import PageLog
from regions.models import Availability
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    EpisodeFactory,
    ProfileFactory,
    RegionFactory,
    SeasonFactory,
    TitleFactory,
)

pytestmark = pytest.mark.django_db


def started(client, profile, title) -> None:
    """Plays of ``title`` to 40%, posted as a client would (so the title state is real)."""
    occurred = timezone.now() - dt.timedelta(minutes=5)
    events = [
        {"kind": kind, "title": title.pk, "device": "tv", "occurred_at": occurred.isoformat()}
        | ({"value": 40} if kind == "progress" else {})
        | {"client_event_id": str(uuid.uuid4())}
        for kind in ("play_start", "progress")
    ]
    response = client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": events}, format="json"
    )
    assert response.status_code == 200, response.json()


def resumable(client, profile) -> list[int]:
    response = client.get(reverse("v1:continue-watching", args=[profile.pk]), {"device": "tv"})
    assert response.status_code == 200
    return [item["title_id"] for item in response.json()["results"]]


def test_a_title_whose_licence_ended_or_moved_away_is_not_offered(api_client, account, profile):
    # given: three films started while available in the account's region
    week_ago = timezone.now() - dt.timedelta(days=7)
    kept, ended, moved = (TitleFactory(kind="film") for _ in range(3))
    windows = {
        t: AvailabilityFactory(title=t, region=account.home_region, starts_at=week_ago)
        for t in (kept, ended, moved)
    }
    for title in (kept, ended, moved):
        started(api_client, profile, title)

    # when: one licence ends, another is only the other region's now
    Availability.objects.filter(pk=windows[ended].pk).update(
        ends_at=timezone.now() - dt.timedelta(hours=1)
    )
    Availability.objects.filter(pk=windows[moved].pk).update(
        region=RegionFactory(code="BR", name="Brazil")
    )

    # then
    assert resumable(api_client, profile) == [kept.pk]


def test_a_title_above_a_lowered_maturity_limit_is_not_offered(api_client, account, profile):
    # given: a 16+ film and an all-ages one started by an adult profile
    mature = TitleFactory(kind="film", maturity=MaturityLevel.SIXTEEN)
    family = TitleFactory(kind="film", maturity=MaturityLevel.ALL)
    for title in (mature, family):
        AvailabilityFactory(title=title, region=account.home_region)
        started(api_client, profile, title)
    assert set(resumable(api_client, profile)) == {mature.pk, family.pk}

    # when: the profile becomes a kids profile
    Profile.objects.filter(pk=profile.pk).update(is_kids=True, maturity_limit=MaturityLevel.SEVEN)

    # then
    assert resumable(api_client, profile) == [family.pk]


def test_a_finished_series_whose_episode_was_deleted_returns_with_a_new_one(
    api_client, account, profile
):
    # given: a two-episode series the profile finished, whose second episode staff then
    # deleted (a duplicate), and which has since gained a new episode
    from catalog.models import Episode
    from recommendations.models import ProfileTitleState
    from recommendations.serving.recommend import profile_history_rows
    from tests.factories import EpisodeFactory, SeasonFactory

    series = TitleFactory(kind="series")
    AvailabilityFactory(title=series, region=account.home_region)
    season = SeasonFactory(title=series, number=1)
    first, duplicate = (EpisodeFactory(season=season, number=n) for n in (1, 2))
    occurred = timezone.now() - dt.timedelta(minutes=30)
    events = [
        {
            "kind": kind,
            "title": series.pk,
            "episode": episode.pk,
            "device": "tv",
            "occurred_at": (occurred + dt.timedelta(minutes=i)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
        }
        for i, (episode, kind) in enumerate(
            (episode, kind) for episode in (first, duplicate) for kind in ("play_start", "complete")
        )
    ]
    response = api_client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": events}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert resumable(api_client, profile) == []

    # when
    Episode.objects.filter(pk=duplicate.pk).delete()
    EpisodeFactory(season=season, number=3)

    # then: one of two episodes out is finished, so the series is back, and the history
    # read (the homepage's Continue Watching) counts one finished too
    assert resumable(api_client, profile) == [series.pk]
    state = ProfileTitleState.objects.get(profile=profile, title=series)
    assert state.completed_episodes == [first.pk]
    states = profile_history_rows(profile_id=profile.pk, at=timezone.now()).states
    assert states[states[:, 0] == series.pk, 7].tolist() == [1.0]


def test_the_migration_drops_episodes_deleted_before_from_the_finished_ones(
    api_client, account, profile
):
    # given: a state that finished an episode since deleted, as deletions left it until
    # December 2026 (written directly: a deletion now prunes it)
    import importlib

    from django.apps import apps
    from django.db import connection

    from recommendations.models import ProfileTitleState
    from tests.factories import EpisodeFactory, SeasonFactory

    series = TitleFactory(kind="series")
    AvailabilityFactory(title=series, region=account.home_region)
    first = EpisodeFactory(season=SeasonFactory(title=series, number=1), number=1)
    state = ProfileTitleState.objects.create(
        profile=profile,
        title=series,
        last_event_at=timezone.now(),
        completed_episodes=[first.pk + 1000, first.pk],
    )
    untouched = ProfileTitleState.objects.create(
        profile=profile, title=TitleFactory(), last_event_at=timezone.now()
    )

    # when
    migration = importlib.import_module(
        "recommendations.migrations.0016_title_states_forget_deleted_episodes"
    )
    with connection.schema_editor() as editor:
        migration.forward(apps, editor)

    # then
    state.refresh_from_db()
    assert state.completed_episodes == [first.pk]
    untouched.refresh_from_db()
    assert untouched.completed_episodes == []


def test_a_series_deleted_whole_costs_no_statement_per_episode(account, profile):
    # given: a series of twenty episodes, watched
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommendations.models import ProfileTitleState
    from tests.factories import EpisodeFactory, SeasonFactory

    def watched_series(episodes: int):
        series = TitleFactory(kind="series")
        season = SeasonFactory(title=series, number=1)
        ids = [EpisodeFactory(season=season, number=n).pk for n in range(1, episodes + 1)]
        ProfileTitleState.objects.create(
            profile=profile, title=series, last_event_at=timezone.now(), completed_episodes=ids
        )
        return series

    small, large = watched_series(1), watched_series(20)

    # when
    with CaptureQueriesContext(connection) as one:
        small.delete()
    with CaptureQueriesContext(connection) as twenty:
        large.delete()

    # then
    assert len(twenty.captured_queries) == len(one.captured_queries)


def listed(client, profile, **query) -> list[dict]:
    """The list as a TV app asks for it, unless ``query`` names another device."""
    response = client.get(
        reverse("v1:continue-watching", args=[profile.pk]), {"device": "tv"} | query
    )
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def artwork_of(items: list[dict]) -> dict[int, dict]:
    return {item["title_id"]: item["artwork"] for item in items}


def test_each_title_has_its_default_frame_for_the_device_and_nothing_is_logged(
    api_client, account, profile
):
    # given: a film with a TV frame added first and a phone frame after it, a film whose
    # only frame is for TVs, and a film without artwork, all started
    both, tv_only, bare = (TitleFactory(kind="film") for _ in range(3))
    for_tv = ArtworkVariantFactory(title=both, for_mobile=False, for_tablet=False, for_web=False)
    for_phone = ArtworkVariantFactory(title=both, for_tv=False, for_tablet=False, for_web=False)
    only = ArtworkVariantFactory(title=tv_only, for_mobile=False, for_tablet=False, for_web=False)
    for title in (both, tv_only, bare):
        AvailabilityFactory(title=title, region=account.home_region)
        started(api_client, profile, title)

    # when
    on_tv = artwork_of(listed(api_client, profile, device="tv"))
    on_phone = artwork_of(listed(api_client, profile, device="mobile"))

    # then: each device gets the title's first frame made for it, else its first for any
    # device, else the placeholder; always with propensity 1 and an absolute URL
    assert {t: a["variant_id"] for t, a in on_tv.items()} == {
        both.pk: for_tv.pk,
        tv_only.pk: only.pk,
        bare.pk: None,
    }
    assert {t: a["variant_id"] for t, a in on_phone.items()} == {
        both.pk: for_phone.pk,
        tv_only.pk: only.pk,
        bare.pk: None,
    }
    for artwork in [*on_tv.values(), *on_phone.values()]:
        assert artwork["propensity"] == 1.0
        assert artwork["url"].startswith("http://testserver/")
    assert on_phone[both.pk]["url"].endswith(for_phone.image.url)
    assert on_tv[bare.pk]["url"].endswith("placeholder.svg")
    # and the list is no page: nothing for the bandit or the rankers to learn from
    assert not PageLog.objects.filter(profile=profile).exists()


def test_a_kids_profile_gets_no_frame_above_its_limit(api_client, account):
    # given: a Kids profile (7+) resuming two all-ages films: one whose first frame is
    # rated 16+ (a later one all ages), one whose only frame is 16+
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    mixed, mature_only = (TitleFactory(kind="film", maturity=MaturityLevel.ALL) for _ in range(2))
    ArtworkVariantFactory(title=mixed, maturity=MaturityLevel.SIXTEEN)
    allowed = ArtworkVariantFactory(title=mixed, maturity=MaturityLevel.ALL)
    ArtworkVariantFactory(title=mature_only, maturity=MaturityLevel.SIXTEEN)
    for title in (mixed, mature_only):
        AvailabilityFactory(title=title, region=account.home_region)
        started(api_client, kid, title)

    # when
    artwork = artwork_of(listed(api_client, kid, device="tablet"))

    # then: the frame within the limit, else the placeholder, never the 16+ one
    assert {t: a["variant_id"] for t, a in artwork.items()} == {
        mixed.pk: allowed.pk,
        mature_only.pk: None,
    }


@pytest.mark.django_db(transaction=True)  # the serving process's re-read has its own connection
def test_a_frame_re_rated_above_a_kids_limit_leaves_the_list_at_the_next_check(settings):
    # given: a serving process that checks for changed frames every 50 ms (a second by
    # default), and a Kids profile resuming a film whose oldest frame, its default, is all
    # ages, as is a later one
    settings.TONIGHT = {**settings.TONIGHT, "ARTWORK_CHECK_SECONDS": 0.05}
    account = AccountFactory()
    client = token_client(account)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    film = TitleFactory(kind="film")
    AvailabilityFactory(title=film, region=account.home_region)
    default = ArtworkVariantFactory(title=film, maturity=MaturityLevel.ALL)
    later = ArtworkVariantFactory(title=film, maturity=MaturityLevel.ALL)
    started(client, kid, film)
    assert artwork_of(listed(client, kid))[film.pk]["variant_id"] == default.pk

    # when: staff re-rate the default frame 16+ (admin saves the variant)
    default.maturity = MaturityLevel.SIXTEEN
    default.save()
    time.sleep(0.06)

    # then: the next answer after a check gives the later frame, on the request's own
    # thread (the re-read of the arrays runs behind it), and so does every answer after
    assert artwork_of(listed(client, kid))[film.pk]["variant_id"] == later.pk
    deadline = time.monotonic() + 10
    while artwork_serving._reloading and time.monotonic() < deadline:
        time.sleep(0.02)
    assert artwork_of(listed(client, kid))[film.pk]["variant_id"] == later.pk


def test_another_households_profile_is_a_404_whatever_the_device(api_client, profile):
    stranger = token_client(AccountFactory(home_region=profile.account.home_region))
    path = reverse("v1:continue-watching", args=[profile.pk])

    assert stranger.get(path).status_code == 404
    assert stranger.get(path, {"device": "fridge"}).status_code == 404  # before the 400


@pytest.mark.parametrize("query", ["?device=fridge", "?device=TV", "?device=tv&device=web"])
def test_a_bad_device_is_a_400_naming_it(api_client, profile, query):
    response = api_client.get(reverse("v1:continue-watching", args=[profile.pk]) + query)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["device"]


def test_the_list_costs_four_statements_however_many_titles_it_holds(
    api_client, account, profile, django_assert_num_queries
):
    def resumed(kind: str, frames: int = 1, episodes: int = 2) -> None:
        title = TitleFactory(kind=kind)
        for n in range(frames):
            ArtworkVariantFactory(title=title, for_tv=n == 0)
        if kind == "series":
            season = SeasonFactory(title=title, number=1)
            for number in range(1, episodes + 1):
                EpisodeFactory(season=season, number=number)
        AvailabilityFactory(title=title, region=account.home_region)
        started(api_client, profile, title)

    # given: a film and a series resumed, and the per-process artwork state warm
    resumed("film")
    resumed("series")
    listed(api_client, profile)

    # the profile and its token, the title states, the series' episodes, the names; the
    # artwork comes from the per-process state
    with django_assert_num_queries(4):
        assert len(listed(api_client, profile, device="web")) == 2

    # when: more films and series, with more frames and episodes
    for _ in range(4):
        resumed("film", frames=3)
        resumed("series", frames=2, episodes=6)

    # then
    with django_assert_num_queries(4):
        assert len(listed(api_client, profile, device="web")) == 10


def test_a_list_without_a_device_is_a_400_saying_what_to_send(api_client, profile):
    # The device chooses each title's frame: a phone that forgot to say so must not be
    # drawn a TV's frames, as the homepage would not serve it a TV's page.
    response = api_client.get(reverse("v1:continue-watching", args=[profile.pk]))

    assert response.status_code == 400
    assert response.json()["errors"] == {"device": ["Required: one of tv, mobile, tablet, web."]}
