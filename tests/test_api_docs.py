"""The API docs page: only the app's own files on the admin's origin, and the flow it offers."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import drf_spectacular
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.services import api_token_create
from tests.factories import AccountFactory, ProfileFactory, RegionFactory

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_swagger_ui_from_the_apps_own_static_files():
    # A script from a CDN (unpinned, no integrity check) would run beside the admin's
    # session and CSRF cookies; drf-spectacular-sidecar ships the files with the app.
    response = Client().get("/api/docs/")
    assert response.status_code == 200

    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    static = "/" + settings.STATIC_URL.lstrip("/")
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, "the page loads Swagger UI's scripts"
    for asset in assets:
        parts = urlsplit(asset)
        assert not parts.netloc, f"{asset} is served by another host"
        if parts.path == "/api/docs/":  # its start-up script, from the page's own view
            script = Client().get(asset)
            assert script.status_code == 200
            assert script["Content-Type"].startswith("application/javascript")
            continue
        assert parts.path.startswith(static), asset
        assert finders.find(parts.path.removeprefix(static)), asset


def test_the_docs_page_has_no_inline_script():
    # The Content-Security-Policy runs script from the site's own files only: an inline
    # script (SpectacularSwaggerView's start-up script) would be refused and the page blank.
    page = Client().get("/api/docs/").content.decode()

    assert re.findall(r"<script\b[^>]*>", page)
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", page))


def _head_lines(template: str) -> list[str]:
    block = re.search(r"{% block head %}(.*?){% endblock head %}", template, re.S)
    assert block, "a template with a head block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_docs_page_has_no_inline_style_and_keeps_drf_spectaculars_head():
    # style-src 'self' refuses drf-spectacular's <style> block: templates/api_docs.html
    # writes the page's head again, a stylesheet in the block's place. The rest of the head
    # is drf-spectacular's as it is: an upgrade that changes it must be copied over.
    upstream = (
        Path(drf_spectacular.__file__).parent / "templates/drf_spectacular/swagger_ui.html"
    ).read_text()
    ours = (Path(settings.BASE_DIR) / "templates/api_docs.html").read_text()
    style = re.search(r"<style>(.*?)</style>", upstream, re.S)
    assert style, "drf-spectacular's head has its <style> block"
    rules = [rule.strip() for rule in style.group(1).splitlines() if rule.strip()]

    page = Client().get("/api/docs/").content.decode()

    assert "<style" not in page
    assert " style=" not in page
    stylesheet = Path(finders.find("tonight/api_docs.css")).read_text().splitlines()
    assert set(rules) <= set(stylesheet)
    assert [line for line in _head_lines(ours) if "tonight/api_docs.css" not in line] == [
        line for line in _head_lines(upstream) if line not in {"<style>", "</style>", *rules}
    ]


def test_the_docs_page_asks_no_other_host_to_validate_the_schema():
    # Swagger UI's default showed validator.swagger.io's verdict as an image from there
    # (off only on localhost), which the Content-Security-Policy refuses.
    script = Client().get("/api/docs/?script=").content.decode()

    assert re.search(r'"validatorUrl":\s*null', script)


def test_the_docs_page_flow_a_staff_sign_in_for_ops_and_the_households_token_for_the_rest():
    # given: the demo's admin, a superuser linked to the showcase household (seed_demo),
    # signed in, with the docs page open; and the household's key that `make demo` prints
    household = AccountFactory(home_region=RegionFactory(code="IN"))
    ProfileFactory(account=household, name="Priya")
    admin = get_user_model().objects.create_superuser("admin", password="tonight-demo")
    household.users.add(admin)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    page = browser.get("/api/docs/")
    assert page.status_code == 200
    schema = browser.get("/api/schema/?format=json")  # the URL the page loads, as anyone
    assert schema.status_code == 200
    assert set(schema.json()["components"]["securitySchemes"]) == {"accountToken", "cookieAuth"}
    # the header the page's "Try it out" adds to a write (drf-spectacular's swagger_ui.js,
    # which the page loads from ?script=)
    script = browser.get("/api/docs/?script=")
    assert script.status_code == 200
    header, csrf = re.search(
        r'request\.headers\["(X-CSRF[^"]*)"\] = "([^"]+)"', script.content.decode(), re.IGNORECASE
    ).groups()
    key = api_token_create(account=household, name="make demo")[1]

    # when / then: a staff operation is the sign-in's, CSRF header and all
    retrain = browser.post(
        "/api/v1/ops/retrains/",
        {"region": "IN"},
        content_type="application/json",
        headers={header: csrf},
    )
    assert retrain.status_code != 403, retrain.content
    # a household operation is the token's, which "Authorize" adds; the sign-in is not read
    assert browser.get("/api/v1/profiles/").status_code == 401
    listed = browser.get("/api/v1/profiles/", headers={"Authorization": f"Token {key}"})
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["results"]] == ["Priya"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/docs/?script="])
def test_an_options_of_the_docs_page_is_no_server_error(path):
    # drf-spectacular's page renders only templates: an OPTIONS (a crawler's, a browser's
    # preflight from another origin) had DRF's metadata rendered through it, a 500 logged
    # with its traceback.
    response = Client(raise_request_exception=False).options(path)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
