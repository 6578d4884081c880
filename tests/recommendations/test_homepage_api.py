"""GET /api/v1/profiles/{id}/homepage/: shape, personalisation, context, filters, access, cost."""

import datetime as dt
import re
import uuid

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from PIL import Image

from accounts.services import api_token_create
from accounts.token_usage import token_usage
from artwork.services import artwork_variant_renditions_make
from catalog.models import Episode, MaturityLevel
from recommendations.apis.recommendations import MODEL_RETRY_SECONDS
from recommendations.engine.row_ranking import ROW_FEATURE_NAMES, ROW_TYPES, RowRanker
from recommendations.models import PageLog, ProfileTitleState
from recommendations.services.signals import signal_batch_record
from recommendations.services.training import model_train
from recommendations.serving import homepage, recommend
from recommendations.serving.homepage import profile_row_engagement
from recommendations.serving.scoring import MATCH_SHOWN_MIN
from recommendations.signal_events import ROW_MAX_LENGTH, SignalEvent
from regions.models import Region
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    ArtworkVariantFactory,
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
    TitleLocalizationFactory,
    image_file,
)
from tests.module_world import module_world, the_module_world
from tests.openapi import assert_matches_operation
from tests.recommendations import homepage_world
from tests.recommendations.homepage_world import NOW, HomeWorld, build_home_world
from tests.recommendations.test_training import _fresh_serving, record, watch  # noqa: F401
from tests.served import connections_kept_open, served

pytestmark = pytest.mark.django_db

#: The operation's path in the OpenAPI schema.
HOMEPAGE = "/api/v1/profiles/{profile_id}/homepage/"


def url(profile, **params) -> str:
    """The homepage's URL, asked from a TV unless ``device`` says otherwise (None: no device)."""
    params = {"device": "tv", **params}
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"/api/v1/profiles/{profile.pk}/homepage/" + (f"?{query}" if query else "")


# Built once for the module (tests/module_world.py), not for each of its tests.
_home_world = module_world(build_home_world, folder="home")


@pytest.fixture
def world(_home_world, settings, db) -> HomeWorld:
    return the_module_world(settings, _home_world)


@pytest.fixture
def household(world):
    account = AccountFactory(home_region=world.region)
    return (
        account,
        ProfileFactory(account=account, name="Asha"),
        ProfileFactory(account=account, name="Ravi"),
    )


def row_events(profile, row_type: str, hours: list[int], *, device="tv", kind="play_start"):
    """Plays started from rows of one type at these local hours (IST), as a client sends them."""
    events = []
    base = (NOW - dt.timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    for n, hour in enumerate(hours):
        local = base.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).replace(hour=hour)
        events.append(
            SignalEvent(
                index=n,
                kind=kind,
                title_id=None,
                episode_id=None,
                value=None,
                device=device,
                occurred_at=local - dt.timedelta(days=n % 3),
                client_event_id=uuid.uuid4(),
                page_id=None,
                row=row_type,
                position=0,
                artwork_variant_id=None,
            )
        )
    return events


def record_row_habit(profile, world, row_type, hours, *, device="tv"):
    title = world.titles["comedy"][7]
    events = row_events(profile, row_type, hours, device=device)
    for event in events:
        event.title_id = title.pk
    signal_batch_record(profile=profile, events=events)


def record_row_signals(profile, title, signals: list[tuple[str, str, dt.datetime]]) -> None:
    """Signals of ``title`` from rows, each ``(kind, row type, moment)``, as a client sends them."""
    signal_batch_record(
        profile=profile,
        events=[
            SignalEvent(
                index=n,
                kind=kind,
                title_id=title.pk,
                episode_id=None,
                value=None,
                device="tv",
                occurred_at=moment,
                client_event_id=uuid.uuid4(),
                page_id=None,
                row=row,
                position=0,
                artwork_variant_id=None,
            )
            for n, (kind, row, moment) in enumerate(signals)
        ],
    )


def test_the_response_has_the_documented_shape(world, household):
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    ArtworkVariantFactory(title=world.titles["action"][1])
    version = model_train(region_code=world.region.code)

    response = token_client(account).get(url(asha, device="mobile", rows=6, items=5))

    assert response.status_code == 200, response.json()
    body = response.json()
    assert_matches_operation(body, "GET", HOMEPAGE)
    assert body["model_version"] == version.pk
    assert body["context"]["device"] == "mobile"
    assert body["context"]["region"] == "IN"
    assert 1 <= len(body["rows"]) <= 6
    for row in body["rows"]:
        assert row["title"]
        assert row["reason"]
        assert row["id"].startswith(row["type"])
        assert 1 <= len(row["items"]) <= 5
        for item in row["items"]:
            assert item["artwork"]["url"].startswith("http://testserver/")
            assert item["artwork"]["propensity"] == 1.0
    assert PageLog.objects.filter(pk=body["page_id"], profile=asha).exists()


def test_artwork_from_a_cdn_without_a_scheme_is_the_url_title_detail_gives(
    world, household, settings
):
    # given: uploads served from a CDN named without a scheme, as MEDIA_URL may be
    settings.MEDIA_URL = "//cdn.example.com/media/"
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    film = world.titles["action"][1]
    variant = ArtworkVariantFactory(title=film)
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when
    rows = client.get(url(asha, rows=40, items=75)).json()["rows"]
    detail = client.get(f"/api/v1/titles/{film.pk}/?profile={asha.pk}").json()

    # then: the tile's image is on the CDN, where title detail says it is, not a path of
    # this host named after the CDN
    shown = {
        item["artwork"]["url"]
        for row in rows
        for item in row["items"]
        if item["artwork"]["variant_id"] == variant.pk
    }
    assert shown == {f"http://cdn.example.com/media/{variant.image.name}"}
    assert shown == {art["url"] for art in detail["artwork"]}


def _sized_frames(world) -> tuple[list, object]:
    """Three titles with a 1920x1080 frame whose copies are made, and one whose are not."""
    made = [
        ArtworkVariantFactory(title=film, image=image_file(size=(1920, 1080)))
        for film in world.titles["action"][1:4]
    ]
    for variant in made:
        artwork_variant_renditions_make(variant=variant)
    waiting = ArtworkVariantFactory(
        title=world.titles["action"][4], image=image_file(size=(1920, 1080))
    )
    return made, waiting


def _shown_artwork(rows: list[dict]) -> dict[int, str]:
    return {
        item["artwork"]["variant_id"]: item["artwork"]["url"]
        for row in rows
        for item in row["items"]
        if item["artwork"]["variant_id"] is not None
    }


def test_a_phone_and_a_tv_are_sent_the_artwork_sized_for_each(world, household, settings):
    # given titles with a 1920x1080 frame: three whose sized copies are made, one whose are
    # not yet (stored before copies were made, not backfilled)
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    made, waiting = _sized_frames(world)
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when a TV and a phone ask for the homepage
    shown = {}
    for device in ("tv", "mobile"):
        page = client.get(url(asha, device=device, rows=40, items=75)).json()
        shown[device] = _shown_artwork(page["rows"])

    # then each is sent its own copy, a file at that device class's width; the frame
    # without copies is sent as uploaded to both
    prefix = "http://testserver" + settings.MEDIA_URL
    for device, size in (("tv", (1280, 720)), ("mobile", (400, 225))):
        for variant in made:
            name = shown[device][variant.pk].removeprefix(prefix)
            assert name == variant.image.name.replace(".jpg", f".{device}.jpg")
            with default_storage.open(name) as stored, Image.open(stored) as image:
                assert image.size == size
        assert shown[device][waiting.pk] == prefix + waiting.image.name
    assert not {shown["tv"][v.pk] for v in made} & {shown["mobile"][v.pk] for v in made}


def test_sized_artwork_costs_a_homepage_no_round_trip(
    world, household, django_assert_num_queries, settings
):
    # given a warm process serving frames whose copies are made (and one whose are not)
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    made, _ = _sized_frames(world)
    model_train(region_code=world.region.code)
    client = token_client(account)
    client.get(url(asha, device="mobile"))
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 60,
        "CATALOGUE_REFRESH_SECONDS": 60,
    }
    client.get(url(asha, device="mobile"))

    # when a phone asks for a page: the same three round trips as any homepage
    with django_assert_num_queries(3):
        response = client.get(url(asha, device="mobile", rows=40, items=75))

    # then its frames are the phone's copies
    shown = _shown_artwork(response.json()["rows"])
    assert all(shown[v.pk].endswith(".mobile.jpg") for v in made)


def test_names_and_row_titles_are_in_the_profiles_display_language(world, household):
    """Item names and "Because you watched X"'s X come from the display language where a
    title is translated, and keep the original name where it is not."""
    account, asha, _ = household
    asha.display_language = world.hindi
    asha.save()
    seed, other = world.titles["action"][0], world.titles["action"][1]
    TitleLocalizationFactory(title=seed, language=world.hindi, name="एक्शन 0")
    TitleLocalizationFactory(title=other, language=world.hindi, name="एक्शन 1")
    watch(asha, seed)
    model_train(region_code=world.region.code)

    # Four titles a row: the 31 titles of this small catalogue then fill a first screen
    # without a repeat, and "Because you watched" (all top picks) follows it.
    body = token_client(account).get(url(asha, rows=40, items=4)).json()

    names = {i["title_id"]: i["name"] for row in body["rows"] for i in row["items"]}
    assert names[other.pk] == "एक्शन 1"
    untranslated = [t for t in world.all_titles() if t.pk in names and t not in (seed, other)]
    assert untranslated
    assert all(names[t.pk] == t.original_name for t in untranslated)
    # and the row's copy is Hindi around the Hindi name (tests/recommendations/test_row_copy.py)
    titles = [row["title"] for row in body["rows"] if row["type"] == "because_you_watched"]
    assert "क्योंकि आपने एक्शन 0 देखा" in titles


def test_the_display_languages_row_is_kept_whatever_the_alphabet(world, household):
    # given: Asha reads Tamil and also picked English and Hindi; the catalogue has Tamil
    # films enough for a row
    account, asha, _ = household
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    for i in range(7):
        film = TitleFactory(original_name=f"tamil {i}", original_language=tamil)
        AvailabilityFactory(title=film, region=world.region, starts_at=NOW - dt.timedelta(days=900))
    asha.display_language = tamil
    asha.save()
    asha.preferred_languages.set([world.english, world.hindi, tamil])
    model_train(region_code=world.region.code)

    # when
    rows = token_client(account).get(url(asha, rows=40, items=4)).json()["rows"]

    # then: "en" and "hi" sort before "ta", and took both language rows
    assert "language:ta" in {row["id"] for row in rows}


def test_the_language_rows_follow_the_profiles_taste_not_the_catalogues_size(world, household):
    """Of its chosen languages, a profile gets rows for the ones it likes best, not for the
    one the catalogue holds most titles in. Chosen by the whole pool's probability, the
    16 middling Hindi films outweighed the five Tamil ones the profile clearly wants: the
    demo's Arjun (Tamil cluster, eight of his ten titles Tamil) got "Films & Series in
    Hindi" and "in English", and no Tamil row."""
    # given: Asha reads English, also picked Hindi and Tamil, and watches Tamil films
    account, asha, _ = household
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    genre, director = GenreFactory(slug="tamil-drama"), PersonFactory(name="tamil director")
    films = []
    for i in range(7):
        film = TitleFactory(original_name=f"tamil {i}", original_language=tamil)
        film.genres.add(genre)
        CreditFactory(title=film, person=director, role="director")
        AvailabilityFactory(title=film, region=world.region, starts_at=NOW - dt.timedelta(days=900))
        films.append(film)
    asha.display_language = world.english
    asha.save()
    asha.preferred_languages.set([world.english, world.hindi, tamil])
    for days_ago, film in enumerate(films[:2], start=1):
        watch(asha, film, days_ago=days_ago)
    model_train(region_code=world.region.code)

    # when
    client = token_client(account)
    ids = [row["id"] for row in client.get(url(asha, rows=40, items=1)).json()["rows"]]

    # then: English (its display language) and Tamil; Hindi only had more titles (one
    # title a row, so that the Tamil row still has one the first screen does not show)
    assert "language:ta" in ids, ids
    assert "language:hi" not in ids, ids


def test_two_profiles_of_one_account_get_different_pages(world, household):
    account, asha, ravi = household
    for title in world.titles["action"][:4]:
        watch(asha, title)
    for title in world.titles["romance"][:4]:
        watch(ravi, title)
    for profile, started in ((asha, world.titles["drama"][5]), (ravi, world.titles["drama"][6])):
        record(profile, "play_start", started, days_ago=3.1)
        record(profile, "progress", started, days_ago=3, value=40.0)
    record_row_habit(asha, world, "continue_watching", [9, 10, 20, 21] * 3)
    record_row_habit(ravi, world, "new_releases", [9, 10, 20, 21] * 3)
    model_train(region_code=world.region.code)
    client = token_client(account)

    pages = [client.get(url(p, items=4)).json() for p in (asha, ravi)]

    orders = [[row["id"] for row in page["rows"]] for page in pages]
    titles = [[i["title_id"] for i in page["rows"][0]["items"]] for page in pages]
    assert orders[0] != orders[1]
    # Both have a film to resume; the one who resumes sees Continue Watching first, the
    # one who starts new things sees New Releases higher than the resumer does.
    types = [[row["type"] for row in page["rows"]] for page in pages]
    assert types[0][0] == "continue_watching", types[0]
    assert types[1].index("new_releases") < types[0].index("new_releases"), types
    assert titles[0] != titles[1]
    action = {t.pk for t in world.titles["action"]}
    romance = {t.pk for t in world.titles["romance"]}
    # Each one's own picks lean to its own taste. (Which rows share the first screen with
    # them depends on the hour, through the row ranker: at some hours trending comes
    # second, so the first two rows held as much of the other genre.)
    top_picks = [
        {i["title_id"] for row in page["rows"] if row["type"] == "top_picks" for i in row["items"]}
        for page in pages
    ]
    assert len(top_picks[0] & action) > len(top_picks[0] & romance)
    assert len(top_picks[1] & romance) > len(top_picks[1] & action)


def test_time_of_day_and_device_change_the_row_order(world, household):
    # given a profile that starts new releases in the evening on TV and trending rows on
    # its phone in the morning
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    record_row_habit(asha, world, "new_releases", [20, 21, 20, 21, 20, 21], device="tv")
    record_row_habit(asha, world, "trending", [8, 9, 8, 9, 8, 9], device="mobile")
    model_train(region_code=world.region.code)
    client = token_client(account)
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    today = NOW.astimezone(ist)
    evening = today.replace(hour=20, minute=30).isoformat().replace("+", "%2B")
    morning = today.replace(hour=8, minute=30).isoformat().replace("+", "%2B")

    def rank(row_type, **params):
        rows = client.get(url(asha, items=4, **params)).json()["rows"]
        return [row["type"] for row in rows].index(row_type)

    # then
    assert rank("new_releases", at=evening, device="tv") < rank(
        "new_releases", at=morning, device="mobile"
    )
    assert rank("trending", at=morning, device="mobile") < rank("trending", at=evening, device="tv")


def record_row_plays(profile, world, row_type, moments, *, device="tv"):
    """Plays started from rows of one type at these moments, as a client sends them."""
    events = row_events(profile, row_type, [0] * len(moments), device=device)
    for event, moment in zip(events, moments, strict=True):
        event.title_id = world.titles["comedy"][7].pk
        event.occurred_at = moment
    signal_batch_record(profile=profile, events=events)


def _row_order(client, profile, moment: dt.datetime, device: str) -> list[str]:
    at = moment.isoformat().replace("+", "%2B")
    return [
        row["type"]
        for row in client.get(url(profile, items=4, at=at, device=device)).json()["rows"]
    ]


def _above(order: list[str], upper: str, lower: str) -> bool:
    return order.index(upper) < order.index(lower)


def _saturday_and_tuesday_evenings() -> tuple[dt.datetime, dt.datetime]:
    """A Saturday evening (the week's first weekend day) and a Tuesday evening, local time,
    within the week either side of now that `at` may name."""
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    today = NOW.astimezone(ist).replace(hour=20, minute=30, second=0, microsecond=0)
    moments = []
    for weekday in (5, 1):
        moment = today + dt.timedelta(days=(weekday - today.weekday()) % 7)
        if moment > NOW + dt.timedelta(days=5):
            moment -= dt.timedelta(days=7)
        moments.append(moment)
    return moments[0], moments[1]


def test_the_hour_alone_changes_the_row_order(world, household):
    # given: on one device, a profile that starts new releases in the evening and trending
    # titles in the morning, as often
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    days = [NOW.astimezone(ist) - dt.timedelta(days=d) for d in (1, 2, 3)]
    record_row_plays(
        asha, world, "new_releases", [d.replace(hour=h) for d in days for h in (20, 21)]
    )
    record_row_plays(asha, world, "trending", [d.replace(hour=h) for d in days for h in (8, 9)])
    model_train(region_code=world.region.code)
    client = token_client(account)
    today = NOW.astimezone(ist)

    # when: the same device's page in the evening and in the morning
    evening = _row_order(client, asha, today.replace(hour=20, minute=30), "tv")
    morning = _row_order(client, asha, today.replace(hour=8, minute=30), "tv")

    # then: each habit leads in its own hour
    assert _above(evening, "new_releases", "trending"), evening
    assert _above(morning, "trending", "new_releases"), morning


def test_the_device_alone_changes_the_row_order(world, household):
    # given: at the same hours, a profile that starts new releases on its TV and trending
    # titles on its phone, as often
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    moments = [
        (NOW.astimezone(ist) - dt.timedelta(days=d)).replace(hour=h)
        for d in (1, 2, 3)
        for h in (20, 21)
    ]
    record_row_plays(asha, world, "new_releases", moments, device="tv")
    record_row_plays(
        asha, world, "trending", [m + dt.timedelta(minutes=5) for m in moments], device="mobile"
    )
    model_train(region_code=world.region.code)
    client = token_client(account)
    evening = NOW.astimezone(ist).replace(hour=20, minute=30)

    # when: the page of the same moment on each device
    on_tv = _row_order(client, asha, evening, "tv")
    on_phone = _row_order(client, asha, evening, "mobile")

    # then
    assert _above(on_tv, "new_releases", "trending"), on_tv
    assert _above(on_phone, "trending", "new_releases"), on_phone


def test_a_row_type_the_profile_keeps_scrolling_past_sinks_on_its_page(world, household):
    # given: two profiles of one account who watched the same film; Ravi has rapidly
    # scrolled past Top Picks rows a dozen times lately, Asha never
    account, asha, ravi = household
    for profile in (asha, ravi):
        watch(profile, world.titles["action"][0])
    scrolls = row_events(ravi, "top_picks", [9, 13, 18, 21] * 3, kind="row_scroll_past")
    signal_batch_record(profile=ravi, events=scrolls)
    model_train(region_code=world.region.code)
    client = token_client(account)
    evening = NOW.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).replace(hour=20)

    # when: the page of the same moment and device for each
    orders = [_row_order(client, profile, evening, "tv") for profile in (asha, ravi)]

    # then: his Top Picks is lower than hers, or off his page
    hers, his = (order.index("top_picks") if "top_picks" in order else 99 for order in orders)
    assert hers < his, orders


def test_saturday_is_the_weekend_on_the_regions_clock(world, household):
    # given: at the same hours on the same device, a profile that starts new releases at
    # weekends and trending titles on weekdays, as often
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    ist = dt.timezone(dt.timedelta(hours=5, minutes=30))
    today = NOW.astimezone(ist).replace(hour=20, minute=30, second=0, microsecond=0)
    past = [today - dt.timedelta(days=d) for d in range(1, 15)]
    weekend = [d for d in past if d.weekday() >= 5][:4]
    weekdays = [d for d in past if d.weekday() < 5][:4]
    record_row_plays(asha, world, "new_releases", weekend)
    record_row_plays(asha, world, "trending", weekdays)
    model_train(region_code=world.region.code)
    client = token_client(account)
    saturday, tuesday = _saturday_and_tuesday_evenings()

    # when
    on_saturday = _row_order(client, asha, saturday, "tv")
    on_tuesday = _row_order(client, asha, tuesday, "tv")

    # then
    assert _above(on_saturday, "new_releases", "trending"), on_saturday
    assert _above(on_tuesday, "trending", "new_releases"), on_tuesday


def test_a_learned_weekend_habit_of_a_row_type_orders_saturdays_page(world, household, monkeypatch):
    # given: a row ranker that learned that everyone starts new releases at weekends
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    model_train(region_code=world.region.code)
    ranker = RowRanker()
    ranker.mode = "learned"
    ranker.coef[ROW_FEATURE_NAMES.index("type_x_weekend_new_releases")] = 6.0
    monkeypatch.setattr(homepage.row_ranker_cache, "get", lambda bundle: ranker)
    client = token_client(account)
    saturday, tuesday = _saturday_and_tuesday_evenings()

    # when
    on_saturday = _row_order(client, asha, saturday, "tv")
    on_tuesday = _row_order(client, asha, tuesday, "tv")

    # then: New Releases leads on Saturday only
    assert on_saturday[0] == "new_releases", on_saturday
    assert on_tuesday[0] != "new_releases", on_tuesday


def test_no_title_appears_twice_in_the_first_screen(world, household):
    account, asha, _ = household
    for title in world.titles["action"][:3]:
        watch(asha, title)
    model_train(region_code=world.region.code)

    rows = token_client(account).get(url(asha, items=6)).json()["rows"]

    # A first screen of four rows with titles, or the no-repeat check below checks nothing.
    assert len(rows) >= 4
    assert all(row["items"] for row in rows[:4])
    first_screen = [i["title_id"] for row in rows[:4] for i in row["items"]]
    assert len(first_screen) == len(set(first_screen))
    for row in rows:
        minimum = 1 if row["type"] in {"continue_watching", "watch_again"} else 4
        assert len(row["items"]) >= minimum  # dropped, not padded


def test_because_you_watched_rows_whose_titles_the_first_screen_shows_are_not_repeated(
    monkeypatch,
):
    # given: a catalogue with titles enough for a first screen of 16-title rows without a
    # repeat, and a profile whose "Because you watched" rows hold its top picks' titles
    monkeypatch.setattr(homepage_world, "FILMS_PER_GENRE", 16)
    world = build_home_world()
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha")
    seeds = world.titles["action"][:3]
    for title in seeds:
        watch(asha, title, days_ago=5)
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when: the default request (12 rows of 20), and one of a title a row
    rows = client.get(url(asha)).json()["rows"]
    narrow = client.get(url(asha, rows=40, items=1)).json()["rows"]

    # then: a full first screen holding every action film she has not watched, so no
    # "Because you watched" row, which would only repeat them; where its titles are not
    # all shown above it, each seed has its row
    assert len(rows) >= 4
    first_screen = [i["title_id"] for row in rows[:4] for i in row["items"]]
    assert len(first_screen) == len(set(first_screen))
    unwatched = {t.pk for t in world.titles["action"][3:]}
    assert unwatched <= set(first_screen)
    assert not [row["id"] for row in rows if row["type"] == "because_you_watched"]
    assert {f"because_you_watched:{t.pk}" for t in seeds} <= {row["id"] for row in narrow}


def test_every_row_id_fits_the_signals_row_field(world):
    # given: a genre with the longest slug there can be, on every action film; a profile of
    # a taste cluster that started and finished action films and liked a drama
    longest = GenreFactory(slug="g" * 64, name="Long")
    for film in world.titles["action"]:
        film.genres.add(longest)
    for i in range(8):  # titles of its own, so that its row is not mostly repeats
        film = TitleFactory(original_name=f"long {i}", maturity=MaturityLevel.ALL)
        film.genres.add(longest)
        AvailabilityFactory(title=film, region=world.region, starts_at=NOW - dt.timedelta(days=900))
    TasteClusterFactory(region=world.region, slug="everyone", name="Everyone", is_default=True)
    cluster = TasteClusterFactory(region=world.region, slug="c" * 64, name="C" * 100)
    # the comedy and drama fans: a community of every viewer would rank titles as trending
    # does, and its row (the same titles) is not proposed
    for fan in world.fans[4:]:
        fan.taste_cluster = cluster
        fan.save()
    account = AccountFactory(home_region=world.region)
    asha = ProfileFactory(account=account, name="Asha", taste_cluster=cluster)
    for title in world.titles["action"][:3]:
        watch(asha, title, days_ago=3)
    record(asha, "thumbs_up", world.titles["drama"][0], days_ago=2)
    record(asha, "play_start", world.titles["action"][3], days_ago=1)
    record(asha, "progress", world.titles["action"][3], days_ago=0.9, value=30.0)
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when: the page, and a client echoing each of its row ids on a signal
    body = client.get(url(asha, rows=40, items=4)).json()
    now = dt.datetime.now(tz=dt.UTC).isoformat()
    echoed = client.post(
        f"/api/v1/profiles/{asha.pk}/signals/",
        {
            "events": [
                {
                    "kind": "impression",
                    "title": row["items"][0]["title_id"],
                    "device": "tv",
                    "occurred_at": now,
                    "client_event_id": str(uuid.uuid4()),
                    "page_id": body["page_id"],
                    "row": row["id"],
                    "position": 0,
                }
                for row in body["rows"]
            ]
        },
        format="json",
    )

    # then: the signals API takes every row id the page issued, the long genre's included
    assert {"genre", "popular_in", "because_you_watched", "because_you_liked"} <= {
        row["type"] for row in body["rows"]
    }
    assert echoed.status_code == 200, echoed.json()
    assert echoed.json()["new"] == len(body["rows"])
    assert f"genre:{longest.pk}" in {row["id"] for row in body["rows"]}
    # and always will: a row id's key is an id or a code, and with the widest id there is
    # (a bigint's 19 digits) every row type's id fits
    for row in body["rows"]:
        row_type, _, key = row["id"].partition(":")
        assert row_type == row["type"]
        assert key == "" or key.isdigit() or len(key) <= 3, row["id"]
    widest_id = len(str(2**63 - 1))
    assert all(len(f"{row_type}:") + widest_id <= ROW_MAX_LENGTH for row_type in ROW_TYPES)


def _twin(film, name: str):
    """A title every generator would propose to a fan of ``film``: its genres, tags and people."""
    twin = TitleFactory(
        original_name=name, original_language=film.original_language, maturity=film.maturity
    )
    twin.genres.set(film.genres.all())
    twin.tags.set(film.tags.all())
    for credit in film.credits.all():
        CreditFactory(title=twin, person=credit.person, role=credit.role)
    return twin


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_only_titles_available_in_the_region_now(world, household):
    # given: three titles that only their licence windows keep off an action fan's page:
    # each is a twin of the action films she watched (content), and the one whose licence
    # ended yesterday was every fan's latest play while it ran (collaborative, trending)
    account, asha, _ = household
    for title in world.titles["action"][:3]:
        watch(asha, title, days_ago=4)
    action = world.titles["action"][0]
    ended = _twin(action, "ended")
    AvailabilityFactory(
        title=ended,
        region=world.region,
        starts_at=NOW - dt.timedelta(days=90),
        ends_at=NOW - dt.timedelta(days=1),
    )
    for fan in world.fans:
        watch(fan, ended, days_ago=1.5)
    upcoming = _twin(action, "upcoming")
    AvailabilityFactory(title=upcoming, region=world.region, starts_at=NOW + dt.timedelta(days=1))
    elsewhere = _twin(action, "elsewhere")
    AvailabilityFactory(title=elsewhere, region=RegionFactory(code="BR", name="Brazil"))
    unavailable = {ended.pk, upcoming.pk, elsewhere.pk}
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when: now, and with a client's `at` inside the upcoming title's window and inside the
    # ended one's (it sets the hour and weekday, never the catalogue's moment)
    pages = {
        name: client.get(url(asha, rows=40, items=75, **params))
        for name, params in {
            "now": {},
            "later": {"at": _iso(NOW + dt.timedelta(days=2))},
            "earlier": {"at": _iso(NOW - dt.timedelta(days=2))},
        }.items()
    }

    # then
    for name, response in pages.items():
        assert response.status_code == 200, (name, response.json())
        shown = {i["title_id"] for row in response.json()["rows"] for i in row["items"]}
        assert shown, name
        assert shown <= {t.pk for t in world.all_titles()}, name
        assert not shown & unavailable, name


def test_a_household_moved_to_another_region_is_served_that_regions_titles_at_once(
    world, household
):
    # given: Asha, an action fan midway through a film licensed only here, whose household
    # staff move to Brazil, where half the catalogue is licensed (Brazil has no model of its
    # own yet: the global one serves it)
    account, asha, _ = household
    for title in world.titles["action"][:3]:
        watch(asha, title, days_ago=4)
    midway = world.titles["action"][3]
    record(asha, "play_start", midway, days_ago=1)
    record(asha, "progress", midway, days_ago=0.99, value=40)
    brazil = RegionFactory(code="BR", name="Brazil", time_zone="America/Sao_Paulo")
    licensed_there = {t.pk for t in world.all_titles()[1::2]} - {midway.pk}
    for title in world.all_titles():
        if title.pk in licensed_there:
            AvailabilityFactory(title=title, region=brazil)
    model_train(region_code=world.region.code)
    model_train(region_code=None)
    client = token_client(account)

    def answers() -> tuple[dict, set[int], list[int], int]:
        page = client.get(url(asha, rows=40, items=75))
        listed = client.get(f"/api/v1/profiles/{asha.pk}/recommendations/?device=tv&n=100")
        resumed = client.get(f"/api/v1/profiles/{asha.pk}/continue-watching/?device=tv")
        detail = client.get(f"/api/v1/titles/{midway.pk}/", {"profile": asha.pk})
        assert (page.status_code, listed.status_code, resumed.status_code) == (200, 200, 200)
        shown = {i["title_id"] for row in page.json()["rows"] for i in row["items"]} | {
            r["title_id"] for r in listed.json()["results"]
        }
        resuming = [i["title_id"] for i in resumed.json()["results"]]
        return page.json()["context"], shown, resuming, detail.status_code

    _, before, resuming, opened = answers()
    assert before - licensed_there  # titles licensed here only were served here
    assert (resuming, opened) == ([midway.pk], 200)

    # when: the move is saved
    account.home_region = brazil
    account.save()

    # then: the very next answers are Brazil's: its titles only on the page and the list,
    # nothing to resume of what it does not license, and that title's page a 404
    context, after, resuming, opened = answers()
    assert context["region"] == "BR"
    assert after
    assert after <= licensed_there
    assert (resuming, opened) == ([], 404)


def test_a_licence_ending_at_the_pages_moment_is_closed_and_one_starting_then_open_on_every_row(
    world, household
):
    # given: Asha is midway through two dramas and finished and liked two action films
    # (Continue Watching and Watch Again, the rows of titles she chose herself); of each
    # pair, and of two comedies she never played, one title's licence ends at the page's
    # very moment and the other's next window starts then (a microsecond into the second,
    # so that the database's and Python's Unix seconds must agree to the microsecond)
    _, asha, _ = household
    at = (NOW - dt.timedelta(hours=1)).replace(microsecond=123457)
    before_at = (NOW - at).total_seconds() / 86400
    dramas, films, comedies = (world.titles[genre][:2] for genre in ("drama", "action", "comedy"))
    for title in dramas:
        record(asha, "play_start", title, days_ago=before_at + 2.01)
        record(asha, "progress", title, days_ago=before_at + 2, value=40.0)
    for title in films:
        watch(asha, title, days_ago=before_at + 3)
        record(asha, "thumbs_up", title, days_ago=before_at + 2.5)
    model_train(region_code=world.region.code)
    ending, starting = ([dramas[k], films[k], comedies[k]] for k in (0, 1))
    for title in ending:
        title.availabilities.update(ends_at=at)
    for title in starting:
        title.availabilities.update(ends_at=at - dt.timedelta(days=1))
        AvailabilityFactory(title=title, region=world.region, starts_at=at)

    def shown(moment: dt.datetime) -> dict[int, set[str]]:
        page = homepage.homepage_build(profile=asha, device="tv", at=moment, n_rows=40, n_items=75)
        rows: dict[int, set[str]] = {}
        for row in page.rows:
            for item in row.items:
                rows.setdefault(item.title_id, set()).add(row.type)
        return rows

    # when: the page of that moment, and of the microsecond before it
    now, just_before = shown(at), shown(at - dt.timedelta(microseconds=1))

    # then: a window holds its start and not its end, on every row
    assert not {t.pk for t in ending} & now.keys(), now
    assert "continue_watching" in now.get(dramas[1].pk, set()), now
    assert "watch_again" in now.get(films[1].pk, set()), now
    assert comedies[1].pk in now
    assert not {t.pk for t in starting} & just_before.keys(), just_before
    assert "continue_watching" in just_before.get(dramas[0].pk, set()), just_before
    assert "watch_again" in just_before.get(films[0].pk, set()), just_before
    assert comedies[0].pk in just_before


def test_kids_get_only_titles_and_artwork_within_their_limit(world):
    # given a title above a 7+ kid's limit, and one rated exactly at it whose artwork is
    # one frame above the limit and one at it (the world's titles are all rated 0: "at most
    # the limit" must be seen to hold at the limit, not only well below it)
    mature = world.titles["comedy"][0]
    mature.maturity = MaturityLevel.SIXTEEN
    mature.save()
    family = world.titles["comedy"][1]
    family.maturity = MaturityLevel.SEVEN
    family.save()
    ArtworkVariantFactory(title=family, maturity=MaturityLevel.SIXTEEN, label="violent frame")
    gentle = ArtworkVariantFactory(title=family, maturity=MaturityLevel.SEVEN, label="gentle")
    account = AccountFactory(home_region=world.region)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    model_train(region_code=world.region.code)

    # when: several pages, as the artwork is drawn per page (with the violent frame
    # allowed, one page in two or so drew the gentle one all the same)
    client = token_client(account)
    pages = [client.get(url(kid, rows=40, items=75)).json()["rows"] for _ in range(12)]

    # then
    items = [i for rows in pages for row in rows for i in row["items"]]
    assert mature.pk not in {i["title_id"] for i in items}
    family_art = [i["artwork"]["variant_id"] for i in items if i["title_id"] == family.pk]
    assert len(family_art) >= len(pages)
    assert set(family_art) == {gentle.pk}


def test_no_row_names_a_title_the_profile_may_not_see(world, household):
    # given: Asha finished and liked three action films; since then one was re-rated above
    # the limit she now has, and another's licence in her region ended
    account, asha, _ = household
    rerated, withdrawn, kept = world.titles["action"][:3]
    for days_ago, title in ((3, kept), (2, withdrawn), (1, rerated)):
        watch(asha, title, days_ago=days_ago)
        record(asha, "thumbs_up", title, days_ago=days_ago - 0.1)
    model_train(region_code=world.region.code)
    rerated.maturity = MaturityLevel.SIXTEEN
    rerated.save()
    window = withdrawn.availabilities.get()
    window.ends_at = NOW - dt.timedelta(hours=1)
    window.save()
    asha.is_kids, asha.maturity_limit = True, 7
    asha.save()

    # when: one title a row, so that rows below the first screen have titles of their own
    # to bring (a "because" row there brings one, or is not on the page)
    rows = token_client(account).get(url(asha, rows=40, items=1)).json()["rows"]

    # then: no row is "because" of either, by name or by id; the one she may see still is
    named = {row["id"] for row in rows if row["type"].startswith("because_you_")}
    assert f"because_you_watched:{kept.pk}" in named
    for title in (rerated, withdrawn):
        assert not {f"because_you_watched:{title.pk}", f"because_you_liked:{title.pk}"} & named
        assert not [row["title"] for row in rows if title.original_name in row["title"]]


def test_a_title_at_exactly_the_profiles_limit_may_name_its_row(world, household):
    # given: Asha watched an action film whose rating is exactly her limit
    account, asha, _ = household
    seed = world.titles["action"][0]
    watch(asha, seed, days_ago=1)
    model_train(region_code=world.region.code)
    asha.maturity_limit = seed.maturity
    asha.save()

    # when
    rows = token_client(account).get(url(asha, rows=40, items=1)).json()["rows"]

    # then: a limit is the most she may see, so the film is hers to be reminded of
    assert f"because_you_watched:{seed.pk}" in {row["id"] for row in rows}


def test_no_row_is_because_of_a_title_the_profile_now_dislikes(world, household):
    # given: two dramas alike the others only by genre (tags of their own: a thumbs down
    # keeps a title's close neighbours out of the pool, and these have none); Asha
    # finished two action films and one of these, and liked a romance and the other; since
    # then she gave a thumbs down to both of them
    account, asha, _ = household
    drama = world.titles["drama"][0].genres.get()
    finished_disliked, liked_then_disliked = (
        TitleFactory(original_name=f"loner {i}", maturity=MaturityLevel.ALL) for i in range(2)
    )
    for i, title in enumerate((finished_disliked, liked_then_disliked)):
        title.genres.add(drama)
        title.tags.add(*(TagFactory(slug=f"loner-{i}-{k}") for k in range(3)))
        AvailabilityFactory(
            title=title, region=world.region, starts_at=NOW - dt.timedelta(days=900)
        )
    finished = world.titles["action"][:2]
    liked = world.titles["romance"][0]
    for days_ago, title in ((4, finished[0]), (3, finished[1]), (2, finished_disliked)):
        watch(asha, title, days_ago=days_ago)
    record(asha, "thumbs_up", liked, days_ago=1.9)
    record(asha, "thumbs_up", liked_then_disliked, days_ago=1.8)
    model_train(region_code=world.region.code)
    record(asha, "thumbs_down", finished_disliked, days_ago=0.5)
    record(asha, "thumbs_down", liked_then_disliked, days_ago=0.4)

    # when
    rows = token_client(account).get(url(asha, rows=40, items=1)).json()["rows"]

    # then: no row offers "more like" either of them; the titles she still likes do
    named = {row["id"] for row in rows if row["type"].startswith("because_you_")}
    assert {f"because_you_watched:{t.pk}" for t in finished} <= named
    assert f"because_you_liked:{liked.pk}" in named
    for title in (finished_disliked, liked_then_disliked):
        assert not {f"because_you_watched:{title.pk}", f"because_you_liked:{title.pk}"} & named


def test_a_title_whose_rating_was_removed_is_no_longer_a_because_you_liked_seed(world, household):
    # given: Asha liked two romances, then removed her rating of one of them
    account, asha, _ = household
    kept, cleared = world.titles["romance"][:2]
    record(asha, "thumbs_up", kept, days_ago=1.9)
    record(asha, "thumbs_up", cleared, days_ago=1.8)
    model_train(region_code=world.region.code)
    record(asha, "thumbs_cleared", cleared, days_ago=0.5)

    # when
    rows = token_client(account).get(url(asha, rows=40, items=1)).json()["rows"]

    # then: "Because you liked" names only the title she still likes
    named = {row["id"] for row in rows if row["type"] == "because_you_liked"}
    assert named == {f"because_you_liked:{kept.pk}"}


def test_what_a_profile_likes_is_its_title_states_not_the_latest_stamp(world, household):
    # given: Asha liked a comedy long ago; she liked a romance on a TV whose clock runs 4
    # minutes fast and rated it down on her phone a moment later: the phone's rating is
    # the newer (ingest orders a stamp ahead of the server as of its receipt), though its
    # stamp is the earlier
    _, asha, _ = household
    kept, flipped = world.titles["comedy"][0], world.titles["romance"][0]
    record(asha, "thumbs_up", kept, days_ago=1.9)
    model_train(region_code=world.region.code)
    now = timezone.now()
    record(asha, "thumbs_up", flipped, at=now + dt.timedelta(minutes=4))
    record(asha, "thumbs_down", flipped, at=now + dt.timedelta(seconds=1))

    # when: the history a homepage reads (its "Because you liked" seeds, its "% match")
    serving = recommend.profile_serving(profile=asha, at=None)

    # then: she likes the comedy alone
    ids = serving.bundle.index.title_ids
    assert [int(ids[t]) for t in serving.history.liked()] == [kept.pk]
    assert serving.history.chose_something


def test_a_new_kids_profile_gets_what_it_may_watch_though_nobody_is_watching_it(world):
    # given: every film the fans watch above a kid's limit, and twelve cartoons within it
    # that nobody has played (so not trending, nor new, nor like anything the kid played)
    for title in world.all_titles():
        title.maturity = MaturityLevel.SIXTEEN
        title.save()
    animation = GenreFactory(slug="animation", name="Animation")
    cartoons = []
    for i in range(12):
        cartoon = TitleFactory(
            original_name=f"cartoon {i}",
            original_language=world.english,
            release_date=dt.date(2018, 1, 1),
            maturity=MaturityLevel.ALL,
        )
        cartoon.genres.add(animation)
        AvailabilityFactory(
            title=cartoon, region=world.region, starts_at=NOW - dt.timedelta(days=900)
        )
        cartoons.append(cartoon)
    account = AccountFactory(home_region=world.region)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when
    rows = client.get(url(kid, rows=40, items=75)).json()["rows"]
    listed = client.get(f"/api/v1/profiles/{kid.pk}/recommendations/?device=tv&n=20").json()[
        "results"
    ]

    # then: the page offers every cartoon (it was empty: no generator proposed any), and
    # the list says where they came from
    assert {i["title_id"] for row in rows for i in row["items"]} == {c.pk for c in cartoons}
    assert {r["title_id"] for r in listed} == {c.pk for c in cartoons}
    assert {tuple(r["sources"]) for r in listed} == {("catalogue",)}


def test_a_kids_profile_with_a_small_catalogue_gets_several_rows_not_one(world):
    # given: fourteen films within a kid's limit, seven English action films and seven
    # Hindi romances, the rest above it; a new kids profile
    action, romance = world.titles["action"][:7], world.titles["romance"][:7]
    for title in world.all_titles():
        if title in action or title in romance:
            title.original_language = world.english if title in action else world.hindi
        else:
            title.maturity = MaturityLevel.SIXTEEN
        title.save()
    account = AccountFactory(home_region=world.region)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    model_train(region_code=world.region.code)

    # when: the default page (12 rows of up to 20)
    rows = token_client(account).get(url(kid)).json()["rows"]

    # then: Top Picks does not take all fourteen (and leave every other row without an
    # unseen title); rows share them, none repeating a title in the first screen, none
    # above the limit, and every one of them is shown
    assert len(rows) >= 3, [(row["id"], len(row["items"])) for row in rows]
    first_screen = [i["title_id"] for row in rows[:4] for i in row["items"]]
    assert len(first_screen) == len(set(first_screen))
    assert {i["title_id"] for row in rows for i in row["items"]} == {t.pk for t in action + romance}


def test_another_households_profile_is_a_404(world, household, django_assert_num_queries):
    _, asha, _ = household
    model_train(region_code=world.region.code)
    stranger = token_client(AccountFactory(home_region=world.region))

    # the token's statement finds no profile of the stranger's account: no second read
    with django_assert_num_queries(1):
        assert stranger.get(url(asha)).status_code == 404
    assert stranger.get(url(asha, device="fridge")).status_code == 404  # before the 400


def test_a_page_asked_for_without_its_device_is_refused_not_served_as_a_tv(world, household):
    # given a profile whose phone app forgot the device
    account, asha, _ = household
    model_train(region_code=world.region.code)

    response = token_client(account).get(url(asha, device=None, items=5))

    # then it is told what to send, and no page is logged as a TV's (the artwork policy
    # learns take rates per device class from the logged pages)
    assert response.status_code == 400
    assert response.json()["errors"] == {"device": ["Required: one of tv, mobile, tablet, web."]}
    assert not PageLog.objects.filter(profile=asha).exists()


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("rows", 41),
        ("rows", 0),
        ("items", 76),
        ("items", 0),
        ("rows", "1.5"),
        # read by int() as 30, 3, 12 and 5: not integers as the schema writes them
        ("rows", "3_0"),
        ("rows", "\u0663"),  # ARABIC-INDIC DIGIT THREE
        ("items", "12.0"),
        ("items", "%2B5"),
        ("device", "fridge"),
        ("at", "yesterday"),
        ("at", "2026-12-04T20:00:00"),  # no offset: refused, not read as UTC
        # ids of their own: made from the clock, the two would differ between the
        # processes that collect the suite (pytest-xdist refuses such a run)
        pytest.param("at", _iso(NOW + dt.timedelta(days=8)), id="at-8-days-ahead"),
        pytest.param("at", _iso(NOW - dt.timedelta(days=8)), id="at-8-days-ago"),
        ("at", "9999-12-31T23:00:00Z"),  # was a 500: the date arithmetic overflowed
        ("at", "0001-01-01T00:00:00Z"),
    ],
)
def test_bad_parameters_get_a_400_naming_them(world, household, param, value):
    account, asha, _ = household
    model_train(region_code=world.region.code)

    response = token_client(account).get(url(asha, **{param: value}))

    assert response.status_code == 400
    assert param in response.json()["errors"]
    assert response.json()["message"].startswith(param)


@pytest.mark.parametrize(("param", "bound"), [("rows", 40), ("items", 75)])
def test_a_count_out_of_its_range_or_not_a_whole_number_is_told_the_range(household, param, bound):
    # "-1" was "A valid integer is required." (it is one: what is wrong is its range) and 41
    # "Ensure this value is less than or equal to 40.": a reason per spelling, where the
    # signal history's `limit` says the one rule, as the schema's minimum and maximum do
    account, asha, _ = household
    client = token_client(account)
    for value in ("-1", "0", "-0", str(bound + 1), "1.5", "abc", "99999999999999999999"):
        response = client.get(url(asha, **{param: value}))

        assert response.status_code == 400, value
        assert response.json()["errors"] == {
            param: [f"Must be a whole number from 1 to {bound}."]
        }, value


def test_a_malformed_at_is_told_that_its_offset_is_required(household):
    # DRF's sentence gave the format as "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z]",
    # the offset in brackets: a client that took it at its word and left the offset out
    # was refused again, for the offset
    account, asha, _ = household

    response = token_client(account).get(url(asha, at="tonight"))

    assert response.status_code == 400
    (reason,) = response.json()["errors"]["at"]
    assert "[+HH:MM|-HH:MM|Z]" not in reason
    assert "offset" in reason
    assert "YYYY-MM-DDThh:mm" in reason


@pytest.mark.parametrize(
    ("spelling", "reason"),
    [
        # Python's fromisoformat reads each, and the page was served for the time it read
        pytest.param("{date}T21:00:00%2B05:30:30", "UTC offset", id="offset-with-seconds"),
        pytest.param("{date}T21:00:00%2B0530", "UTC offset", id="offset-without-colon"),
        pytest.param("{week}T21:00:00Z", "calendar date", id="week-date"),
        pytest.param("{basic}T210000Z", "calendar date", id="basic-format"),
        pytest.param("{date}X21:00:00Z", "YYYY-MM-DDThh:mm", id="any-separator"),
        pytest.param("{date}T21:00:00,5Z", "YYYY-MM-DDThh:mm", id="comma-fraction"),
    ],
)
def test_an_at_in_a_spelling_rfc_3339_has_not_is_a_400_naming_at_and_why(
    household, spelling, reason
):
    account, asha, _ = household
    today = timezone.now().date()
    year, week, weekday = today.isocalendar()
    at = spelling.format(
        date=today.isoformat(),
        week=f"{year}-W{week:02d}-{weekday}",
        basic=today.strftime("%Y%m%d"),
    )

    response = token_client(account).get(url(asha, at=at))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"at"}
    (message,) = response.json()["errors"]["at"]
    assert reason in message
    assert not PageLog.objects.filter(profile=asha).exists()


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda iso: iso + "%00", id="NUL after the offset"),
        pytest.param(lambda iso: iso[:-1] + "%00Z", id="NUL before the Z"),
        pytest.param(lambda iso: iso[:-1] + "%09Z", id="tab before the Z"),
    ],
)
def test_an_at_holding_a_control_character_is_a_400_not_read_around_it(household, spoil):
    # Python's ISO reader skips a NUL or a tab in these places, so such a time was a 200
    # page for the time without them: text no client means, as the schema writes a time
    account, asha, _ = household
    moment = _iso(timezone.now().replace(microsecond=0))
    assert moment.endswith("Z")

    response = token_client(account).get(url(asha, at=spoil(moment)))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"at"}
    assert not PageLog.objects.filter(profile=asha).exists()


def test_at_may_be_any_moment_of_the_week_either_side_in_any_time_zone(world, household):
    account, asha, _ = household
    model_train(region_code=world.region.code)
    client = token_client(account)
    far_east = dt.timezone(dt.timedelta(hours=14))

    # (from the clock now, not the module's NOW: 6.9 days from when the tests were collected
    # is past the week's edge once they have run for 2.4 hours)
    for days in (-6.9, 6.9):
        moment = (timezone.now() + dt.timedelta(days=days)).astimezone(far_east).isoformat()
        response = client.get(url(asha, at=moment.replace("+", "%2B")))
        assert response.status_code == 200, response.json()


@pytest.mark.parametrize(
    ("at", "hour", "weekday"),
    [
        ("2026-03-08T06:59:00Z", 1, 6),  # 01:59 EST, the last minute before the clocks go on
        ("2026-03-08T07:00:00Z", 3, 6),  # 03:00 EDT: 02:00 never happens
        ("2026-11-01T05:30:00Z", 1, 6),  # 01:30 EDT
        ("2026-11-01T06:30:00Z", 1, 6),  # 01:30 EST, the hour that happens twice
        ("2026-11-02T04:59:00Z", 23, 6),  # Sunday 23:59 EST, though Monday in UTC
        ("2026-11-02T05:00:00Z", 0, 0),
    ],
)
def test_at_is_read_on_the_regions_clock_across_daylight_saving(
    world, monkeypatch, at, hour, weekday
):
    # given: a household in a region whose clocks change (the moments are fixed dates,
    # so the week either side of now that `at` may name is widened for them)
    from recommendations.apis import homepage as homepage_api

    monkeypatch.setattr(homepage_api, "AT_MAX_DISTANCE", dt.timedelta(days=3650))
    us = RegionFactory(
        code="US",
        name="United States",
        time_zone="America/New_York",
        default_language=world.english,
    )
    account = AccountFactory(home_region=us)
    viewer = ProfileFactory(account=account)
    model_train(region_code=None)

    # when
    response = token_client(account).get(url(viewer, at=at))

    # then
    assert response.status_code == 200, response.json()
    context = response.json()["context"]
    assert (context["region"], context["hour"], context["weekday"]) == ("US", hour, weekday)
    logged = PageLog.objects.get(pk=response.json()["page_id"])
    assert (logged.hour, logged.weekday) == (hour, weekday)


def test_a_region_whose_zone_a_bulk_write_made_bad_is_served_in_utc_and_logged(
    world, household, caplog
):
    # given: the household's region given a zone that is none by a write save() never saw
    account, asha, _ = household
    model_train(region_code=world.region.code)
    Region.objects.filter(pk=world.region.pk).update(time_zone="Mars/Olympus")
    # (22:00 UTC is 03:30 the next day in the region's real zone, Asia/Kolkata)
    at = (timezone.now() + dt.timedelta(days=1)).replace(hour=22, minute=0, second=0)
    at = at.astimezone(dt.UTC)

    # when
    response = token_client(account).get(url(asha, at=at.isoformat().replace("+", "%2B")))

    # then: the page, on the UTC clock, not a 500 for every page of the region; and logged
    assert response.status_code == 200, response.json()
    context = response.json()["context"]
    assert (context["hour"], context["weekday"]) == (22, at.weekday())
    assert any(
        record.levelname == "ERROR" and "'Mars/Olympus' is not an IANA time zone" in record.message
        for record in caplog.records
    )


def test_the_schema_documents_every_error_the_homepage_answers():
    schema = SchemaGenerator().get_schema(request=None, public=True)

    responses = schema["paths"]["/api/v1/profiles/{profile_id}/homepage/"]["get"]["responses"]

    assert set(responses) == {"200", "400", "401", "403", "404", "406", "429", "503"}
    for status in ("400", "401", "403", "404", "406", "429", "503"):
        body = responses[status]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/Error"}, status
    assert "model_unavailable" in responses["503"]["description"]
    assert "HOMEPAGE_RATE" in responses["429"]["description"]


def test_the_schema_documents_where_a_tile_resumes():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    item = components["HomepageItem"]
    resume = item["properties"]["resume"]

    # title detail's component, always present, null off Continue Watching
    assert "resume" in item["required"]
    assert resume["nullable"] is True
    assert resume["allOf"] == [{"$ref": "#/components/schemas/ResumePoint"}]
    assert "Continue Watching" in resume["description"]


def test_head_neither_computes_nor_logs_a_page(world, household):
    account, asha, _ = household
    model_train(region_code=world.region.code)
    client = token_client(account)

    response = client.head(url(asha))

    assert response.status_code == 405
    assert not PageLog.objects.exists()
    assert client.get(url(asha)).status_code == 200
    assert PageLog.objects.count() == 1


def test_without_a_trained_model_the_homepage_is_a_503(household):
    account, asha, _ = household

    response = token_client(account).get(url(asha))

    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert "train_models" not in response.json()["message"]
    assert response["Retry-After"] == str(MODEL_RETRY_SECONDS)


def test_a_homepage_costs_three_round_trips(world, household, django_assert_num_queries, settings):
    account, asha, _ = household
    for title in world.titles["action"][:3]:
        watch(asha, title)
    model_train(region_code=world.region.code)
    client = token_client(account)
    client.get(url(asha))  # warm the per-process tables
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 60,
        "CATALOGUE_REFRESH_SECONDS": 60,
    }
    client.get(url(asha))

    # the token with the profile and its languages; the signals with the title states; the
    # page log insert (row engagement is counted from the signals read)
    with django_assert_num_queries(3):
        response = client.get(url(asha, rows=40, items=75))
    assert response.status_code == 200


def _writes(queries: CaptureQueriesContext) -> list[str]:
    """The statements that change rows (the token flush is a ``WITH ... UPDATE``)."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if re.search(r"^\s*(INSERT|DELETE)\b|\bUPDATE\s+\S+\s+(AS\s+\w+\s+)?SET\b", q["sql"], re.I)
    ]


def test_a_page_due_to_write_token_times_writes_them_after_its_answer_is_sent(
    world, household, monkeypatch
):
    # given: a trained household whose device's token the process has noted no time for,
    # in a process whose token times are due to be written (every request's, here)
    account, asha, _ = household
    watch(asha, world.titles["action"][0])
    model_train(region_code=world.region.code)
    token, key = api_token_create(account=account, name="tv")
    monkeypatch.setattr(token_usage, "flush_seconds", 0)

    # when: the page is served as gunicorn's sync worker serves it: the application
    # answers and its body is written out; only then is the answer closed
    with connections_kept_open():
        with CaptureQueriesContext(connection) as answering:
            answer = served(url(asha), headers={"authorization": f"Token {key}"})
        token.refresh_from_db()
        written_before_close = token.last_used_at
        answer.close()

    # then: the client had its page after one write, the page log; the token's time
    # was written once the request had finished
    assert answer.status.startswith("200"), answer.body
    assert [w.lstrip()[:11].upper() for w in _writes(answering)] == ["INSERT INTO"]
    assert written_before_close is None
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.fixture
def two_episode_show(world, household):
    """A two-episode series available for a year, beside three films the profile watched."""
    season = SeasonFactory(number=1, title=TitleFactory(kind="series", original_name="show"))
    first = EpisodeFactory(season=season, number=1)
    second = EpisodeFactory(season=season, number=2)
    AvailabilityFactory(
        title=season.title, region=world.region, starts_at=NOW - dt.timedelta(days=365)
    )
    for title in world.titles["action"][:3]:
        watch(household[1], title, days_ago=5)
    return season.title, first, second


def page_and_continue_watching(account, profile) -> tuple[list[dict], list[dict]]:
    """The profile's homepage rows (40 of up to 20 titles) and its /continue-watching/ list."""
    client = token_client(account)
    rows = client.get(url(profile, rows=40, items=20)).json()["rows"]
    listed = client.get(f"/api/v1/profiles/{profile.pk}/continue-watching/?device=tv").json()[
        "results"
    ]
    return rows, listed


def with_progress(items: list[dict]) -> list[tuple[int, float | None]]:
    """(title, progress) of each item."""
    return [(item["title_id"], item["progress"]) for item in items]


def continue_watching_row(rows: list[dict]) -> list[dict]:
    return [item for row in rows if row["type"] == "continue_watching" for item in row["items"]]


@pytest.mark.parametrize(
    ("watched", "progress", "resumes_at"),
    [
        ("first to 40%", 40.0, "first"),
        ("first finished", 0.0, "second"),
        ("only the last finished", 0.0, "first"),
        ("40% of no episode named", 40.0, "first"),
        # the credits of an episode are passed, not resumed: the next one at 0, after the
        # last one the first from the start (as after a finished last one)
        ("first to 99%, in its credits", 0.0, "second"),
        ("only the last to 99%, in its credits", 0.0, "first"),
    ],
)
def test_a_series_shows_the_progress_continue_watching_shows(
    world, household, two_episode_show, watched, progress, resumes_at
):
    # given: a two-episode series the profile watched some of
    account, asha, _ = household
    show, first, second = two_episode_show
    if watched == "only the last finished":
        record(asha, "play_start", show, days_ago=1.02, episode=second)
        record(asha, "complete", show, days_ago=1, episode=second)
    elif watched.endswith("in its credits"):
        named = second if watched.startswith("only the last") else first
        record(asha, "play_start", show, days_ago=1.02, episode=named)
        record(asha, "progress", show, days_ago=1.01, episode=named, value=99.0)
    else:
        named = first if watched != "40% of no episode named" else None
        record(asha, "play_start", show, days_ago=1.02, episode=named)
        record(asha, "progress", show, days_ago=1.01, episode=named, value=40.0)
        if watched == "first finished":
            record(asha, "complete", show, days_ago=1, episode=first)
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)

    # then: both say where the profile resumes, and how far into it (never a finished
    # episode's 100%)
    expected = [(show.pk, progress)]
    assert with_progress(continue_watching_row(rows)) == with_progress(listed) == expected
    assert listed[0]["episode_id"] == {"first": first.pk, "second": second.pk}[resumes_at]


def test_a_favourite_being_rewatched_is_resumed_not_also_offered_again(
    world, household, monkeypatch
):
    # given: two films Asha finished and liked (so worth watching again), one of which she
    # has started again and stopped at 30%
    account, asha, _ = household
    again, other = world.titles["comedy"][:2]
    for film in (again, other):
        watch(asha, film, days_ago=3)
        record(asha, "thumbs_up", film, days_ago=2.9)
    record(asha, "play_start", again, days_ago=1.02)
    record(asha, "progress", again, days_ago=1.01, value=30.0)
    model_train(region_code=world.region.code)
    # and a row ranker that puts Watch Again below the first screen, where titles may
    # repeat (in it, the rows above would hide the rewatch whatever Watch Again held)
    ranker = RowRanker()
    ranker.coef[ROW_FEATURE_NAMES.index("type_watch_again")] = -6.0
    monkeypatch.setattr(homepage.row_ranker_cache, "get", lambda bundle: ranker)

    # when
    rows = token_client(account).get(url(asha, rows=40)).json()["rows"]

    # then: the rewatch under way is resumed from Continue Watching, and Watch Again holds
    # only the other one
    assert [row["type"] for row in rows].index("watch_again") >= 4
    by_type = {row["type"]: [i["title_id"] for i in row["items"]] for row in rows}
    assert again.pk in by_type["continue_watching"]
    assert by_type["watch_again"] == [other.pk]


@pytest.mark.parametrize(
    ("rewatch", "resumed"),
    [
        ("film played again to 30%", 30.0),
        ("film played again, not yet a sample", None),
        ("film's credits after its completion", None),
        ("series' first episode played again to 25%", 25.0),
        ("series finished, nothing played since", None),
        ("series' last episode played again into its credits", None),
    ],
)
def test_a_finished_title_being_rewatched_returns_to_continue_watching(
    world, household, two_episode_show, rewatch, resumed
):
    # given: a film and a two-episode series the profile finished two days ago, and what
    # it did with one of them since
    account, asha, _ = household
    film = world.titles["comedy"][0]
    show, first, second = two_episode_show
    watch(asha, film, days_ago=2)
    for episode in (first, second):
        record(asha, "play_start", show, days_ago=2.02, episode=episode)
        record(asha, "complete", show, days_ago=2.01, episode=episode)
    title = show if rewatch.startswith("series") else film
    if rewatch.startswith("film played again"):
        record(asha, "play_start", film, days_ago=1.02)
        if "30%" in rewatch:
            record(asha, "progress", film, days_ago=1.01, value=30.0)
    elif rewatch == "film's credits after its completion":
        record(asha, "progress", film, days_ago=1.99, value=90.0)
    elif rewatch == "series' last episode played again into its credits":
        record(asha, "play_start", show, days_ago=1.02, episode=second)
        record(asha, "progress", show, days_ago=1.01, episode=second, value=99.0)
    elif rewatch == "series' first episode played again to 25%":
        record(asha, "play_start", show, days_ago=1.02, episode=first)
        record(asha, "progress", show, days_ago=1.01, episode=first, value=25.0)
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)

    # then: the page and the list agree: a rewatch stopped midway is resumed where it
    # stopped (the episode being rewatched, for a series), and is not also in Watch Again
    expected = [] if resumed is None else [(title.pk, resumed)]
    by_type = {row["type"]: [i["title_id"] for i in row["items"]] for row in rows}
    assert with_progress(continue_watching_row(rows)) == with_progress(listed) == expected
    if resumed is not None:
        assert title.pk not in by_type.get("watch_again", [])
        assert listed[0]["episode_id"] == (first.pk if title == show else None)


@pytest.mark.parametrize(
    ("story", "resumed", "resumes_at"),
    [
        ("season 2 announced, not out", None, None),
        ("season 2 announced, state folded before it counted", None, None),
        ("season 2 out since", 0.0, "S2E1"),
        ("season 2 added since, out for years", 0.0, "S2E1"),
        ("season 2 out since, its first episode at 30%", 30.0, "S2E1"),
        ("season 2 out since, its first episode finished", 0.0, "S2E2"),
        ("season 2 out since, its first episode left in its credits", 0.0, "S2E2"),
        ("season 2 out since, its last episode left in its credits", None, None),
        ("season 2 out since, season 1 rewatched to 25%", 25.0, "S1E1"),
        ("season 2 out since, and finished too", None, None),
    ],
)
def test_a_finished_series_returns_to_continue_watching_when_a_new_season_is_out(
    world, household, two_episode_show, story, resumed, resumes_at
):
    # given: a two-episode series the profile finished two days ago, and a second season:
    # announced for next month, out since yesterday, or added to the catalogue since
    # though it came out years ago
    account, asha, _ = household
    show, first, second = two_episode_show
    for episode in (first, second):
        record(asha, "play_start", show, days_ago=2.02, episode=episode)
        record(asha, "complete", show, days_ago=2.01, episode=episode)
    if "announced" in story:
        release = (NOW + dt.timedelta(days=30)).date()
    elif "added since" in story:
        release = dt.date(2015, 3, 1)
    else:
        release = (NOW - dt.timedelta(days=1)).date()
    season_two = SeasonFactory(title=show, number=2, release_date=release)
    new_first = EpisodeFactory(season=season_two, number=1)
    new_second = EpisodeFactory(season=season_two, number=2)
    if story.endswith("state folded before it counted"):
        # Before ingest counted only seasons out, finishing every released episode of a
        # series with an announced season left it unfinished.
        ProfileTitleState.objects.filter(profile=asha, title=show).update(completed_at=None)
    elif story.endswith("at 30%"):
        record(asha, "play_start", show, days_ago=0.52, episode=new_first)
        record(asha, "progress", show, days_ago=0.51, episode=new_first, value=30.0)
    elif story.endswith("first episode finished"):
        record(asha, "play_start", show, days_ago=0.52, episode=new_first)
        record(asha, "complete", show, days_ago=0.51, episode=new_first)
    elif story.endswith("first episode left in its credits"):
        record(asha, "play_start", show, days_ago=0.52, episode=new_first)
        record(asha, "progress", show, days_ago=0.51, episode=new_first, value=99.0)
    elif story.endswith("last episode left in its credits"):
        record(asha, "play_start", show, days_ago=0.54, episode=new_first)
        record(asha, "complete", show, days_ago=0.53, episode=new_first)
        record(asha, "play_start", show, days_ago=0.52, episode=new_second)
        record(asha, "progress", show, days_ago=0.51, episode=new_second, value=99.0)
    elif story.endswith("rewatched to 25%"):
        record(asha, "play_start", show, days_ago=0.52, episode=first)
        record(asha, "progress", show, days_ago=0.51, episode=first, value=25.0)
    elif story.endswith("finished too"):
        for episode in (new_first, new_second):
            record(asha, "play_start", show, days_ago=0.52, episode=episode)
            record(asha, "complete", show, days_ago=0.51, episode=episode)
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)

    # then: the page and the list agree: a season not out is nothing left to watch; a
    # season out since the series was finished (or new to the catalogue) is, from its
    # first episode left, at 0 unless it was started; a rewatch under way is resumed
    expected = [] if resumed is None else [(show.pk, resumed)]
    assert with_progress(continue_watching_row(rows)) == with_progress(listed) == expected
    if resumes_at is not None:
        episodes = {"S1E1": first, "S2E1": new_first, "S2E2": new_second}
        assert listed[0]["episode_id"] == episodes[resumes_at].pk
        by_type = {row["type"]: [i["title_id"] for i in row["items"]] for row in rows}
        assert show.pk not in by_type.get("watch_again", [])


def test_a_page_built_for_a_later_moment_brings_back_a_series_whose_season_is_out_by_then(
    world, household, two_episode_show
):
    # given: a two-episode series the profile finished two days ago, and its second season,
    # out two days from now
    _, asha, _ = household
    show, first, second = two_episode_show
    for episode in (first, second):
        record(asha, "play_start", show, days_ago=2.02, episode=episode)
        record(asha, "complete", show, days_ago=2.01, episode=episode)
    out_on = (NOW + dt.timedelta(days=2)).date()
    season_two = SeasonFactory(title=show, number=2, release_date=out_on)
    new_first = EpisodeFactory(season=season_two, number=1)
    EpisodeFactory(season=season_two, number=2)
    model_train(region_code=world.region.code)

    def continued(at: dt.datetime | None) -> list:
        page = homepage.homepage_build(profile=asha, device="tv", at=at, n_rows=40)
        return [item for row in page.rows if row.type == "continue_watching" for item in row.items]

    # when: its page now, and as the console previews it three days from now
    today, later = continued(None), continued(NOW + dt.timedelta(days=3))

    # then: nothing to continue now; by then the new season is, from its first episode (the
    # episodes it resumes on are read as of the later moment, not the database's today)
    assert today == []
    assert [(item.title_id, item.progress) for item in later] == [(show.pk, 0.0)]
    assert later[0].resume.episode_id == new_first.pk


def title_detail_resume(account, profile, title) -> dict | None:
    """Title detail's ``viewing.resume`` of ``title`` for ``profile``."""
    response = token_client(account).get(f"/api/v1/titles/{title.pk}/?profile={profile.pk}")
    assert response.status_code == 200, response.json()
    return response.json()["viewing"]["resume"]


@pytest.mark.parametrize(
    ("story", "resumes_at", "progress"),
    [
        ("an episode stopped midway", "S1E1", 40.0),
        ("an episode finished", "S1E2", 0.0),
        ("an episode left in its credits", "S1E2", 0.0),
        ("the series finished, a new season out", "S2E1", 0.0),
        ("the series finished, a new season out, its first episode in its credits", "S2E2", 0.0),
        ("the series finished, a new season out, its first episode finished", "S2E2", 0.0),
        ("the finale alone finished, a new season announced", "S1E1", 0.0),
        ("the series finished, its first episode rewatched to 25%", "S1E1", 25.0),
        ("the series finished, a new season out, its first episode played to 30%", "S2E1", 30.0),
        # the episode being rewatched is gone: nothing of the rewatch is left to resume
        ("the series finished, a new season out, S1E1 rewatched to 25%, then deleted", "S2E1", 0.0),
        ("a film stopped midway", None, 40.0),
    ],
)
def test_a_continue_watching_tile_says_where_play_starts_as_title_detail_does(
    world, household, two_episode_show, story, resumes_at, progress
):
    # given: a two-episode series and a film, what the profile did with one of them, and,
    # for some stories, a second season out since yesterday or announced for next month
    account, asha, _ = household
    show, first, second = two_episode_show
    film = world.titles["comedy"][0]
    if "new season" in story:
        out = "out" in story
        release = (NOW + dt.timedelta(days=-1 if out else 30)).date()
        season_two = SeasonFactory(title=show, number=2, release_date=release)
        EpisodeFactory(season=season_two, number=1)
        EpisodeFactory(season=season_two, number=2)
    finished = {
        "an episode finished": [first],
        "the finale alone finished, a new season announced": [second],
    }.get(story, [first, second] if story.startswith("the series finished") else [])
    for episode in finished:
        record(asha, "play_start", show, days_ago=2.02, episode=episode)
        record(asha, "complete", show, days_ago=2.01, episode=episode)
    if story in ("an episode stopped midway", "an episode left in its credits"):
        record(asha, "play_start", show, days_ago=1.02, episode=first)
        value = 40.0 if story.endswith("midway") else 99.0
        record(asha, "progress", show, days_ago=1.01, episode=first, value=value)
    elif "rewatched to 25%" in story:
        record(asha, "play_start", show, days_ago=1.02, episode=first)
        record(asha, "progress", show, days_ago=1.01, episode=first, value=25.0)
        if story.endswith("then deleted"):
            first.delete()
    elif story.endswith("its first episode finished"):
        new_first = Episode.objects.get(season__title=show, season__number=2, number=1)
        record(asha, "play_start", show, days_ago=0.52, episode=new_first)
        record(asha, "complete", show, days_ago=0.51, episode=new_first)
    elif story.endswith(("its first episode played to 30%", "its first episode in its credits")):
        new_first = Episode.objects.get(season__title=show, season__number=2, number=1)
        value = 30.0 if story.endswith("30%") else 99.0
        record(asha, "play_start", show, days_ago=0.52, episode=new_first)
        record(asha, "progress", show, days_ago=0.51, episode=new_first, value=value)
    elif story == "a film stopped midway":
        record(asha, "play_start", film, days_ago=1.02)
        record(asha, "progress", film, days_ago=1.01, value=40.0)
    model_train(region_code=world.region.code)
    title = film if resumes_at is None else show

    # when
    body = token_client(account).get(url(asha, rows=40, items=20)).json()

    # then: the row's one tile names the episode Play starts and how far into it (a film
    # none), which is where title detail starts it, and its progress is the tile's own
    assert_matches_operation(body, "GET", HOMEPAGE)
    rows = body["rows"]
    tile = continue_watching_row(rows)
    assert [item["title_id"] for item in tile] == [title.pk]
    expected = {
        "episode_id": None,
        "season_number": None,
        "episode_number": None,
        "progress": progress,
        # the profile had finished every episode out, and Play starts one out since
        "new_episodes": "new season out" in story,
    }
    if resumes_at is not None:
        season, number = int(resumes_at[1]), int(resumes_at[3])
        episode = Episode.objects.get(season__title=show, season__number=season, number=number)
        expected.update(episode_id=episode.pk, season_number=season, episode_number=number)
    assert tile[0]["resume"] == title_detail_resume(account, asha, title) == expected
    assert tile[0]["progress"] == progress
    # and /continue-watching/ says the same, in the same shape
    listed = token_client(account).get(f"/api/v1/profiles/{asha.pk}/continue-watching/?device=tv")
    assert [item["resume"] for item in listed.json()["results"]] == [expected]
    # and no other row's tile says where to resume
    others = [item for row in rows if row["type"] != "continue_watching" for item in row["items"]]
    assert others
    assert all(item["resume"] is None for item in others)


@pytest.mark.parametrize("finished_first", [True, False])
def test_a_series_left_in_the_credits_of_its_last_episode_out_is_resumed_as_a_film_would_be(
    world, household, two_episode_show, finished_first
):
    # given: a two-episode series whose second (last) episode the profile stopped in its
    # credits, with no completion, the first finished or never played
    account, asha, _ = household
    show, first, second = two_episode_show
    if finished_first:
        record(asha, "play_start", show, days_ago=1.04, episode=first)
        record(asha, "complete", show, days_ago=1.03, episode=first)
    record(asha, "play_start", show, days_ago=1.02, episode=second)
    record(asha, "progress", show, days_ago=1.01, episode=second, value=99.0)
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)

    # then: nothing is left to resume in the credits; with the first finished, nothing is
    # left at all (as a film in its credits: not offered, and Play starts it again at 0),
    # else the first is, from the start (as after a finale finished alone)
    resumed = [] if finished_first else [(show.pk, 0.0)]
    assert with_progress(continue_watching_row(rows)) == with_progress(listed) == resumed
    assert title_detail_resume(account, asha, show) == {
        "episode_id": first.pk,
        "season_number": 1,
        "episode_number": 1,
        "progress": 0.0,
        "new_episodes": False,
    }
    body = token_client(account).get(f"/api/v1/titles/{show.pk}/?profile={asha.pk}").json()
    assert body["viewing"]["finished"] is False
    ticks = [e["finished"] for season in body["seasons"] for e in season["episodes"]]
    assert ticks == [finished_first, False]


def test_a_series_tile_says_where_play_starts_within_the_three_round_trips(
    world, household, two_episode_show, django_assert_num_queries, settings
):
    # given: a series whose first episode the profile finished, and warm per-process tables
    account, asha, _ = household
    show, first, second = two_episode_show
    record(asha, "play_start", show, days_ago=1.02, episode=first)
    record(asha, "complete", show, days_ago=1.01, episode=first)
    model_train(region_code=world.region.code)
    client = token_client(account)
    client.get(url(asha))
    settings.TONIGHT = {
        **settings.TONIGHT,
        "MODEL_VERSION_CHECK_SECONDS": 60,
        "CATALOGUE_REFRESH_SECONDS": 60,
    }
    client.get(url(asha))

    # when
    with django_assert_num_queries(3):
        response = client.get(url(asha, rows=40, items=20))

    # then: the tile names the next episode, from what the history read brought and the
    # catalogue arrays held, with no query of its own
    tile = continue_watching_row(response.json()["rows"])
    assert [item["resume"] for item in tile] == [
        {
            "episode_id": second.pk,
            "season_number": 1,
            "episode_number": 2,
            "progress": 0.0,
            "new_episodes": False,
        }
    ]


def continue_watching_scores(profile, titles) -> list[float]:
    """The homepage's Continue Watching score of each of ``titles`` (its candidate
    generator's recency, what decides which titles in progress reach the pool) now."""
    from recommendations.serving.scoring import ranking_inputs
    from tests.recommendations.scoring_context import profile_tv_context

    at = timezone.now()
    serving = recommend.profile_serving(profile=profile, at=at)
    inputs = ranking_inputs(
        bundle=serving.bundle,
        catalogue=serving.catalogue,
        history=serving.history,
        context=profile_tv_context(profile, at),
    )
    title_ids = serving.bundle.index.title_ids
    return [float(inputs.continue_watching[np.searchsorted(title_ids, t.pk)]) for t in titles]


def returning_series_beside_a_film(world, profile, two_episode_show, *, released: dt.date):
    """A series ``profile`` finished six months ago whose second season came out on
    ``released``, and a film it left at 40% three days ago: (series, film)."""
    show, first, second = two_episode_show
    for episode in (first, second):
        record(profile, "play_start", show, days_ago=180.02, episode=episode)
        record(profile, "complete", show, days_ago=180.01, episode=episode)
    season_two = SeasonFactory(title=show, number=2, release_date=released)
    EpisodeFactory(season=season_two, number=1)
    film = world.titles["drama"][0]
    record(profile, "play_start", film, days_ago=3.01)
    record(profile, "progress", film, days_ago=3, value=40.0)
    return show, film


def test_a_series_back_for_a_new_season_is_as_fresh_as_the_season(
    world, household, two_episode_show
):
    # given: a series the profile finished six months ago, whose second season came out
    # yesterday, and a film it left at 40% three days ago
    account, asha, _ = household
    release = (NOW - dt.timedelta(days=1)).date()
    show, film = returning_series_beside_a_film(world, asha, two_episode_show, released=release)
    model_train(region_code=world.region.code)

    # when
    _, listed = page_and_continue_watching(account, asha)
    show_score, film_score = continue_watching_scores(asha, [show, film])

    # then: the new season is news of yesterday, not of six months ago, on the page and in
    # the list alike: the series comes first, its recency counted from the season's release
    assert [item["title_id"] for item in listed] == [show.pk, film.pk]
    released = dt.datetime.combine(release, dt.time(), tzinfo=dt.UTC)
    days = (timezone.now() - released).total_seconds() / 86400
    assert show_score == pytest.approx(2 ** (-days / 14), rel=1e-3)
    assert show_score > film_score > 0


@pytest.mark.parametrize("left_in_credits", ["the finale", "the first episode"])
def test_a_series_whose_finale_was_left_in_its_credits_is_back_with_a_new_season_as_if_finished(
    world, household, two_episode_show, left_in_credits
):
    """A finale stopped in its end credits is done with (docs/signals.md, passed episodes):
    nothing of the series was left, as after its `complete`. Its new season is news of the
    day it came out, as for a series finished by a `complete`: counted from the old play
    instead, a series watched to the credits of its finale six months ago came after a film
    left three days ago, and its tiles said nothing was new."""
    # given: a two-episode series played six months ago, the first episode finished and the
    # finale stopped in its credits (or the first stopped in its credits, the finale never
    # played); a second season out since yesterday; a film left at 40% three days ago
    account, asha, _ = household
    show, first, second = two_episode_show
    if left_in_credits == "the finale":
        record(asha, "play_start", show, days_ago=180.04, episode=first)
        record(asha, "complete", show, days_ago=180.03, episode=first)
        passed = second
    else:
        passed = first
    record(asha, "play_start", show, days_ago=180.02, episode=passed)
    record(asha, "progress", show, days_ago=180.01, episode=passed, value=99.0)
    release = (NOW - dt.timedelta(days=1)).date()
    new_first = EpisodeFactory(
        season=SeasonFactory(title=show, number=2, release_date=release), number=1
    )
    film = world.titles["drama"][0]
    record(asha, "play_start", film, days_ago=3.01)
    record(asha, "progress", film, days_ago=3, value=40.0)
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)
    show_score, film_score = continue_watching_scores(asha, [show, film])
    tile = {item["title_id"]: item for item in continue_watching_row(rows)}[show.pk]

    # then: after the finale's credits, the series is back as a finished one is, at its new
    # season's first episode: first in the list, its recency the season's, its tile and
    # title page saying the episode is new; the finale is still not ticked (it is passed
    # until another episode is played). After the first episode's credits the finale was
    # left: the series counts from its play, at the finale, which is not new.
    if left_in_credits == "the finale":
        released = dt.datetime.combine(release, dt.time(), tzinfo=dt.UTC)
        days = (timezone.now() - released).total_seconds() / 86400
        assert [item["title_id"] for item in listed] == [show.pk, film.pk]
        assert show_score == pytest.approx(2 ** (-days / 14), rel=1e-3)
        resume = {"episode_id": new_first.pk, "season_number": 2, "episode_number": 1}
        new = True
    else:
        assert [item["title_id"] for item in listed] == [film.pk, show.pk]
        assert film_score > show_score > 0
        resume = {"episode_id": second.pk, "season_number": 1, "episode_number": 2}
        new = False
    expected = {**resume, "progress": 0.0, "new_episodes": new}
    assert tile["resume"] == title_detail_resume(account, asha, show) == expected
    body = token_client(account).get(f"/api/v1/titles/{show.pk}/?profile={asha.pk}").json()
    assert body["viewing"]["finished"] is False
    ticks = [e["finished"] for season in body["seasons"] for e in season["episodes"]]
    assert ticks == [left_in_credits == "the finale", False, False]


@pytest.mark.parametrize("liked", [False, True], ids=["not liked", "liked"])
@pytest.mark.parametrize("finale", ["complete", "left in its credits"])
def test_a_series_watched_to_its_finales_credits_is_a_watched_series_on_the_homepage(
    world, household, two_episode_show, finale, liked
):
    """A series whose finale was stopped in its end credits, every other episode finished,
    was watched to the end (finished_but_for_credits) as surely as one whose finale has its
    `complete`, though the passed finale has no tick and the series no `completed_at`. With
    nothing left it is not offered again as something new (the candidates, Top Picks,
    genre and language rows: no discovery row), is in Watch Again when the profile likes
    it, and is a "Because you watched" seed, as a finished series is. Read from
    `completed_at` alone, it was offered again as never watched, and liked, not in Watch
    Again."""
    # given: an action series the profile played two days ago, its first episode finished
    # and its finale finished or stopped in its credits, rated up or not
    account, asha, _ = household
    show, first, second = two_episode_show
    show.genres.add(world.titles["action"][0].genres.get())
    show.tags.add(world.titles["action"][0].tags.get())
    record(asha, "play_start", show, days_ago=2.04, episode=first)
    record(asha, "complete", show, days_ago=2.03, episode=first)
    record(asha, "play_start", show, days_ago=2.02, episode=second)
    if finale == "complete":
        record(asha, "complete", show, days_ago=2.01, episode=second)
    else:
        record(asha, "progress", show, days_ago=2.01, episode=second, value=99.0)
    if liked:
        record(asha, "thumbs_up", show, days_ago=2)
    model_train(region_code=world.region.code)

    # when
    client = token_client(account)
    rows, listed = page_and_continue_watching(account, asha)
    ranked = client.get(f"/api/v1/profiles/{asha.pk}/recommendations/?device=tv&n=100").json()[
        "results"
    ]
    narrow = client.get(url(asha, rows=40, items=1)).json()["rows"]

    # then: nothing left to resume; in no row but Watch Again (and there only when liked);
    # a candidate only when liked (for Watch Again); the seed of its own "Because you
    # watched" row (a row of one title a row, so that the first screen leaves it some)
    holding = {row["type"] for row in rows if show.pk in [i["title_id"] for i in row["items"]]}
    assert listed == []
    assert holding == ({"watch_again"} if liked else set())
    assert (show.pk in [item["title_id"] for item in ranked]) is liked
    assert f"because_you_watched:{show.pk}" in {row["id"] for row in narrow}


@pytest.mark.parametrize("liked", [False, True], ids=["not liked", "liked"])
@pytest.mark.parametrize("ending", ["complete", "left in its credits"])
def test_a_film_watched_to_its_credits_is_a_watched_film_on_the_homepage(
    world, household, ending, liked
):
    """A film stopped in its end credits (progress past Continue Watching's 95%, no
    `complete`) was watched, as a series finished but for its finale's credits is: it is
    not offered again as something new (no discovery row, no candidate unless liked), and
    liked, it is in Watch Again. Read from `completed_at` alone it was a Top Pick."""
    # given: an action film the profile played two days ago to its end or its credits,
    # rated up or not
    account, asha, _ = household
    film = world.titles["action"][0]
    record(asha, "play_start", film, days_ago=2.02)
    if ending == "complete":
        record(asha, "complete", film, days_ago=2.01)
    else:
        record(asha, "progress", film, days_ago=2.01, value=99.0)
    if liked:
        record(asha, "thumbs_up", film, days_ago=2)
    model_train(region_code=world.region.code)

    # when
    client = token_client(account)
    rows, listed = page_and_continue_watching(account, asha)
    ranked = client.get(f"/api/v1/profiles/{asha.pk}/recommendations/?device=tv&n=100").json()[
        "results"
    ]

    # then: nothing to resume; in no row but Watch Again (and there only when liked); a
    # candidate only when liked (for Watch Again)
    holding = {row["type"] for row in rows if film.pk in [i["title_id"] for i in row["items"]]}
    assert listed == []
    assert holding == ({"watch_again"} if liked else set())
    assert (film.pk in [item["title_id"] for item in ranked]) is liked


def test_a_new_seasons_day_starts_at_midnight_utc_whatever_the_sessions_time_zone(
    world, household, two_episode_show
):
    # given: a series finished six months ago whose second season came out two days ago,
    # and a film left at 40% at 06:00 UTC that day, read on a database session whose time
    # zone is UTC-12 (a pooler that does not keep Django's SET TIME ZONE)
    account, asha, _ = household
    release = (NOW - dt.timedelta(days=2)).date()
    show, film = returning_series_beside_a_film(world, asha, two_episode_show, released=release)
    six_am = dt.datetime.combine(release, dt.time(6), tzinfo=dt.UTC)
    ProfileTitleState.objects.filter(profile=asha, title=film).update(last_played_at=six_am)
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Etc/GMT+12'")

    # when
    listed = token_client(account).get(f"/api/v1/profiles/{asha.pk}/continue-watching/?device=tv")

    # then: the season counts from its day's midnight UTC, as on the homepage, so the film
    # (six hours later) comes first; read at midnight UTC-12 the season came out later
    assert [item["title_id"] for item in listed.json()["results"]] == [film.pk, show.pk]


@pytest.mark.parametrize("story", ["film left at 40%", "series back for a new season"])
def test_a_title_last_played_years_ago_is_still_in_continue_watching(
    world, household, two_episode_show, story
):
    # given: a film the profile left at 40% seven years ago, or a series it finished seven
    # years ago whose second season came out eight years after it started (three weeks
    # ago): both in /continue-watching/
    account, asha, _ = household
    show, first, second = two_episode_show
    years_ago = 7 * 365
    if story.startswith("film"):
        title = world.titles["drama"][0]
        record(asha, "play_start", title, days_ago=3.01)
        record(asha, "progress", title, days_ago=3, value=40.0)
        long_ago = NOW - dt.timedelta(days=years_ago)
        ProfileTitleState.objects.filter(profile=asha, title=title).update(
            first_played_at=long_ago, last_played_at=long_ago, playback_at=long_ago
        )
    else:
        title = show
        show.availabilities.update(starts_at=None)
        for episode in (first, second):
            record(asha, "play_start", show, days_ago=years_ago + 0.02, episode=episode)
            record(asha, "complete", show, days_ago=years_ago + 0.01, episode=episode)
        season_two = SeasonFactory(
            title=show, number=2, release_date=(NOW - dt.timedelta(days=21)).date()
        )
        EpisodeFactory(season=season_two, number=1)
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)

    # then: the page resumes it too: its score is small, never 0 (a float32 2^-(days/14)
    # underflowed to 0 after 5.7 years, which dropped the title from the page's row)
    assert [item["title_id"] for item in listed] == [title.pk]
    assert [item["title_id"] for item in continue_watching_row(rows)] == [title.pk]
    assert continue_watching_scores(asha, [title])[0] > 0


# --- Which model version serves the page (issue #6's serving rule) ------------------------


@pytest.fixture
def hindi_household(world):
    """A household of the region's Hindi cluster: a regular viewer and a newcomer."""
    cluster = TasteClusterFactory(region=world.region, slug="hindi", name="Hindi")
    account = AccountFactory(home_region=world.region)
    regular = ProfileFactory(account=account, name="Regular", taste_cluster=cluster)
    for title in world.titles["drama"][:4]:
        watch(regular, title)
    newcomer = ProfileFactory(account=account, name="Newcomer", taste_cluster=cluster)
    watch(newcomer, world.titles["drama"][0])  # one title: too little for a cluster model
    return cluster, account, regular, newcomer


def versions_served(client, profile) -> list[int | None]:
    """The model version the profile's homepage names, then its page log, then its ranked
    list. The page must have rows: an empty page would name a version it never used."""
    body = client.get(url(profile, items=4)).json()
    assert body["rows"]
    logged = PageLog.objects.get(pk=body["page_id"]).model_version_id
    listed = client.get(f"/api/v1/profiles/{profile.pk}/recommendations/?device=tv&n=5").json()
    return [body["model_version"], logged, listed["model_version"]]


def test_a_cluster_with_its_own_active_model_serves_its_profiles_pages(world, hindi_household):
    # given: the region's model, then the Hindi cluster's own (newer, so a different id)
    cluster, account, regular, _ = hindi_household
    regional = model_train(region_code=world.region.code)
    own = model_train(region_code=world.region.code, cluster=cluster)
    assert own.pk != regional.pk

    # when
    served = versions_served(token_client(account), regular)

    # then: the page, its log and the ranked list all name the cluster's version
    assert served == [own.pk] * 3


def test_a_profile_with_too_little_history_falls_back_to_the_regions_model(world, hindi_household):
    # given: the Hindi cluster has its own active model, the newcomer has watched one title
    cluster, account, _, newcomer = hindi_household
    regional = model_train(region_code=world.region.code)
    model_train(region_code=world.region.code, cluster=cluster)

    # when
    served = versions_served(token_client(account), newcomer)

    # then: the region's version served it, and says so in the response, the log and the list
    assert served == [regional.pk] * 3


def test_rows_below_the_first_screen_lead_with_titles_not_shown_above(world, household):
    # given: a profile whose "Because you watched" rows draw on one taste's neighbours, and
    # who just finished a drama
    account, asha, _ = household
    for days, title in enumerate(world.titles["action"][:4]):
        watch(asha, title, days_ago=1 + days)
    watch(asha, world.titles["drama"][0], days_ago=0.5)
    model_train(region_code=world.region.code)

    # when: rows one wider than the four new titles a row below the first screen must bring
    # (in this 32-film world the comedy row then shows four new and one repeat)
    rows = token_client(account).get(url(asha, rows=40, items=5)).json()["rows"]

    # then: in every row after the first screen, no repeat comes before a new title
    above: set[int] = {i["title_id"] for row in rows[:4] for i in row["items"]}
    mixed = 0
    for row in rows[4:]:
        repeats = [i["title_id"] in above for i in row["items"]]
        assert repeats == sorted(repeats), row["id"]  # False (new) first, then True
        mixed += 0 < sum(repeats) < len(repeats)
        above |= {i["title_id"] for i in row["items"]}
    assert mixed >= 1


# --- Finished titles and "% match" ----------------------------------------------------------


def test_a_finished_favourite_is_only_in_watch_again(world, household):
    # given: an acclaimed action film Asha finished and liked, and one she is half way through
    account, asha, _ = household
    favourite, started = world.titles["action"][1], world.titles["action"][2]
    for title in world.titles["action"][3:5]:
        watch(asha, title, days_ago=4)
    watch(asha, favourite, days_ago=2)
    record(asha, "thumbs_up", favourite, days_ago=1.9)
    record(asha, "play_start", started, days_ago=1.1)
    record(asha, "progress", started, days_ago=1, value=50.0)
    model_train(region_code=world.region.code)

    # when: three titles a row, so that in this 32-film world the rows below the first
    # screen still bring three new titles each
    rows = token_client(account).get(url(asha, rows=40, items=3)).json()["rows"]

    # then: each is in its own row and in no row of things to discover
    holding = {
        title.pk: {row["type"] for row in rows for i in row["items"] if i["title_id"] == title.pk}
        for title in (favourite, started)
    }
    assert holding[favourite.pk] == {"watch_again"}
    assert holding[started.pk] == {"continue_watching"}
    assert {"because_you_watched", "critically_acclaimed"} <= {row["type"] for row in rows}


def test_match_is_left_out_where_it_would_mislead(world, household):
    # given: Asha has a history and a film in progress; Ravi has only hovered,
    # previewed and liked a title he then took his rating back from (the fold-in reads
    # that, but it is no ground for a figure)
    account, asha, ravi = household
    for title in world.titles["drama"][:4]:
        watch(asha, title, days_ago=3)
    record(asha, "play_start", world.titles["drama"][5], days_ago=1.1)
    record(asha, "progress", world.titles["drama"][5], days_ago=1, value=30.0)
    for title in world.titles["comedy"][:4]:
        record(ravi, "hover", title, days_ago=1, value=2000)
    record(ravi, "preview", world.titles["comedy"][0], days_ago=1, value=30)
    record(ravi, "thumbs_up", world.titles["comedy"][1], days_ago=0.9)
    record(ravi, "thumbs_cleared", world.titles["comedy"][1], days_ago=0.8)
    model_train(region_code=world.region.code)
    client = token_client(account)

    # when
    pages = [client.get(url(p, rows=40, items=4)).json() for p in (asha, ravi)]

    # then: Asha's titles carry a match, except the one she is resuming and any the
    # figure would call unlikely; Ravi's carry none
    matches = [
        {row["type"]: [i["match"] for i in row["items"]] for row in page["rows"]} for page in pages
    ]
    assert matches[0]["continue_watching"] == [None]
    discovered = [m for t, ms in matches[0].items() if t != "continue_watching" for m in ms]
    assert [m for m in discovered if m is not None]
    assert all(m is None or MATCH_SHOWN_MIN <= m <= 99 for m in discovered)
    assert pages[1]["rows"]
    assert {m for ms in matches[1].values() for m in ms} == {None}
    for page in pages:
        assert_matches_operation(page, "GET", HOMEPAGE)


# --- History bounding ------------------------------------------------------------------------


def test_a_bounded_history_keeps_continue_watching_and_watch_again(world, household, monkeypatch):
    # given: a film started weeks ago and a favourite finished and thumbed up, both older
    # than the newest signals a request reads (bounded to 10 here)
    account, asha, _ = household
    started, favourite = world.titles["drama"][5], world.titles["comedy"][3]
    record(asha, "play_start", started, days_ago=20.1)
    record(asha, "progress", started, days_ago=20, value=40.0)
    watch(asha, favourite, days_ago=15)
    record(asha, "thumbs_up", favourite, days_ago=14.9)
    for n, title in enumerate(world.titles["action"] * 3):
        record(asha, "hover", title, days_ago=1 + n / 100)
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", 10)
    model_train(region_code=world.region.code)
    read = recommend.profile_history_rows(profile_id=asha.pk, at=None)
    assert read.signals.shape[0] == 10  # the old signals are not read...
    assert not set(read.signals[:, 1].astype(int).tolist()) & {started.pk, favourite.pk}

    # when
    rows = token_client(account).get(url(asha, rows=40, items=4)).json()["rows"]

    # then: ...yet the derived title states keep both rows, with the film's progress
    by_type = {row["type"]: row["items"] for row in rows}
    resume = {i["title_id"]: i["progress"] for i in by_type["continue_watching"]}
    assert resume[started.pk] == 40.0
    assert favourite.pk in {i["title_id"] for i in by_type["watch_again"]}
    finished = [i for items in by_type.values() for i in items if i["title_id"] == favourite.pk]
    assert all(i["progress"] is None for i in finished)  # finished: nothing to resume


def test_impressions_are_bounded_apart_and_do_not_push_plays_out(world, household, monkeypatch):
    # given: two films watched a week ago, then many pages that showed other titles: more
    # impressions since than the history's bound (lowered to 6 here, impressions to 5)
    account, asha, _ = household
    for n, title in enumerate(world.titles["action"][:2]):
        watch(asha, title, days_ago=7 + n)
    for n, title in enumerate((world.titles["drama"] + world.titles["comedy"]) * 3):
        record(asha, "impression", title, days_ago=1 + n / 100)
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", 6)
    monkeypatch.setattr(recommend, "HISTORY_MAX_IMPRESSIONS", 5)
    model_train(region_code=world.region.code)

    # when
    read = recommend.profile_history_rows(profile_id=asha.pk, at=None)
    page = token_client(account).get(url(asha)).json()

    # then: every play is read, and only the newest impressions, newest first
    impression = recommend.SignalCode.IMPRESSION
    kinds = read.signals[:, 3]
    assert np.count_nonzero(kinds != impression) == 4  # two play starts, two completions
    assert np.count_nonzero(kinds == impression) == 5
    assert np.all(np.diff(read.signals[:, 5]) <= 0)
    assert read.signals[kinds == impression, 5].min() > read.signals[kinds != impression, 5].max()
    # nothing but impressions was cut, so the history is complete for everything else
    assert read.complete_after < read.signals[-1, 5]
    # and the page is personalised by those plays ("% match" shown), not by popularity
    matches = [i["match"] for row in page["rows"] for i in row["items"]]
    assert any(m is not None for m in matches)


def test_impressions_stamped_after_the_page_are_not_read_but_plays_are(world, household):
    # given: a client whose clock runs two minutes ahead sent a play and an impression
    _, asha, _ = household
    ahead = dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=2)
    title = world.titles["action"][0]
    record(asha, "play_start", title, at=ahead)
    record(asha, "impression", world.titles["drama"][0], at=ahead)

    # when
    read = recommend.profile_history_rows(profile_id=asha.pk, at=None)

    # then: the play counts now (clock skew); the impression would take a place under the
    # impressions' bound for a tile the page could not have been built after
    kinds = read.signals[:, 3].tolist()
    assert kinds == [recommend.SignalCode.PLAY_START]


def test_a_history_read_in_another_order_is_put_newest_first(world, household, monkeypatch):
    # given: a history whose rows the database returns oldest first (UNION ALL promises
    # no order; here an outer ORDER BY forces the wrong one), bounded to 4 signals
    _, asha, _ = household
    for n, title in enumerate(world.titles["action"][:3]):
        watch(asha, title, days_ago=10 - n)
    record(asha, "thumbs_down", world.titles["drama"][0], days_ago=1)
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", 4)
    expected = recommend.profile_history_rows(profile_id=asha.pk, at=None)
    statement = recommend._history_read_sql()
    monkeypatch.setattr(
        recommend,
        "_history_read_sql",
        lambda: f"SELECT * FROM ({statement}) AS r ORDER BY 6",  # noqa: S608
    )

    # when
    read = recommend.profile_history_rows(profile_id=asha.pk, at=None)

    # then: the same signals, newest first, the same bound and the same title states
    assert np.all(np.diff(read.signals[:, 5]) <= 0)
    np.testing.assert_array_equal(read.signals[:, 5], expected.signals[:, 5])
    assert read.complete_after == expected.complete_after == read.signals[-1, 5]
    by_title = np.argsort(read.states[:, 0]), np.argsort(expected.states[:, 0])
    np.testing.assert_array_equal(read.states[by_title[0]], expected.states[by_title[1]])
    assert read.states.shape[0] == 4


def _same_engagement(left, right) -> bool:
    return all(
        np.array_equal(getattr(left, name), getattr(right, name))
        for name in ("plays", "plays_by_hour", "plays_by_device", "plays_by_daypart")
    ) and np.array_equal(left.scroll_past, right.scroll_past)


@pytest.mark.parametrize("bound", [3000, 8])
def test_row_engagement_counted_from_the_history_read_equals_the_query(
    world, household, monkeypatch, bound
):
    # given: row habits on two devices, scroll-pasts, an unknown row type and plain signals
    _, asha, _ = household
    record_row_habit(asha, world, "continue_watching", [8, 9, 21], device="mobile")
    record_row_habit(asha, world, "new_releases", [20, 21], device="tv")
    scrolls = row_events(asha, "genre:drama", [22, 23], kind="row_scroll_past")
    odd = row_events(asha, "from_an_old_client:7", [10])
    for event in odd:
        event.title_id = world.titles["drama"][0].pk
    signal_batch_record(profile=asha, events=scrolls + odd)
    for title in world.titles["action"][:3]:
        watch(asha, title)
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", bound)
    zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
    read = recommend.profile_history_rows(profile_id=asha.pk, at=None)
    now = dt.datetime.now(tz=dt.UTC)

    # when
    with CaptureQueriesContext(connection) as queries:
        counted = profile_row_engagement(profile_id=asha.pk, at=now, zone=zone, history=read)
    asked = profile_row_engagement(profile_id=asha.pk, at=now, zone=zone)

    # then: the same counts; a query only when the bound cut the window short
    assert _same_engagement(counted, asked)
    assert asked.plays.sum() == 5
    assert asked.scroll_past.sum() == 2
    assert len(queries.captured_queries) == (0 if bound == 3000 else 1)


def test_row_events_tied_at_a_cut_historys_oldest_instant_are_read_when_the_window_starts_there(
    world, household, monkeypatch
):
    """A history cut short holds every signal only *after* its oldest instant (ties with
    it may be left out): when the row-event window starts at that very instant, the
    events are read with their own query, not counted from the history."""
    # given: two plays from New Releases at the window's first instant (one client batch,
    # one stamp) and one a second before the page; a history bounded at two signals
    _, asha, _ = household
    at = NOW.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    start = at - dt.timedelta(days=homepage.ROW_EVENTS_DAYS)
    title = world.titles["comedy"][7]
    record_row_signals(
        asha,
        title,
        [("play_start", "new_releases", m) for m in (start, start, at - dt.timedelta(seconds=1))],
    )
    monkeypatch.setattr(recommend, "HISTORY_MAX_SIGNALS", 2)
    read = recommend.profile_history_rows(profile_id=asha.pk, at=at)
    assert read.complete_after == start.timestamp()  # cut at the window's first instant

    # when
    engagement = profile_row_engagement(profile_id=asha.pk, at=at, zone=dt.UTC, history=read)

    # then: all three plays count, the tied one the history left out too
    assert engagement.plays[ROW_TYPES.index("new_releases")] == 3.0


def test_tiles_seen_are_counted_from_the_oldest_row_event_read_when_exactly_the_bound_is_read(
    world, household, monkeypatch
):
    """A read that returns exactly its bound may have left older events unread, as training
    (``ranker_training._newest_before``) takes it: the rate of plays per tile seen must set
    the events read against the tiles seen in the same period, or serving and training see
    different features for one page."""
    # given: row events bounded at three; a Top Picks tile seen five hours before the page,
    # three plays from New Releases in the three hours before it, a tile seen half an hour
    # before it
    _, asha, _ = household
    monkeypatch.setattr(homepage, "ROW_EVENTS_MAX", 3)
    at = NOW.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    title = world.titles["comedy"][7]
    hour = dt.timedelta(hours=1)
    moments = [
        ("impression", "top_picks", at - 5 * hour),
        ("play_start", "new_releases", at - 3 * hour),
        ("play_start", "new_releases", at - 2 * hour),
        ("play_start", "new_releases", at - hour),
        ("impression", "top_picks", at - hour / 2),
    ]
    record_row_signals(asha, title, moments)
    read = recommend.profile_history_rows(profile_id=asha.pk, at=at)

    # when
    engagement = profile_row_engagement(profile_id=asha.pk, at=at, zone=dt.UTC, history=read)

    # then: the three plays were all the bound let be read, so the period is theirs: the
    # tile seen half an hour before counts, the one seen five hours before does not
    assert engagement.seen[ROW_TYPES.index("top_picks")] == 1.0


@pytest.mark.parametrize(
    "read_at",
    [dt.timedelta(0), dt.timedelta(minutes=1), None],
    ids=["history read for the page", "history read a minute later", "own query"],
)
def test_row_events_count_from_the_windows_first_instant_to_just_before_the_page(
    world, household, read_at
):
    # given: plays started from New Releases one second before the row-event window, at
    # its first instant (exactly 180 days before the page, docs/recommendations.md), one
    # second before the page and at the page's own instant; the page's moment pinned
    _, asha, _ = household
    at = NOW.replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    start = at - dt.timedelta(days=180)
    second = dt.timedelta(seconds=1)
    moments = [start - second, start, at - second, at]
    title = world.titles["comedy"][7]
    record_row_signals(asha, title, [("play_start", "new_releases", m) for m in moments])
    read = (
        recommend.profile_history_rows(profile_id=asha.pk, at=at + read_at)
        if read_at is not None
        else None
    )

    # when
    engagement = profile_row_engagement(profile_id=asha.pk, at=at, zone=dt.UTC, history=read)

    # then: the window's first instant and the second before the page count; neither the
    # second before the window nor the page's own instant does
    assert engagement.plays.tolist() == [
        2.0 if row_type == "new_releases" else 0.0 for row_type in ROW_TYPES
    ]


@pytest.mark.parametrize(
    "query",
    [
        "",
        "device=tv",
        "device=mobile",
        "device=web&device=tablet",
        "device=phone",
        "rows=3",
        "at=2026-12-04T20:00:00",
        "at=9999-12-31T23:00:00Z",
    ],
)
def test_the_usual_query_reads_as_the_serializer_reads_it(query):
    """homepage_params answers "at most a device" itself; what it answers must be what
    the serializer would (and anything else must still reach the serializer)."""
    from django.http import QueryDict
    from rest_framework.exceptions import ValidationError

    from recommendations.apis.homepage import HomepageQuerySerializer, homepage_params

    serializer = HomepageQuerySerializer(data=QueryDict(query))
    if serializer.is_valid():
        assert homepage_params(QueryDict(query)) == dict(serializer.validated_data)
    else:
        with pytest.raises(ValidationError) as refused:
            homepage_params(QueryDict(query))
        assert refused.value.detail == serializer.errors


def test_an_offsets_unencoded_plus_is_named_as_the_mistake(household):
    account, asha, _ = household
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    moment = NOW.astimezone(india).isoformat(timespec="seconds")
    assert "+05:30" in moment

    # sent as is: the query string reads the '+' as a space
    response = token_client(account).get(url(asha, at=moment))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"at"}
    assert "%2B" in response.json()["message"]
    # so does the same mistake with an offset without its colon, or a space for the T
    for variant in (moment.replace("+05:30", "+0530"), moment.replace("T", " ")):
        again = token_client(account).get(url(asha, at=variant))
        assert again.status_code == 400
        assert "%2B" in again.json()["message"], variant
    # any other malformed time keeps the general reason
    other = token_client(account).get(url(asha, at=moment.replace("+05:30", "+5")))
    assert other.status_code == 400
    assert "%2B" not in other.json()["message"]


def report(account, profile, title, *events) -> None:
    """``events`` ((kind, episode or None, value or None, minutes ago)) posted through the
    signals API, as a client sends them."""
    body = [
        {
            "kind": kind,
            "title": title.pk,
            "device": "tv",
            "occurred_at": (timezone.now() - dt.timedelta(minutes=ago)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
            **({"episode": episode.pk} if episode else {}),
            **({"value": value} if value is not None else {}),
        }
        for kind, episode, value, ago in events
    ]
    response = token_client(account).post(
        f"/api/v1/profiles/{profile.pk}/signals/", {"events": body}, format="json"
    )
    assert response.status_code == 200, response.json()


def three_surfaces(account, profile, show) -> tuple[list, list, dict | None]:
    """What the homepage's Continue Watching row, /continue-watching/ and the title page say
    of ``show``: the row's (episode, progress), the list's, and the title page's resume."""
    rows, listed = page_and_continue_watching(account, profile)
    tiles = [
        (item["resume"]["episode_id"], item["progress"])
        for item in continue_watching_row(rows)
        if item["title_id"] == show.pk
    ]
    items = [
        (item["episode_id"], item["progress"]) for item in listed if item["title_id"] == show.pk
    ]
    return tiles, items, title_detail_resume(account, profile, show)


def test_a_series_whose_passed_finale_gets_a_new_season_is_back_at_its_first_episode(
    world, household, two_episode_show
):
    # given: a two-episode series whose pilot the profile finished and whose finale it left
    # in its credits (passed: nothing left), all through the signals API
    account, asha, _ = household
    show, first, second = two_episode_show
    report(
        account,
        asha,
        show,
        ("play_start", first, None, 3000),
        ("complete", first, None, 2950),
        ("play_start", second, None, 2900),
        ("progress", second, 99.0, 2850),
    )
    model_train(region_code=world.region.code)
    restart = {
        "episode_id": first.pk,
        "season_number": 1,
        "episode_number": 1,
        "progress": 0.0,
        "new_episodes": False,
    }

    # then: not in Continue Watching anywhere, and Play starts the series again
    assert three_surfaces(account, asha, show) == ([], [], restart)

    # when: a second season comes out (added to the catalogue later, out since the midnight
    # UTC before the play 20 minutes ago below: after the finale's credits at any time of
    # day, where yesterday's date put 23:10 UTC's credits after it)
    season_two = SeasonFactory(
        title=show, number=2, release_date=(timezone.now() - dt.timedelta(minutes=20)).date()
    )
    new_first = EpisodeFactory(season=season_two, number=1)
    EpisodeFactory(season=season_two, number=2)

    # then: the series is back, with the new season's first episode next, at 0, everywhere,
    # and that episode is new, as after the finale's complete: the series was finished but
    # for the finale's credits
    next_up = {**restart, "episode_id": new_first.pk, "season_number": 2, "new_episodes": True}
    assert three_surfaces(account, asha, show) == (
        [(new_first.pk, 0.0)],
        [(new_first.pk, 0.0)],
        next_up,
    )

    # when: the profile starts it and stops midway
    report(
        account, asha, show, ("play_start", new_first, None, 20), ("progress", new_first, 40.0, 10)
    )

    # then: that episode resumes where it stopped, everywhere; and the finale, moved on
    # from, is finished, so the series was finished before the season came out: its
    # episodes are still new ones
    assert three_surfaces(account, asha, show) == (
        [(new_first.pk, 40.0)],
        [(new_first.pk, 40.0)],
        {**next_up, "progress": 40.0},
    )


def test_a_passed_finale_is_not_offered_again_once_the_new_season_is_binged(
    world, household, two_episode_show
):
    # given: the pilot finished, the finale left in its credits, then a second season out
    # since yesterday and binged to its end, all through the signals API
    account, asha, _ = household
    show, first, second = two_episode_show
    season_two = SeasonFactory(
        title=show, number=2, release_date=(timezone.now() - dt.timedelta(days=1)).date()
    )
    new_first = EpisodeFactory(season=season_two, number=1)
    new_second = EpisodeFactory(season=season_two, number=2)
    report(
        account,
        asha,
        show,
        ("play_start", first, None, 3000),
        ("complete", first, None, 2950),
        ("play_start", second, None, 2900),
        ("progress", second, 99.0, 2850),
        ("play_start", new_first, None, 20),
        ("complete", new_first, None, 9),
        ("play_start", new_second, None, 8),
        ("complete", new_second, None, 2),
    )
    model_train(region_code=world.region.code)
    restart = {
        "episode_id": first.pk,
        "season_number": 1,
        "episode_number": 1,
        "progress": 0.0,
        "new_episodes": False,
    }

    # then: nothing is left that the profile has not watched to its credits: not back in
    # Continue Watching for the finale it passed a season ago, and Play starts it again
    # (today every surface offers S1:E2, the passed finale, at 0)
    assert three_surfaces(account, asha, show) == ([], [], restart)


def test_an_episode_passed_then_gone_back_from_counts_as_watched_on_every_surface(
    world, household, two_episode_show
):
    # given: the finale watched first and left in its credits, then the pilot started and
    # stopped midway, all through the signals API
    account, asha, _ = household
    show, first, second = two_episode_show
    report(
        account,
        asha,
        show,
        ("play_start", second, None, 300),
        ("progress", second, 99.0, 256),
        ("play_start", first, None, 200),
        ("progress", first, 40.0, 180),
    )
    model_train(region_code=world.region.code)

    # then: the pilot resumes where it stopped, everywhere
    pilot = {
        "episode_id": first.pk,
        "season_number": 1,
        "episode_number": 1,
        "progress": 40.0,
        "new_episodes": False,
    }
    assert three_surfaces(account, asha, show) == (
        [(first.pk, 40.0)],
        [(first.pk, 40.0)],
        pilot,
    )

    # when: the pilot is finished
    report(account, asha, show, ("complete", first, None, 150))

    # then: the finale, seen to its credits and moved on from, is watched: nothing is left,
    # and Play starts the series again (it offered the finale, at 0)
    assert three_surfaces(account, asha, show) == ([], [], {**pilot, "progress": 0.0})


def test_a_series_whose_only_finished_episode_was_deleted_does_not_resume_at_100(
    world, household, two_episode_show
):
    # given: a series whose pilot the profile finished (nothing else played), then deleted
    # from the catalogue: its id leaves the state's finished ones and its last episode,
    # which keeps the pilot's 100%, now naming no episode
    account, asha, _ = household
    show, first, second = two_episode_show
    report(account, asha, show, ("play_start", first, None, 60), ("complete", first, None, 30))
    model_train(region_code=world.region.code)
    first.delete()

    # then: the series has its one episode left, at 0 on every surface: Play never starts
    # in the credits, least of all in another episode's (it read "S1:E2 at 100%")
    left = {
        "episode_id": second.pk,
        "season_number": 1,
        "episode_number": 2,
        "progress": 0.0,
        "new_episodes": False,
    }
    assert three_surfaces(account, asha, show) == ([(second.pk, 0.0)], [(second.pk, 0.0)], left)


def test_a_series_whose_episode_stopped_midway_was_deleted_does_not_resume_another_there(
    world, household, two_episode_show
):
    # given: a series whose second episode the profile stopped at 40% (the first never
    # played), then deleted from the catalogue: its state's last episode is cleared
    account, asha, _ = household
    show, first, second = two_episode_show
    report(account, asha, show, ("play_start", second, None, 60), ("progress", second, 40.0, 30))
    model_train(region_code=world.region.code)
    second.delete()

    # then: the series is left from its first episode, at 0 on every surface: the 40% was
    # the deleted episode's, not the first's (it read "Resume S1:E1 at 40%")
    left = {
        "episode_id": first.pk,
        "season_number": 1,
        "episode_number": 1,
        "progress": 0.0,
        "new_episodes": False,
    }
    assert three_surfaces(account, asha, show) == ([(first.pk, 0.0)], [(first.pk, 0.0)], left)


def test_a_series_completion_stored_naming_no_episode_does_not_resume_at_100(
    world, household, two_episode_show
):
    # given: the state a series' complete naming no episode left before ingest refused it
    # (an imported rating of a series folds the same): played, 100%, no episode named
    account, asha, _ = household
    show, first, _ = two_episode_show
    played = timezone.now() - dt.timedelta(hours=1)
    ProfileTitleState.objects.create(
        profile=asha,
        title=show,
        first_played_at=played,
        last_played_at=played,
        last_event_at=played,
        playback_at=played,
        play_count=1,
        progress=100.0,
    )
    model_train(region_code=world.region.code)

    # then: the series starts at its first episode, at 0, on every surface (it read
    # "S1:E1 at 100%")
    start = {
        "episode_id": first.pk,
        "season_number": 1,
        "episode_number": 1,
        "progress": 0.0,
        "new_episodes": False,
    }
    assert three_surfaces(account, asha, show) == ([(first.pk, 0.0)], [(first.pk, 0.0)], start)


def test_progress_or_a_completion_sent_without_a_play_is_resumed_on_every_surface(
    world, household, two_episode_show
):
    # given: a film whose play_start never arrived, only a checkpoint at 40%, and a series
    # whose pilot was marked finished with no play sent, all through the signals API
    account, asha, _ = household
    show, first, second = two_episode_show
    film = world.titles["comedy"][0]
    report(account, asha, film, ("progress", None, 40.0, 30))
    report(account, asha, show, ("complete", first, None, 20))
    model_train(region_code=world.region.code)

    # when
    rows, listed = page_and_continue_watching(account, asha)

    # then: the title page resumes both (it did), and so do the homepage's row and
    # /continue-watching/, which left them out as never played (the row in its ranker's
    # order, the list most recently played first)
    assert with_progress(listed) == [(show.pk, 0.0), (film.pk, 40.0)]
    assert sorted(with_progress(continue_watching_row(rows))) == sorted(with_progress(listed))
    assert title_detail_resume(account, asha, film)["progress"] == 40.0
    assert title_detail_resume(account, asha, show)["episode_id"] == second.pk
    assert listed[0]["episode_id"] == second.pk
