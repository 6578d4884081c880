import datetime as dt
import importlib
import json
import threading
import uuid

import pytest
from django.db import OperationalError, close_old_connections, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import MaturityLevel
from profiles.models import Profile
from recommendations.apis.signals import BODY_MAX_BYTES
from recommendations.engine.row_ranking import ROW_TYPES
from recommendations.models import ProfileTitleState, Signal
from recommendations.selectors import training as training_data
from recommendations.selectors.signals import page_reports_stored
from recommendations.serving import recommend
from recommendations.serving.homepage import profile_row_engagement
from tests.conftest import token_client
from tests.db_plans import table_reads
from tests.db_waits import migration_waits_short, reader_holding
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
from tests.streams import ReadCounted

pytestmark = pytest.mark.django_db


def url(profile) -> str:
    return reverse("v1:signals", args=[profile.pk])


def event(title=None, /, **overrides) -> dict:
    body = {
        "kind": "play_start",
        "title": title.pk if title else None,
        "device": "tv",
        "occurred_at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
        "client_event_id": str(uuid.uuid4()),
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def licensed_episode(account):
    """An episode of a title licensed in the account's region: named with another title, a
    client's error ("Belongs to another title."), not an id it may not be told exists."""
    episode = EpisodeFactory()
    AvailabilityFactory(title=episode.season.title, region=account.home_region)
    return episode


@pytest.fixture
def title(account):
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    return title


def test_a_valid_batch_is_stored_and_counted(api_client, profile, title):
    events = [
        event(title, kind="impression", row="top-picks", position=3),
        event(title, kind="hover", value=1200),
        event(title),
        event(title, kind="progress", value=42.5),
    ]

    response = api_client.post(url(profile), {"events": events}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 4, "new": 4, "duplicates": 0, "rejected": {}}
    stored = Signal.objects.filter(profile=profile)
    assert sorted(stored.values_list("kind", flat=True)) == [
        "hover",
        "impression",
        "play_start",
        "progress",
    ]
    assert stored.get(kind="impression").position == 3


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"kind": "teleport"}, "kind", "is not a signal kind"),
        ({"device": "fridge"}, "device", "is not one of"),
        ({"occurred_at": "2026-01-01T10:00:00"}, "occurred_at", "time zone"),
        ({"occurred_at": "yesterday"}, "occurred_at", "ISO 8601"),
        ({"client_event_id": "not-a-uuid"}, "client_event_id", "UUID"),
        ({"surprise": 1}, "surprise", "Unknown field"),
        ({"kind": "hover"}, "value", "Required for 'hover'"),
        ({"value": 3}, "value", "Not used for 'play_start'"),
        ({"kind": "thumbs_cleared", "value": 1}, "value", "Not used for 'thumbs_cleared'"),
        ({"kind": "thumbs_cleared", "title": None}, "title", "Required for 'thumbs_cleared'"),
        ({"kind": "progress", "value": 140}, "value", "from 0 to 100"),
        ({"position": -1}, "position", "from 0 to 1,000"),
        ({"title": "abc"}, "title", "an integer from 1 to"),
        ({"page_id": 12}, "page_id", "UUID"),
        ({"kind": ["play_start"]}, "kind", "is not a signal kind"),
        ({"row": "top\x00picks"}, "row", "NUL"),
        ({"row": 0}, "row", "Must be a string"),
        ({"row": False}, "row", "Must be a string"),
    ],
)
def test_each_malformed_field_is_reported_by_index(
    api_client, profile, title, overrides, field, reason
):
    events = [event(title), event(title, **overrides)]

    response = api_client.post(url(profile), {"events": events}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]["events"]) == ["1"]
    assert any(reason in r for r in body["errors"]["events"]["1"][field]), body
    assert body["message"].startswith(f"events[1].{field}")
    assert not Signal.objects.exists()


def test_time_bounds_are_enforced(api_client, profile, title, settings):
    future = timezone.now() + dt.timedelta(hours=1)
    ancient = timezone.now() - dt.timedelta(days=settings.TONIGHT["SIGNAL_MAX_AGE_DAYS"] + 1)
    events = [
        event(title, occurred_at=future.isoformat()),
        event(title, occurred_at=ancient.isoformat()),
    ]

    errors = api_client.post(url(profile), {"events": events}, format="json").json()["errors"]

    assert errors["events"]["0"]["occurred_at"] == ["Is in the future."]
    assert "horizon" in errors["events"]["1"]["occurred_at"][0]


def test_a_play_needs_a_title_but_a_row_scroll_needs_a_row(api_client, profile, title):
    events = [
        event(None),
        event(None, kind="row_scroll_past"),
        event(None, kind="row_scroll_past", row="genre:horror"),
    ]

    errors = api_client.post(url(profile), {"events": events}, format="json").json()["errors"]

    assert set(errors["events"]) == {"0", "1"}
    assert errors["events"]["0"]["title"] == ["Required for 'play_start' signals."]
    assert errors["events"]["1"]["row"] == ["Required for 'row_scroll_past' signals."]


@pytest.mark.parametrize("field", ["title", "episode", "position", "artwork_variant"])
def test_a_row_scroll_past_naming_a_tile_is_refused(api_client, profile, title, field):
    """A scroll-past is about a row: what names a tile of it is a client's mistake, said so.

    Stored, its title made the skip read as engagement with that title (the confidence counts
    every signal but an impression of a pair as engagement), and the log held a scroll-past
    with a title, which nothing else writes.
    """
    values = {"title": title.pk, "episode": 7, "position": 2, "artwork_variant": 9}
    skip = event(None, kind="row_scroll_past", row="top_picks", page_id=str(uuid.uuid4()))
    events = [event(title), {**skip, field: values[field]}]

    response = api_client.post(url(profile), {"events": events}, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["events"] == {
        "1": {field: ["Not used for 'row_scroll_past' signals; leave it out."]}
    }
    assert not Signal.objects.exists()


def test_references_are_checked_for_the_whole_batch_and_nothing_is_stored(
    api_client, account, profile, title
):
    # given titles in every state a reference can be wrong in
    other_title = TitleFactory()
    AvailabilityFactory(title=other_title, region=account.home_region)
    foreign_episode = licensed_episode(account)
    lapsed = TitleFactory()
    AvailabilityFactory(
        title=lapsed,
        region=account.home_region,
        starts_at=timezone.now() - dt.timedelta(days=400),
        ends_at=timezone.now() - dt.timedelta(days=1),
    )
    elsewhere = TitleFactory()
    variant_of_other = ArtworkVariantFactory(title=other_title)
    events = [
        event(title),
        event(None, title=999_999),
        event(title, episode=foreign_episode.pk),
        event(lapsed),
        event(elsewhere),
        event(title, artwork_variant=variant_of_other.pk),
        event(title, artwork_variant=999_999),
    ]

    # when
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then every bad event is named, and the good ones were not stored either (a frame that
    # does not exist is no problem: it would be stored without it)
    assert response.status_code == 400
    errors = response.json()["errors"]["events"]
    assert errors == {
        "1": {"title": ["No title with id 999999."]},
        "2": {"episode": ["Belongs to another title."]},
        # not licensed here then: answered as an id that names no title (the title page's
        # 404), so that the answer does not tell which ids are titles licensed elsewhere
        "3": {"title": [f"No title with id {lapsed.pk}."]},
        "4": {"title": [f"No title with id {elsewhere.pk}."]},
        "5": {"artwork_variant": ["Belongs to another title."]},
    }
    assert not Signal.objects.exists()


def test_events_of_a_title_deleted_since_are_reported_and_the_rest_stored(
    api_client, profile, title
):
    # given a device that queued events offline, of a title staff have deleted since
    gone = TitleFactory()
    AvailabilityFactory(title=gone, region=profile.account.home_region)
    gone_id = gone.pk
    events = [event(title), event(gone), event(title, kind="complete"), event(gone)]
    gone.delete()

    # when the queue is uploaded
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then the events that can be stored are, and the ones that never can are named by index
    assert response.status_code == 200, response.json()
    absent = {"title": [f"No title with id {gone_id}."]}
    assert response.json() == {
        "received": 4,
        "new": 2,
        "duplicates": 0,
        "rejected": {"1": absent, "3": absent},
    }
    assert sorted(Signal.objects.filter(profile=profile).values_list("kind", flat=True)) == [
        "complete",
        "play_start",
    ]
    assert ProfileTitleState.objects.get(profile=profile, title=title).completed_at is not None

    # when the same queue is sent again, then nothing is stored twice
    again = api_client.post(url(profile), {"events": events}, format="json")
    assert again.json() == {
        "received": 4,
        "new": 0,
        "duplicates": 2,
        "rejected": {"1": absent, "3": absent},
    }


def test_events_of_an_episode_or_variant_deleted_since_are_reported_and_the_rest_stored(
    api_client, account, profile
):
    # given a device that queued events offline of a series' episode and of a frame that
    # staff have deleted since, their title still in the catalogue
    show = TitleFactory(kind="series")
    AvailabilityFactory(title=show, region=account.home_region)
    season = SeasonFactory(title=show, number=1)
    kept, gone_episode = (EpisodeFactory(season=season, number=n) for n in (1, 2))
    gone_frame = ArtworkVariantFactory(title=show)
    gone_ids = gone_episode.pk, gone_frame.pk
    events = [
        event(show, kind="impression", row="top-picks", position=1, artwork_variant=gone_ids[1]),
        event(show, episode=kept.pk),
        event(show, kind="complete", episode=gone_ids[0]),
        event(show, kind="progress", value=40, episode=kept.pk),
    ]
    gone_episode.delete()
    gone_frame.delete()

    # when the queue is uploaded
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then what can be stored is, and the events no resend can store are named by index;
    # the impression of the deleted frame is stored without it (it still says the title was
    # on screen there)
    assert response.status_code == 200, response.json()
    rejected = {"2": {"episode": [f"No episode with id {gone_ids[0]}."]}}
    assert response.json() == {"received": 4, "new": 3, "duplicates": 0, "rejected": rejected}
    stored = Signal.objects.filter(profile=profile)
    assert sorted(stored.values_list("kind", flat=True)) == ["impression", "play_start", "progress"]
    assert stored.get(kind="impression").artwork_variant_id is None
    state = ProfileTitleState.objects.get(profile=profile, title=show)
    assert (state.progress, state.completed_episodes) == (40.0, [])


def test_a_deleted_episode_beside_a_client_error_is_named_with_it_in_the_400(
    api_client, account, profile, title
):
    # given an event whose title was not licensed then and whose episode no longer exists,
    # and an episode named with a title it does not belong to (a client's error)
    lapsed = TitleFactory(kind="series")
    AvailabilityFactory(
        title=lapsed,
        region=account.home_region,
        starts_at=timezone.now() - dt.timedelta(days=400),
        ends_at=timezone.now() - dt.timedelta(days=1),
    )
    foreign = licensed_episode(account)
    events = [
        event(title),
        event(lapsed, episode=999_998),
        event(title, episode=foreign.pk),
        event(title, artwork_variant=999_997),
    ]

    # when
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then a client's error still refuses the batch whole, naming every problem of every event
    # (an event whose title reads as absent, as one not licensed then does, for its title
    # alone, as for a title that does not exist)
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["events"] == {
        "1": {"title": [f"No title with id {lapsed.pk}."]},
        "2": {"episode": ["Belongs to another title."]},
    }
    assert not Signal.objects.exists()


def test_a_malformed_event_does_not_hide_the_reference_errors_of_the_others(
    api_client, account, profile, title
):
    # given a queue with a malformed event beside a title not licensed then, an episode of
    # another title and a title deleted since
    lapsed = TitleFactory()
    AvailabilityFactory(
        title=lapsed,
        region=account.home_region,
        starts_at=timezone.now() - dt.timedelta(days=400),
        ends_at=timezone.now() - dt.timedelta(days=1),
    )
    foreign = licensed_episode(account)
    events = [
        event(title),
        event(lapsed),
        event(title, kind="progress", value="50"),
        event(title, episode=foreign.pk),
        event(None, title=999_999),
    ]

    # when
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then the one 400 names every problem, so that a client that leaves out what it names
    # is not refused again for an event it was not told about
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["events"] == {
        "1": {"title": [f"No title with id {lapsed.pk}."]},
        "2": {"value": ["Must be a number."]},
        "3": {"episode": ["Belongs to another title."]},
        "4": {"title": ["No title with id 999999."]},
    }
    assert response.json()["message"].startswith("events[1].title")
    assert not Signal.objects.exists()


def test_a_play_inside_a_past_window_is_accepted(api_client, account, profile):
    title = TitleFactory()
    AvailabilityFactory(
        title=title,
        region=account.home_region,
        starts_at=timezone.now() - dt.timedelta(days=10),
        ends_at=timezone.now() - dt.timedelta(days=1),
    )
    when = timezone.now() - dt.timedelta(days=2)
    response = api_client.post(
        url(profile), {"events": [event(title, occurred_at=when.isoformat())]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 1, "new": 1, "duplicates": 0, "rejected": {}}
    stored = Signal.objects.get(profile=profile, title=title)
    assert stored.occurred_at == when


def test_a_window_holds_a_play_at_its_start_and_not_one_at_its_end(api_client, account, profile):
    # given a title licensed over a past window [start, end)
    title = TitleFactory()
    start = timezone.now() - dt.timedelta(days=10)
    end = timezone.now() - dt.timedelta(days=1)
    AvailabilityFactory(title=title, region=account.home_region, starts_at=start, ends_at=end)

    # when a play stamped at the window's very start is sent, and one at its very end
    at_start = api_client.post(
        url(profile), {"events": [event(title, occurred_at=start.isoformat())]}, format="json"
    )
    at_end = api_client.post(
        url(profile), {"events": [event(title, occurred_at=end.isoformat())]}, format="json"
    )

    # then the start is inside (stored), the end is not (left out, as any time the title was
    # not carried): the same half-open window serving and the title page use
    assert at_start.status_code == 200, at_start.json()
    assert at_start.json()["new"] == 1
    assert at_end.status_code == 200, at_end.json()
    assert at_end.json()["rejected"] == {"0": {"title": [f"No title with id {title.pk}."]}}
    assert list(Signal.objects.filter(profile=profile).values_list("occurred_at", flat=True)) == [
        start
    ]


def test_a_kids_profile_signals_titles_and_artwork_rated_at_its_limit(api_client, account):
    # given a title and a frame rated exactly a 7+ kid's limit ("at most", not "below")
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    at_limit = TitleFactory(maturity=MaturityLevel.SEVEN)
    AvailabilityFactory(title=at_limit, region=account.home_region)
    frame = ArtworkVariantFactory(title=at_limit, maturity=MaturityLevel.SEVEN)

    response = api_client.post(
        url(kid), {"events": [event(at_limit, artwork_variant=frame.pk)]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 1, "new": 1, "duplicates": 0, "rejected": {}}
    assert Signal.objects.get(profile=kid).artwork_variant_id == frame.pk


def test_a_play_from_a_frame_deleted_since_is_stored_without_the_frame(
    api_client, account, profile, title
):
    # given: a device that queued a play from a homepage tile offline, and staff who have
    # deleted the tile's frame since
    frame = ArtworkVariantFactory(title=title)
    frame_id, page = frame.pk, str(uuid.uuid4())
    play = event(title, page_id=page, row="top-picks", position=3, artwork_variant=frame_id)
    progress = event(title, kind="progress", value=40)
    frame.delete()

    # when
    response = api_client.post(url(profile), {"events": [play, progress]}, format="json")

    # then: the play is stored, with where it was shown but not the frame that is gone, so
    # Continue Watching and attribution have it
    assert response.status_code == 200, response.json()
    assert response.json() == {"received": 2, "new": 2, "duplicates": 0, "rejected": {}}
    stored = Signal.objects.get(profile=profile, kind="play_start")
    assert (str(stored.page_id), stored.row, stored.position, stored.artwork_variant_id) == (
        page,
        "top-picks",
        3,
        None,
    )
    resumed = api_client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()
    assert [r["title_id"] for r in resumed["results"]] == [title.pk]


def test_a_kids_profile_cannot_tell_a_frame_above_its_limit_from_a_deleted_one(api_client, account):
    # given: a 7+ kid, a family title with a 13+ frame and a frame deleted since, and a 16+
    # title's all-ages frame
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    family = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(title=family, region=account.home_region)
    gory = ArtworkVariantFactory(title=family, maturity=MaturityLevel.THIRTEEN)
    mature_title = TitleFactory(maturity=MaturityLevel.SIXTEEN)
    of_mature = ArtworkVariantFactory(title=mature_title, maturity=MaturityLevel.ALL)
    deleted = ArtworkVariantFactory(title=family)
    deleted_id = deleted.pk
    deleted.delete()
    foreign_episode = licensed_episode(account)  # of another (all-ages) title: a client's error

    # when: a play of the family title from each frame, alone in its batch, and a batch with
    # a client's error beside each
    answers = [
        api_client.post(url(kid), {"events": [event(family, artwork_variant=v)]}, format="json")
        for v in (gory.pk, of_mature.pk, deleted_id)
    ]
    refusals = [
        api_client.post(
            url(kid),
            {
                "events": [
                    event(family, artwork_variant=v),
                    event(family, episode=foreign_episode.pk),
                ]
            },
            format="json",
        )
        for v in (gory.pk, of_mature.pk, deleted_id)
    ]

    # then: the three answers are the same, each play stored without its frame, and the 400s
    # name only the client's error
    assert [(a.status_code, a.json()) for a in answers] == [
        (200, {"received": 1, "new": 1, "duplicates": 0, "rejected": {}})
    ] * 3
    stored = Signal.objects.filter(profile=kid)
    assert list(stored.values_list("title_id", "artwork_variant_id")) == [(family.pk, None)] * 3
    not_its_own = {"episode": ["Belongs to another title."]}
    assert [(r.status_code, r.json()["errors"]) for r in refusals] == [
        (400, {"events": {"1": not_its_own}})
    ] * 3
    assert refusals[0].json() == refusals[1].json() == refusals[2].json()


def test_a_kids_profile_cannot_signal_titles_or_artwork_above_its_limit(api_client, account):
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    grown_up = TitleFactory(maturity=MaturityLevel.SIXTEEN)
    family = TitleFactory(maturity=MaturityLevel.ALL)
    for t in (grown_up, family):
        AvailabilityFactory(title=t, region=account.home_region)
    gory_frame = ArtworkVariantFactory(title=family, maturity=MaturityLevel.THIRTEEN)

    response = api_client.post(
        url(kid),
        {"events": [event(grown_up), event(family, artwork_variant=gory_frame.pk)]},
        format="json",
    )

    # then: the title is left out as if it did not exist, as the title page answers 404, and
    # the play of the family title is stored without the frame, as with a frame deleted
    # since (the answer must not tell a child which ids are mature titles or frames)
    assert response.status_code == 200, response.json()
    assert response.json()["rejected"] == {"0": {"title": [f"No title with id {grown_up.pk}."]}}
    stored = Signal.objects.get(profile=kid)
    assert (stored.title_id, stored.artwork_variant_id) == (family.pk, None)


def test_a_caller_cannot_tell_a_title_not_licensed_here_or_above_the_limit_from_none(
    api_client, account
):
    # given: a 7+ kid, a family title it may signal, and ids of four kinds it may not: one
    # that names no title, a title licensed in another region only, a title licensed here
    # but not at the event's time, and a 16+ title licensed here
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    family = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(title=family, region=account.home_region)
    elsewhere = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(title=elsewhere, region=RegionFactory(code="US", name="United States"))
    lapsed = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(
        title=lapsed,
        region=account.home_region,
        starts_at=timezone.now() - dt.timedelta(days=400),
        ends_at=timezone.now() - dt.timedelta(days=1),
    )
    mature = TitleFactory(maturity=MaturityLevel.SIXTEEN)
    AvailabilityFactory(title=mature, region=account.home_region)
    foreign_episode = licensed_episode(account)
    probed = [999_999, elsewhere.pk, lapsed.pk, mature.pk]

    def answer(events: list[dict], title_id: int) -> tuple[int, str]:
        response = api_client.post(url(kid), {"events": events}, format="json")
        return response.status_code, response.content.decode().replace(str(title_id), "N")

    # when: each id is sent alone, beside a play of the family title, and beside a client's
    # error (an episode of another title)
    alone = [answer([event(None, title=pk)], pk) for pk in probed]
    beside = [answer([event(family), event(None, title=pk)], pk) for pk in probed]
    refused = [
        answer([event(family, episode=foreign_episode.pk), event(None, title=pk)], pk)
        for pk in probed
    ]

    # then: every answer names the event's title, and is the same whichever the id is
    assert alone[0][0] == 200, alone[0]
    assert '"1":{"title":["No title with id N."]}' in beside[0][1], beside[0]
    assert refused[0][0] == 400, refused[0]
    for answers in (alone, beside, refused):
        assert answers == [answers[0]] * len(probed)


def test_a_fast_clock_cannot_stamp_a_play_into_a_licence_that_has_not_started(api_client, account):
    # given: a kid, a title whose licence here starts in two minutes, and one whose licence
    # ends in two minutes; each played now by a device whose clock runs three minutes fast
    # (within the skew tolerated), so both plays are stamped three minutes ahead
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    now = timezone.now()
    premiere, leaving = TitleFactory(), TitleFactory()
    AvailabilityFactory(
        title=premiere, region=account.home_region, starts_at=now + dt.timedelta(minutes=2)
    )
    AvailabilityFactory(
        title=leaving, region=account.home_region, ends_at=now + dt.timedelta(minutes=2)
    )
    ahead = (now + dt.timedelta(minutes=3)).isoformat()

    # when
    response = api_client.post(
        url(kid),
        {"events": [event(premiere, occurred_at=ahead), event(leaving, occurred_at=ahead)]},
        format="json",
    )

    # then: judged at its receipt, where ingest places a stamp ahead of it: the title not
    # licensed yet reads as absent (not stored, so not in Continue Watching once it opens),
    # and the one still licensed is stored, though its stamp falls after its licence's end
    assert response.status_code == 200, response.json()
    assert response.json()["rejected"] == {"0": {"title": [f"No title with id {premiere.pk}."]}}
    assert list(Signal.objects.filter(profile=kid).values_list("title_id", flat=True)) == [
        leaving.pk
    ]


def test_an_episode_of_a_title_above_the_limit_reads_as_absent_too(api_client, account):
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    season = SeasonFactory(title=TitleFactory(kind="series", maturity=MaturityLevel.SIXTEEN))
    episode = EpisodeFactory(season=season, number=1)
    AvailabilityFactory(title=season.title, region=account.home_region)

    response = api_client.post(
        url(kid), {"events": [event(season.title, episode=episode.pk)]}, format="json"
    )

    # then: left out as an event of a title that does not exist is (the title page's 404)
    assert response.json()["rejected"] == {"0": {"title": [f"No title with id {season.title.pk}."]}}
    assert not Signal.objects.filter(profile=kid).exists()


def test_an_episode_or_frame_of_a_title_above_the_limit_reads_as_absent_beside_a_family_title(
    api_client, account
):
    # given: a kids profile, a family title it may signal, a 16+ series whose episode and
    # (all-ages) frame it names beside the family title, and an episode and a frame deleted
    kid = ProfileFactory(
        account=account, name="Kid", is_kids=True, maturity_limit=MaturityLevel.SEVEN
    )
    family = TitleFactory(maturity=MaturityLevel.ALL)
    season = SeasonFactory(title=TitleFactory(kind="series", maturity=MaturityLevel.SIXTEEN))
    episode = EpisodeFactory(season=season, number=1)
    frame = ArtworkVariantFactory(title=season.title, maturity=MaturityLevel.ALL)
    for t in (family, season.title):
        AvailabilityFactory(title=t, region=account.home_region)
    deleted_episode, deleted_frame = EpisodeFactory(), ArtworkVariantFactory(title=family)
    deleted = deleted_episode.pk, deleted_frame.pk
    deleted_episode.delete()
    deleted_frame.delete()

    # when
    mature, gone = (
        api_client.post(
            url(kid),
            {"events": [event(family, episode=e), event(family, artwork_variant=v)]},
            format="json",
        )
        for e, v in ((episode.pk, frame.pk), deleted)
    )

    # then: answered as ids that do not exist are (left out, the batch's other events
    # stored), not told they belong to a title (one it may not see): the answer must not
    # tell a child which ids are a mature title's
    assert (mature.status_code, gone.status_code) == (200, 200), mature.json()
    assert mature.json()["rejected"] == {"0": {"episode": [f"No episode with id {episode.pk}."]}}
    assert gone.json()["rejected"] == {"0": {"episode": [f"No episode with id {deleted[0]}."]}}
    # and the frame, of a mature title or deleted, is dropped from a play stored alike
    assert mature.json()["new"] == gone.json()["new"] == 1
    stored = Signal.objects.filter(profile=kid)
    assert list(stored.values_list("title_id", "artwork_variant_id")) == [(family.pk, None)] * 2


def test_an_episode_or_frame_of_a_title_not_licensed_here_reads_as_absent_too(
    api_client, account, profile, title
):
    # given: episodes and frames (all ages) of titles the profile may not signal at the
    # event's time (licensed in another region only; licensed here, but not then), and an
    # episode and a frame deleted since
    elsewhere = TitleFactory(kind="series")
    AvailabilityFactory(title=elsewhere, region=RegionFactory(code="US", name="United States"))
    lapsed = TitleFactory(kind="series")
    AvailabilityFactory(
        title=lapsed,
        region=account.home_region,
        starts_at=timezone.now() - dt.timedelta(days=400),
        ends_at=timezone.now() - dt.timedelta(days=1),
    )
    hidden = [
        (
            EpisodeFactory(season=SeasonFactory(title=owner), number=1).pk,
            ArtworkVariantFactory(title=owner).pk,
        )
        for owner in (elsewhere, lapsed)
    ]
    deleted_episode, deleted_frame = EpisodeFactory(), ArtworkVariantFactory(title=title)
    gone = deleted_episode.pk, deleted_frame.pk
    deleted_episode.delete()
    deleted_frame.delete()

    def answer(events: list[dict], *ids: int) -> tuple[int, str]:
        response = api_client.post(url(profile), {"events": events}, format="json")
        body = response.content.decode()
        for number, pk in enumerate(ids):
            body = body.replace(f"with id {pk}.", f"with id <{number}>.")
        return response.status_code, body

    # when: each pair named beside a title the profile may signal, alone and beside a
    # client's error (an episode of another title it may signal)
    foreign = licensed_episode(account)
    alone = [
        answer([event(title, episode=e), event(title, artwork_variant=v)], e, v)
        for e, v in [*hidden, gone]
    ]
    refused = [
        answer(
            [event(title, episode=e), event(title, artwork_variant=v), event(title, episode=f)],
            e,
            v,
        )
        for (e, v), f in zip([*hidden, gone], [foreign.pk] * 3, strict=True)
    ]

    # then: answered as ids that do not exist are, status, body and all (the episode's event
    # left out and named in rejected, the frame dropped from a play stored), not "Belongs to
    # another title.": the answer must not tell which ids are episodes or frames of titles
    # not licensed here, which the title page's 404 does not either
    assert alone[-1][0] == 200, alone[-1]
    assert '"rejected":{"0":{"episode":["No episode with id <0>."]}}' in alone[-1][1]
    assert alone == [alone[-1]] * 3
    assert refused[-1][0] == 400, refused[-1]
    assert refused == [refused[-1]] * 3
    stored = Signal.objects.filter(profile=profile, kind="play_start")
    assert list(stored.values_list("title_id", "artwork_variant_id")) == [(title.pk, None)] * 3


def test_an_episode_or_frame_of_another_title_the_profile_may_signal_is_a_clients_error(
    api_client, account, profile, title
):
    # given: an episode and a frame of another title licensed here now, which its title
    # page lists (their ids are no secret to this profile)
    other = TitleFactory(kind="series")
    AvailabilityFactory(title=other, region=account.home_region)
    episode = EpisodeFactory(season=SeasonFactory(title=other), number=1)
    frame = ArtworkVariantFactory(title=other)

    # when
    response = api_client.post(
        url(profile),
        {"events": [event(title, episode=episode.pk), event(title, artwork_variant=frame.pk)]},
        format="json",
    )

    # then: a client's bug, said plainly, and the batch refused as before
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["events"] == {
        "0": {"episode": ["Belongs to another title."]},
        "1": {"artwork_variant": ["Belongs to another title."]},
    }
    assert not Signal.objects.exists()


def test_batch_size_and_body_limits(api_client, profile, title, settings):
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_BATCH_MAX": 3}
    response = api_client.post(
        url(profile), {"events": [event(title) for _ in range(4)]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["events"] == ["4 events in one batch; the limit is 3."]

    response = api_client.post(
        url(profile), data="x" * (1024 * 1024 + 1), content_type="application/json"
    )
    assert response.status_code == 413
    assert "limit is 1,048,576 bytes" in response.json()["message"]

    response = api_client.generic(
        "POST",
        url(profile),
        data='{"events": []}',
        content_type="application/json",
        CONTENT_LENGTH="abc",
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Content-Length must be a number of bytes."

    for body in ({}, {"events": []}, {"events": "nope"}):
        response = api_client.post(url(profile), body, format="json")
        assert response.status_code == 400
        assert "events" in response.json()["errors"]


def test_a_chunked_body_over_the_limit_is_not_read_past_it(api_client, profile, title):
    # given: a batch over the 1 MiB limit sent as gunicorn passes a chunked body on: no
    # Content-Length (what the size check reads) and the whole body in wsgi.input; and a
    # small batch with its length, which shows that the counting stream is the one read
    batch = json.dumps({"events": [event(title) for _ in range(8000)]}).encode()
    assert len(batch) > BODY_MAX_BYTES
    small = json.dumps({"events": [event(title)]}).encode()
    chunked, declared = ReadCounted(batch), ReadCounted(small)

    # when
    stored = api_client.generic(
        "POST", url(profile), content_type="application/json", **{"wsgi.input": declared},
        CONTENT_LENGTH=str(len(small)),
    )  # fmt: skip
    unsized = api_client.generic(
        "POST", url(profile), content_type="application/json", **{"wsgi.input": chunked},
        CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip

    # then: the chunked batch is neither read past the limit nor stored. Django and DRF read
    # no body without a Content-Length (Django ignores gunicorn's wsgi.input_terminated),
    # which keeps the check on the declared length whole: one that read it fails this. It
    # is refused for its missing length (411), unread (tests/test_api_body_length.py).
    assert (stored.status_code, declared.taken) == (200, len(small))
    assert unsized.status_code == 411
    assert chunked.taken == 0
    assert Signal.objects.count() == 1


def test_a_body_that_is_not_json_is_refused(api_client, profile, title):
    broken = api_client.post(url(profile), data='{"events": [', content_type="application/json")
    assert broken.status_code == 400
    assert "JSON parse error" in broken.json()["message"]

    not_a_number = f'{{"events": [{{"kind": "hover", "value": NaN, "title": {title.pk}}}]}}'
    nan = api_client.post(url(profile), data=not_a_number, content_type="application/json")
    assert nan.status_code == 400

    form = api_client.post(url(profile), {"events": "x"})
    assert form.status_code == 415
    assert not Signal.objects.exists()


#: Integers no row's id can be: past PostgreSQL's bigint (2**63 - 1), below 2**64 (read by
#: orjson as an int), at 2**64 and beyond (read as a float).
ID_BEYOND_ANY_ROW = [2**63, 2**63 + 5, 2**64 - 1, 2**64, 2**64 + 1, 10**30]


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("title", "a title id"),
        ("episode", "an episode id"),
        ("artwork_variant", "an artwork variant id"),
    ],
)
@pytest.mark.parametrize("huge", ID_BEYOND_ANY_ROW)
def test_an_id_beyond_any_row_is_a_400_naming_the_event_and_field(
    api_client, profile, title, field, names, huge
):
    # given: a valid event, then one naming an id no row can have (not one deleted since:
    # no row ever had it, so it is the client's bug, answered as a position past its range)
    events = [event(title), event(title, **{field: huge})]

    # when
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then: one answer for every such id and field; the batch is refused whole, so the valid
    # event before it is not lost but named nowhere, to be resent without the bad one
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["events"] == {
        "1": {field: [f"Must be {names}: an integer from 1 to 9,223,372,036,854,775,807."]}
    }
    assert not Signal.objects.exists()
    resent = api_client.post(url(profile), {"events": events[:1]}, format="json")
    assert resent.json()["new"] == 1


@pytest.mark.parametrize(
    "spell",
    [
        lambda t: t.isoformat(),
        lambda t: t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).isoformat(" "),
        lambda t: t.astimezone(dt.timezone(-dt.timedelta(hours=3))).isoformat("T", "seconds"),
        # accepted by Python, beyond PostgreSQL's offsets: must still be stored, not crash
        lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=18))).isoformat(),
        lambda t: t.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S.%f+0000"),
    ],
)
def test_every_accepted_spelling_of_a_time_stores_the_same_instant(
    api_client, profile, title, spell
):
    moment = timezone.now().replace(microsecond=123456) - dt.timedelta(minutes=7)
    spelt = spell(moment)
    events = [
        event(title, kind="impression", occurred_at=spelt),
        event(title, kind="progress", value=10, occurred_at=spelt),
    ]

    response = api_client.post(url(profile), {"events": events}, format="json")

    assert response.status_code == 200, response.json()
    meant = dt.datetime.fromisoformat(spelt)
    stored = set(Signal.objects.filter(profile=profile).values_list("occurred_at", flat=True))
    assert stored == {meant}
    assert ProfileTitleState.objects.get(profile=profile, title=title).last_event_at == meant


def test_a_row_id_is_stored_exactly_as_sent(api_client, profile, title):
    awkward = "tab\there\\back\nslash\r\\N"

    response = api_client.post(
        url(profile), {"events": [event(title, kind="impression", row=awkward)]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert Signal.objects.get(profile=profile).row == awkward


@pytest.mark.parametrize("spelling", ["canonical", "braced"], ids=["column-path", "per-event"])
def test_a_value_too_small_for_a_retrains_read_is_stored_as_zero(
    api_client, profile, title, spelling
):
    # given: values inside their kinds' bounds but nearer zero than a 32-bit float holds (a
    # client's float arithmetic, Number.MIN_VALUE), which the retrain's packed read casts to
    def event_id() -> str:
        made = str(uuid.uuid4())
        return made if spelling == "canonical" else "{" + made + "}"

    events = [
        event(title, kind="progress", value=1e-310, client_event_id=event_id()),
        event(title, kind="hover", value=5e-324, client_event_id=event_id()),
        event(title, kind="preview", value=1e-46, client_event_id=event_id()),
        event(title, kind="progress", value=42.5, client_event_id=event_id()),
    ]

    response = api_client.post(url(profile), {"events": events}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["new"] == 4
    # then: a retrain's read of the log reads them (PostgreSQL refused the cast of such a
    # value to its 32-bit column, "value out of range: underflow", and every retrain with it)
    read = training_data.signal_columns(training_data.signal_queryset(with_id=True))
    assert sorted(read.value.tolist()) == [0.0, 0.0, 0.0, 42.5]
    # and: they are stored as the 0 they mean, the others as sent
    stored = Signal.objects.filter(profile=profile)
    assert sorted(stored.values_list("value", flat=True)) == [0.0, 0.0, 0.0, 42.5]


def test_recording_costs_the_same_queries_for_one_title_or_many(api_client, account, profile):
    # given two batches of the same size, one about one title, one about forty,
    # with a played series episode and artwork in each
    titles = [TitleFactory() for _ in range(40)]
    for t in titles:
        AvailabilityFactory(title=t, region=account.home_region)
    season = SeasonFactory(title=titles[0])
    episode = EpisodeFactory(season=season)
    variant = ArtworkVariantFactory(title=titles[0])

    def batch(pool: list) -> list[dict]:
        return [
            event(titles[0], episode=episode.pk, kind="complete"),
            event(titles[0], artwork_variant=variant.pk, kind="impression"),
            *(event(pool[i % len(pool)], kind="progress", value=i) for i in range(78)),
        ]

    def queries(events: list[dict]) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = api_client.post(url(profile), {"events": events}, format="json")
        assert response.status_code == 200, response.json()
        assert response.json()["new"] == len(events)
        return [q["sql"][:120] for q in captured.captured_queries]

    queries([event(titles[1], kind="impression")])  # the token's first use also records it
    # when
    narrow = queries(batch(titles[:1]))
    wide = queries(batch(titles))

    # then neither grows with what the batch names: the token, the profile, one read of
    # everything the batch references, the lock, the states it touches and their upsert
    # (in a savepoint here: the test runs in a transaction), and the COPY, which is not
    # a query Django sees
    assert len(wide) == len(narrow), "\n".join(wide)
    assert len(wide) <= 8, "\n".join(wide)
    assert ProfileTitleState.objects.filter(profile=profile).count() == 40


def test_a_pages_repeated_tiles_and_rows_are_found_in_one_query(api_client, profile, title):
    # given a batch that names its page in its impressions and its scroll-past, and the
    # same batch naming no page
    def batch(page_id) -> list[dict]:
        return [
            event(title, kind="impression", row="trending", page_id=page_id),
            event(title, kind="impression", row="top_picks", page_id=page_id),
            event(kind="row_scroll_past", row="new_releases", page_id=page_id),
        ]

    def queries(events: list[dict]) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = api_client.post(url(profile), {"events": events}, format="json")
        assert response.json()["new"] == len(events)
        return len(captured.captured_queries)

    queries([event(title, kind="hover", value=1)])  # the token's first use also records it

    # when / then the page's repeats cost one read of what was reported before, both kinds
    assert queries(batch(str(uuid.uuid4()))) == queries(batch(None)) + 1


@pytest.mark.parametrize("kind", ["impression", "row_scroll_past"])
def test_a_page_id_stamped_past_year_9999_is_a_page_of_no_known_time_not_a_crash(
    api_client, profile, title, kind
):
    # given a UUIDv7 page id whose 48-bit time is the largest (year 10889), beyond datetime
    far_future_page = "ffffffff-ffff-7fff-bfff-ffffffffffff"
    shown = kind == "impression"  # a tile names its title and place; a row's skip neither
    report = event(
        title if shown else None,
        kind=kind,
        row="top_picks",
        page_id=far_future_page,
        position=0 if shown else None,
    )

    # when it is reported
    response = api_client.post(url(profile), {"events": [report]}, format="json")

    # then it is stored like a page whose id carries no time, not a 500
    assert response.status_code == 200
    assert response.json()["new"] == 1


def test_the_time_index_asks_autovacuum_to_summarise_each_range_ingest_fills():
    # Without it a range written since the last vacuum (on this append-only table, after
    # 20% growth: weeks of signals) has no summary, and every read of a time window through
    # the index (attribution's plays, the training windows) reads it whatever its times.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'signal_time_brin'")
        (options,) = cursor.fetchone()
    assert "autosummarize=on" in (options or [])


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("0013_signal_time_index_autosummarize", "SELECT count(*) FROM recommendations_signal"),
        ("0012_page_log_time_index_autosummarize", "SELECT count(*) FROM recommendations_pagelog"),
    ],
)
def test_setting_a_time_index_option_gives_way_to_a_reader_rather_than_hold_up_inserts(
    monkeypatch, name, read
):
    # given: a transaction reading the table (as a retrain's read does), which holds a lock
    # on each of the table's indexes until it ends; an ALTER INDEX queued behind it would
    # queue every insert (signal batches, homepages' page logs) behind itself
    migration = importlib.import_module(f"recommendations.migrations.{name}")
    migration_waits_short(monkeypatch)
    with reader_holding(read) as reader_ended:
        # when
        with (
            pytest.raises(
                OperationalError, match=r"\(2 waits of 200 ms\).*run the migration again"
            ),
            connection.schema_editor() as editor,
        ):
            migration.forward(None, editor)
        # then it gave up after its waits (0.5 s), not when the reader finished: the reader
        # was still open (not a bound on the clock, which a busy machine can stretch)
        assert not reader_ended.is_set()


def test_an_event_resent_in_another_spelling_of_its_id_counts_once(api_client, profile, title):
    once = event(title)
    api_client.post(url(profile), {"events": [once]}, format="json")

    shouted = {**once, "client_event_id": once["client_event_id"].upper()}
    response = api_client.post(url(profile), {"events": [shouted]}, format="json")

    assert response.json() == {"received": 1, "new": 0, "duplicates": 1, "rejected": {}}


def test_resending_a_batch_or_part_of_one_stores_nothing_twice(api_client, profile, title):
    batch = [event(title, kind="impression"), event(title), event(title, kind="complete")]
    assert api_client.post(url(profile), {"events": batch}, format="json").json()["new"] == 3

    retry = api_client.post(
        url(profile), {"events": [*batch[1:], event(title, kind="thumbs_up")]}, format="json"
    )

    assert retry.json() == {"received": 3, "new": 1, "duplicates": 2, "rejected": {}}
    assert Signal.objects.filter(profile=profile).count() == 4
    state = ProfileTitleState.objects.get(profile=profile, title=title)
    assert (state.play_count, state.thumbs) == (1, ProfileTitleState.Thumbs.UP)


def test_repeats_within_one_batch_count_once(api_client, profile, title):
    once = event(title)
    response = api_client.post(url(profile), {"events": [once, once]}, format="json")
    assert response.json() == {"received": 2, "new": 1, "duplicates": 1, "rejected": {}}


def test_a_row_is_scrolled_past_once_per_page_whatever_the_client_resends(api_client, profile):
    # given a page whose trending row the client reports skipped, then (a client bug, or a
    # second device on the same page) reports again under a new event id
    page, other_page = str(uuid.uuid4()), str(uuid.uuid4())
    now = timezone.now()

    def skip(page_id, row, minutes_ago):
        moment = (now - dt.timedelta(minutes=minutes_ago)).isoformat()
        return event(kind="row_scroll_past", row=row, page_id=page_id, occurred_at=moment)

    first = api_client.post(url(profile), {"events": [skip(page, "trending", 9)]}, format="json")
    again = api_client.post(url(profile), {"events": [skip(page, "trending", 2)]}, format="json")
    # and, in one batch: the same row twice, the same row of another page, another row,
    # and two skips that name no page (nothing to tell them apart by: both count)
    batch = [
        skip(other_page, "top_picks", 3),
        skip(other_page, "top_picks", 5),
        skip(other_page, "trending", 4),
        skip(page, "genre:drama", 4),
        skip(None, "trending", 4),
        skip(None, "trending", 3),
    ]
    mixed = api_client.post(url(profile), {"events": batch}, format="json")

    # then a (page, row) is skipped once, at the first time it was reported, and a repeat
    # is told back as a duplicate: the row ranker's scroll-past rate counts what happened
    assert first.json() == {"received": 1, "new": 1, "duplicates": 0, "rejected": {}}
    assert again.json() == {"received": 1, "new": 0, "duplicates": 1, "rejected": {}}
    assert mixed.json() == {"received": 6, "new": 5, "duplicates": 1, "rejected": {}}
    skips = Signal.objects.filter(profile=profile, kind="row_scroll_past")
    assert sorted((str(s.page_id), s.row) for s in skips if s.page_id) == sorted(
        [
            (page, "trending"),
            (other_page, "top_picks"),
            (other_page, "trending"),
            (page, "genre:drama"),
        ]
    )
    assert skips.get(page_id=page, row="trending").occurred_at < now - dt.timedelta(minutes=8)
    assert skips.get(page_id=other_page, row="top_picks").occurred_at < now - dt.timedelta(
        minutes=4
    )
    assert skips.filter(page_id=None).count() == 2


def page_issued(moment: dt.datetime) -> str:
    """A page id as the homepage issues it: a UUIDv7 stamped with the moment it was made."""
    milliseconds = int(moment.timestamp() * 1000)
    random_bits = uuid.uuid4().int
    return str(
        uuid.UUID(
            int=(milliseconds << 80)
            | (0x7 << 76)
            | (random_bits >> 52 & 0xFFF) << 64
            | 0b10 << 62
            | random_bits & ((1 << 62) - 1)
        )
    )


def test_a_row_skip_is_looked_for_from_its_pages_issue_on_not_further_back(
    api_client, profile, settings
):
    # given: three pages, two issued by the homepage (their ids stamped an hour ago) and one
    # whose id carries no time (a version 4 UUID: not one the homepage issues)
    now = timezone.now()
    skew = dt.timedelta(seconds=settings.TONIGHT["SIGNAL_MAX_FUTURE_SKEW_SECONDS"])
    issued, slow_clock, timeless = (
        page_issued(now - dt.timedelta(hours=1)),
        page_issued(now - dt.timedelta(hours=1)),
        str(uuid.uuid4()),
    )

    def skip(page_id: str, at: dt.datetime) -> dict:
        return event(
            kind="row_scroll_past", row="trending", page_id=page_id, occurred_at=at.isoformat()
        )

    # and each page's trending row reported skipped: of the first, a day before the page was
    # made (no client can have seen it then: a row far older than the bound); of the
    # second, by a clock running behind by nearly the skew ingest tolerates; of the third,
    # a day back
    for page_id, at in (
        (issued, now - dt.timedelta(days=1, hours=1)),
        (slow_clock, now - dt.timedelta(hours=1) - skew + dt.timedelta(seconds=5)),
        (timeless, now - dt.timedelta(days=1)),
    ):
        response = api_client.post(url(profile), {"events": [skip(page_id, at)]}, format="json")
        assert response.json()["new"] == 1

    # when: each is reported again, a minute ago, under a new event id
    again = [
        api_client.post(
            url(profile),
            {"events": [skip(page_id, now - dt.timedelta(minutes=1))]},
            format="json",
        ).json()
        for page_id in (issued, slow_clock, timeless)
    ]

    # then: the look-up read only what was reported from the page's issue (less the skew)
    # on, so the first page's impossible row was not read and the repeat is stored; the
    # rule holds for every report a client can have made of the page: the slow clock's
    # and the page without a time are told back as duplicates
    assert [(a["new"], a["duplicates"]) for a in again] == [(1, 0), (0, 1), (0, 1)]


def test_the_row_skip_look_up_reads_the_profiles_engaged_signals_from_its_bound_on():
    # given: the statement of a batch's look-up of the rows it skips, with a bound (its
    # pages' issue) and without one (a page whose id carries no time)
    statements = {}
    for label, since in (("bounded", timezone.now() - dt.timedelta(hours=1)), ("no time", None)):
        with CaptureQueriesContext(connection) as captured:
            page_reports_stored(
                profile_id=1,
                skipped_pages={str(uuid.uuid4())},
                shown_pages=set(),
                skipped_since=since,
            )
        statements[label] = captured.captured_queries[-1]["sql"]

    # when: planned as on a table of millions of signals, from the test table's own statistics
    # (those of rows earlier tests committed and removed had it read the profile's signals
    # through another index of the profile's, the client event ids' unique one)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Signal._meta.db_table}")

    def reads(sql: str) -> list[tuple[str, str]]:
        return [
            (node.get("Index Name", node["Node Type"]), node.get("Index Cond", ""))
            for node in table_reads(sql, Signal._meta.db_table, bitmaps=False)
        ]

    # then: a bounded look-up is a range of the profile's engaged signals' index, from the
    # bound on, not every one of its skips, plays and ratings since it was made
    [(index, condition)] = reads(statements["bounded"])
    assert index == "signal_profile_engaged"
    assert condition.startswith("((profile_id = 1) AND (occurred_at >= ")
    [(index, condition)] = reads(statements["no time"])
    assert (index, condition) == ("signal_profile_engaged", "(profile_id = 1)")


def test_a_tile_is_seen_once_per_page_whatever_the_client_resends(api_client, profile, title):
    # given a page whose Trending tile of the title the client reports on screen, then again
    # when the tile scrolls back into view, and once more in a retried batch under new ids
    page, other_page = str(uuid.uuid4()), str(uuid.uuid4())
    now = timezone.now()

    def shown(page_id, row, minutes_ago, shown_title=title):
        moment = (now - dt.timedelta(minutes=minutes_ago)).isoformat()
        return event(shown_title, kind="impression", row=row, page_id=page_id, occurred_at=moment)

    first = api_client.post(url(profile), {"events": [shown(page, "trending", 9)]}, format="json")
    back = api_client.post(url(profile), {"events": [shown(page, "trending", 2)]}, format="json")
    # and, in one batch: that tile once more, the title on another page twice, in another
    # row of the page (a second tile of it, below the first screen), and two impressions
    # that name no page (nothing to tell them apart by: both count)
    batch = [
        shown(page, "trending", 9),
        shown(other_page, "top_picks", 3),
        shown(other_page, "top_picks", 5),
        shown(page, "genre:drama", 4),
        shown(None, "trending", 4),
        shown(None, "trending", 3),
    ]
    mixed = api_client.post(url(profile), {"events": batch}, format="json")

    # then each tile is stored once, when it first came on screen, and the repeats are told
    # back as duplicates
    assert first.json() == {"received": 1, "new": 1, "duplicates": 0, "rejected": {}}
    assert back.json() == {"received": 1, "new": 0, "duplicates": 1, "rejected": {}}
    assert mixed.json() == {"received": 6, "new": 4, "duplicates": 2, "rejected": {}}
    tiles = Signal.objects.filter(profile=profile, kind="impression")
    assert sorted((str(s.page_id), s.row) for s in tiles if s.page_id) == sorted(
        [(page, "trending"), (other_page, "top_picks"), (page, "genre:drama")]
    )
    assert tiles.get(page_id=other_page).occurred_at < now - dt.timedelta(minutes=4)
    assert tiles.filter(page_id=None).count() == 2

    # and the row ranker's tiles seen per row type (its plays-per-tile-seen lift) count the
    # page's Trending tile once
    history = recommend.profile_history_rows(profile_id=profile.pk, at=None)
    seen = profile_row_engagement(profile_id=profile.pk, at=now, zone=dt.UTC, history=history)
    assert seen.seen[ROW_TYPES.index("trending")] == 1 + 2  # the page's, and the two unnamed
    assert seen.seen[ROW_TYPES.index("top_picks")] == 1


def test_a_tile_is_looked_for_from_its_pages_issue_on_however_long_it_was_on_screen(
    api_client, profile, title, settings
):
    # given: pages issued by the homepage five hours ago (ids stamped then: longer ago than
    # the session window) and pages whose ids carry no time (version 4 UUIDs)
    now = timezone.now()
    skew = dt.timedelta(seconds=settings.TONIGHT["SIGNAL_MAX_FUTURE_SKEW_SECONDS"])
    window = dt.timedelta(seconds=settings.TONIGHT["ATTRIBUTION_WINDOW_SECONDS"])
    issue = now - dt.timedelta(hours=5)
    left_open, slow_clock, impossible = (page_issued(issue) for _ in range(3))
    timeless, timeless_long_ago = str(uuid.uuid4()), str(uuid.uuid4())

    def shown(page_id: str, at: dt.datetime) -> dict:
        return event(
            title, kind="impression", row="trending", page_id=page_id, occurred_at=at.isoformat()
        )

    # and each page's Trending tile of the title reported on screen: of the first, just
    # after the page was made (a page left on screen for hours); of the second, by a clock
    # running behind by nearly the skew ingest tolerates; of the third, a day before the
    # page was made (no client can have seen it then: older than the bound); of the pages
    # without a time, within the session window, and beyond it
    for page_id, at in (
        (left_open, issue + dt.timedelta(minutes=1)),
        (slow_clock, issue - skew + dt.timedelta(seconds=5)),
        (impossible, issue - dt.timedelta(days=1)),
        (timeless, now - window + dt.timedelta(minutes=30)),
        (timeless_long_ago, now - window - skew - dt.timedelta(minutes=30)),
    ):
        response = api_client.post(url(profile), {"events": [shown(page_id, at)]}, format="json")
        assert response.json()["new"] == 1

    # when: each tile is reported again, a minute ago, under a new event id
    again = [
        api_client.post(
            url(profile), {"events": [shown(page_id, now - dt.timedelta(minutes=1))]}, format="json"
        ).json()
        for page_id in (left_open, slow_clock, impossible, timeless, timeless_long_ago)
    ]

    # then: a tile of a page the homepage issued is on screen once however long the page
    # stayed open, from every clock ingest accepts; the look-up read nothing from before
    # the page's issue (less the skew), so the impossible report was not found; a page
    # without a time is looked for through the session window and the skew only
    assert [(a["new"], a["duplicates"]) for a in again] == [(0, 1), (0, 1), (1, 0), (0, 1), (1, 0)]


def test_the_tile_look_up_reads_the_profiles_impressions_from_its_pages_issue_on(
    api_client, profile, title, settings
):
    # given: the statements of two batches' look-ups of the tiles they show, one naming a
    # page the homepage issued five hours ago, one a page whose id carries no time
    now = timezone.now()
    skew = dt.timedelta(seconds=settings.TONIGHT["SIGNAL_MAX_FUTURE_SKEW_SECONDS"])
    window = dt.timedelta(seconds=settings.TONIGHT["ATTRIBUTION_WINDOW_SECONDS"])
    issue = (now - dt.timedelta(hours=5)).replace(microsecond=0)
    statements = {}
    for label, page_id in (("issued", page_issued(issue)), ("no time", str(uuid.uuid4()))):
        shown = event(
            title, kind="impression", row="trending", page_id=page_id, occurred_at=now.isoformat()
        )
        with CaptureQueriesContext(connection) as captured:
            response = api_client.post(url(profile), {"events": [shown]}, format="json")
        assert response.json()["new"] == 1
        [statements[label]] = [
            query["sql"] for query in captured.captured_queries if "page_id::text" in query["sql"]
        ]

    # when: planned as on a table of millions of signals, from the test table's own statistics
    # without the rows just stored (on a table of two rows, its time-ordered BRIN index
    # read through a bitmap can be cheapest, where on millions one profile's rows are not)
    Signal.objects.filter(profile=profile).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Signal._meta.db_table}")

    def reads(sql: str) -> list[tuple[str, str]]:
        return [
            (node.get("Index Name", node["Node Type"]), node.get("Index Cond", ""))
            for node in table_reads(sql, Signal._meta.db_table, bitmaps=False)
        ]

    def bound(condition: str) -> dt.datetime:
        prefix = f"((profile_id = {profile.pk}) AND (occurred_at >= '"
        assert condition.startswith(prefix), condition
        return dt.datetime.fromisoformat(condition[len(prefix) :].split("'")[0])

    # then: each is a range of the profile's impressions' index, not every impression it was
    # ever shown: from the page's issue less the skew (a shorter range than the session
    # window's for any page reported within the window of its issue), and for a page
    # without a time from the session window and the skew before the batch's impression
    [(index, condition)] = reads(statements["issued"])
    assert index == "signal_profile_shown"
    assert bound(condition) == issue - skew
    [(index, condition)] = reads(statements["no time"])
    assert index == "signal_profile_shown"
    assert bound(condition) == now - window - skew


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_sends_store_each_event_once():
    # given one batch that two devices send at the same moment, four times each
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    batch = [event(title)] + [event(title, kind="progress", value=i) for i in range(1, 50)]
    barrier = threading.Barrier(8)
    results: list[dict] = []

    def send() -> None:
        close_old_connections()
        client = token_client(account)
        barrier.wait()
        results.append(client.post(url(profile), {"events": batch}, format="json").json())
        connection.close()

    # when
    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then exactly one send stored them, the others saw duplicates
    assert sorted(r["new"] for r in results) == [0] * 7 + [50]
    assert Signal.objects.filter(profile=profile).count() == 50
    assert ProfileTitleState.objects.get(profile=profile, title=title).play_count == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_accounts_profile_is_a_404(api_client, title, method):
    stranger = ProfileFactory(account=AccountFactory())
    response = getattr(api_client, method)(url(stranger), {"events": [event(title)]}, format="json")
    assert response.status_code == 404
    assert not Signal.objects.exists()


def test_history_is_paginated_and_filterable(api_client, profile, title):
    other = TitleFactory()
    AvailabilityFactory(title=other, region=profile.account.home_region)
    now = timezone.now()
    events = [
        event(title, kind="impression", occurred_at=(now - dt.timedelta(hours=3)).isoformat()),
        event(title, occurred_at=(now - dt.timedelta(hours=2)).isoformat()),
        event(other, occurred_at=(now - dt.timedelta(hours=1)).isoformat()),
    ]
    api_client.post(url(profile), {"events": events}, format="json")

    everything = api_client.get(url(profile)).json()
    assert everything["count"] == 3
    assert [s["title"] for s in everything["results"]] == [other.pk, title.pk, title.pk]

    plays = api_client.get(url(profile), {"kind": "play_start", "title": title.pk}).json()
    assert [s["kind"] for s in plays["results"]] == ["play_start"]

    since = (now - dt.timedelta(minutes=150)).isoformat()
    recent = api_client.get(url(profile), {"occurred_after": since}).json()
    assert recent["count"] == 2

    page = api_client.get(url(profile), {"limit": 1, "offset": 1}).json()
    assert len(page["results"]) == 1
    assert page["next"]

    bad = api_client.get(url(profile), {"kind": "teleport"})
    assert bad.status_code == 400
    assert "kind" in bad.json()["errors"]


def test_history_leaves_out_what_a_lowered_limit_puts_above_it(api_client, account, profile):
    # given: an adult profile played a 16+ film, and an all-ages one from its 13+ frame,
    # an all-ages one from its all-ages frame, and scrolled past a row
    mature = TitleFactory(maturity=MaturityLevel.SIXTEEN)
    family = TitleFactory(maturity=MaturityLevel.ALL)
    for t in (mature, family):
        AvailabilityFactory(title=t, region=account.home_region)
    gory_frame = ArtworkVariantFactory(title=family, maturity=MaturityLevel.THIRTEEN)
    picnic_frame = ArtworkVariantFactory(title=family, maturity=MaturityLevel.ALL)
    now = timezone.now()
    events = [
        event(mature, occurred_at=(now - dt.timedelta(minutes=4)).isoformat()),
        event(family, artwork_variant=gory_frame.pk),
        event(family, artwork_variant=picnic_frame.pk, occurred_at=now.isoformat()),
        event(kind="row_scroll_past", row="trending", occurred_at=now.isoformat()),
    ]
    assert api_client.post(url(profile), {"events": events}, format="json").status_code == 200
    assert api_client.get(url(profile)).json()["count"] == 4

    # when: the profile is made a kids profile
    Profile.objects.filter(pk=profile.pk).update(is_kids=True, maturity_limit=MaturityLevel.SEVEN)

    # then: its history names neither the title nor the frame now above its limit, and
    # counts and pages only what it lists (a count of 4 would tell that 2 are hidden)
    history = api_client.get(url(profile)).json()
    assert history["count"] == 2
    assert sorted((s["title"] or 0, s["artwork_variant"] or 0) for s in history["results"]) == [
        (0, 0),
        (family.pk, picnic_frame.pk),
    ]
    first = api_client.get(url(profile), {"limit": 1, "offset": 1}).json()
    assert first["count"] == 2
    assert first["next"] is None
    # asked for by id, the mature title reads as one never played, as the title page answers
    assert api_client.get(url(profile), {"title": mature.pk}).json()["count"] == 0


def test_history_keeps_a_title_no_longer_licensed_and_says_it_is_not_available(
    api_client, account, profile
):
    # given: four titles the profile played while each was licensed in its region, and a
    # row it scrolled past
    still, lapsed, moved, paused = titles = [TitleFactory() for _ in range(4)]
    windows = [AvailabilityFactory(title=t, region=account.home_region) for t in titles]
    now = timezone.now()
    events = [
        event(t, occurred_at=(now - dt.timedelta(minutes=i)).isoformat())
        for i, t in enumerate(titles, start=1)
    ]
    events.append(event(kind="row_scroll_past", row="trending", occurred_at=now.isoformat()))
    assert api_client.post(url(profile), {"events": events}, format="json").status_code == 200

    # when: one licence ends, one moves to another region, one is renewed from next month
    # (a window of the past and one of the future, the present in neither)
    windows[1].ends_at = now - dt.timedelta(minutes=1)
    windows[1].save()
    windows[2].region = RegionFactory(code="ZZ")
    windows[2].save()
    windows[3].ends_at = now - dt.timedelta(minutes=1)
    windows[3].save()
    AvailabilityFactory(
        title=paused, region=account.home_region, starts_at=now + dt.timedelta(days=30)
    )

    # then: the profile's own record is whole, and each row says whether the title can be
    # opened and played now (a row without a title: null)
    history = api_client.get(url(profile)).json()
    assert history["count"] == 5
    available = {s["title"]: s["available"] for s in history["results"]}
    assert available == {
        None: None,
        still.pk: True,
        lapsed.pk: False,
        moved.pk: False,
        paused.pk: False,
    }
    # as title detail has it: the one available opens, the others are a 404
    for title, playable in available.items():
        if title is not None:
            detail = api_client.get(
                reverse("v1:title-detail", args=[title]), {"profile": profile.pk}
            )
            assert detail.status_code == (200 if playable else 404)


def test_history_reads_availability_in_its_own_statement_whatever_the_page_holds(
    api_client, account, profile
):
    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api_client.get(url(profile)).status_code == 200
        return len(queries)

    first = TitleFactory()
    AvailabilityFactory(title=first, region=account.home_region)
    api_client.post(url(profile), {"events": [event(first)]}, format="json")
    one = statements()

    more = [TitleFactory() for _ in range(6)]
    for t in more:
        AvailabilityFactory(title=t, region=account.home_region)
    api_client.post(url(profile), {"events": [event(t) for t in more]}, format="json")

    assert statements() == one


def test_continue_watching_lists_unfinished_films_and_the_next_episode(
    api_client, account, profile
):
    film = TitleFactory()
    finished_film = TitleFactory()
    season = SeasonFactory(number=1)
    first, second = EpisodeFactory(season=season, number=1), EpisodeFactory(season=season, number=2)
    for t in (film, finished_film, season.title):
        AvailabilityFactory(title=t, region=account.home_region)
    now = timezone.now()

    def at(minutes: int) -> str:
        return (now - dt.timedelta(minutes=minutes)).isoformat()

    events = [
        event(film, occurred_at=at(50)),
        event(film, kind="progress", value=40, occurred_at=at(40)),
        event(finished_film, occurred_at=at(30)),
        event(finished_film, kind="complete", occurred_at=at(29)),
        event(season.title, episode=first.pk, occurred_at=at(20)),
        event(season.title, kind="complete", episode=first.pk, occurred_at=at(10)),
    ]
    api_client.post(url(profile), {"events": events}, format="json")

    response = api_client.get(reverse("v1:continue-watching", args=[profile.pk]), {"device": "tv"})

    items = response.json()["results"]
    assert [i["title_id"] for i in items] == [season.title.pk, film.pk]
    assert items[0]["episode_id"] == second.pk
    assert (items[0]["season_number"], items[0]["episode_number"]) == (1, 2)
    assert items[1]["progress"] == 40


def test_the_documented_event_fields_are_the_parsed_ones():
    from recommendations.apis.signals import SignalEventSerializer
    from recommendations.signal_events import EVENT_FIELDS

    assert set(SignalEventSerializer().fields) == EVENT_FIELDS


def test_the_profile_endpoints_read_the_profile_once_with_the_token(api_client, profile):
    """Signal history and continue watching take the profile the token's statement read."""
    for name, query in (("v1:continue-watching", {"device": "tv"}), ("v1:signals", {})):
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get(reverse(name, args=[profile.pk]), query)

        assert response.status_code == 200
        profile_reads = [q["sql"] for q in queries if '"profiles_profile"' in q["sql"]]
        assert len(profile_reads) == 1, profile_reads
        assert '"accounts_apitoken"' in profile_reads[0]


@pytest.mark.parametrize("param", ["occurred_after", "occurred_before"])
@pytest.mark.parametrize("value", ["2026-12-01T00:00:00", "2026-12-01"])
def test_a_history_filter_without_an_offset_is_a_400(api_client, profile, param, value):
    # It was read as UTC: "since midnight" from India meant since 05:30 there.
    response = api_client.get(url(profile), {param: value})

    assert response.status_code == 400
    assert response.json()["errors"] == {param: ["Give a time zone offset (e.g. 'Z' or '+05:30')."]}
    assert api_client.get(url(profile), {param: f"{value[:10]}T00:00:00Z"}).status_code == 200


OFFSET_RULE = "Must be a whole number from 0 to 9,223,372,036,854,775,807."


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"limit": "abc"}, "limit", "Must be a whole number from 1 to 500."),
        ({"limit": "-1"}, "limit", "Must be a whole number from 1 to 500."),
        ({"limit": "0"}, "limit", "Must be a whole number from 1 to 500."),
        ({"limit": "100000"}, "limit", "Must be a whole number from 1 to 500."),
        ({"offset": "-5"}, "offset", OFFSET_RULE),
        ({"offset": "abc"}, "offset", OFFSET_RULE),
        ({"offset": str(2**63)}, "offset", OFFSET_RULE),
    ],
)
def test_a_bad_page_parameter_is_a_400_naming_it(api_client, profile, params, field, reason):
    # DRF fell back to its default page, or clamped, and answered 200.
    for listing in (url(profile), "/api/v1/profiles/"):
        response = api_client.get(listing, params)

        assert response.status_code == 400, listing
        assert response.json()["errors"] == {field: [reason]}, listing


@pytest.mark.parametrize("param", ["occurred_after", "occurred_before"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2026-12-01T00:00:00+05:30:30", "UTC offset"),
        ("2026-W49-2T00:00:00Z", "calendar date"),
        ("20261201T000000Z", "calendar date"),
    ],
)
def test_a_history_filter_in_a_spelling_rfc_3339_has_not_is_a_400(
    api_client, profile, param, value, reason
):
    # Python's reader took each (the same instant, 1 December, but for the offset's seconds):
    # the filter now reads what the homepage's `at` reads, with the same reasons
    response = api_client.get(url(profile), {param: value})

    assert response.status_code == 400
    (message,) = response.json()["errors"][param]
    assert reason in message
    assert api_client.get(url(profile), {param: "2026-12-01T00:00:00Z"}).status_code == 200


@pytest.mark.parametrize("param", ["occurred_after", "occurred_before"])
def test_an_offsets_unencoded_plus_in_the_history_filter_is_named(api_client, profile, param):
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    moment = timezone.now().astimezone(india).isoformat(timespec="seconds")

    # sent as is: the query string reads the '+' as a space
    response = api_client.get(f"{url(profile)}?{param}={moment}")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {param}
    assert "%2B" in response.json()["message"]
    encoded = api_client.get(f"{url(profile)}?{param}={moment.replace('+', '%2B')}")
    assert encoded.status_code == 200


@pytest.mark.parametrize("param", ["occurred_after", "occurred_before"])
@pytest.mark.parametrize("spoil", ["{}\x00", "{}\x00Z", "{}\tZ"], ids=["NUL", "NUL-Z", "tab-Z"])
def test_a_history_filter_holding_a_control_character_is_a_400(api_client, profile, param, spoil):
    # Python's ISO reader skips a NUL or a tab in these places: the filter was applied as
    # the time without them, a 200 for text no client means
    moment = timezone.now().astimezone(dt.UTC).isoformat(timespec="seconds")[:19]
    spoilt = spoil.format(moment if "Z" in spoil else moment + "Z")

    response = api_client.get(url(profile), {param: spoilt})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {param}
    assert api_client.get(url(profile), {param: moment + "Z"}).status_code == 200


def test_a_play_progress_or_completion_of_an_episode_not_yet_released_is_refused(
    api_client, account, profile
):
    # given: a series whose first season is out, whose second comes out tomorrow (UTC), and
    # whose third came out a week ago
    now = timezone.now()
    show = TitleFactory(kind="series")
    AvailabilityFactory(title=show, region=account.home_region)
    out = EpisodeFactory(season=SeasonFactory(title=show, number=1, release_date=None), number=1)
    tomorrow = (now + dt.timedelta(days=1)).date()
    announced = SeasonFactory(title=show, number=2, release_date=tomorrow)
    upcoming = EpisodeFactory(season=announced, number=1)
    a_week_ago = now - dt.timedelta(days=7)
    released_that_day = EpisodeFactory(
        season=SeasonFactory(title=show, number=3, release_date=a_week_ago.date()), number=1
    )
    the_day_before = a_week_ago.replace(hour=12) - dt.timedelta(days=1)
    # stamped from the clock ``tomorrow`` was read from: each event's own, read after it,
    # put the plays (with the skew ingest allows) past tomorrow's midnight in a run that
    # crossed midnight in between
    played = (now - dt.timedelta(minutes=5)).isoformat()
    events = [
        event(show, episode=out.pk, occurred_at=played),
        event(show, episode=upcoming.pk, occurred_at=played),
        event(show, kind="progress", value=30, episode=upcoming.pk, occurred_at=played),
        event(show, kind="complete", episode=upcoming.pk, occurred_at=played),
        event(show, episode=released_that_day.pk, occurred_at=the_day_before.isoformat()),
        event(show, episode=released_that_day.pk, occurred_at=a_week_ago.isoformat()),
    ]

    # when
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then: each event of an episode whose season was not out at its time is named, and
    # nothing was stored (not even the valid ones)
    assert response.status_code == 400, response.json()
    reason = ["Was not released at that time."]
    assert response.json()["errors"]["events"] == {
        "1": {"episode": reason},
        "2": {"episode": reason},
        "3": {"episode": reason},
        "4": {"episode": reason},
    }
    assert not Signal.objects.filter(profile=profile).exists()
    assert not ProfileTitleState.objects.filter(profile=profile).exists()

    # and: without them the batch is stored, a play of a season on its release day included
    response = api_client.post(url(profile), {"events": [events[0], events[5]]}, format="json")
    assert response.status_code == 200, response.json()


def test_a_play_at_a_premiere_from_a_clock_running_behind_is_accepted(api_client, account, profile):
    # given: a season out today (midnight UTC), and a device whose clock runs 30 seconds
    # behind the server's, within the skew ingest tolerates: a play in the premiere's first
    # moments (or an offline upload of one) is stamped just before midnight
    show = TitleFactory(kind="series")
    AvailabilityFactory(title=show, region=account.home_region)
    today = timezone.now().astimezone(dt.UTC).date()
    premiere = EpisodeFactory(season=SeasonFactory(title=show, number=1, release_date=today))
    midnight = dt.datetime.combine(today, dt.time(), tzinfo=dt.UTC)
    stamped = (midnight - dt.timedelta(seconds=30)).isoformat()
    other = TitleFactory()
    AvailabilityFactory(title=other, region=account.home_region)

    # when: the play arrives in a batch with another title's play
    response = api_client.post(
        url(profile),
        {"events": [event(other), event(show, episode=premiere.pk, occurred_at=stamped)]},
        format="json",
    )

    # then: the clock is off, not the catalogue: like a play stamped ahead of its receipt,
    # one stamped within the skew before the release is believed, and nothing is lost
    assert response.status_code == 200, response.json()
    assert Signal.objects.filter(profile=profile, episode=premiere).exists()


def test_a_service_caller_spelling_an_event_id_in_capitals_resends_the_same_event(profile, title):
    """The API reads ids in any spelling as one; so must the service the demo and importers
    call with ids as text (signal_batch_record), whose events are compared as lower case."""
    from recommendations.services.signals import signal_batch_record
    from recommendations.signal_events import SignalEvent

    event_id = str(uuid.uuid4())

    def play(index: int, spelling: str) -> SignalEvent:
        return SignalEvent(
            index=index,
            kind="play_start",
            title_id=title.pk,
            episode_id=None,
            value=None,
            device="tv",
            occurred_at=timezone.now() - dt.timedelta(minutes=5),
            client_event_id=spelling,
            page_id=None,
            row="",
            position=None,
            artwork_variant_id=None,
        )

    first = signal_batch_record(
        profile=profile, events=[play(0, event_id), play(1, event_id.upper())]
    )
    again = signal_batch_record(profile=profile, events=[play(0, event_id.upper())])

    assert (first.new, first.duplicates) == (1, 1)
    assert (again.new, again.duplicates) == (0, 1)
    assert Signal.objects.filter(profile=profile).count() == 1


def test_a_series_completion_that_names_no_episode_is_refused_naming_the_field(
    api_client, account, profile
):
    # given: a two-episode series and a film, neither played
    show = TitleFactory(kind="series")
    film = TitleFactory()
    for title in (show, film):
        AvailabilityFactory(title=title, region=account.home_region)
    season = SeasonFactory(title=show, number=1)
    first, _ = EpisodeFactory(season=season, number=1), EpisodeFactory(season=season, number=2)
    events = [
        event(show),
        event(show, kind="complete"),
        event(film),
        event(film, kind="complete"),
    ]

    # when: a client reports the series finished without saying which episode ended
    response = api_client.post(url(profile), {"events": events}, format="json")

    # then: refused, naming the episode field of that event; nothing was stored (stored,
    # it read as "S1:E1 at 100%" on the title page and in Continue Watching)
    assert response.status_code == 400, response.json()
    assert response.json()["errors"]["events"] == {
        "1": {"episode": ["A completion of a series names the episode finished."]}
    }
    assert not Signal.objects.filter(profile=profile).exists()
    assert not ProfileTitleState.objects.filter(profile=profile).exists()

    # and: naming the episode, the batch is stored, and the title page starts the next one
    events[1]["episode"] = first.pk
    response = api_client.post(url(profile), {"events": events}, format="json")
    assert response.status_code == 200, response.json()
    viewing = api_client.get(f"/api/v1/titles/{show.pk}/?profile={profile.pk}").json()["viewing"]
    assert (viewing["resume"]["episode_number"], viewing["resume"]["progress"]) == (2, 0.0)
