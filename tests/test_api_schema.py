"""The OpenAPI schema documents the errors each operation can answer, in the one error shape."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.conftest import token_client
from tests.factories import AccountFactory


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def responses(schema: dict, method: str, path: str) -> dict:
    return schema["paths"][path][method.lower()]["responses"]


def test_every_error_is_documented_with_the_error_shape(schema):
    homepage = responses(schema, "GET", "/api/v1/profiles/{profile_id}/homepage/")
    assert {"400", "401", "403", "404"} <= set(homepage)
    body = homepage["400"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Error"}
    error = schema["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"message", "code", "errors"}


def test_only_the_errors_an_operation_can_give(schema):
    # a list without parameters cannot be a 400 or miss an object
    assert set(responses(schema, "GET", "/api/v1/profiles/")) == {"200", "401"}
    # a request body can be refused; a path naming an object can miss it
    assert "400" in responses(schema, "POST", "/api/v1/profiles/")
    assert "404" not in responses(schema, "POST", "/api/v1/profiles/")
    assert "404" in responses(schema, "DELETE", "/api/v1/profiles/{profile_id}/")
    # staff-only operations say so
    staff = responses(schema, "GET", "/api/v1/ops/retrains/{run_id}/")
    assert staff["403"]["description"] == "Staff only."
    # a profile's data reads its unlock header; the profile list and its unlock do not
    homepage = schema["paths"]["/api/v1/profiles/{profile_id}/homepage/"]["get"]
    assert "X-Profile-Unlock" in [p["name"] for p in homepage["parameters"]]
    unlock = schema["paths"]["/api/v1/profiles/{profile_id}/unlock/"]["post"]
    assert "X-Profile-Unlock" not in [p["name"] for p in unlock.get("parameters", [])]
    assert unlock["responses"]["403"]["description"] == "Wrong PIN (`wrong_pin`)."
    assert "403" not in responses(schema, "GET", "/api/v1/profiles/{profile_id}/")
    # and what only the view knows, for the method that can give it
    assert "413" in responses(schema, "POST", "/api/v1/profiles/{profile_id}/signals/")
    assert "413" not in responses(schema, "GET", "/api/v1/profiles/{profile_id}/signals/")


@pytest.mark.django_db
def test_the_documented_shape_is_what_the_api_answers(schema):
    response = token_client(AccountFactory()).get("/api/v1/profiles/999999/homepage/?device=tv")

    assert response.status_code == 404
    documented = schema["components"]["schemas"]["Error"]["properties"]
    assert set(response.json()) <= set(documented)
    assert set(response.json()) >= set(schema["components"]["schemas"]["Error"]["required"])
