"""A path under /api/ that names nothing answers in the API's one error shape; others do not."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v1/titles/abc/",
        "/api/v2/profiles/",
        "/api/v1/profiles/9223372036854775808/homepage/",
        "/api/",
    ],
)
def test_an_unmatched_api_path_is_the_json_error_shape(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not found.", "code": "not_found", "errors": {}}


def test_it_is_the_same_body_as_a_missing_object(api_client):
    missing = api_client.get("/api/v1/profiles/999999/")
    unmatched = api_client.get("/api/v1/nope/")

    assert missing.status_code == unmatched.status_code == 404
    assert missing.json() == unmatched.json()


def test_outside_the_api_the_404_is_djangos_page():
    response = Client().get("/nope/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
