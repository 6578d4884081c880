"""The Content-Security-Policy on the HTML the site serves (config/settings.py).

Defence in depth: markup that slips into an admin or console page (a household's name
rendered as HTML, as the console's "why" dialog once did) must find no script to run.
tests/console/test_browser.py shows in Chromium that no page staff use breaks the policy.
"""

import base64
import hashlib
import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client

from tests.factories import TitleFactory
from tests.test_settings_env import settings_from_env

pytestmark = pytest.mark.django_db


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


@pytest.fixture
def superuser_client() -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("boss", password="x"))
    return client


def test_every_html_page_staff_use_carries_the_policy(superuser_client):
    # given
    title = TitleFactory()
    pages = [
        "/console/",
        "/admin/",
        "/admin/catalog/title/",
        f"/admin/catalog/title/{title.pk}/change/",
        "/api/docs/",
    ]

    for path in pages:
        # when
        response = superuser_client.get(path)

        # then
        assert response.status_code == 200, path
        assert response["Content-Type"].startswith("text/html"), path
        policy = _directives(response["Content-Security-Policy"])
        assert policy["script-src"] == ["'self'"], path
        assert policy["style-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'self'"], path
        assert policy["frame-ancestors"] == ["'none'"], path
        assert policy["form-action"] == ["'self'"], path
        assert "'unsafe-inline'" not in policy["default-src"], path


def test_the_sign_in_page_and_the_front_page_carry_the_policy_too():
    for path in ("/admin/login/", "/"):
        policy = _directives(Client().get(path)["Content-Security-Policy"])

        assert policy["script-src"] == ["'self'"], path
        assert policy["style-src"] == ["'self'"], path


def test_every_admin_list_keeps_an_action_bar():
    # Django's change list writes a <style> block when a ModelAdmin hides its actions both
    # above and below the list (admin/change_list.html), which style-src 'self' refuses:
    # that page's first column would lose its width rule. None here hides them; one that
    # wants to needs that rule in a stylesheet first.
    hidden = [
        type(model_admin).__name__
        for model_admin in admin.site._registry.values()
        if not (model_admin.actions_on_top or model_admin.actions_on_bottom)
    ]

    assert hidden == []


def test_the_csrf_refusal_page_alone_lets_its_own_style_block_through_by_hash():
    # Django's page for a form whose CSRF cookie is gone (a sign-in left open too long)
    # styles itself with a <style> block, which style-src 'self' refused: that answer's
    # policy allows that block's exact text (its sha256), and no other answer's does.
    # given
    client = Client(enforce_csrf_checks=True)

    # when
    refused = client.post("/admin/login/", {"username": "boss", "password": "x"})

    # then
    assert refused.status_code == 403
    blocks = re.findall(r"<style>(.*?)</style>", refused.content.decode(), re.DOTALL)
    assert blocks, "Django's page has its <style> block"
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()}'" for b in blocks
    ]
    assert _directives(refused["Content-Security-Policy"])["style-src"] == ["'self'", *hashes]
    # and the sign-in page it refused a form of keeps the plain policy
    page = client.get("/admin/login/")
    assert _directives(page["Content-Security-Policy"])["style-src"] == ["'self'"]


@pytest.mark.parametrize(
    ("media_url", "allowed"),
    [
        pytest.param("/media/", [], id="this-host"),
        pytest.param("https://cdn.example.com/media/", ["https://cdn.example.com"], id="cdn"),
        pytest.param("//cdn.example.com/media/", ["cdn.example.com"], id="cdn-any-scheme"),
    ],
)
def test_images_may_come_from_where_the_artwork_is_served(monkeypatch, media_url, allowed):
    # Artwork URLs are MEDIA_URL's (default_storage.url): a CDN's host there must be in
    # img-src, or every tile in the console is a refused image.
    settings = settings_from_env(monkeypatch, MEDIA_URL=media_url)

    img_src = settings["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"]

    assert img_src == ["'self'", "data:", *allowed]


def test_the_versioned_apis_json_answers_are_left_without_it():
    # A JSON answer runs no script, and django-csp builds the policy twice for every answer
    # (about 45 us by timeit), its own EXCLUDE_URL_PREFIXES included: on the homepage and
    # every other API call that is work for nothing.
    response = Client().get("/api/v1/profiles/")

    assert response.status_code == 401
    assert "Content-Security-Policy" not in response
    assert "Content-Security-Policy" in Client().get("/api/docs/")
