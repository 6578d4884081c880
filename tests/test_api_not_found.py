"""A path under /api/ that names nothing answers in the API's one error shape; others do not."""

import functools

import pytest
from django.test import Client
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.test import APIRequestFactory

from accounts.services import api_token_create
from config.api.exceptions import NO_ROUTE
from profiles.apis import ProfileListCreateApi
from profiles.models import Profile
from profiles.selectors import NO_PROFILE
from recommendations.models import Signal
from tests.conftest import token_client
from tests.factories import AccountFactory, AvailabilityFactory, ProfileFactory, TitleFactory
from tests.openapi import api_schema_generate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v1/titles/abc/",
        "/api/v2/profiles/",
        "/api/v1/profiles/9223372036854775808/homepage/",
        "/api/",
        # a line break (schemathesis sent one): the catch-all's "." did not match it
        "/api/v1/profiles/6%0A/",
        "/api/v1/ops/retrains/%0Al/",
    ],
)
def test_an_unmatched_api_path_is_the_json_error_shape(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": NO_ROUTE, "code": "not_found", "errors": {}}


def test_a_missing_object_has_the_same_shape_and_code_and_names_what_is_missing(api_client):
    missing = api_client.get("/api/v1/profiles/999999/")
    unmatched = api_client.get("/api/v1/nope/")

    assert missing.status_code == unmatched.status_code == 404
    assert missing.json() == {"message": NO_PROFILE, "code": "not_found", "errors": {}}
    assert unmatched.json()["code"] == "not_found"


def test_outside_the_api_the_404_is_djangos_page():
    response = Client().get("/nope/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("debug", [True, False], ids=["DEBUG", "production"])
def test_the_json_404_holds_with_debug_on_as_in_the_demo(api_client, settings, debug):
    settings.DEBUG = debug

    response = api_client.get("/api/v1/titles/abc/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_read_missing_its_trailing_slash_is_redirected_and_a_write_is_told(api_client, profile):

    read = api_client.get(f"/api/v1/profiles/{profile.pk}?x=1")
    write = api_client.post(f"/api/v1/profiles/{profile.pk}/signals", {}, format="json")

    assert read.status_code == 301
    assert read["Location"] == f"/api/v1/profiles/{profile.pk}/?x=1"
    assert write.status_code == 404
    assert write.json()["message"] == (
        f"API paths end with a slash: send this to /api/v1/profiles/{profile.pk}/signals/."
    )


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize(
    "path", ["/api/v1/nope/", "/api/v1/profiles/9223372036854775808/", "/api/v1/titles/1"]
)
def test_a_write_to_an_unmatched_api_path_is_the_json_404_not_a_csrf_page(account, method, path):
    # given: a token client as a real one meets the server. The test client skips Django's
    # CSRF check, which refused every write here with its HTML 403 page before the view ran.
    client = token_client(account)
    client.handler.enforce_csrf_checks = True

    # when
    response = getattr(client, method)(path, {}, format="json")

    # then
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_the_browsable_api_renders_the_profile_list_for_a_browser(account, profile):
    # given: the list view as DEBUG serves it (the browsable renderer first; the renderers
    # are fixed when the views are imported, so the view is built with them here)
    view = ProfileListCreateApi.as_view(renderer_classes=[BrowsableAPIRenderer, JSONRenderer])
    key = api_token_create(account=account, name="browser")[1]
    request = APIRequestFactory().get(
        "/api/v1/profiles/", HTTP_ACCEPT="text/html", HTTP_AUTHORIZATION=f"Token {key}"
    )

    # when
    response = view(request)
    response.render()

    # then: its forms are built (a GenericAPIView without a serializer class raised here)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert profile.name in response.content.decode()


#: A body each profile-scoped write would accept, so that only the profile can refuse it.
_WRITE_BODIES = {
    "patch": {"name": "Renamed"},
    "post": {"pin": "1111"},
}


def _profile_operations() -> list[tuple[str, str]]:
    """Every operation of the schema that names a profile: in its path, or as ``?profile=``."""
    schema = api_schema_generate()
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] != "header"}
            if "profile_id" in names or "profile" in names:
                found.append((method, path))
    return found


@pytest.mark.parametrize("pin", [False, True], ids=["open", "pin-protected"])
def test_every_profile_operation_answers_another_households_profile_as_a_missing_one(pin):
    # given: another household's profile (with a PIN: a 403 would tell the id exists)
    stranger = ProfileFactory(account=AccountFactory(), name="Theirs")
    if pin:
        stranger.set_pin("1111")
        stranger.save()
    title = TitleFactory()
    AvailabilityFactory(title=title, region=stranger.account.home_region)
    client = token_client(AccountFactory())
    operations = _profile_operations()
    assert len(operations) >= 10  # the schema was read: every profile route, titles too

    # when: each operation is asked about it, as the URL conf routes it
    answers = {}
    for method, path in operations:
        url = path.format(profile_id=stranger.pk, title_id=title.pk)
        if "{profile_id}" not in path:
            url += f"?profile={stranger.pk}"
        if path.endswith("/signals/") and method == "post":
            body = {"events": [{"kind": "impression", "title": title.pk, "device": "tv"}]}
        else:
            body = _WRITE_BODIES.get(method)
        response = getattr(client, method)(url, body, format="json")
        answers[(method, path)] = (response.status_code, response.json())

    # then: each says what it says of an id no household has, and nothing changed
    missing = (404, {"message": NO_PROFILE, "code": "not_found", "errors": {}})
    assert {op: answer for op, answer in answers.items() if answer != missing} == {}
    assert Profile.objects.get(pk=stranger.pk).name == "Theirs"
    assert not Signal.objects.exists()


@functools.cache
def _profile_paths() -> list[str]:
    """Every API path under a profile, as the schema lists them."""
    return sorted(
        path for path in api_schema_generate()["paths"] if path.startswith("/api/v1/profiles/{")
    )


def test_every_profile_path_is_asked_about_below():
    # the paths as this module lists them at collection: a profile endpoint added later is
    # in the parametrised test below, with no list here to update
    assert "/api/v1/profiles/{profile_id}/homepage/" in _profile_paths()
    assert "/api/v1/profiles/{profile_id}/" in _profile_paths()


@pytest.mark.parametrize("path", _profile_paths())
def test_options_on_a_profile_the_token_cannot_reach_is_the_404_get_answers(
    api_client, profile, path
):
    # OPTIONS answered 200 with the endpoint's metadata whatever the id (another household's
    # profile, none at all), where GET answered 404: a way to tell ids apart it must not be
    stranger = ProfileFactory(account=AccountFactory())
    for other in (stranger.pk, 999_999_999):
        url = path.replace("{profile_id}", str(other))

        response = api_client.options(url)

        assert response.status_code == 404, url
        assert response.json() == {"message": NO_PROFILE, "code": "not_found", "errors": {}}
    # the token's own profile still has its metadata
    own = api_client.options(path.replace("{profile_id}", str(profile.pk)))
    assert own.status_code == 200
    assert own.json()["name"]


@pytest.mark.parametrize("path", _profile_paths())
def test_options_on_a_profile_without_a_token_is_the_401_get_answers(profile, path):
    url = path.replace("{profile_id}", str(profile.pk))
    client = token_client(profile.account)
    client.credentials()

    response = client.options(url)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
