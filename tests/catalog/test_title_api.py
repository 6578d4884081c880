"""GET /api/v1/titles/{id}/: localised detail, seasons, credits, artwork; region and profile."""

import datetime as dt
import io
import uuid
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from catalog.models import MaturityLevel
from config.api.renderers import OrjsonRenderer
from recommendations.serving.row_copy import RowCopy, genre_names_localized, row_copy_texts
from tests.factories import (
    ArtworkThemeFactory,
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
    TitleFactory,
    TitleLocalizationFactory,
)
from tests.releases import first_release_after

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def series(account):
    season = SeasonFactory(number=1)
    title = season.title
    EpisodeFactory(season=season, number=1, name="Pilot")
    CreditFactory(title=title, role="actor", character="Sartaj")
    variant = ArtworkVariantFactory(title=title, label="rooftop", for_mobile=False)
    variant.themes.add(ArtworkThemeFactory(slug="action"))
    AvailabilityFactory(title=title, region=account.home_region)
    return title


def detail(client, title, profile, query="", **headers):
    return client.get(f"/api/v1/titles/{title.pk}/?profile={profile.pk}{query}", **headers)


def test_the_detail_is_localised_and_complete(api_client, profile, series):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=tamil, name="புனித விளையாட்டு", synopsis="x")

    body = detail(api_client, series, profile, "&language=ta").json()

    assert body["name"] == "புனித விளையாட்டு"
    assert body["seasons"][0]["episodes"][0]["name"] == "Pilot"
    assert body["credits"][0]["character"] == "Sartaj"
    art = body["artwork"][0]
    assert art["url"].startswith("http://testserver/media/")
    assert art["themes"] == ["action"]
    assert "mobile" not in art["device_classes"]


def test_the_profiles_display_language_is_used(api_client, account, series):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=tamil, name="தமிழ் பெயர்")
    viewer = ProfileFactory(account=account, name="Meena", display_language=tamil)

    body = detail(api_client, series, viewer).json()

    assert body["name"] == "தமிழ் பெயர்"


def test_the_profiles_display_language_costs_one_query_its_localisation(
    api_client, account, series
):
    # given: a profile with a display language and one without
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=tamil, name="தமிழ் பெயர்")
    plain = ProfileFactory(account=account, name="Ravi")
    viewer = ProfileFactory(account=account, name="Meena", display_language=tamil)
    detail(api_client, series, plain)  # warm what a process reads once

    # when
    counts = []
    for someone in (plain, viewer):
        with CaptureQueriesContext(connection) as queries:
            assert detail(api_client, series, someone).status_code == 200
        counts.append(len(queries))

    # then: the localisation is read by the code the profile's row holds, not after
    # reading the language's own row for it
    assert counts[1] == counts[0] + 1, counts


def test_genres_come_localised_as_the_homepages_genre_rows_name_them(api_client, account, series):
    # given: a title of two genres the catalogues translate and one they do not, and a
    # profile that reads Spanish
    genres = [
        GenreFactory(slug="action", name="Action"),
        GenreFactory(slug="thriller", name="Thriller"),
        GenreFactory(slug="cyberpunk", name="Cyberpunk"),
    ]
    series.genres.set(genres)
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    viewer = ProfileFactory(account=account, name="Lucía", display_language=spanish)

    # when
    body = detail(api_client, series, viewer).json()

    # then: `genres` stays English, as documented; `localized_genres` names each in the
    # profile's language by the words of its homepage's genre row (the same catalogue),
    # English where it has none, in the order of `genres`, with the id a genre row's
    # `genre:<id>` carries
    assert body["genres"] == ["Action", "Cyberpunk", "Thriller"]
    row_titles = {
        genre.name: row_copy_texts(
            [RowCopy("genre", genre.name)],
            display_language="es",
            tables=SimpleNamespace(row_copy={}),
        )[0][0]
        for genre in genres
    }
    assert row_titles["Action"] == "Acción"
    by_name = {genre.name: genre.pk for genre in genres}
    assert body["localized_genres"] == [
        {"id": by_name[name], "name": row_titles[name]} for name in body["genres"]
    ]
    assert body["localized_genres"][2]["name"] == "Suspense"
    assert body["localized_genres"][1]["name"] == "Cyberpunk"


def test_localized_genres_follow_the_language_asked_for_as_the_name_does(
    api_client, account, series
):
    series.genres.set([GenreFactory(slug="action", name="Action")])
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    viewer = ProfileFactory(account=account, name="Lucía", display_language=spanish)
    plain = ProfileFactory(account=account, name="Ravi")

    asked = detail(api_client, series, viewer, "&language=ta").json()
    unset = detail(api_client, series, plain).json()

    assert [g["name"] for g in asked["localized_genres"]] == ["ஆக்‌ஷன்"]
    # a profile with no display language reads English, as its homepage does
    assert [g["name"] for g in unset["localized_genres"]] == ["Action"]


def test_localized_genres_cost_no_query_however_many(api_client, account, series):
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    viewer = ProfileFactory(account=account, name="Lucía", display_language=spanish)
    series.genres.set([GenreFactory(slug="action", name="Action")])
    detail(api_client, series, viewer)  # warm what a process reads once

    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert detail(api_client, series, viewer).status_code == 200
        return len(queries)

    one = statements()
    series.genres.add(*(GenreFactory(slug=s, name=s.title()) for s in ("drama", "crime")))

    assert statements() == one


def test_the_synopsis_is_the_languages_own_else_the_originals(api_client, profile, series):
    # given: a Tamil synopsis, a Telugu name without one, and no Malayalam localisation
    series.synopsis = "A cop takes on a crime lord."
    series.save()
    for code, name, native in (("ta", "Tamil", "தமிழ்"), ("te", "Telugu", "తెలుగు")):
        LanguageFactory(code=code, name=name, native_name=native)
    LanguageFactory(code="ml", name="Malayalam", native_name="മലയാളം")
    TitleLocalizationFactory(
        title=series, language_id="ta", name="தாதா", synopsis="ஒரு போலீஸ்காரன் மோதுகிறான்."
    )
    TitleLocalizationFactory(title=series, language_id="te", name="దాదా", synopsis="")

    # when
    synopses = {
        code: detail(api_client, series, profile, f"&language={code}").json()["synopsis"]
        for code in ("ta", "te", "ml")
    }

    # then: the original's, wherever the language has none
    assert synopses == {
        "ta": "ஒரு போலீஸ்காரன் மோதுகிறான்.",
        "te": "A cop takes on a crime lord.",
        "ml": "A cop takes on a crime lord.",
    }


def test_titles_not_available_in_the_accounts_region_now_are_404(api_client, profile, series):
    series.availabilities.update(ends_at=NOW - dt.timedelta(days=1), starts_at=None)
    assert detail(api_client, series, profile).status_code == 404

    series.availabilities.update(ends_at=None, region=RegionFactory(code="BR", name="Brazil"))
    assert detail(api_client, series, profile).status_code == 404


def test_an_unknown_language_is_a_400_naming_it(api_client, profile, series):
    response = detail(api_client, series, profile, "&language=zz")
    assert response.status_code == 400
    # in the API's words, not the ORM's "Object with code=zz does not exist."
    assert response.json()["errors"] == {"language": ['No language with code "zz".']}


@pytest.mark.parametrize("code", ["pt-BR", "pt_br", "PT", "pt-br"])
def test_a_regional_or_capitalised_code_is_a_400_not_read_as_the_language(
    api_client, profile, series, code
):
    # The README's promise: codes are the catalogue's, ISO 639-1 in lower case; nothing a
    # client sends is replaced by something else, so "pt-BR" is not quietly read as "pt".
    portuguese = LanguageFactory(code="pt", name="Portuguese", native_name="Português")
    TitleLocalizationFactory(title=series, language=portuguese, name="Jogos Sagrados")

    response = detail(api_client, series, profile, f"&language={code}")

    assert response.status_code == 400
    assert response.json()["errors"] == {"language": [f'No language with code "{code}".']}


def test_accept_language_is_not_read(api_client, account, series):
    # A household's devices are shared by its profiles: the profile's display language
    # (or `language`) says what it reads, and errors are English, whatever the device's
    # locale (README, "Languages").
    hindi = LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    TitleLocalizationFactory(title=series, language=hindi, name="हिन्दी नाम")
    TitleLocalizationFactory(title=series, language=tamil, name="தமிழ் பெயர்")
    viewer = ProfileFactory(account=account, name="Meena", display_language=hindi)

    body = detail(api_client, series, viewer, HTTP_ACCEPT_LANGUAGE="ta").json()
    refused = detail(APIClient(), series, viewer, HTTP_ACCEPT_LANGUAGE="es")

    assert body["name"] == "हिन्दी नाम"
    assert refused.status_code == 401
    assert refused.json()["message"] == "Authentication credentials were not provided."
    assert "Content-Language" not in refused


def test_a_language_with_a_nul_character_is_a_400_naming_it(api_client, profile, series):
    # PostgreSQL text cannot hold NUL: the lookup raised, a 500 (found by schemathesis)
    response = detail(api_client, series, profile, "&language=t%00a")

    assert response.status_code == 400
    assert response.json()["errors"] == {"language": ['Must be a language code, such as "ta".']}


def test_an_active_variant_without_an_image_is_left_out(api_client, profile, series):
    broken = ArtworkVariantFactory(title=series, label="lost upload")
    type(broken).objects.filter(pk=broken.pk).update(image="")

    response = detail(api_client, series, profile)

    assert response.status_code == 200
    assert [art["label"] for art in response.json()["artwork"]] == ["rooftop"]


def test_the_profile_is_required(api_client, series):
    # Without it there would be no maturity limit to apply: a kids device could leave it out.
    response = api_client.get(f"/api/v1/titles/{series.pk}/")

    assert response.status_code == 400
    # and the message says what to send, as the homepage's `device` does (it said only
    # "This field is required.", which a client developer found no help)
    assert response.json()["errors"]["profile"] == [
        "Required: the id of the profile opening the title (its maturity limit applies)."
    ]


def test_a_kids_profile_gets_neither_titles_nor_artwork_above_its_limit(api_client, account):
    # given: an 18+ title, and an all-ages one with an 18+ frame beside an all-ages one
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    adult = ProfileFactory(account=account, name="Adult")
    mature = TitleFactory(maturity=MaturityLevel.EIGHTEEN)
    AvailabilityFactory(title=mature, region=account.home_region)
    family = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(title=family, region=account.home_region)
    ArtworkVariantFactory(title=family, label="gore", maturity=MaturityLevel.EIGHTEEN)
    ArtworkVariantFactory(title=family, label="picnic", maturity=MaturityLevel.ALL)

    # then: the kid is told what it is told of a title that does not exist
    above_limit = detail(api_client, mature, kid)
    assert above_limit.status_code == 404
    assert detail(api_client, mature, adult).status_code == 200
    nonexistent = api_client.get(f"/api/v1/titles/{mature.pk + 1000}/", {"profile": kid.pk})
    assert above_limit.json() == nonexistent.json()
    assert above_limit.json()["message"] == "No title with this id is available to this profile."
    kids_art = [art["label"] for art in detail(api_client, family, kid).json()["artwork"]]
    adult_art = [art["label"] for art in detail(api_client, family, adult).json()["artwork"]]
    assert kids_art == ["picnic"]
    assert sorted(adult_art) == ["gore", "picnic"]


@pytest.mark.parametrize(
    ("maturity", "label"), [(MaturityLevel.ALL, "All ages"), (MaturityLevel.THIRTEEN, "13+")]
)
def test_a_titles_rating_comes_with_the_label_a_profiles_limit_has(
    api_client, account, maturity, label
):
    # given: a title, and a profile whose limit is the title's rating
    profile = ProfileFactory(account=account, name="Asha", maturity_limit=maturity)
    title = TitleFactory(maturity=maturity)
    AvailabilityFactory(title=title, region=account.home_region)

    # when
    body = detail(api_client, title, profile).json()
    limit = api_client.get(f"/api/v1/profiles/{profile.pk}/").json()

    # then: the number as before, and the words a client shows beside it
    assert (body["maturity"], body["maturity_label"]) == (maturity, label)
    assert limit["maturity_label"] == label


def test_a_pin_protected_profile_needs_its_unlock_token(api_client, account, series):
    parent = ProfileFactory(account=account, name="Parent")
    parent.set_pin("4321")
    parent.save()

    locked = detail(api_client, series, parent)
    token = api_client.post(
        f"/api/v1/profiles/{parent.pk}/unlock/", {"pin": "4321"}, format="json"
    ).json()["token"]
    unlocked = detail(api_client, series, parent, HTTP_X_PROFILE_UNLOCK=token)

    assert locked.status_code == 403
    assert locked.json()["code"] == "profile_locked"
    assert unlocked.status_code == 200


def test_the_schema_says_the_profile_is_required_and_may_be_locked():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/titles/{title_id}/"]["get"]

    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["profile"]["required"] is True
    assert "X-Profile-Unlock" in parameters
    assert {"400", "403", "404"} <= set(operation["responses"])


def test_a_season_says_when_it_comes_out_so_an_announced_one_is_not_offered(
    api_client, profile, series
):
    # given: season 1 out (no date known), season 2 announced for next month
    announced = (NOW + dt.timedelta(days=30)).date()
    season_two = SeasonFactory(title=series, number=2, release_date=announced)
    EpisodeFactory(season=season_two, number=1, name="Return")

    body = detail(api_client, series, profile).json()

    # then: the client can tell the announced season from the one it may play
    assert [(s["number"], s["release_date"]) for s in body["seasons"]] == [
        (1, None),
        (2, announced.isoformat()),
    ]


def report(client, profile, title, *events, minutes_ago: int = 1) -> None:
    """``events`` ((kind, episode or None, value or None), oldest first) posted as a client
    would, a minute apart and ending ``minutes_ago``, so the profile's title state is real."""
    start = timezone.now() - dt.timedelta(minutes=len(events) + minutes_ago)
    body = [
        {
            "kind": kind,
            "title": title.pk,
            "device": "tv",
            "occurred_at": (start + dt.timedelta(minutes=i)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
        }
        | ({"episode": episode.pk} if episode else {})
        | ({"value": value} if value is not None else {})
        for i, (kind, episode, value) in enumerate(events)
    ]
    response = client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": body}, format="json"
    )
    assert response.status_code == 200, response.json()


def finished_episodes(body) -> list[tuple[int, int, bool]]:
    return [
        (season["number"], episode["number"], episode["finished"])
        for season in body["seasons"]
        for episode in season["episodes"]
    ]


def test_the_viewing_profile_sees_its_own_rating_progress_and_finished_episodes(
    api_client, account, profile, series
):
    # given: a two-episode season; Asha rated it up, finished the pilot and is halfway
    # through the second; Ravi, of the same household, rated it down 20% into the pilot
    pilot = series.seasons.get().episodes.get()
    second = EpisodeFactory(season=pilot.season, number=2, name="Second")
    ravi = ProfileFactory(account=account, name="Ravi")
    report(
        api_client,
        profile,
        series,
        ("thumbs_up", None, None),
        ("play_start", pilot, None),
        ("complete", pilot, None),
        ("play_start", second, None),
        ("progress", second, 50),
    )
    report(
        api_client,
        ravi,
        series,
        ("play_start", pilot, None),
        ("progress", pilot, 20),
        ("thumbs_down", None, None),
    )

    # when
    asha_sees = detail(api_client, series, profile).json()
    ravi_sees = detail(api_client, series, ravi).json()

    # then: each its own
    assert asha_sees["viewing"] == {
        "thumbs": "up",
        "finished": False,
        "resume": {
            "episode_id": second.pk,
            "season_number": 1,
            "episode_number": 2,
            "progress": 50.0,
            "new_episodes": False,
        },
    }
    assert finished_episodes(asha_sees) == [(1, 1, True), (1, 2, False)]
    assert ravi_sees["viewing"] == {
        "thumbs": "down",
        "finished": False,
        "resume": {
            "episode_id": pilot.pk,
            "season_number": 1,
            "episode_number": 1,
            "progress": 20.0,
            "new_episodes": False,
        },
    }
    assert finished_episodes(ravi_sees) == [(1, 1, False), (1, 2, False)]


def test_a_title_never_played_has_nowhere_to_resume(api_client, account, profile, series):
    # given: Asha never touched it; Ravi only rated it
    ravi = ProfileFactory(account=account, name="Ravi")
    report(api_client, ravi, series, ("thumbs_up", None, None))

    asha_sees = detail(api_client, series, profile).json()
    ravi_sees = detail(api_client, series, ravi).json()

    assert asha_sees["viewing"] == {"thumbs": None, "finished": False, "resume": None}
    assert ravi_sees["viewing"] == {"thumbs": "up", "finished": False, "resume": None}
    assert finished_episodes(asha_sees) == finished_episodes(ravi_sees) == [(1, 1, False)]


@pytest.mark.parametrize(
    ("story", "finished", "progress"),
    [
        ("played to 40%", False, 40.0),
        ("sampled", False, 0.0),
        ("in its credits", False, 0.0),
        ("finished", True, 0.0),
        ("finished, played again to 30%", True, 30.0),
    ],
)
def test_a_film_resumes_where_continue_watching_would(
    api_client, account, profile, story, finished, progress
):
    # given: a film the profile played
    film = TitleFactory(kind="film")
    AvailabilityFactory(title=film, region=account.home_region)
    events = {
        "played to 40%": [("play_start", None, None), ("progress", None, 40)],
        "sampled": [("play_start", None, None), ("progress", None, 1)],
        "in its credits": [("play_start", None, None), ("progress", None, 99)],
        "finished": [("play_start", None, None), ("complete", None, None)],
        "finished, played again to 30%": [
            ("play_start", None, None),
            ("complete", None, None),
            ("play_start", None, None),
            ("progress", None, 30),
        ],
    }[story]
    report(api_client, profile, film, *events)

    body = detail(api_client, film, profile).json()

    # then: Play starts where it stopped midway, else from the start (again, if finished)
    assert body["viewing"] == {
        "thumbs": None,
        "finished": finished,
        "resume": {
            "episode_id": None,
            "season_number": None,
            "episode_number": None,
            "progress": progress,
            "new_episodes": False,
        },
    }
    assert body["seasons"] == []


@pytest.mark.parametrize(
    ("story", "resumes_at", "ticks"),
    [
        # the credits of an episode with another after it: Play starts the next, at 0
        ("the pilot to 99% of two", (1, 2), [False, False]),
        # the credits of the last episode out, the others finished: nothing is left to
        # resume, as a film in its credits; Play starts the series again, at 0
        ("the pilot finished, the last to 99%", (1, 1), [True, False]),
        # the only episode out, in its credits
        ("the pilot to 99% of one", (1, 1), [False]),
        # a rewatch in the credits resumes nothing either
        ("the series finished, the pilot played again to 99%", (1, 1), [True, True]),
        # a season out since, its last episode out in the credits: nothing new is left
        ("the series finished, a new season's only episode to 99%", (1, 1), [True, True, False]),
    ],
)
def test_an_episode_left_in_its_credits_is_passed_not_finished(
    api_client, profile, series, story, resumes_at, ticks
):
    # given: a series whose episode the profile stopped in its credits, with no completion
    # (for the last story, of a season added to the catalogue after the series was finished)
    pilot = series.seasons.get().episodes.get()
    second = None if story.endswith("of one") else EpisodeFactory(season=pilot.season, number=2)
    finished = story.startswith("the series finished")
    done = {"the pilot finished, the last to 99%": [pilot]}.get(
        story, [pilot, second] if finished else []
    )
    watched = [(kind, episode, None) for episode in done for kind in ("play_start", "complete")]
    if watched:
        report(api_client, profile, series, *watched, minutes_ago=10)
    if "new season" in story:
        yesterday = (timezone.now() - dt.timedelta(days=1)).date()
        season_two = SeasonFactory(title=series, number=2, release_date=yesterday)
        left_in_credits = EpisodeFactory(season=season_two, number=1)
    else:
        left_in_credits = second if story.endswith("the last to 99%") else pilot
    report(
        api_client,
        profile,
        series,
        ("play_start", left_in_credits, None),
        ("progress", left_in_credits, 99),
    )

    # when
    body = detail(api_client, series, profile).json()

    # then: Play never starts in the credits, and the episode left there is not ticked
    resume = body["viewing"]["resume"]
    assert (resume["season_number"], resume["episode_number"], resume["progress"]) == (
        *resumes_at,
        0.0,
    )
    assert resume["new_episodes"] is False
    assert [f for _, _, f in finished_episodes(body)] == ticks
    assert body["viewing"]["finished"] is finished


@pytest.mark.parametrize(
    ("season_two", "resumes_at", "finished"),
    [
        # a season announced is not out: Play starts the series again from its first episode
        ("announced", (1, 1), [True, True, False]),
        # a returning series resumes at the new season's first episode
        ("out since yesterday", (2, 1), [True, True, False]),
    ],
)
def test_a_finished_series_resumes_only_into_a_season_out(
    api_client, profile, series, season_two, resumes_at, finished
):
    # given: season 1 (two episodes) finished, and a season 2 announced or just out
    pilot = series.seasons.get().episodes.get()
    second = EpisodeFactory(season=pilot.season, number=2)
    days = 30 if season_two == "announced" else -1
    release = (timezone.now() + dt.timedelta(days=days)).date()
    EpisodeFactory(season=SeasonFactory(title=series, number=2, release_date=release), number=1)
    report(
        api_client,
        profile,
        series,
        ("play_start", pilot, None),
        ("complete", pilot, None),
        ("play_start", second, None),
        ("complete", second, None),
    )

    body = detail(api_client, series, profile).json()

    resume = body["viewing"]["resume"]
    assert (resume["season_number"], resume["episode_number"], resume["progress"]) == (
        *resumes_at,
        0.0,
    )
    # season 2 was out before season 1 was finished (or is not out): nothing new since
    assert resume["new_episodes"] is False
    assert [f for _, _, f in finished_episodes(body)] == finished
    assert body["viewing"]["finished"] is (season_two == "announced")


def test_a_completion_stored_before_its_season_was_out_does_not_tick_it_once_out(
    api_client, profile, series
):
    # given: a state as ingest folded it before it refused episodes not out (until
    # December 2026): S2E1 finished two days ago, though season 2 came out only after it.
    # Stored here with season 2 dated earlier (ingest now refuses the events), then
    # dated as it is.
    pilot = series.seasons.get().episodes.get()
    second = EpisodeFactory(season=pilot.season, number=2)
    season_two = SeasonFactory(
        title=series, number=2, release_date=(NOW - dt.timedelta(days=5)).date()
    )
    new_first = EpisodeFactory(season=season_two, number=1)
    EpisodeFactory(season=season_two, number=2)
    start = timezone.now() - dt.timedelta(days=2)
    body = [
        {
            "kind": kind,
            "title": series.pk,
            "episode": episode.pk,
            "device": "tv",
            "occurred_at": (start + dt.timedelta(minutes=i)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
        }
        for i, (kind, episode) in enumerate(
            (kind, episode)
            for episode in (pilot, second, new_first)
            for kind in ("play_start", "complete")
        )
    ]
    response = api_client.post(
        reverse("v1:signals", args=[profile.pk]), {"events": body}, format="json"
    )
    assert response.status_code == 200, response.json()
    # out from the midnight after S2E1's completion (yesterday's, at most): yesterday's date
    # from the clock put the completion after it from 23:55 UTC, or across midnight
    season_two.release_date = first_release_after(start + dt.timedelta(minutes=len(body) - 1))
    season_two.save()

    # when: the states are folded again from the log (reviewed with --dry-run first), and
    # the profile opens the series now that season 2 is out
    call_command("title_states_refold", stdout=io.StringIO(), stderr=io.StringIO())
    body = detail(api_client, series, profile).json()

    # then: S2E1, which the profile could not have watched, is not finished: Play starts it
    assert finished_episodes(body) == [(1, 1, True), (1, 2, True), (2, 1, False), (2, 2, False)]
    resume = body["viewing"]["resume"]
    assert (resume["season_number"], resume["episode_number"]) == (2, 1)


def test_a_title_detail_costs_the_same_queries_whatever_its_size(api_client, account, profile):
    # given: a one-episode series and a three-season one, both partly watched, with
    # credits and themed frames in proportion
    theme = ArtworkThemeFactory(slug="action")

    def watched_series(seasons: int, episodes: int):
        title = TitleFactory(kind="series")
        AvailabilityFactory(title=title, region=account.home_region)
        for n in range(seasons * 2):
            CreditFactory(title=title, role=("actor", "director")[n % 2], order=n)
            ArtworkVariantFactory(title=title).themes.add(theme)
        all_episodes = [
            EpisodeFactory(season=season, number=number)
            for season in (SeasonFactory(title=title, number=n) for n in range(1, seasons + 1))
            for number in range(1, episodes + 1)
        ]
        first = all_episodes[0]
        report(
            api_client,
            profile,
            title,
            ("thumbs_up", None, None),
            ("play_start", first, None),
            ("complete", first, None),
        )
        return title

    small, large = watched_series(1, 1), watched_series(3, 4)
    detail(api_client, small, profile)  # warm what a process reads once

    # when
    counts = []
    for title in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert detail(api_client, title, profile).status_code == 200
        counts.append(len(queries))

    # then: the profile's state is one read; episodes come with the seasons, not per
    # season, people with the credits and themes with the frames
    assert counts[0] == counts[1], counts


def test_the_schema_documents_the_viewing_state():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    viewing = components["TitleDetail"]["properties"]["viewing"]
    assert viewing["allOf"] == [{"$ref": "#/components/schemas/TitleViewing"}]
    assert set(components["TitleViewing"]["properties"]) == {"thumbs", "finished", "resume"}
    assert components["TitleViewing"]["properties"]["resume"]["nullable"] is True
    assert components["ResumePoint"]["required"] == [
        "episode_id",
        "episode_number",
        "new_episodes",
        "progress",
        "season_number",
    ]
    assert components["Episode"]["properties"]["finished"]["type"] == "boolean"


def test_credits_and_artwork_keep_their_order_when_one_of_them_is_edited(
    api_client, profile, series
):
    # given: two more actors billed alike (admin's default order, 0) and two more frames
    # stored in one instant (the seeder writes a title's frames with one created_at)
    for character in ("Ganesh", "Kanta"):
        CreditFactory(title=series, role="actor", character=character)
    for label in ("stairwell", "monsoon"):
        ArtworkVariantFactory(title=series, label=label)
    series.artwork_variants.update(created_at=NOW)

    def order(body):
        return [c["character"] for c in body["credits"]], [a["label"] for a in body["artwork"]]

    before = order(detail(api_client, series, profile).json())

    # when: staff link the first actor's credit to the right person, correct the
    # character, and correct the first frame's label, as admin saves them (PostgreSQL
    # writes an updated row anew, after the others, when an indexed column changes)
    credit = series.credits.get(character="Sartaj")
    credit.person = PersonFactory(name="Saif Ali Khan")
    credit.character = "Sartaj Singh"
    credit.save()
    variant = series.artwork_variants.get(label="rooftop")
    variant.label = "rooftop chase"
    variant.save()
    after = order(detail(api_client, series, profile).json())

    # then: the lists stay in their order: billing, then the order they were added in
    assert after == (
        ["Sartaj Singh", "Ganesh", "Kanta"],
        ["rooftop chase", "stairwell", "monsoon"],
    ), before


def test_a_title_the_profile_may_not_open_is_answered_as_one_that_does_not_exist(
    api_client, account
):
    # given: a kids profile, and titles of every kind it may not open: licensed in another
    # region only, licensed here until yesterday, announced here from next week, above its
    # limit; and an id that names no title
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    elsewhere = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(title=elsewhere, region=RegionFactory(code="US", name="United States"))
    lapsed = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(
        title=lapsed,
        region=account.home_region,
        starts_at=NOW - dt.timedelta(days=30),
        ends_at=NOW - dt.timedelta(days=1),
    )
    announced = TitleFactory(maturity=MaturityLevel.ALL)
    AvailabilityFactory(
        title=announced, region=account.home_region, starts_at=NOW + dt.timedelta(days=7)
    )
    mature = TitleFactory(maturity=MaturityLevel.SIXTEEN)
    AvailabilityFactory(title=mature, region=account.home_region)
    ids = [999_999, elsewhere.pk, lapsed.pk, announced.pk, mature.pk]

    # when
    answers = [
        (response.status_code, response.content)
        for response in (api_client.get(f"/api/v1/titles/{pk}/", {"profile": kid.pk}) for pk in ids)
    ]

    # then: one answer, status and body, whichever it is: the title page does not tell a
    # caller which ids are titles, nor a child which it is hidden
    assert answers[0] == (
        404,
        b'{"message":"No title with this id is available to this profile.",'
        b'"code":"not_found","errors":{}}',
    )
    assert answers == [answers[0]] * len(ids)


def test_a_rich_titles_detail_is_pinned_whole_with_its_query_count(
    api_client, account, django_assert_num_queries
):
    # given: a localised series of two seasons (one announced), credits of every role,
    # two frames (one above the kids profile's limit, one for no phone) and two genres,
    # partly watched and rated by a Spanish-reading kids profile
    spanish = LanguageFactory(code="es", name="Spanish", native_name="Español")
    viewer = ProfileFactory(
        account=account,
        name="Lucía",
        display_language=spanish,
        maturity_limit=MaturityLevel.THIRTEEN,
    )
    title = TitleFactory(
        kind="series",
        original_name="Sacred Games",
        release_date=dt.date(2018, 7, 6),
        runtime_minutes=50,
        maturity=MaturityLevel.THIRTEEN,
        critic_score=81,
    )
    AvailabilityFactory(title=title, region=account.home_region)
    TitleLocalizationFactory(
        title=title, language=spanish, name="Juegos sagrados", synopsis="Un policía de Bombay."
    )
    title.genres.set([GenreFactory(slug="thriller", name="Thriller"), GenreFactory(slug="crime")])
    first = SeasonFactory(title=title, number=1, name="Season 1")
    announced = SeasonFactory(
        title=title, number=2, name="Season 2", release_date=dt.date(2099, 1, 1)
    )
    pilot = EpisodeFactory(season=first, number=1, name="Ashwathama", runtime_minutes=58)
    second = EpisodeFactory(season=first, number=2, name="Halahala", runtime_minutes=49)
    later = EpisodeFactory(season=announced, number=1, name="Matsya", runtime_minutes=52)
    # made in an order the credits are not listed in
    CreditFactory(title=title, role="writer", person=PersonFactory(name="Varun Grover"))
    CreditFactory(
        title=title, role="actor", order=0, person=PersonFactory(name="Saif"), character="Sartaj"
    )
    CreditFactory(title=title, role="director", person=PersonFactory(name="Anurag"))
    chase = ArtworkVariantFactory(title=title, label="Rooftop chase", for_mobile=False)
    chase.themes.add(ArtworkThemeFactory(slug="action"), ArtworkThemeFactory(slug="lead-face"))
    ArtworkVariantFactory(title=title, label="Too grim", maturity=MaturityLevel.EIGHTEEN)
    calm = ArtworkVariantFactory(title=title, label="Skyline")
    report(
        api_client,
        viewer,
        title,
        ("thumbs_up", None, None),
        ("play_start", pilot, None),
        ("complete", pilot, None),
        ("play_start", second, None),
        ("progress", second, 30),
    )
    detail(api_client, title, viewer)  # warm what a process reads once

    # when
    with django_assert_num_queries(11):
        response = detail(api_client, title, viewer)

    # then: every field, in order, as the page was drawn before its read became a selector
    expected = {
        "id": title.pk,
        "kind": "series",
        "name": "Juegos sagrados",
        "synopsis": "Un policía de Bombay.",
        "original_name": "Sacred Games",
        "original_language": title.original_language_id,
        "release_date": "2018-07-06",
        "runtime_minutes": 50,
        "maturity": 13,
        "maturity_label": "13+",
        "critic_score": 81,
        "genres": ["Crime", "Thriller"],
        "localized_genres": [],  # filled below: the catalogue's words, not this test's
        "seasons": [
            {
                "id": first.pk,
                "number": 1,
                "name": "Season 1",
                "release_date": None,
                "episodes": [
                    {
                        "id": pilot.pk,
                        "number": 1,
                        "name": "Ashwathama",
                        "runtime_minutes": 58,
                        "finished": True,
                    },
                    {
                        "id": second.pk,
                        "number": 2,
                        "name": "Halahala",
                        "runtime_minutes": 49,
                        "finished": False,
                    },
                ],
            },
            {
                "id": announced.pk,
                "number": 2,
                "name": "Season 2",
                "release_date": "2099-01-01",
                "episodes": [
                    {
                        "id": later.pk,
                        "number": 1,
                        "name": "Matsya",
                        "runtime_minutes": 52,
                        "finished": False,
                    }
                ],
            },
        ],
        "credits": [
            {"person": "Saif", "role": "actor", "character": "Sartaj"},
            {"person": "Anurag", "role": "director", "character": ""},
            {"person": "Varun Grover", "role": "writer", "character": ""},
        ],
        "artwork": [
            {
                "id": chase.pk,
                "label": "Rooftop chase",
                "url": f"http://testserver{chase.image.url}",
                # Factory frames have no sized copies made: every class is sent the upload.
                "urls": dict.fromkeys(
                    ("tv", "mobile", "tablet", "web"), f"http://testserver{chase.image.url}"
                ),
                "themes": ["action", "lead-face"],
                "device_classes": ["tv", "tablet", "web"],
            },
            {
                "id": calm.pk,
                "label": "Skyline",
                "url": f"http://testserver{calm.image.url}",
                # Factory frames have no sized copies made: every class is sent the upload.
                "urls": dict.fromkeys(
                    ("tv", "mobile", "tablet", "web"), f"http://testserver{calm.image.url}"
                ),
                "themes": [],
                "device_classes": ["tv", "mobile", "tablet", "web"],
            },
        ],
        "viewing": {
            "thumbs": "up",
            "finished": False,
            "resume": {
                "episode_id": second.pk,
                "season_number": 1,
                "episode_number": 2,
                "progress": 30.0,
                "new_episodes": False,
            },
        },
    }
    expected["localized_genres"] = [
        {"id": genre.pk, "name": name}
        for genre, name in zip(
            title.genres.order_by("name"),
            genre_names_localized(["Crime", "Thriller"], display_language="es"),
            strict=True,
        )
    ]
    assert expected["localized_genres"][1]["name"] == "Suspense"  # translated, not copied
    assert response.status_code == 200
    assert response.content == OrjsonRenderer().render(expected)
