"""End to end in headless Chromium: a staff member signs in and looks at a household.

Drives the system's Chromium (Debian ``chromium`` and ``chromium-driver``, which
``make test`` installs when missing) with Selenium against pytest-django's live
server. Screenshots are written to ``var/test-artifacts/`` (``.ci/run`` prints
the path) so a person can see what the test saw.
"""

import shutil
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from recommendations.models import ModelVersion, PageLog
from recommendations.services.training import model_train
from tests.console.conftest import (
    CONSOLE_MODELS,
    STAFF_PASSWORD,
    VIEWER_PASSWORD,
    view_permissions,
)
from tests.console.world import build_console_world
from tests.factories import TasteClusterFactory

pytestmark = pytest.mark.slow

ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts"
FRIDAY_NIGHT = {"device": "tv", "weekday": 4, "hour": 21}
WAIT_SECONDS = 20

# Images a person can see: rendered (not in a closed <details>, whose content keeps its
# layout box), and their box intersects the window and every scrolling ancestor's (a tile
# scrolled out of its row is not in view, and a lazy image there rightly waits).
IMAGES_IN_VIEW = """
function visible(img) {
  if (!img.checkVisibility({contentVisibilityAuto: true, visibilityProperty: true})) return false;
  let r = img.getBoundingClientRect();
  let top = r.top, left = r.left, bottom = r.bottom, right = r.right;
  for (let el = img.parentElement; el; el = el.parentElement) {
    const style = getComputedStyle(el);
    if (style.overflowX !== "visible" || style.overflowY !== "visible") {
      const c = el.getBoundingClientRect();
      top = Math.max(top, c.top); left = Math.max(left, c.left);
      bottom = Math.min(bottom, c.bottom); right = Math.min(right, c.right);
    }
  }
  return r.width > 0 && bottom > Math.max(top, 0) && right > Math.max(left, 0)
    && top < window.innerHeight && left < window.innerWidth;
}
return Array.from(document.querySelectorAll(arguments[0] || "img")).filter(visible)
  .map(img => ({src: img.currentSrc || img.src, complete: img.complete,
                width: img.naturalWidth, lazy: img.loading === "lazy"}));
"""
TITLES_PER_COLUMN = """
const columns = {};
document.querySelectorAll("section.column").forEach(column => {
  columns[column.dataset.profile] = Array.from(
    column.querySelectorAll("li.tile"), tile => tile.dataset.title);
});
return columns;
"""


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail(
            "Chromium and its driver are needed: `apt-get install chromium chromium-driver` "
            "(make test installs them when missing)."
        )
    return browser, driver


@pytest.fixture
def browser():
    binary, driver = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in containers
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    # The page's console messages, for get_log("browser"): where Chromium reports what the
    # Content-Security-Policy refused.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_page_load_timeout(WAIT_SECONDS)
    yield chrome
    chrome.quit()


@pytest.fixture
def household(transactional_db, settings, django_user_model):
    """The trained household, a staff member and a viewer; committed, for the server thread."""
    settings.ROOT_URLCONF = "tests.console.urls"  # artwork files from this test's MEDIA_ROOT
    world = build_console_world()
    operator = django_user_model.objects.create_user(
        username="operator", password=STAFF_PASSWORD, is_staff=True
    )
    operator.user_permissions.add(*view_permissions(*CONSOLE_MODELS))
    django_user_model.objects.create_user(username="viewer", password=VIEWER_PASSWORD)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return world


def _sign_in(chrome, base: str, username: str, password: str, *, next_path: str) -> None:
    chrome.get(f"{base}/admin/login/?next={next_path}")
    chrome.find_element(By.NAME, "username").send_keys(username)
    chrome.find_element(By.NAME, "password").send_keys(password)
    chrome.find_element(By.CSS_SELECTOR, "input[type=submit]").click()


def _wait_for_images(chrome, selector: str = "img") -> list[dict]:
    """The images in view once every one of them has finished loading (or failed)."""
    WebDriverWait(chrome, WAIT_SECONDS).until(
        lambda c: all(i["complete"] for i in c.execute_script(IMAGES_IN_VIEW, selector))
    )
    return chrome.execute_script(IMAGES_IN_VIEW, selector)


def _assert_loaded(images: list[dict], *, at_least: int) -> None:
    assert len(images) >= at_least
    broken = [i["src"] for i in images if not i["complete"] or i["width"] == 0]
    assert not broken, f"images that did not load: {broken}"


def test_staff_see_the_household_and_a_viewer_is_refused(household, live_server, browser):
    base = live_server.url
    logged_before = PageLog.objects.count()
    action, romance = household.action_fan, household.romance_fan

    # A staff member signs in through the admin's own form and lands on the console.
    _sign_in(browser, base, "operator", STAFF_PASSWORD, next_path="/console/")
    # By path: the login form's own URL (?next=/console/) ends with /console/ too, and
    # waiting on the URL's end let the test read the form before the redirect came.
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    assert "See what Tonight decides" in browser.page_source

    # The action fan's homepage: rows of titles with their artwork, loaded.
    query = {"account": household.account.pk, "profile": action.pk, **FRIDAY_NIGHT}
    browser.get(f"{base}/console/preview/?{urlencode(query)}")
    rows = browser.find_elements(By.CSS_SELECTOR, "section.row")
    assert len(rows) >= 3
    for row in rows:
        assert row.find_element(By.TAG_NAME, "h3").text
        assert row.find_elements(By.CSS_SELECTOR, "li.tile img[loading=lazy]")
    images = _wait_for_images(browser, "li.tile img")
    _assert_loaded(images, at_least=8)
    assert all("/media/artwork/" in i["src"] for i in images)
    resumed = browser.find_element(By.CSS_SELECTOR, f'li.tile[data-title="{household.resumed.pk}"]')
    assert resumed.find_element(By.TAG_NAME, "progress").get_attribute("value") == "40"
    browser.save_screenshot(str(ARTIFACTS / "console-preview.png"))

    # Clicking a title explains it in a dialog.
    browser.find_element(By.CSS_SELECTOR, "li.tile a.why-link").click()
    dialog = browser.find_element(By.ID, "why-dialog")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "Candidate sources" in dialog.text)
    assert "Main ranking features" in dialog.text
    assert "% match" in dialog.text
    browser.execute_script("document.querySelector('#why-dialog table.arms').scrollIntoView()")
    _assert_loaded(_wait_for_images(browser, "#why-dialog img"), at_least=1)
    browser.save_screenshot(str(ARTIFACTS / "console-why.png"))

    # On a phone-sized window the page fits the width; rows scroll sideways instead.
    browser.set_window_size(390, 844)
    browser.get(f"{base}/console/preview/?{urlencode(query)}")
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
    _assert_loaded(_wait_for_images(browser, "li.tile img"), at_least=2)
    browser.save_screenshot(str(ARTIFACTS / "console-preview-phone.png"))

    # The household side by side: every profile a column, shared titles outlined.
    browser.set_window_size(1280, 2200)
    compare = {"account": household.account.pk, **FRIDAY_NIGHT}
    browser.get(f"{base}/console/compare/?{urlencode(compare)}")
    columns = browser.execute_script(TITLES_PER_COLUMN)
    assert set(columns) == {str(p.pk) for p in (action, romance, household.kid)}
    assert set(columns[str(action.pk)]) != set(columns[str(romance.pk)])
    assert columns[str(action.pk)][:4] != columns[str(romance.pk)][:4]
    shared = browser.find_elements(By.CSS_SELECTOR, "li.shared-title")
    assert shared
    number = shared[0].get_attribute("data-shared")
    assert len(browser.find_elements(By.CSS_SELECTOR, f'li.tile[data-shared="{number}"]')) >= 2
    _assert_loaded(_wait_for_images(browser), at_least=12)
    browser.save_screenshot(str(ARTIFACTS / "console-compare.png"))

    # Nothing staff looked at went into the page log the models learn from.
    assert PageLog.objects.count() == logged_before

    # A signed-in viewer who is not staff is turned away.
    browser.delete_all_cookies()
    _sign_in(browser, base, "viewer", VIEWER_PASSWORD, next_path="/console/")
    # The admin form itself refuses non-staff: it shows its error rather than signing in
    # (the URL alone proves nothing: a signed-in non-staff viewer is sent back to it too).
    error = WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: c.find_elements(By.CSS_SELECTOR, "p.errornote")
    )
    assert "for a staff account" in error[0].text
    assert "/admin/login/" in browser.current_url
    client = Client()
    # force_login: Client.login() calls authenticate() without a request, which the sign-in
    # lockout (django-axes) refuses; the session is the same.
    client.force_login(get_user_model().objects.get(username="viewer"))
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    browser.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": session})
    browser.get(f"{base}/console/preview/?{urlencode(query)}")
    assert "/admin/login/" in browser.current_url
    assert not browser.find_elements(By.CSS_SELECTOR, "section.row")
    browser.save_screenshot(str(ARTIFACTS / "console-refused.png"))


def test_the_admin_index_lists_the_console_pages_each_link_on_one_line(
    transactional_db, django_user_model, live_server, browser
):
    # The admin's dashboard styles squeezed the box's link column to a letter's width
    # ("Homepage preview and household comparison" ran down the page one letter a line),
    # on the first page staff see after signing in.
    django_user_model.objects.create_superuser("boss", password=STAFF_PASSWORD)
    _sign_in(browser, live_server.url, "boss", STAFF_PASSWORD, next_path="/admin/")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: c.find_elements(By.ID, "tonight-console"))

    lines = browser.execute_script(
        "return Array.from(document.querySelectorAll('#tonight-console th a'),"
        " a => [a.textContent, a.getClientRects().length]);"
    )

    assert [text for text, _ in lines] == [
        "Homepage preview and household comparison",
        "Models",
        "Artwork",
    ]
    assert all(count == 1 for _, count in lines), lines
    browser.save_screenshot(str(ARTIFACTS / "admin-index.png"))


def _closed(dialog) -> bool:
    return dialog.get_attribute("open") is None


def test_the_why_dialog_says_what_it_explains_and_gives_focus_back(household, live_server, browser):
    base = live_server.url
    _sign_in(browser, base, "operator", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    query = {"account": household.account.pk, "profile": household.action_fan.pk, **FRIDAY_NIGHT}
    browser.get(f"{base}/console/preview/?{urlencode(query)}")
    dialog = browser.find_element(By.ID, "why-dialog")

    # A row's why: the dialog is named for that row, not "Why this title".
    link = browser.find_element(By.CSS_SELECTOR, "section.row a.row-why-link")
    row_title = link.find_element(By.XPATH, "ancestor::section[1]/h3").text
    link.click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "Row ranking features" in dialog.text)
    assert dialog.aria_role == "dialog"
    assert dialog.accessible_name == f"Why the row {row_title} here?"
    # A candidate row's link inside replaces the dialog's content; focus stays in it.
    heading = dialog.find_element(By.TAG_NAME, "h2").text
    dialog.find_elements(By.CSS_SELECTOR, "table.candidates a.why-link")[-1].click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: dialog.find_element(By.TAG_NAME, "h2").text != heading
    )
    assert dialog.get_attribute("aria-label").startswith("Why the row ")
    assert browser.execute_script("return arguments[0].contains(document.activeElement)", dialog)
    # Escape closes it, and focus is back on the link that opened it.
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: _closed(dialog))
    assert browser.switch_to.active_element == link

    # A title's why: named for the title; the close button gives focus back too.
    tile = browser.find_element(By.CSS_SELECTOR, "li.tile a.why-link")
    name = tile.find_element(By.CSS_SELECTOR, ".name").get_attribute("textContent")
    tile.click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "Candidate sources" in dialog.text)
    assert dialog.accessible_name == f"Why {name}?"
    dialog.find_element(By.CSS_SELECTOR, "button.close").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: _closed(dialog))
    assert browser.switch_to.active_element == tile


def test_every_console_page_fits_a_360_pixel_wide_phone(household, live_server, browser):
    # given: a second version, so the preview has a version to choose and a diff to show
    first = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    model_train(region_code=household.home.region.code, random_state=7)
    base = live_server.url
    _sign_in(browser, base, "operator", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    profile = household.action_fan
    moment = {**FRIDAY_NIGHT, "rows": 12, "items": 20}
    pages = {
        "preview-diff": "/console/preview/?"
        + urlencode({"account": profile.account_id, "profile": profile.pk, **moment})
        + f"&version={first.pk}&diff=1",
        "compare": "/console/compare/?"
        + urlencode({"account": profile.account_id, **FRIDAY_NIGHT}),
        "row-why": f"/console/why/row/?{urlencode({'profile': profile.pk, **moment})}"
        + "&row=continue_watching",
        "row-why-version": f"/console/why/row/?{urlencode({'profile': profile.pk, **moment})}"
        + f"&version={first.pk}",
        "why": "/console/why/?"
        + urlencode({"profile": profile.pk, "title": household.resumed.pk, **moment}),
    }
    browser.set_window_size(360, 780)
    assert browser.execute_script("return window.innerWidth") <= 360

    for name, path in pages.items():
        # when
        browser.get(f"{base}{path}")

        # then: nothing but the rows and wide tables, which scroll in their own box, is
        # wider than the screen
        assert browser.find_elements(By.CSS_SELECTOR, "main"), name
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )
        browser.save_screenshot(str(ARTIFACTS / f"console-{name}-360.png"))
        assert overflow <= 0, (name, overflow)
        if name == "preview-diff":
            browser.execute_script("document.querySelector('.version-diff').scrollIntoView()")
            browser.save_screenshot(str(ARTIFACTS / "console-preview-diff-table-360.png"))

    # and the diff's row links open the dialog, which fits the screen
    browser.get(f"{base}{pages['preview-diff']}")
    browser.find_element(By.CSS_SELECTOR, 'td.place[data-side="chosen"] a.why-link').click()
    dialog = browser.find_element(By.ID, "why-dialog")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "Row ranking features" in dialog.text)
    assert f"version #{first.pk}" in dialog.text
    width = browser.execute_script("return arguments[0].getBoundingClientRect().right", dialog)
    assert width <= 360
    browser.save_screenshot(str(ARTIFACTS / "console-diff-why-360.png"))


def test_the_why_dialog_shows_a_plain_text_refusal_as_text(household, live_server, browser):
    # The "why" pages refuse a version they cannot explain under with a plain-text 400
    # naming the profile, which its household chose; the dialog put every answer into its
    # body as HTML, so a version deleted after the preview was drawn ran the profile's
    # name as markup in a signed-in staff member's console.
    # given: a preview built with a version that is not the serving one, then deleted
    profile = household.action_fan
    profile.name = "<img src=x onerror=window.injected=1>"
    profile.save(update_fields=["name"])
    first = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    model_train(region_code=household.home.region.code, random_state=7)
    serving = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    chosen = first if serving.pk != first.pk else ModelVersion.objects.exclude(pk=first.pk).get()
    base = live_server.url
    _sign_in(browser, base, "operator", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    query = {"account": household.account.pk, "profile": profile.pk, **FRIDAY_NIGHT}
    browser.get(f"{base}/console/preview/?{urlencode(query)}&version={chosen.pk}")
    assert browser.find_elements(By.CSS_SELECTOR, "p.chosen")
    chosen.delete()

    # when: staff click a title, whose link names the deleted version
    browser.find_element(By.CSS_SELECTOR, "li.tile a.why-link").click()
    dialog = browser.find_element(By.ID, "why-dialog")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "is not a stored version" in dialog.text)

    # then: the refusal reads as the text it is, the name in it included, and ran nothing
    assert profile.name in dialog.text
    assert not dialog.find_elements(By.CSS_SELECTOR, ".why-body img")
    assert browser.execute_script("return window.injected") is None
    browser.save_screenshot(str(ARTIFACTS / "console-why-refused.png"))


def test_the_why_dialog_signed_out_meanwhile_goes_to_the_sign_in_page(
    household, live_server, browser
):
    # The dialog put whatever its request ended on into itself: signed out meanwhile, that
    # was admin's whole sign-in page, inside the preview's dialog.
    # given: a preview, then the session ended
    base = live_server.url
    _sign_in(browser, base, "operator", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    query = {"account": household.account.pk, "profile": household.action_fan.pk}
    browser.get(f"{base}/console/preview/?{urlencode({**query, **FRIDAY_NIGHT})}")
    browser.delete_cookie(settings.SESSION_COOKIE_NAME)

    # when
    browser.find_element(By.CSS_SELECTOR, "li.tile a.why-link").click()

    # then: the sign-in page, as a page, which leads back to the explanation
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/admin/login/"
    )
    assert "next=/console/why/" in unquote(browser.current_url)


def _policy_refusals(chrome) -> list[str]:
    """What Chromium logged refusing under the Content-Security-Policy since last asked."""
    return [
        entry["message"]
        for entry in chrome.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def test_no_page_staff_use_breaks_the_content_security_policy(household, live_server, browser):
    # The policy (config/settings.py) allows script from the site's own files only: an
    # inline script, an event-handler attribute or an image from another host on any of
    # these pages would be refused, and the page would quietly lose what it did.
    # given: a superuser, who sees every admin page, signed in
    get_user_model().objects.create_superuser("boss", password=STAFF_PASSWORD)
    base = live_server.url
    _sign_in(browser, base, "boss", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    assert not _policy_refusals(browser)
    title = household.resumed
    query = {"account": household.account.pk, "profile": household.action_fan.pk, **FRIDAY_NIGHT}
    pages = {
        # each page, and what shows that its scripts ran and its images loaded
        "preview": (f"/console/preview/?{urlencode(query)}", "li.tile img"),
        "compare": (
            f"/console/compare/?{urlencode({'account': household.account.pk, **FRIDAY_NIGHT})}",
            "li.tile img",
        ),
        "admin change list": ("/admin/catalog/title/", "#result_list"),
        "admin change form": (f"/admin/catalog/title/{title.pk}/change/", "#title_form"),
        # Swagger UI draws the operations itself: they are there only if its scripts ran
        "API docs": ("/api/docs/", ".swagger-ui .opblock"),
    }

    for name, (path, shown) in pages.items():
        # when
        browser.get(f"{base}{path}")

        # then: nothing refused while the page loaded (a refused script leaves it unfinished)
        assert not _policy_refusals(browser), name
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda c, shown=shown: c.find_elements(By.CSS_SELECTOR, shown)
        )
        _wait_for_images(browser)
        # nor once its scripts had run and its images loaded
        assert not _policy_refusals(browser), name

    # and a title's why, which the dialog fetches and puts in the page, is let through too
    browser.get(f"{base}{pages['preview'][0]}")
    browser.find_element(By.CSS_SELECTOR, "li.tile a.why-link").click()
    dialog = browser.find_element(By.ID, "why-dialog")
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "Candidate sources" in dialog.text)
    _wait_for_images(browser, "#why-dialog img")
    assert not _policy_refusals(browser)


def _refusals_and_misses(chrome) -> tuple[list[str], list[str]]:
    """What Chromium logged since last asked: refused under the policy, and answered 404."""
    messages = [entry["message"] for entry in chrome.get_log("browser")]
    return (
        [m for m in messages if "Content Security Policy" in m],
        [m for m in messages if "status of 404" in m],
    )


#: The push bars of a "why" panel: the longest one's width against its cell's half.
LONGEST_BAR_AND_HALF_CELL = """
const bars = Array.from(document.querySelectorAll("table.features td.bar :is(.up, .down)"));
const longest = Math.max(...bars.map(bar => bar.getBoundingClientRect().width));
return [longest, bars[0].closest("td").getBoundingClientRect().width / 2];
"""


def test_no_kind_of_page_uses_a_style_the_policy_refuses(household, live_server, browser):
    # style-src is the site's own stylesheets only (config/settings.py): a <style> block or a
    # style="..." attribute on any page is refused, and the page quietly loses its look (the
    # why panel's bars had no length, the admin index's console box squeezed its links). Each
    # kind of HTML page the site serves, signed out and signed in, its scripts run and its
    # images loaded: nothing refused, and nothing it asked for missing (admin's favicon.ico).
    # given
    get_user_model().objects.create_superuser("boss", password=STAFF_PASSWORD)
    base = live_server.url
    title, profile = household.resumed, household.action_fan
    variant = title.artwork_variants.first()
    cluster = TasteClusterFactory(region=household.home.region, name="Tamil", slug="tamil")
    moment = {**FRIDAY_NIGHT, "rows": 12, "items": 20}
    preview_query = urlencode({"account": profile.account_id, "profile": profile.pk, **moment})
    signed_out = {
        # each page, and what shows that it is drawn
        "front page": ("/", "main ul a"),
        "sign-in page": ("/admin/login/?next=/console/", "#login-form"),
    }
    signed_in = {
        "console index": ("/console/", "main"),
        "preview": (f"/console/preview/?{preview_query}", "li.tile img"),
        "compare": (
            f"/console/compare/?{urlencode({'account': profile.account_id, **FRIDAY_NIGHT})}",
            "li.tile img",
        ),
        "why": (
            f"/console/why/?{urlencode({'profile': profile.pk, 'title': title.pk, **moment})}",
            "table.features",
        ),
        "row why": (
            f"/console/why/row/?{urlencode({'profile': profile.pk, **moment})}"
            "&row=continue_watching",
            "table.features",
        ),
        "models": ("/console/models/", "svg.chart"),
        "model cluster": (f"/console/models/{cluster.region.code}/{cluster.slug}/", "main h1"),
        "artwork": ("/console/artwork/", "section.scope"),
        "admin index": ("/admin/", "#tonight-console"),
        "admin change list": ("/admin/catalog/title/", "#result_list"),
        "admin change form": (f"/admin/catalog/title/{title.pk}/change/", "#title_form"),
        "admin artwork list": ("/admin/artwork/artworkvariant/", "#result_list img"),
        "admin artwork form": (
            f"/admin/artwork/artworkvariant/{variant.pk}/change/",
            "#artworkvariant_form img",
        ),
        "password change": ("/admin/password_change/", "#content form"),
        # Swagger UI draws the operations itself, and their details when one is opened
        "API docs": ("/api/docs/", ".swagger-ui .opblock"),
    }

    logged = {}  # every page's refusals and misses, to name them all when some fail

    def visit(name: str, path: str, shown: str) -> None:
        browser.get(f"{base}{path}")
        WebDriverWait(browser, WAIT_SECONDS).until(
            lambda c: c.find_elements(By.CSS_SELECTOR, shown), message=f"{name}: no {shown}"
        )
        _wait_for_images(browser)
        logged[name] = _refusals_and_misses(browser)
        browser.save_screenshot(str(ARTIFACTS / f"page-{name.replace(' ', '-')}.png"))

    # when: each page loaded, signed out, then signed in
    for name, (path, shown) in signed_out.items():
        visit(name, path, shown)

    # the page Django answers a form whose CSRF cookie is gone (a sign-in left open too long)
    browser.delete_cookie("csrftoken")
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "403 Forbidden" in c.title)
    logged["CSRF refusal"] = _refusals_and_misses(browser)
    browser.save_screenshot(str(ARTIFACTS / "page-CSRF-refusal.png"))

    _sign_in(browser, base, "boss", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    for name, (path, shown) in signed_in.items():
        visit(name, path, shown)
        if name == "why":  # its bars' lengths are each term's own, which no stylesheet holds
            longest_bar, half_cell = browser.execute_script(LONGEST_BAR_AND_HALF_CELL)

    # and an operation opened in the API docs, its example highlighted by Swagger UI
    browser.find_element(By.CSS_SELECTOR, ".swagger-ui .opblock-summary").click()
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: c.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock-body .highlight-code")
    )
    browser.save_screenshot(str(ARTIFACTS / "api-docs-operation.png"))
    logged["API docs, an operation opened"] = _refusals_and_misses(browser)

    # and the page admin's "Log out" leads to
    browser.get(f"{base}/admin/")
    browser.find_element(By.CSS_SELECTOR, "#logout-form button").click()
    WebDriverWait(browser, WAIT_SECONDS).until(lambda c: "Logged out" in c.title)
    logged["signed out"] = _refusals_and_misses(browser)

    # then: nothing refused or missing anywhere, and the bars drawn to their length
    assert {name: found for name, found in logged.items() if found != ([], [])} == {}
    assert longest_bar == pytest.approx(half_cell, abs=1)


# The chosen option's text against the room the closed menu gives it (its width less its
# padding and an arrow's 20 pixels), in the menu's own font.
MENU_TEXT_AND_ROOM = """
const menu = arguments[0], style = getComputedStyle(menu);
const context = document.createElement("canvas").getContext("2d");
context.font = style.font;
const text = menu.options[menu.selectedIndex].text;
const room = menu.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - 20;
return [text, context.measureText(text).width, room];
"""


def test_the_preview_version_menu_shows_its_chosen_option_whole(household, live_server, browser):
    # The menu was held to 7.5em, so the preview make demo prints first read "serving n":
    # the first thing on the page that says which model serves, cut short.
    base = live_server.url
    _sign_in(browser, base, "operator", STAFF_PASSWORD, next_path="/console/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda c: urlsplit(c.current_url).path == "/console/"
    )
    query = {"account": household.account.pk, "profile": household.action_fan.pk, **FRIDAY_NIGHT}

    for width in (1280, 360):
        # when
        browser.set_window_size(width, 900)
        browser.get(f"{base}/console/preview/?{urlencode(query)}")
        menu = browser.find_element(By.CSS_SELECTOR, ".controls .version select")

        # then: its chosen option, the serving version, fits the closed menu
        text, needed, room = browser.execute_script(MENU_TEXT_AND_ROOM, menu)
        assert text.startswith("serving now (#")
        browser.save_screenshot(str(ARTIFACTS / f"console-version-menu-{width}.png"))
        assert needed <= room, (width, text, needed, room)
