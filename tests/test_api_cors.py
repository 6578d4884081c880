"""Browser clients on another origin (the web device class, https://watch.example.com calling
https://api.example.com): the versioned API answers them with CORS headers, for the origins
``CORS_ALLOWED_ORIGINS`` lists only, and nothing else on the site does."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import token_client
from tests.factories import ProfileFactory

pytestmark = pytest.mark.django_db

ALLOWED = "https://watch.example.com"
OTHER = "https://evil.example.net"


@pytest.fixture(autouse=True)
def _watch_allowed(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def preflight(
    path: str, origin: str, method: str = "GET", headers: str = "authorization", client=None
):
    """What a browser sends before a call with ``Authorization`` from another origin: no token."""
    return (client or Client()).options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def test_a_preflight_from_an_allowed_origin_is_answered_before_the_api(profile):
    # given: a profile's homepage, whose OPTIONS the API answers 404 to a caller without the
    # profile's token (config/api/metadata.py), and 401 to one without any token
    path = f"/api/v1/profiles/{profile.pk}/homepage/"

    # when: the browser asks whether it may send a token and an unlock token from the web app
    with CaptureQueriesContext(connection) as queries:
        response = preflight(path, ALLOWED, headers="authorization,x-profile-unlock")

    # then: the CORS middleware answers it, with no token and without a query
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert {"authorization", "content-type", "x-profile-unlock", "x-request-id"} <= listed(
        response["Access-Control-Allow-Headers"]
    )
    assert {"GET", "POST", "PATCH", "DELETE"} <= {
        m.upper() for m in listed(response["Access-Control-Allow-Methods"])
    }
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response  # a token, never cookies
    assert "origin" in listed(response["Vary"])
    assert response["X-Request-ID"]  # named like every other answer
    assert queries.captured_queries == []


def test_a_preflight_from_another_origin_gets_no_permission():
    response = preflight("/api/v1/profiles/", OTHER, method="POST", headers="content-type")

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Headers" not in response


def test_an_options_that_is_no_preflight_is_still_the_apis_own(profile, account):
    # Another household's profile is a 404 for OPTIONS as for GET, from a browser's page too.
    stranger = token_client(ProfileFactory().account)

    response = stranger.options(f"/api/v1/profiles/{profile.pk}/homepage/", HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert response["Access-Control-Allow-Origin"] == ALLOWED


def test_a_cross_origin_read_from_an_allowed_origin_can_read_the_answer(api_client, profile):
    response = api_client.get("/api/v1/profiles/", HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    # what a client script reads besides the body: the request's id and when to retry
    assert listed(response["Access-Control-Expose-Headers"]) == {"x-request-id", "retry-after"}
    assert "Access-Control-Allow-Credentials" not in response
    # preflights' own headers stay on preflights
    assert "Access-Control-Allow-Headers" not in response


def test_a_cross_origin_write_from_an_allowed_origin_can_read_the_answer(api_client):
    response = api_client.post(
        "/api/v1/profiles/", {"name": "Web"}, format="json", HTTP_ORIGIN=ALLOWED
    )

    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_origin_is_answered_without_cors_headers(api_client, method):
    # The server still answers (CORS is the browser's rule); the browser keeps the
    # answer from the other origin's script.
    response = getattr(api_client, method)(
        "/api/v1/profiles/",
        {"name": "Evil"} if method == "post" else None,
        format="json",
        HTTP_ORIGIN=OTHER,
    )

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Expose-Headers" not in response
    assert "origin" in listed(response["Vary"])  # a cache must not hand it to another origin


def test_no_origin_is_allowed_unless_listed(settings, api_client):
    settings.CORS_ALLOWED_ORIGINS = []

    assert "Access-Control-Allow-Origin" not in preflight("/api/v1/profiles/", ALLOWED)
    assert "Access-Control-Allow-Origin" not in api_client.get(
        "/api/v1/profiles/", HTTP_ORIGIN=ALLOWED
    )


def test_error_answers_carry_the_headers_so_the_web_app_can_read_them(
    api_client, account, profile, locked
):
    # given: the errors a web app meets, each sent from the allowed origin
    strange = token_client(ProfileFactory().account)
    unlock = f"/api/v1/profiles/{locked.pk}/unlock/"
    for _ in range(5):
        api_client.post(unlock, {"pin": "0000"}, format="json", HTTP_ORIGIN=ALLOWED)
    answers = {
        400: api_client.get("/api/v1/profiles/?nope=1", HTTP_ORIGIN=ALLOWED),
        401: Client().get("/api/v1/profiles/", HTTP_ORIGIN=ALLOWED),
        404: strange.get(f"/api/v1/profiles/{profile.pk}/", HTTP_ORIGIN=ALLOWED),
        429: api_client.post(unlock, {"pin": "4321"}, format="json", HTTP_ORIGIN=ALLOWED),
        # no model is trained yet
        503: api_client.get(
            f"/api/v1/profiles/{profile.pk}/homepage/?device=web", HTTP_ORIGIN=ALLOWED
        ),
    }

    # then: every one of them can be read by the page, Retry-After included
    for status, response in answers.items():
        assert response.status_code == status, (status, response.content)
        assert response["Access-Control-Allow-Origin"] == ALLOWED, status
    assert "retry-after" in listed(answers[429]["Access-Control-Expose-Headers"])
    assert answers[429]["Retry-After"]
    assert answers[503]["Retry-After"]


def test_a_path_with_no_route_under_the_api_carries_them_too():
    response = Client().get("/api/v1/nope/", HTTP_ORIGIN=ALLOWED)

    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == ALLOWED


@pytest.mark.parametrize(
    "path",
    [
        "/admin/login/",
        "/console/",
        "/api/schema/",
        "/api/docs/",
        "/",
        # the staff operations read the admin's sign-in, a cookie no other origin may use
        "/api/v1/ops/retrains/",
    ],
)
def test_nothing_outside_the_household_api_is_opened_to_another_origin(path):
    client = Client(raise_request_exception=False)

    assert "Access-Control-Allow-Origin" not in client.get(path, HTTP_ORIGIN=ALLOWED)
    assert "Access-Control-Allow-Origin" not in preflight(path, ALLOWED, "POST", client=client)


def test_the_cors_middleware_adds_no_query(api_client, profile):
    # The homepage is a hot path held to its queries (tests/recommendations/
    # test_homepage_api.py); an answer to a browser costs what a TV's does.
    api_client.get("/api/v1/profiles/")
    with CaptureQueriesContext(connection) as native:
        api_client.get("/api/v1/profiles/")
    with CaptureQueriesContext(connection) as browser:
        response = api_client.get("/api/v1/profiles/", HTTP_ORIGIN=ALLOWED)

    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert len(browser.captured_queries) == len(native.captured_queries)
