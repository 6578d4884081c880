"""The site's icon: one static file, linked from every base template and answered at /favicon.ico.

Admin's pages name no icon, so browsers asked for ``/favicon.ico`` and got a 404 on
every one of them (the error log's most frequent line). tests/console/test_browser.py
shows in Chromium that no page's icon is missing.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import Client

FAVICON = "tonight/favicon.ico"

pytestmark = pytest.mark.django_db


def _icon_links(page: bytes) -> list[str]:
    return re.findall(r'<link rel="icon" href="([^"]+)"', page.decode())


def test_favicon_ico_leads_to_the_static_icon(client):
    # when: what a browser asks for when a page names no icon
    response = client.get("/favicon.ico")

    # then: the static file's address, which changes with the file (a hashed name in
    # production), so not a permanent redirect
    assert response.status_code == 302
    assert response["Location"] == static(FAVICON)
    icon = finders.find(FAVICON)
    assert icon is not None
    with open(icon, "rb") as file:
        assert file.read(4) == b"\x00\x00\x01\x00"  # an ICO file's header


def test_every_base_template_links_the_icon():
    # given: a superuser, who may open every page
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("boss", password="x"))
    pages = {
        "front page": (Client(), "/"),
        "sign-in page": (Client(), "/admin/login/"),
        "admin": (staff, "/admin/"),
        "admin change list": (staff, "/admin/catalog/title/"),
        "console": (staff, "/console/"),
    }

    for name, (client, path) in pages.items():
        # when
        response = client.get(path)

        # then
        assert response.status_code == 200, name
        assert _icon_links(response.content) == [static(FAVICON)], name
