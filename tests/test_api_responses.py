"""Every view's real answers, success and errors, are what the OpenAPI schema documents.

A client generated from the schema (a TV app's Kotlin or Swift models) trusts it: a status
it does not list, a field it does not declare, a null where it promises a value or a value
outside its enum breaks that client at run time. Each test below drives one view through
the test client against PostgreSQL and holds every answer to the generated schema,
strictly (``tests/openapi.py``: objects closed, formats checked). The homepage's and the
signal history's 200 bodies have theirs in their own modules too.
"""

import datetime as dt
import uuid
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Permission, User
from django.core.cache import caches
from django.test import Client
from django.utils import timezone

from profiles.unlock import PinFailureThrottle
from recommendations.models import TrainingRun
from recommendations.services.training import model_train
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    ArtworkThemeFactory,
    ArtworkVariantFactory,
    AvailabilityFactory,
    CreditFactory,
    EpisodeFactory,
    LanguageFactory,
    ProfileFactory,
    SeasonFactory,
    TasteClusterFactory,
    TitleFactory,
)
from tests.openapi import assert_answer_documented
from tests.recommendations.test_training import (
    _fresh_serving,  # noqa: F401 - the autouse fixture applies here too
    build_world,
    watch,
)
from tests.streams import ReadCounted

pytestmark = pytest.mark.django_db

PROFILES = "/api/v1/profiles/"
PROFILE = "/api/v1/profiles/{profile_id}/"
UNLOCK = "/api/v1/profiles/{profile_id}/unlock/"
HOMEPAGE = "/api/v1/profiles/{profile_id}/homepage/"
RECOMMENDATIONS = "/api/v1/profiles/{profile_id}/recommendations/"
SIGNALS = "/api/v1/profiles/{profile_id}/signals/"
CONTINUE_WATCHING = "/api/v1/profiles/{profile_id}/continue-watching/"
TITLE = "/api/v1/titles/{title_id}/"
RETRAINS = "/api/v1/ops/retrains/"
RETRAIN = "/api/v1/ops/retrains/{run_id}/"


def at(minutes_ago: float) -> str:
    return (timezone.now() - dt.timedelta(minutes=minutes_ago)).isoformat()


def event(kind: str, title, **fields) -> dict:
    return {
        "kind": kind,
        "title": title.pk,
        "device": "tv",
        "occurred_at": at(fields.pop("minutes_ago", 5)),
        "client_event_id": str(uuid.uuid4()),
        **fields,
    }


def recorded(client, profile, events: list[dict]) -> None:
    response = client.post(
        f"/api/v1/profiles/{profile.pk}/signals/", {"events": events}, format="json"
    )
    assert response.status_code == 200, response.json()


def unlocked(client, profile, pin: str = "1234") -> dict:
    response = client.post(f"/api/v1/profiles/{profile.pk}/unlock/", {"pin": pin}, format="json")
    assert response.status_code == 200, response.json()
    return {"HTTP_X_PROFILE_UNLOCK": response.json()["token"]}


def test_the_profile_list_and_its_additions_answer_as_documented(account, profile):
    # given: a household whose guardian (an adult with a PIN) guards additions
    client = token_client(account)
    hindi = LanguageFactory(code="hi", name="Hindi", native_name="हिन्दी")
    ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    guardian = ProfileFactory(account=account, name="Parent", maturity_limit=18)
    guardian.set_pin("1234")
    guardian.save()
    # (a kids profile at all ages is the one a household device adds without the guardian)
    kids = {"name": "Tiny", "is_kids": True, "maturity_limit": 0, "display_language": "hi"}

    answers = [
        ("GET", client.get(PROFILES)),
        ("GET", client.get(f"{PROFILES}?limit=1&offset=1")),
        ("GET", client.get(f"{PROFILES}?limit=0")),
        ("GET", Client().get(PROFILES)),
        ("GET", Client().get(PROFILES, HTTP_AUTHORIZATION="Token revoked-or-unknown")),
        ("POST", client.post(PROFILES, kids, format="json")),
        (
            "POST",
            client.post(
                PROFILES,
                {"name": "Adult", "preferred_languages": [hindi.code], "pin": "4321"},
                format="json",
                **unlocked(client, guardian),
            ),
        ),
        ("POST", client.post(PROFILES, {"name": "Teen", "maturity_limit": 13}, format="json")),
        (
            "POST",
            client.post(
                PROFILES, {"name": "Teen"}, format="json", HTTP_X_PROFILE_UNLOCK="not-a-token"
            ),
        ),
        ("POST", client.post(PROFILES, {"name": ""}, format="json")),
        ("POST", client.post(PROFILES, "name=x", content_type="text/plain")),
    ]

    assert [response.status_code for _, response in answers] == [
        200, 200, 400, 401, 401, 201, 201, 403, 403, 400, 415,
    ]  # fmt: skip
    for method, response in answers:
        assert_answer_documented(response, method, PROFILES)


def test_one_profile_answers_as_documented(account, profile):
    # given: a kids profile with a PIN, in a household with no guardian
    client = token_client(account)
    kid = ProfileFactory(account=account, name="Kid", is_kids=True, maturity_limit=7)
    kid.set_pin("1234")
    kid.save()
    stranger = ProfileFactory(account=AccountFactory())
    path = f"/api/v1/profiles/{kid.pk}/"

    answers = [
        ("GET", client.get(f"/api/v1/profiles/{profile.pk}/")),
        ("GET", client.get(path)),
        ("GET", client.get(f"{path}?device=tv")),
        ("GET", client.get(f"/api/v1/profiles/{stranger.pk}/")),
        ("PATCH", client.patch(path, {"name": "Kiddo"}, format="json")),
        ("PATCH", client.patch(path, {"name": "Kiddo"}, format="json", **unlocked(client, kid))),
        ("PATCH", client.patch(path, {"is_kids": "no"}, format="json", **unlocked(client, kid))),
        ("DELETE", client.delete(path)),
        ("DELETE", client.delete(f"/api/v1/profiles/{profile.pk}/")),
    ]

    assert [response.status_code for _, response in answers] == [
        200, 200, 400, 404, 403, 200, 400, 403, 204,
    ]  # fmt: skip
    for method, response in answers:
        assert_answer_documented(response, method, PROFILE)


def test_unlocking_and_locking_a_profile_answer_as_documented(account, profile, settings):
    # given: a PIN-protected profile that may be sent one wrong PIN a day
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "pin_unlock": "5/min",
            "pin_unlock_day": "1/day",
        },
    }
    client = token_client(account)
    profile.set_pin("1234")
    profile.save()
    caches["default"].delete_many(PinFailureThrottle(profile).keys())
    path = f"/api/v1/profiles/{profile.pk}/unlock/"
    try:
        answers = [
            ("POST", client.post(path, {"pin": "1234"}, format="json")),
            ("POST", client.post(path, {"pin": "12"}, format="json")),
            ("POST", client.post(path, {"pin": "0000"}, format="json")),
            ("POST", client.post(path, {"pin": "1234"}, format="json")),
            ("POST", client.post("/api/v1/profiles/999999999/unlock/", {"pin": "1234"})),
            ("DELETE", client.delete(path)),
            ("DELETE", client.delete(f"{path}?all=1")),
        ]
    finally:
        caches["default"].delete_many(PinFailureThrottle(profile).keys())

    assert [response.status_code for _, response in answers] == [
        200, 400, 403, 429, 404, 204, 400,
    ]  # fmt: skip
    for method, response in answers:
        assert_answer_documented(response, method, UNLOCK)


def test_recording_and_reading_signals_answer_as_documented(account, profile):
    # given: a title, and one deleted since the device queued its events
    client = token_client(account)
    title, gone = TitleFactory(), TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    events = [event("play_start", title), event("play_start", gone)]
    gone_id = gone.pk
    gone.delete()
    path = f"/api/v1/profiles/{profile.pk}/signals/"

    answers = [
        ("POST", client.post(path, {"events": events}, format="json")),
        ("POST", client.post(path, {"events": []}, format="json")),
        ("POST", client.post(path, "x" * 1_100_000, content_type="application/json")),
        ("GET", client.get(path)),
        ("GET", client.get(f"{path}?kind=play_start&title={title.pk}&limit=1")),
        ("GET", client.get(f"{path}?kind=played")),
    ]

    assert [response.status_code for _, response in answers] == [200, 400, 413, 200, 200, 400]
    assert answers[0][1].json()["rejected"] == {"1": {"title": [f"No title with id {gone_id}."]}}
    for method, response in answers:
        assert_answer_documented(response, method, SIGNALS)


def test_continue_watching_answers_as_documented(account, profile):
    # given: a film with a frame and a series' episode without, each stopped midway
    client = token_client(account)
    film = TitleFactory()
    ArtworkVariantFactory(title=film)
    episode = EpisodeFactory()
    for title in (film, episode.season.title):
        AvailabilityFactory(title=title, region=account.home_region)
    events = [
        event("play_start", film, minutes_ago=30),
        event("progress", film, value=40, minutes_ago=20),
        event("play_start", episode.season.title, episode=episode.pk, minutes_ago=10),
        event("progress", episode.season.title, episode=episode.pk, value=25, minutes_ago=5),
    ]
    recorded(client, profile, events)
    path = f"/api/v1/profiles/{profile.pk}/continue-watching/"

    answers = [
        client.get(f"{path}?device=tv"),
        client.get(path),
        client.get(f"{path}?device=tv&n=3"),
        client.get(f"{path}?device=mobile"),
        client.get(f"{path}?device=fridge"),
    ]

    assert [response.status_code for response in answers] == [200, 400, 400, 200, 400]
    assert len(answers[0].json()["results"]) == 2
    for response in answers:
        assert_answer_documented(response, "GET", CONTINUE_WATCHING)


def test_a_titles_detail_answers_as_documented(account, profile):
    # given: a series the profile rated and stopped midway, with credits and artwork, and a
    # film it never played
    client = token_client(account)
    season = SeasonFactory(number=1, release_date=None)
    series = season.title
    episode = EpisodeFactory(season=season, number=1, name="Pilot")
    CreditFactory(title=series, role="actor", character="Sartaj")
    CreditFactory(title=series, role="director")
    variant = ArtworkVariantFactory(title=series, label="rooftop")
    variant.themes.add(ArtworkThemeFactory(slug="action"))
    film = TitleFactory(critic_score=None)
    for title in (series, film):
        AvailabilityFactory(title=title, region=account.home_region)
    events = [
        event("play_start", series, episode=episode.pk, minutes_ago=10),
        event("progress", series, episode=episode.pk, value=30, minutes_ago=9),
        event("thumbs_up", series, minutes_ago=8),
    ]
    recorded(client, profile, events)
    locked = ProfileFactory(account=account, name="Locked")
    locked.set_pin("1234")
    locked.save()

    answers = [
        client.get(f"/api/v1/titles/{series.pk}/?profile={profile.pk}"),
        client.get(f"/api/v1/titles/{film.pk}/?profile={profile.pk}&language=en"),
        client.get(f"/api/v1/titles/{film.pk}/"),
        client.get(f"/api/v1/titles/{film.pk}/?profile={locked.pk}"),
        client.get(f"/api/v1/titles/999999999/?profile={profile.pk}"),
        Client().get(f"/api/v1/titles/{film.pk}/?profile={profile.pk}"),
    ]

    assert [response.status_code for response in answers] == [200, 200, 400, 403, 404, 401]
    viewing = answers[0].json()["viewing"]
    assert viewing["thumbs"] == "up"
    assert viewing["resume"]["episode_id"] == episode.pk
    assert answers[1].json()["viewing"] == {"thumbs": None, "finished": False, "resume": None}
    for response in answers:
        assert_answer_documented(response, "GET", TITLE)


def viewers_in_a_world() -> tuple:
    """A small region (three genres, two fans of each) with a viewer who watched a film,
    and a PIN-protected profile of the viewer's household; no model trained yet."""
    world = build_world()
    viewer = ProfileFactory(account=AccountFactory(home_region=world.region), name="Asha")
    watch(viewer, world.titles["action"][0])
    locked = ProfileFactory(account=viewer.account, name="Locked")
    locked.set_pin("1234")
    locked.save()
    return world, viewer, locked


def test_the_homepage_answers_as_documented():
    # given: a region with no model yet, then one trained
    world, viewer, locked = viewers_in_a_world()
    client = token_client(viewer.account)
    path = f"/api/v1/profiles/{viewer.pk}/homepage/"
    untrained = client.get(f"{path}?device=tv")
    model_train(region_code=world.region.code)

    answers = [
        untrained,
        client.get(f"{path}?device=web&rows=3&items=4"),
        client.get(f"{path}?device=tv&at={quote(at(60))}"),
        client.get(f"{path}?device=tv&at=2026-12-06T21:00:00"),  # no offset
        client.get(path),
        client.get(f"/api/v1/profiles/{locked.pk}/homepage/?device=tv"),
        client.get("/api/v1/profiles/999999999/homepage/?device=tv"),
    ]

    assert [response.status_code for response in answers] == [503, 200, 200, 400, 400, 403, 404]
    assert answers[1].json()["rows"]
    for response in answers:
        assert_answer_documented(response, "GET", HOMEPAGE)


def test_the_recommendations_answer_as_documented():
    # given: a region with no model yet, then one trained
    world, viewer, locked = viewers_in_a_world()
    client = token_client(viewer.account)
    path = f"/api/v1/profiles/{viewer.pk}/recommendations/"
    untrained = client.get(f"{path}?device=tv")
    model_train(region_code=world.region.code)

    answers = [
        untrained,
        client.get(f"{path}?n=200&device=mobile"),
        client.get(f"{path}?device=tv"),
        client.get(f"{path}?n=201&device=tv"),
        client.get(path),
        client.get(f"/api/v1/profiles/{locked.pk}/recommendations/"),
    ]

    assert [response.status_code for response in answers] == [503, 200, 200, 400, 400, 403]
    assert answers[1].json()["results"]
    for response in answers:
        assert_answer_documented(response, "GET", RECOMMENDATIONS)


def staff(*codenames: str, csrf_checks: bool = False) -> Client:
    user = User.objects.create_user(f"staff-{uuid.uuid4().hex[:8]}", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client(enforce_csrf_checks=csrf_checks)
    client.force_login(user)
    return client


def test_the_staff_retrain_operations_answer_as_documented(django_capture_on_commit_callbacks):
    # given: a cluster, a finished run of it with its figures, and staff who may retrain
    cluster = TasteClusterFactory(slug="tamil")
    finished = TrainingRun.objects.create(
        region=cluster.region,
        taste_cluster=cluster,
        status=TrainingRun.Status.SUCCEEDED,
        stage="done",
        progress=100,
        timings={"train": 1.5},
        data_sizes={"cluster_profiles": 3},
        metrics={"ndcg_at_10": 0.4},
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    operator = staff("change_trainingrun")
    body = {"region": cluster.region_id, "cluster": cluster.slug}

    with django_capture_on_commit_callbacks(execute=False):
        posts = [
            operator.post(RETRAINS, body, "application/json"),
            operator.post(RETRAINS, body, "application/json"),  # its cluster is busy now
            operator.post(RETRAINS, {"region": "ZZ"}, "application/json"),
            staff().post(RETRAINS, body, "application/json"),
            staff("change_trainingrun", csrf_checks=True).post(RETRAINS, body, "application/json"),
            Client().post(RETRAINS, body, "application/json"),
        ]
    gets = [
        operator.get(f"/api/v1/ops/retrains/{finished.pk}/"),
        operator.get(f"/api/v1/ops/retrains/{posts[0].json()['id']}/"),
        operator.get("/api/v1/ops/retrains/999999999/"),
        operator.get(f"/api/v1/ops/retrains/{finished.pk}/?full=1"),
        staff().get(f"/api/v1/ops/retrains/{finished.pk}/"),
    ]

    assert [response.status_code for response in posts] == [201, 409, 400, 403, 403, 403]
    assert [response.status_code for response in gets] == [200, 200, 404, 400, 403]
    for response in posts:
        assert_answer_documented(response, "POST", RETRAINS)
    for response in gets:
        assert_answer_documented(response, "GET", RETRAIN)


FORM_OF_1001_FIELDS = "&".join(f"f{n}=1" for n in range(1_001)) + "%s"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type"),
    [
        ("POST", PROFILES, '{"name": "%s"}', "application/json"),
        ("PATCH", PROFILE, '{"name": "%s"}', "application/json"),
        ("POST", UNLOCK, '{"pin": "%s"}', "application/json"),
        ("POST", RETRAINS, '{"region": "%s"}', "application/json"),
        ("POST", PROFILES, "name=%s", "application/x-www-form-urlencoded"),
        ("POST", PROFILES, FORM_OF_1001_FIELDS, "application/x-www-form-urlencoded"),
    ],
)
def test_a_body_over_the_servers_limits_is_the_documented_413(
    account, profile, settings, method, path, body, content_type
):
    # A body past DATA_UPLOAD_MAX_MEMORY_SIZE (or a form of more than 1,000 fields) was
    # Django's HTML "Bad Request (400)" page, where the schema promised the error shape.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = staff("change_trainingrun") if path == RETRAINS else token_client(account)
    url = path.format(profile_id=profile.pk)
    filler = "x" * 10_001 if "f1000=1" not in body else ""

    response = client.generic(method, url, body % filler, content_type=content_type)

    assert response.status_code == 413, response.content[:300]
    assert response.json()["code"] == "payload_too_large"
    assert_answer_documented(response, method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", PROFILES),
        ("PATCH", PROFILE),
        ("DELETE", PROFILE),
        ("POST", UNLOCK),
        ("DELETE", UNLOCK),
        ("POST", SIGNALS),
        ("POST", RETRAINS),
    ],
)
def test_a_body_without_its_length_is_the_documented_411_and_is_not_read(
    account, profile, method, path
):
    # gunicorn passes a chunked body on as this: no CONTENT_LENGTH, the body in wsgi.input
    # (tests/test_api_body_length.py sends one through gunicorn itself). Django read none
    # of it, and the write went on as if the client had sent no body.
    client = staff("change_trainingrun") if path == RETRAINS else token_client(account)
    url = path.format(profile_id=profile.pk)
    body = ReadCounted(b'{"name": "Chunked", "pin": "1234", "region": "IN", "events": []}')

    response = client.generic(
        method, url, content_type="application/json", **{"wsgi.input": body},
        CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip

    assert response.status_code == 411, response.content[:300]
    assert response.json()["code"] == "length_required"
    assert body.taken == 0
    assert_answer_documented(response, method, path)


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("POST", HOMEPAGE, 405, 'Method "POST" not allowed.'),
        ("PUT", PROFILE, 405, 'Method "PUT" not allowed.'),
        ("DELETE", TITLE, 405, 'Method "DELETE" not allowed.'),
        ("PATCH", RETRAIN, 405, 'Method "PATCH" not allowed.'),
        ("POST", "/api/v1/nowhere/", 404, "No API route matches this path"),
        ("DELETE", PROFILE.rstrip("/"), 404, "API paths end with a slash"),
    ],
)
def test_a_chunked_write_that_no_operation_takes_is_its_404_or_405_not_a_411(
    account, profile, method, path, status, message
):
    # given: a write sent chunked (as gunicorn passes it on) to a path with no operation for
    # its method, or to no route at all
    client = staff("change_trainingrun") if path == RETRAIN else token_client(account)
    url = path.format(profile_id=profile.pk, title_id=TitleFactory().pk, run_id=1)
    body = ReadCounted(b'{"name": "Chunked"}')

    response = client.generic(
        method, url, content_type="application/json", **{"wsgi.input": body},
        CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
    )  # fmt: skip

    # then: what is wrong with it (the method, the path), as it would be with a length, not
    # a 411 that the client would fix only to meet the 405 or the 404 next; still unread
    assert response.status_code == status, response.content[:300]
    assert response.json()["message"].startswith(message)
    assert body.taken == 0


@pytest.mark.parametrize(
    ("method", "path"), [("GET", PROFILES), ("GET", HOMEPAGE), ("POST", PROFILES)]
)
def test_a_query_string_of_more_parameters_than_django_reads_is_the_documented_400(
    account, profile, method, path
):
    # Django refuses a query string of more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters as
    # it does such a form: it was its HTML "Bad Request (400)" page, and must not read as a
    # body too large (a 413 no read documents).
    query = "&".join(f"p{n}=1" for n in range(1_001))
    url = f"{path.format(profile_id=profile.pk)}?{query}"

    response = token_client(account).generic(method, url, '{"name": "A"}', "application/json")

    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid"
    assert "1,000 parameters" in response.json()["message"]
    assert_answer_documented(response, method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", PROFILES),
        ("POST", PROFILES),
        ("DELETE", UNLOCK),
        ("GET", HOMEPAGE),
        ("GET", TITLE),
        ("GET", RETRAIN),
    ],
)
def test_an_accept_header_naming_no_media_type_the_api_writes_is_the_documented_406(
    account, profile, method, path
):
    # Every operation answers JSON only; a client asking for XML alone got a 406 that the
    # schema did not list, on any operation.
    url = path.format(profile_id=profile.pk, title_id=1, run_id=1)

    response = token_client(account).generic(
        method, url, '{"name": "A"}', "application/json", HTTP_ACCEPT="application/xml"
    )

    assert response.status_code == 406, response.content[:300]
    assert_answer_documented(response, method, path)
