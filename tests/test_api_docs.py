"""The API docs page runs only the app's own files on the admin's origin."""

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_swagger_ui_from_the_apps_own_static_files():
    # A script from a CDN (unpinned, no integrity check) would run beside the admin's
    # session and CSRF cookies; drf-spectacular-sidecar ships the files with the app.
    response = Client().get("/api/docs/")
    assert response.status_code == 200

    assets = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    static = "/" + settings.STATIC_URL.lstrip("/")
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, "the page loads Swagger UI's scripts"
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.netloc, f"{asset} is served by another host"
        assert parts.path.startswith(static), asset
        assert finders.find(parts.path.removeprefix(static)), asset
