"""Ids no database row can have: not a URL on the API's paths, a 400 in its query strings.

PostgreSQL compares an out-of-range id and finds nothing, but SQLite (the
development database) raises OverflowError on one, which was a 500. The
contract is asserted here whatever the database.
"""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from drf_spectacular.generators import SchemaGenerator

from config.api.exceptions import api_route_not_found
from config.ids import ID_MAX, IdConverter

pytestmark = pytest.mark.django_db

TOO_BIG = "9223372036854775808"  # 2**63, one past PostgreSQL's bigint
TWENTY_DIGITS = "99999999999999999999"


def api_routes(resolver: URLResolver | None = None, prefix: str = "") -> list[tuple[str, dict]]:
    """(route, converters) of every URL pattern under /api/."""
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        converters = getattr(pattern.pattern, "converters", {})
        if isinstance(pattern, URLResolver):
            found += api_routes(pattern, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/"):
            found.append((route, converters))
    return found


def test_every_id_in_an_api_path_is_a_database_id():
    with_ids = [(route, conv) for route, conv in api_routes() if conv]
    assert len(with_ids) >= 8  # profiles, their data, titles, retrains
    for route, converters in with_ids:
        for name, converter in converters.items():
            assert isinstance(converter, IdConverter), f"{route}: {name}"


@pytest.mark.parametrize("value", [TOO_BIG, TWENTY_DIGITS, "1" * 40])
def test_an_id_no_row_can_have_is_not_an_api_url(value):
    # Only the last /api/ route, the JSON 404, takes it.
    assert resolve(f"/api/v1/profiles/{value}/signals/").func is api_route_not_found


def test_the_largest_id_still_resolves():
    match = resolve(f"/api/v1/profiles/{ID_MAX}/homepage/")
    assert match.kwargs == {"profile_id": ID_MAX}
    assert resolve("/api/v1/titles/0/").kwargs == {"title_id": 0}


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/profiles/{TWENTY_DIGITS}/homepage/",
        f"/api/v1/profiles/{TOO_BIG}/signals/",
        f"/api/v1/profiles/{TOO_BIG}/",
        f"/api/v1/titles/{TOO_BIG}/?profile=1",
    ],
)
def test_an_out_of_range_path_id_is_a_404(api_client, path):
    assert api_client.get(path).status_code == 404


@pytest.mark.parametrize("value", [TWENTY_DIGITS, TOO_BIG, "0", "-1"])
def test_an_out_of_range_profile_query_id_is_a_400_naming_it(api_client, profile, value):
    response = api_client.get(f"/api/v1/titles/1/?profile={value}")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"profile"}


@pytest.mark.parametrize("value", [TWENTY_DIGITS, TOO_BIG])
def test_an_out_of_range_title_filter_is_a_400_naming_it(api_client, profile, value):
    response = api_client.get(f"/api/v1/profiles/{profile.pk}/signals/?title={value}")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"title"}


#: Text int() reads as a number but no id is written as: other scripts' digits (Arabic-Indic
#: and fullwidth two), a fraction of zero, a sign, an exponent. A path refuses each of them
#: (IdConverter); so must a query string, or the same row answers under many names.
NOT_ID_TEXT = ["\u0662", "\uff12", "2.0", "+2", "2e0"]


@pytest.mark.parametrize("value", NOT_ID_TEXT)
def test_a_query_id_not_written_in_ascii_digits_is_a_400_naming_it(api_client, profile, value):
    title_page = api_client.get("/api/v1/titles/1/", {"profile": value})
    history = api_client.get(f"/api/v1/profiles/{profile.pk}/signals/", {"title": value})

    assert title_page.status_code == history.status_code == 400
    assert set(title_page.json()["errors"]) == {"profile"}
    assert set(history.json()["errors"]) == {"title"}


def test_a_query_id_with_leading_zeros_is_the_id_as_in_a_path(api_client, profile):
    response = api_client.get(f"/api/v1/profiles/{profile.pk}/signals/", {"title": "007"})

    assert response.status_code == 200


def test_the_schema_documents_path_ids_as_bigints():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    parameters = schema["paths"]["/api/v1/profiles/{profile_id}/homepage/"]["get"]["parameters"]
    (profile_id,) = [p for p in parameters if p["name"] == "profile_id"]
    assert profile_id["schema"] == {
        "type": "integer",
        "format": "int64",
        "minimum": 0,
        "maximum": ID_MAX,
    }


def test_the_schema_documents_a_signal_batchs_ids_as_the_range_it_takes():
    # The parser refuses an id past ID_MAX with its batch; a client generated from the schema
    # is told so rather than left to find it.
    schema = SchemaGenerator().get_schema(request=None, public=True)
    event = schema["components"]["schemas"]["SignalEventRequest"]["properties"]
    for name in ("title", "episode", "artwork_variant"):
        assert event[name]["minimum"] == 1, name
        assert event[name]["maximum"] == ID_MAX, name
        assert event[name]["format"] == "int64", name
