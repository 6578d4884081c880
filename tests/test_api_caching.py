"""Answers of the versioned API are one account's, computed for one request: no cache keeps them."""

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config.middleware import PrivateApiResponses

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/profiles/",  # the household's profiles
        "/api/v1/profiles/9223372036854775807/homepage/",  # an error answer too
        "/api/v1/titles/1/",  # 400: the profile is required
        "/api/v1/nope/",
    ],
)
def test_every_api_answer_is_private_and_not_stored(api_client, path):
    response = api_client.get(path)

    directives = {d.strip() for d in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives, (path, response.status_code)


def test_an_answer_without_a_token_is_not_stored_either():
    response = Client().get("/api/v1/profiles/")

    assert response.status_code == 401
    assert "no-store" in response["Cache-Control"]


def test_the_schema_is_left_cacheable():
    response = Client().get("/api/schema/")

    assert response.status_code == 200
    assert "no-store" not in response.get("Cache-Control", "")


def test_a_view_that_says_how_to_cache_its_answer_keeps_that():
    def view(request):
        response = HttpResponse("{}")
        response["Cache-Control"] = "public, max-age=60"
        return response

    response = PrivateApiResponses(view)(RequestFactory().get("/api/v1/titles/1/"))

    assert response["Cache-Control"] == "public, max-age=60"
