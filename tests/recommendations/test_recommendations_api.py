"""GET /api/v1/profiles/{id}/recommendations/: filters, fold-in, ranker mode, match, access."""

import datetime as dt

import pytest
from django.utils import timezone

from catalog.models import MaturityLevel
from recommendations.apis import recommendations as recommendations_api
from recommendations.apis.recommendations import MODEL_RETRY_SECONDS
from recommendations.services.training import model_train
from recommendations.serving.scoring import MATCH_SHOWN_MIN
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TitleFactory,
    TitleLocalizationFactory,
)
from tests.module_world import module_world, the_module_world
from tests.recommendations.test_training import (
    World,
    _fresh_serving,  # noqa: F401 - the autouse fixture applies here too
    build_world,
    record,
    synthetic_examples,
    watch,
)

pytestmark = pytest.mark.django_db
NOW = timezone.now()


def url(profile, **params) -> str:
    """The list's URL as a TV app asks for it, unless ``params`` name another device."""
    query = "&".join(f"{k}={v}" for k, v in ({"device": "tv"} | params).items())
    return f"/api/v1/profiles/{profile.pk}/recommendations/?{query}"


# Built once for the module (tests/module_world.py), not for each of its tests.
_world = module_world(build_world, folder="world")


@pytest.fixture
def world(_world, settings, db) -> World:
    return the_module_world(settings, _world)


@pytest.fixture
def viewer(world):
    """A profile of its own household in the world's region, with no history yet."""
    return ProfileFactory(account=AccountFactory(home_region=world.region), name="Asha")


@pytest.fixture
def client(viewer):
    return token_client(viewer.account)


def recommended(client, profile, **params) -> list[int]:
    response = client.get(url(profile, n=200, **params))
    assert response.status_code == 200, response.json()
    return [item["title_id"] for item in response.json()["results"]]


def test_the_response_names_the_model_ranker_and_sources(world, viewer, client):
    version = model_train(region_code=world.region.code)

    response = client.get(url(viewer, n=5, device="mobile"))

    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == version.pk
    assert body["ranker"] == "prior"
    assert len(body["results"]) == 5
    first = body["results"][0]
    assert set(first) == {"title_id", "name", "score", "match", "sources"}
    assert 0.0 < first["score"] < 1.0
    # No history yet: ranked by popularity, so no "% match" (as on the homepage)
    assert first["match"] is None
    assert first["sources"]
    assert set(first["sources"]) <= {
        "cf",
        "content",
        "trending",
        "new_release",
        "continue_watching",
    }


def test_names_are_localised_to_the_profiles_display_language(world, viewer, client):
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")
    viewer.display_language = tamil
    viewer.save()
    title = world.titles["action"][0]
    TitleLocalizationFactory(title=title, language=tamil, name="அதிரடி 0")
    model_train(region_code=world.region.code)

    results = client.get(url(viewer, n=200)).json()["results"]
    names = {item["title_id"]: item["name"] for item in results}
    assert names[title.pk] == "அதிரடி 0"
    assert names[world.titles["comedy"][0].pk] == "comedy 0"


def test_only_titles_available_in_the_region_now_are_recommended(world, viewer, client):
    ended = TitleFactory(original_name="ended")
    AvailabilityFactory(
        title=ended,
        region=world.region,
        starts_at=NOW - dt.timedelta(days=90),
        ends_at=NOW - dt.timedelta(days=1),
    )
    upcoming = TitleFactory(original_name="upcoming")
    AvailabilityFactory(title=upcoming, region=world.region, starts_at=NOW + dt.timedelta(days=1))
    elsewhere = TitleFactory(original_name="elsewhere")
    AvailabilityFactory(title=elsewhere, region=RegionFactory(code="BR", name="Brazil"))
    model_train(region_code=world.region.code)

    titles = recommended(client, viewer)

    assert set(titles) == {t.pk for t in world.all_titles()}

    # A window that opens later is picked up without a retrain.
    upcoming.availabilities.update(starts_at=NOW - dt.timedelta(hours=1))
    assert upcoming.pk in recommended(client, viewer)


def test_kids_get_nothing_above_their_maturity_limit(world):
    mature = world.titles["action"][0]
    mature.maturity = MaturityLevel.SIXTEEN
    mature.save()
    account = AccountFactory(home_region=world.region)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    adult = ProfileFactory(account=account, name="Adult")
    model_train(region_code=world.region.code)
    client = token_client(account)

    assert mature.pk not in recommended(client, kid)
    assert mature.pk in recommended(client, adult)


def test_thumbs_down_removes_the_title_and_its_content_neighbours(world, viewer, client):
    disliked = world.titles["action"][0]
    record(viewer, "thumbs_down", disliked)
    model_train(region_code=world.region.code)

    titles = recommended(client, viewer)

    assert disliked.pk not in titles
    assert not {t.pk for t in world.titles["action"][1:]} & set(titles)  # same genre, tag, director
    assert {t.pk for t in world.titles["comedy"]} <= set(titles)


@pytest.mark.parametrize("cleared", ["before training", "since training"])
def test_a_thumbs_down_cleared_since_no_longer_removes_the_title_or_its_neighbours(
    world, viewer, client, cleared
):
    # given: the viewer gave an action film a thumbs down, then removed the rating
    disliked = world.titles["action"][0]
    record(viewer, "thumbs_down", disliked, days_ago=2)
    if cleared == "before training":
        record(viewer, "thumbs_cleared", disliked, days_ago=1)
    model_train(region_code=world.region.code)
    if cleared == "since training":
        record(viewer, "thumbs_cleared", disliked, days_ago=1)
    unrated = ProfileFactory(account=viewer.account, name="Unrated")

    # when
    titles = recommended(client, viewer)

    # then: the film and its neighbours are back, as for a profile that never rated it
    assert disliked.pk in titles
    assert {t.pk for t in world.titles["action"]} <= set(titles)
    assert titles == recommended(client, unrated)


def test_completed_titles_return_only_when_rewatch_worthy(world, viewer, client):
    finished, loved = world.titles["comedy"][:2]
    watch(viewer, finished)
    watch(viewer, loved)
    record(viewer, "thumbs_up", loved)
    model_train(region_code=world.region.code)

    titles = recommended(client, viewer)

    assert finished.pk not in titles
    assert loved.pk in titles


def test_new_signals_change_the_recommendations_without_a_retrain(world, viewer, client):
    version = model_train(region_code=world.region.code)
    before = client.get(url(viewer, n=4)).json()["results"]

    # The viewer, unknown to the model, now watches two romances.
    watch(viewer, world.titles["romance"][0], days_ago=0.2)
    watch(viewer, world.titles["romance"][1], days_ago=0.1)
    body = client.get(url(viewer, n=4)).json()

    assert body["model_version"] == version.pk  # the same model, no retrain
    after = body["results"]
    assert [r["title_id"] for r in after] != [r["title_id"] for r in before]
    top_two = {r["title_id"] for r in after[:2]}
    assert top_two == {t.pk for t in world.titles["romance"][2:]}
    assert all("cf" in r["sources"] for r in after[:2])
    assert "cf" not in {s for r in before for s in r["sources"]}


def test_the_api_reports_when_the_ranker_has_learned(world, viewer, client):
    model_train(region_code=world.region.code)
    assert client.get(url(viewer)).json()["ranker"] == "prior"

    learned = model_train(region_code=world.region.code, ranker_examples=synthetic_examples())

    body = client.get(url(viewer)).json()
    assert body["model_version"] == learned.pk  # picked up without a restart
    assert body["ranker"] == "learned"


@pytest.mark.parametrize("learned", [False, True], ids=["prior", "learned"])
def test_a_higher_score_never_has_a_lower_match(world, viewer, client, learned):
    watch(viewer, world.titles["romance"][0])
    record(viewer, "hover", world.titles["comedy"][1], value=800)
    examples = synthetic_examples() if learned else None
    model_train(region_code=world.region.code, ranker_examples=examples)

    results = client.get(url(viewer, n=200)).json()["results"]

    scores = [r["score"] for r in results]
    # None is a figure below MATCH_SHOWN_MIN, so it may only follow the shown ones
    matches = [-1 if r["match"] is None else r["match"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert matches == sorted(matches, reverse=True)
    assert len(set(matches) - {-1}) > 1
    assert min(set(matches) - {-1}) >= MATCH_SHOWN_MIN


def test_another_households_profile_is_a_404(world, viewer):
    model_train(region_code=world.region.code)
    stranger = token_client(AccountFactory(home_region=world.region))
    assert stranger.get(url(viewer)).status_code == 404


def test_anonymous_requests_are_refused(world, viewer):
    from rest_framework.test import APIClient

    response = APIClient().get(url(viewer))

    # 401, as the schema documents: the API's Token authentication names its scheme
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"n": 0}, "n"),
        ({"n": 201}, "n"),
        ({"n": "many"}, "n"),
        ({"n": "2_0"}, "n"),  # int() reads 20
        ({"n": "5.0"}, "n"),
        ({"device": "fridge"}, "device"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(world, viewer, client, params, field):
    model_train(region_code=world.region.code)
    response = client.get(url(viewer, **params))
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_without_any_trained_model_the_answer_is_a_503(viewer, client, caplog, monkeypatch):
    # (a process that has not yet said so for any region)
    monkeypatch.setattr(recommendations_api, "_operators_told", set())

    responses = [client.get(url(viewer)) for _ in range(3)]

    for response in responses:
        assert response.status_code == 503
        assert response["Retry-After"] == str(MODEL_RETRY_SECONDS)
        # the client is told to come back, not to run an operator's command
        assert response.json() == {
            "message": "Recommendations are not available yet: try again after Retry-After "
            "seconds.",
            "code": "model_unavailable",
            "errors": {},
        }
    # the operator is told what to do, in the server's log, once for the region, not per request
    hints = [r for r in caplog.records if "manage.py train_models" in r.getMessage()]
    assert len(hints) == 1
    assert hints[0].levelname == "WARNING"
    assert f"region {viewer.account.home_region_id}" in hints[0].getMessage()


def test_a_region_without_its_own_model_is_served_by_the_global_one(world, viewer, client):
    version = model_train(region_code=None)
    assert client.get(url(viewer)).json()["model_version"] == version.pk


def test_a_request_costs_a_handful_of_queries(
    world, viewer, client, settings, django_assert_max_num_queries
):
    settings.TONIGHT = {**settings.TONIGHT, "CATALOGUE_REFRESH_SECONDS": 300}
    watch(viewer, world.titles["romance"][0])
    model_train(region_code=world.region.code)
    client.get(url(viewer))  # loads the model into the process

    # token, profile, active version, signals, states, languages, names (2)
    with django_assert_max_num_queries(9):
        assert client.get(url(viewer, n=50)).status_code == 200


def test_a_profile_with_history_gets_a_match_except_for_what_it_resumes(world, viewer, client):
    # given: a history, and a film half watched
    for title in world.titles["action"][:2]:
        watch(viewer, title, days_ago=3)
    started = world.titles["action"][3]
    record(viewer, "play_start", started, days_ago=1.1)
    record(viewer, "progress", started, days_ago=1, value=50.0)
    model_train(region_code=world.region.code)

    # when
    results = client.get(url(viewer, n=50)).json()["results"]

    # then
    match = {r["title_id"]: r["match"] for r in results}
    assert match[started.pk] is None
    others = [m for t, m in match.items() if t != started.pk]
    assert [m for m in others if m is not None]
    assert all(m is None or MATCH_SHOWN_MIN <= m <= 99 for m in others)


def test_a_list_without_a_device_is_a_400_saying_what_to_send(client, viewer):
    # The device is a ranking feature and chooses the frames: a phone that forgot to say
    # so must not be ranked as a TV, as the homepage would not serve it a TV's page.
    response = client.get(f"/api/v1/profiles/{viewer.pk}/recommendations/?n=5")

    assert response.status_code == 400
    assert response.json()["errors"] == {"device": ["Required: one of tv, mobile, tablet, web."]}
