"""Staff console pages: who may see them, and that they show what the decision code decides."""

import datetime as dt
import re
import zoneinfo
from html import unescape
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account
from catalog.models import MaturityLevel
from console.moments import local_moment, region_zone
from recommendations.models import ModelVersion, PageLog, TrainingRun
from recommendations.serving.homepage import homepage_build
from recommendations.serving.scoring import MATCH_SHOWN_MIN
from regions.models import Region, TasteCluster
from tests.factories import (
    AccountFactory,
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TitleLocalizationFactory,
)
from tests.recommendations.test_training import record

pytestmark = pytest.mark.django_db

FRIDAY_NIGHT = {"device": "tv", "weekday": 4, "hour": 21}


def preview_url(profile, **params) -> str:
    query = {"account": profile.account_id, "profile": profile.pk, **FRIDAY_NIGHT, **params}
    return f"/console/preview/?{urlencode(query)}"


def compare_url(account, **params) -> str:
    return f"/console/compare/?{urlencode({'account': account.pk, **FRIDAY_NIGHT, **params})}"


def friday_night(profile) -> dt.datetime:
    return local_moment(
        weekday=4,
        hour=21,
        zone=region_zone(profile.account.home_region),
        now=timezone.now(),
    )


def tiles(html: str) -> list[dict[str, str]]:
    """Every title tile of a rendered page: its attributes, link and image."""
    found = []
    for block in re.findall(r'<li class="tile[^"]*".*?</li>', html, flags=re.S):
        image = re.search(r"<img ([^>]*)>", block).group(1)
        found.append(
            {
                "title": re.search(r'data-title="(\d+)"', block).group(1),
                "shared": (re.search(r'data-shared="(\d+)"', block) or [None, ""])[1],
                "href": unescape(re.search(r'href="([^"]+)"', block).group(1)),
                "src": re.search(r'src="([^"]+)"', image).group(1),
                "lazy": 'loading="lazy"' in image,
                "progress": "<progress" in block,
                "html": block,
            }
        )
    return found


def row_ids(html: str) -> list[str]:
    return re.findall(r'<section class="row" data-row="([^"]+)"', html)


# --- Who may look -----------------------------------------------------------------------------

CONSOLE_PATHS = (
    "/console/",
    "/console/preview/?account=1",
    "/console/compare/?account=1",
    "/console/artwork/",
)


@pytest.mark.parametrize("path", [*CONSOLE_PATHS, "/console/why/?profile=1&title=1"])
def test_anonymous_people_are_sent_to_the_admin_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


@pytest.mark.parametrize("path", [*CONSOLE_PATHS, "/console/models/"])
def test_signed_in_people_who_are_not_staff_are_refused(viewer_user, path):
    client = Client()
    client.force_login(viewer_user)

    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_links_to_the_console(staff_client):
    page = staff_client.get("/admin/").content.decode()

    assert 'href="/console/"' in page  # "View site" and the console's own box
    assert 'href="/console/models/"' in page


# --- Preview ----------------------------------------------------------------------------------


def test_preview_is_the_homepage_the_decision_code_builds(world, staff_client, media_served):
    # given
    profile = world.action_fan
    expected = homepage_build(profile=profile, device="tv", at=friday_night(profile))

    # when
    response = staff_client.get(preview_url(profile))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert row_ids(html) == [row.id for row in expected.rows]
    for row in expected.rows:
        assert row.reason in unescape(html)
    shown = tiles(html)
    assert [t["title"] for t in shown] == [
        str(item.title_id) for row in expected.rows for item in row.items
    ]
    assert "Friday 21:00 (Asia/Kolkata)" in html


@pytest.mark.parametrize("page", ["preview", "compare"])
def test_a_household_whose_regions_zone_a_bulk_write_made_bad_is_previewed_in_utc(
    world, staff_client, caplog, page
):
    # given: the household's region given a zone that is none by a write save() never saw
    profile = world.action_fan
    Region.objects.filter(pk=profile.account.home_region_id).update(time_zone="Mars/Olympus")
    url = preview_url(profile) if page == "preview" else compare_url(profile.account)

    # when
    response = staff_client.get(url)

    # then: the page (it was a 500, as was every console page of the region's households),
    # at the moment in UTC, as the API serves the region, saying so, and logged loudly
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "Friday 21:00 (UTC: the region's time zone 'Mars/Olympus' is no time zone)" in html
    assert any(
        record.levelname == "ERROR" and "'Mars/Olympus' is not an IANA time zone" in record.message
        for record in caplog.records
    )


def test_preview_images_are_lazy_and_served_from_media(world, staff_client, media_served):
    html = staff_client.get(preview_url(world.romance_fan)).content.decode()

    shown = tiles(html)
    assert shown
    assert all(t["lazy"] for t in shown)
    sources = {t["src"] for t in shown}
    assert all(src.startswith("/media/artwork/") for src in sources)
    for src in list(sources)[:3]:
        image = staff_client.get(src)
        assert image.status_code == 200
        assert b"".join(image.streaming_content)[:3] == b"\xff\xd8\xff"  # a JPEG


def test_continue_watching_shows_the_progress_bar(world, staff_client):
    html = staff_client.get(preview_url(world.action_fan)).content.decode()

    resumed = [t for t in tiles(html) if t["title"] == str(world.resumed.pk)]
    assert resumed
    assert resumed[0]["progress"]
    assert 'value="40"' in html


def test_changing_device_or_time_rebuilds_for_that_context(world, staff_client):
    profile = world.action_fan

    mobile = staff_client.get(preview_url(profile, device="mobile", weekday=1, hour=8))

    html = mobile.content.decode()
    assert 'class="homepage device-mobile"' in html
    assert "Tuesday 08:00" in html
    expected = homepage_build(
        profile=profile,
        device="mobile",
        at=local_moment(
            weekday=1, hour=8, zone=zoneinfo.ZoneInfo("Asia/Kolkata"), now=timezone.now()
        ),
    )
    assert row_ids(html) == [row.id for row in expected.rows]


@pytest.mark.parametrize("page", ["preview", "compare"])
def test_a_household_without_profiles_says_so_and_nothing_else(world, staff_client, page):
    # The preview answered with its form's error about the profile field, which it does
    # not show for want of profiles ("This field is required."), and the comparison with
    # its controls over nothing at all.
    empty = AccountFactory(home_region=world.home.region, name="The Newcomers")

    response = staff_client.get(f"/console/{page}/?{urlencode({'account': empty.pk})}")

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert "This household has no profiles yet." in html
    assert "This field is required." not in html
    assert 'class="error"' in html
    # and a parameter given twice is still refused, as on every household page
    twice = staff_client.get(f"/console/{page}/?account={empty.pk}&device=tv&device=web")
    assert twice.status_code == 400
    assert "Give this parameter once." in twice.content.decode()


def test_pages_name_the_device_as_the_device_menu_does(world, staff_client):
    # The menu reads "Mobile", the page built for it read "mobile" (the stored value), and
    # the why panel "for Asha on tablet"; its artwork table listed "tv, mobile, tablet, web".
    html = staff_client.get(preview_url(world.action_fan, device="tablet")).content.decode()
    compare = staff_client.get(compare_url(world.account, device="mobile")).content.decode()
    panel = staff_client.get(tiles(html)[0]["href"] + "&fragment=1").content.decode()

    context = re.search(r'<div class="context">(.*?)</div>', html, re.S).group(1)
    assert "<span>Tablet · " in context
    assert '<p class="context"><span>' in compare
    assert "<span>Mobile</span>" in compare
    assert "</strong> on Tablet, " in panel
    devices = re.findall(r'<td class="devices">(.*?)</td>', panel, re.S)
    assert devices
    assert all(name in {"TV", "Mobile", "Tablet", "Web"} for d in devices for name in d.split(", "))


def test_row_copy_carries_the_language_it_is_written_in(world, staff_client):
    # The pages are English (<html lang="en">), the rows' titles and reasons in the
    # profile's display language: unmarked, a screen reader read Hindi with English sounds.
    profile = world.romance_fan
    profile.display_language = world.home.hindi
    profile.save()
    english = world.action_fan  # no display language: English copy

    html = staff_client.get(preview_url(profile)).content.decode()
    compare = staff_client.get(compare_url(world.account)).content.decode()
    panel = staff_client.get(tiles(html)[0]["href"] + "&fragment=1").content.decode()

    assert re.findall(r'<h3 lang="(\w+)">', html) == ["hi"] * len(row_ids(html))
    assert re.findall(r'<p class="reason" lang="(\w+)">', html) == ["hi"] * len(row_ids(html))
    for column, language in ((profile, "hi"), (english, "en")):
        column_end = r"</section>\s*</div>\s*</section>"  # its last row, rows, column
        start = f'<section class="column" data-profile="{column.pk}">'
        section = re.search(rf"{start}.*?{column_end}", compare, re.S).group(0)
        assert set(re.findall(r'<h3 lang="(\w+)">', section)) == {language}
    assert re.search(r'<strong lang="hi">[^<]+</strong> \(row 1, position 1\)', panel)


def test_bad_parameters_are_refused_with_the_form(world, staff_client):
    response = staff_client.get(preview_url(world.action_fan, hour=25, device="fridge"))

    assert response.status_code == 400
    assert b"Select a valid choice" in response.content


@pytest.mark.parametrize("value", ["\u0663", "3_0", "12.0", "+5"])
@pytest.mark.parametrize("name", ["rows", "items"])
def test_a_count_not_written_in_digits_is_refused_as_the_api_refuses_it(
    world, staff_client, name, value
):
    # "٣" was 3 rows, "3_0" 30, "12.0" 12 and "+5" 5, where the homepage API says 400
    response = staff_client.get(preview_url(world.action_fan, **{name: value}))

    assert response.status_code == 400
    assert "Enter a whole number." in response.content.decode()


def test_a_parameter_given_twice_is_refused_as_the_api_refuses_it(world, staff_client):
    """The pages read the last of a repeated parameter: ``device=tv&device=mobile`` was a
    mobile page, ``account=1&account=2`` the second household; the API says 400."""
    profile = world.action_fan
    why = {"profile": profile.pk, "title": world.home.titles["action"][0].pk, **FRIDAY_NIGHT}
    twice = {
        # every page that reads a query string, a form field and a parameter read beside it
        "preview device": f"{preview_url(profile)}&device=mobile",
        "preview account": f"{preview_url(profile)}&account={profile.account_id}",
        "compare hour": f"{compare_url(world.account)}&hour=8",
        "why title": f"/console/why/?{urlencode(why)}&title={world.home.titles['drama'][0].pk}",
        "why fragment": f"/console/why/?{urlencode(why)}&fragment=1&fragment=",
        "search": "/console/?q=testers&q=nobody",
    }
    for case, url in twice.items():
        response = staff_client.get(url)

        # then: the page names the parameter and builds nothing from either value
        page = unescape(response.content.decode())
        name = case.split()[-1].replace("search", "q")
        assert response.status_code == 400, case
        assert re.search(rf"\b{name}\b.{{0,60}}Give this parameter once\.", page, re.S), case
        assert 'class="homepage' not in page, case
        if case == "search":
            assert "The Testers" not in page

    # a parameter given once still opens the page
    assert staff_client.get(preview_url(profile, device="mobile")).status_code == 200


def test_the_why_pages_form_errors_are_plain_text(world, staff_client):
    # The why page answers a bad query with the form's errors as a bare list: served as
    # text/html, a browser ran them into one line ("* weekday * This field is required.").
    profile = world.action_fan
    title = world.home.titles["action"][0].pk

    response = staff_client.get(f"/console/why/?profile={profile.pk}&title={title}")

    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "weekday" in response.content.decode()


def test_a_repeated_parameter_is_refused_before_the_household_is_looked_up(world, staff_client):
    """``account=1&account=999`` was a 404 about the account read last and ``account=1&account=x``
    a redirect to the search: the query is malformed whichever of them exists."""
    known = world.account.pk
    unknown = Account.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1
    twice = {
        "preview, unknown last, account": f"/console/preview/?account={known}&account={unknown}",
        "compare, unknown last, account": f"/console/compare/?account={known}&account={unknown}",
        "preview, not an id last, account": f"/console/preview/?account={known}&account=x",
        "compare, an unknown household, device": (
            f"/console/compare/?account={unknown}&device=tv&device=mobile"
        ),
        "preview, no household, hour": "/console/preview/?hour=8&hour=9",
    }
    for case, url in twice.items():
        response = staff_client.get(url)

        # then: a 400 naming the parameter, on the household search
        page = unescape(response.content.decode())
        name = case.split()[-1]
        assert response.status_code == 400, case
        assert re.search(rf"\b{name}\b.{{0,60}}Give this parameter once\.", page, re.S), case
        assert 'class="homepage' not in page, case

    # and: each of them alone is what it was (a 404, the search)
    assert staff_client.get(f"/console/preview/?account={unknown}").status_code == 404
    assert staff_client.get("/console/preview/?account=x").status_code == 302


@pytest.mark.parametrize("account", ["²", "١٢", "99999999999999999999"])
@pytest.mark.parametrize("page", ["preview", "compare"])
def test_an_account_that_only_looks_like_an_id_is_sent_to_the_search(staff_client, page, account):
    # "²".isdigit() and "١٢".isdigit() are true, int("²") raises, and 20 digits are past
    # any row's id (SQLite cannot bind them): each was a 500
    assert staff_client.get(f"/console/{page}/", {"account": account}).status_code == 302


@pytest.mark.parametrize("value", ["\u0662", "99999999999999999999", "+2", "2.0"])
@pytest.mark.parametrize("name", ["profile", "title", "variant"])
def test_a_why_id_that_only_looks_like_an_id_is_a_400_naming_it(world, staff_client, name, value):
    # "٢" read as profile 2 and "+2" as 2, where a path and the household parameter refuse
    # both (config.ids); 20 digits, past any row's id, were a 404 for lack of the row
    query = {
        "profile": world.action_fan.pk,
        "title": world.home.titles["action"][0].pk,
        **FRIDAY_NIGHT,
        name: value,
    }

    response = staff_client.get(f"/console/why/?{urlencode(query)}")

    assert response.status_code == 400
    assert response.content.decode().startswith(f"* {name}\n")


@pytest.mark.parametrize("query", ["²", "99999999999999999999"])
def test_a_household_search_for_what_only_looks_like_an_id_finds_nothing(staff_client, query):
    response = staff_client.get("/console/", {"q": query})

    assert response.status_code == 200


def test_previews_are_never_logged(world, staff_client):
    before = PageLog.objects.count()
    html = staff_client.get(preview_url(world.action_fan)).content.decode()
    staff_client.get(compare_url(world.account))
    staff_client.get(tiles(html)[0]["href"])

    assert PageLog.objects.count() == before


# --- Household comparison ---------------------------------------------------------------------


def test_comparison_highlights_exactly_the_titles_several_profiles_see(world, staff_client):
    # given: the pages the decision code builds for each profile at that moment
    at = friday_night(world.action_fan)
    pages = {
        p.pk: homepage_build(profile=p, device="tv", at=at, n_rows=8, n_items=12)
        for p in (world.action_fan, world.romance_fan, world.kid)
    }
    seen = {pk: {i.title_id for r in page.rows for i in r.items} for pk, page in pages.items()}
    everyone = [t for ids in seen.values() for t in ids]
    expected_shared = {t for t in everyone if everyone.count(t) >= 2}

    # when
    html = staff_client.get(compare_url(world.account)).content.decode()

    # then
    assert expected_shared, "the world should give the household some titles in common"
    shown = tiles(html)
    marked = {int(t["title"]) for t in shown if t["shared"]}
    unmarked = {int(t["title"]) for t in shown if not t["shared"]}
    assert marked == expected_shared
    assert not unmarked & expected_shared
    for profile in (world.action_fan, world.romance_fan, world.kid):
        assert f'data-profile="{profile.pk}"' in html


def test_a_comparison_with_nothing_shared_does_not_point_below(world, staff_client):
    # A household of one profile shares nothing: "0 titles on more than one profile's
    # page, numbered and outlined below" pointed at numbers and outlines there are not.
    alone = ProfileFactory(account=AccountFactory(home_region=world.home.region), name="Solo")

    response = staff_client.get(compare_url(alone.account))

    html = unescape(response.content.decode())
    assert response.status_code == 200
    assert "numbered and outlined below" not in html
    assert "No title is on more than one profile's page." in html


def test_a_shared_title_shows_each_profiles_row_position_and_picture(world, staff_client):
    html = staff_client.get(compare_url(world.account)).content.decode()

    first = re.search(r'<li class="shared-title" data-shared="1">(.*?)</li>\s*</ul>', html, re.S)
    assert first is not None
    block = first.group(1)
    appearances = re.findall(
        r"<strong><bdi>([^<]+)</bdi></strong><br>row (\d+) .*?, position (\d+)", block
    )
    assert len(appearances) >= 2
    assert len(re.findall(r'<img src="/media/artwork/', block)) == len(appearances)


def test_the_two_adults_pages_differ(world, staff_client):
    html = staff_client.get(compare_url(world.account)).content.decode()

    columns = re.split(r'<section class="column" data-profile="', html)[1:]
    by_profile = {int(c.split('"', 1)[0]): {t["title"] for t in tiles(c)} for c in columns}
    action, romance = by_profile[world.action_fan.pk], by_profile[world.romance_fan.pk]
    assert action
    assert romance
    assert action != romance


# --- Why this ---------------------------------------------------------------------------------


def test_why_names_the_row_its_reason_the_sources_and_the_features(world, staff_client):
    # given: the first title of the action fan's preview
    html = staff_client.get(preview_url(world.action_fan)).content.decode()
    tile = tiles(html)[0]
    query = parse_qs(urlparse(tile["href"]).query)
    at = friday_night(world.action_fan)
    expected = homepage_build(profile=world.action_fan, device="tv", at=at)
    row = next(r for r in expected.rows if r.id == query["row"][0])

    # when
    panel = staff_client.get(tile["href"] + "&fragment=1")

    # then
    assert panel.status_code == 200
    text = unescape(panel.content.decode())
    assert "<html" not in text  # the dialog's fragment
    assert row.title in text
    assert row.reason in text
    assert "row 1, position 1" in text
    assert "Candidate sources" in text
    sources = "cf|content|trending|new_release|continue_watching"
    assert re.search(rf'<span class="tag">({sources})<', text)
    assert re.search(r'<tr data-feature="\w+">', text)
    assert f"Variant <strong>#{query['variant'][0]} " in text
    assert "propensity" in text
    # The policy's own figures for each eligible frame: its prior here (no update has run).
    assert "the artwork policy's prior" in text
    assert len(re.findall(r"<td>-?\d\.\d{3}</td>", text)) >= 4  # estimate and chance, 2 arms


def test_why_names_the_columns_of_each_features_figures(world, staff_client):
    # Each feature had two bare figures, its value and its term in the score, with no
    # heading saying which was which (the term can be larger than the value, or of the
    # other sign): a reader, or a screen reader, could only guess.
    html = staff_client.get(preview_url(world.action_fan)).content.decode()

    panel = staff_client.get(tiles(html)[0]["href"] + "&fragment=1").content.decode()

    tables = re.findall(r'<table class="features">.*?</table>', panel, re.S)
    assert tables
    for table in tables:
        headings = re.findall(r'<th scope="col"[^>]*>(.*?)</th>', table, re.S)
        assert [re.sub(r"<[^>]+>", "", h).strip() for h in headings] == [
            "Feature",
            "Value",
            "Push",
            "Term in the score",
        ]


def test_why_shows_the_match_the_tile_showed_and_none_for_a_title_being_resumed(
    world, staff_client
):
    # given: the action fan's preview, with the title she is half-way through on it
    html = staff_client.get(preview_url(world.action_fan)).content.decode()
    resumed = next(t for t in tiles(html) if t["title"] == str(world.resumed.pk))
    fresh = next(t for t in tiles(html) if "% match" in t["html"])

    # when
    resumed_panel = unescape(staff_client.get(resumed["href"] + "&fragment=1").content.decode())
    fresh_panel = unescape(staff_client.get(fresh["href"] + "&fragment=1").content.decode())

    # then: the tile carried no figure, and neither does its explanation
    assert "% match" not in resumed["html"]
    assert "% match</span>" not in resumed_panel
    assert "being resumed" in resumed_panel
    # and a title not being resumed reads the figure its tile read
    shown = re.search(r"(\d+)% match", fresh["html"]).group(1)
    assert f'<span class="big">{shown}% match</span>' in fresh_panel


def test_why_says_why_a_title_not_being_resumed_shows_no_match(world, staff_client):
    # given: a tile of the action fan's preview without a figure and without progress: one
    # whose "% match" is under the figure shown, not a title she is resuming
    html = staff_client.get(preview_url(world.action_fan)).content.decode()
    low = [t for t in tiles(html) if "% match" not in t["html"] and not t["progress"]]
    assert low, "the world's preview has no such tile any more: find another"

    # when
    panel = unescape(staff_client.get(low[0]["href"] + "&fragment=1").content.decode())

    # then: the panel gives that reason, not "being resumed", which the console said of
    # every hidden figure of a profile with history
    assert "% match</span>" not in panel
    assert "being resumed" not in panel
    assert f"under {MATCH_SHOWN_MIN}%" in panel


def test_why_explains_a_title_outside_the_pool(world, staff_client):
    disliked = world.home.titles["drama"][0]
    record(world.action_fan, "thumbs_down", disliked, days_ago=0.2)
    query = {"profile": world.action_fan.pk, "title": disliked.pk, **FRIDAY_NIGHT}

    page = staff_client.get(f"/console/why/?{urlencode(query)}").content.decode()

    assert "Not on this page now" in page
    assert "The profile gave it a thumbs down." in page


def test_why_names_a_title_outside_the_page_as_the_profile_reads_it(world, staff_client):
    # The heading fell back to the original name, and the browser's tab always read it,
    # beside a page whose rows name the title in the profile's language.
    portuguese = LanguageFactory(code="pt", name="Portuguese")
    world.action_fan.display_language = portuguese
    world.action_fan.save()
    disliked = world.home.titles["drama"][0]
    TitleLocalizationFactory(title=disliked, language=portuguese, name="Drama Localizado")
    record(world.action_fan, "thumbs_down", disliked, days_ago=0.2)
    query = {"profile": world.action_fan.pk, "title": disliked.pk, **FRIDAY_NIGHT}

    page = unescape(staff_client.get(f"/console/why/?{urlencode(query)}").content.decode())

    assert re.search(r"<title>Why Drama Localizado ", page)
    assert re.search(r"<h2>Why <em>Drama Localizado</em>\?</h2>", page)


def test_why_does_not_blame_the_page_bounds_for_a_title_outside_the_pool(world, staff_client):
    # A title above the kids profile's maturity limit is on no page of hers, however many
    # rows and titles it had: "its rows and titles per row are bounded" blamed the bounds,
    # beside a ranking section saying the limit kept it out.
    mature = world.home.titles["drama"][0]
    mature.maturity = MaturityLevel.SIXTEEN
    mature.save()
    query = {"profile": world.kid.pk, "title": mature.pk, **FRIDAY_NIGHT}

    page = unescape(staff_client.get(f"/console/why/?{urlencode(query)}").content.decode())

    row = re.search(r"<h3>The row</h3>(.*?)</section>", page, re.S).group(1)
    assert "bounded" not in row
    assert "not among the candidates" in row
    assert "Above the profile's maturity limit." in page


# --- Households and models --------------------------------------------------------------------


def test_households_are_found_by_name_or_id(world, staff_client):
    # given: other households, fewer than a page, whose names do not match
    others = list(Account.objects.exclude(pk=world.account.pk).order_by("pk"))
    assert others
    assert not [a for a in others if "testers" in a.name.lower()]

    # when
    by_name = staff_client.get("/console/?q=testers")
    by_id = staff_client.get(f"/console/?q={world.account.pk}")

    # then: the household, and no other
    for response in (by_name, by_id):
        page = response.content.decode()
        assert [a.pk for a in response.context["accounts"]] == [world.account.pk]
        assert "The Testers" in page
        assert f'/console/compare/?account={world.account.pk}"' in page
        for other in others:
            assert f'/console/compare/?account={other.pk}"' not in page
            assert other.name not in page


def test_model_pages_chart_versions_and_cluster_retrains(world, staff_client):
    cluster = TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")
    for ndcg in (0.21, 0.25):
        TrainingRun.objects.create(
            region=world.home.region,
            taste_cluster=cluster,
            status="succeeded",
            timings={"train": 1.5, "evaluate": 0.5},
            metrics={"clusters": {"hindi": {"ndcg@10_cluster": ndcg, "ndcg@10_region": 0.2}}},
        )

    overview = staff_client.get("/console/models/").content.decode()
    detail = staff_client.get(f"/console/models/{world.home.region.code}/hindi/").content.decode()

    assert "<polyline" in overview  # versions over time
    assert "/console/models/IN/hindi/" in overview
    assert detail.count("<svg") == 2  # NDCG@10 and run seconds
    assert detail.count("Nothing recorded yet.") == 1  # recall@20: not in these runs' metrics
    assert "0.2500" in detail
    assert "0.2100" in detail
    assert "<title>cluster #" in detail


def test_the_model_overview_says_which_regions_clusters_have_no_default(db, staff_client):
    # given: Brazil, whose default a write that bypassed TasteCluster.save unticked, and
    # Kenya with its default
    brazil, kenya = RegionFactory(code="BR", name="Brazil"), RegionFactory(code="KE", name="Kenya")
    for region in (brazil, kenya):
        TasteCluster.objects.create(
            region=region, slug="everyone", name="Everyone", is_default=True
        )
        TasteCluster.objects.create(region=region, slug="drama", name="Drama")
    TasteCluster.objects.filter(region=brazil).update(is_default=False)

    # when
    page = unescape(staff_client.get("/console/models/").content.decode())

    # then: Brazil's section names the cluster everybody no keyed community holds is in,
    # and what to do; Kenya's lists its default as ever
    def section(code: str) -> str:
        return re.search(rf'<section class="scope" id="region-{code}">.*?</section>', page, re.S)[0]

    assert "No default taste cluster" in section("BR")
    assert "Drama holds everybody" in section("BR")
    assert "admin" in section("BR")
    assert "No default taste cluster" not in section("KE")
    assert "region-wide fallback" in section("KE")


def cells(html: str, link: str) -> list[str]:
    """The text of each cell of the table row that links ``link``."""
    row = re.search(rf"<tr>((?:(?!</tr>).)*{re.escape(link)}.*?)</tr>", html, re.S).group(1)
    found = re.findall(r"<td>(.*?)</td>", row, re.S)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in found]


def test_model_tables_print_a_recorded_zero_and_the_choices_names(world, staff_client):
    # "Logged pages" and "Judged profiles" went through |default:"—", which replaces 0 as it
    # replaces a figure never recorded: a version trained before any page was logged read as
    # if training had not counted them. Status, ranker and trigger read as stored ("prior").
    cluster = TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")
    common = {"scope": ModelVersion.Scope.CLUSTER, "region": world.home.region}
    counted = ModelVersion.objects.create(
        **common, taste_cluster=cluster, metrics={"logged_pages": 0}
    )
    older = ModelVersion.objects.create(**common, taste_cluster=cluster, metrics={})
    run = TrainingRun.objects.create(
        region=world.home.region,
        taste_cluster=cluster,
        status="succeeded",
        trigger=TrainingRun.Trigger.COMMAND,
        metrics={"clusters": {"hindi": {"judged": 0, "ndcg@10_cluster": 0.2}}},
    )

    html = staff_client.get(f"/console/models/{world.home.region.code}/hindi/").content.decode()

    version_cells = cells(html, f"/modelversion/{counted.pk}/change/")
    assert version_cells[1:3] == ["Training", "Prior blend"]
    assert version_cells[5] == "0"  # logged pages: counted, none
    assert cells(html, f"/modelversion/{older.pk}/change/")[5] == "—"  # never recorded
    run_cells = cells(html, f"/trainingrun/{run.pk}/change/")
    assert run_cells[1:3] == ["Succeeded", "Management command"]
    assert run_cells[7] == "0"  # judged profiles


def test_the_model_overview_costs_the_same_for_one_region_and_four(world, staff_client):
    """Each region's versions were a query of their own: a page of 190 regions, 190."""

    def overview_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get("/console/models/")
        assert response.status_code == 200
        return len(queries.captured_queries)

    # given: the world's region, then three more, each with versions
    one = overview_queries()
    for code in ("US", "GB", "BR"):
        region = RegionFactory(code=code, name=f"Region {code}")
        for _ in range(2):
            ModelVersion.objects.create(scope=ModelVersion.Scope.REGION, region=region)

    # when / then: each region's versions are listed, for the same queries
    assert overview_queries() == one
    page = staff_client.get("/console/models/").content.decode()
    for code in ("US", "GB", "BR"):
        section = re.search(rf'<section class="scope" id="region-{code}">.*?</section>', page, re.S)
        assert len(re.findall(r"modelversion/\d+/change/", section.group(0))) == 2


def test_the_model_overview_names_the_serving_version_behind_newer_rejected_ones(
    world, staff_client
):
    # The overview listed each scope's five newest versions only: after five nightly
    # retrains the gate refused, a scope read "Rejected" five times and nothing said
    # which version serves it (the demo's global scope did, on every fresh start).
    region = world.home.region
    serving = {}
    for scope in (ModelVersion.Scope.GLOBAL, ModelVersion.Scope.REGION):
        common = {"scope": scope, "region": region if scope == ModelVersion.Scope.REGION else None}
        serving[scope], _ = ModelVersion.objects.get_or_create(
            **common, status=ModelVersion.Status.ACTIVE
        )
        refused = [
            ModelVersion.objects.create(**common, status=ModelVersion.Status.REJECTED)
            for _ in range(6)
        ]

    page = staff_client.get("/console/models/").content.decode()

    sections = {
        ModelVersion.Scope.GLOBAL: re.search(r"<h2>Global</h2>.*?</section>", page, re.S),
        ModelVersion.Scope.REGION: re.search(
            rf'<section class="scope" id="region-{region.code}">.*?</section>', page, re.S
        ),
    }
    for scope, section in sections.items():
        html = section.group(0)
        listed = re.findall(r"modelversion/(\d+)/change/", html)
        assert str(serving[scope].pk) in listed, scope
        assert cells(html, f"/modelversion/{serving[scope].pk}/change/")[1] == "Active"
        assert "older versions not listed" in html  # the gap before it is said
    # the newest five are still the ones listed first
    assert str(refused[-1].pk) in re.findall(
        r"modelversion/(\d+)/change/", sections[ModelVersion.Scope.REGION].group(0)
    )
    assert str(refused[0].pk) not in re.findall(
        r"modelversion/(\d+)/change/", sections[ModelVersion.Scope.REGION].group(0)
    )


@pytest.mark.parametrize(("region", "status"), [("%00", 400), ("I%00", 400), ("in%20", 404)])
def test_a_cluster_page_of_what_no_region_code_can_be_is_refused(staff_client, region, status):
    # "\x00" reached the query as the region's code, which PostgreSQL refuses: a 500. A NUL
    # anywhere in a page's address is refused first (config.middleware.NulInUrlRefused);
    # the route takes only a slug, so anything else that no code can be is a 404.
    assert staff_client.get(f"/console/models/{region}/hindi/").status_code == status


def test_a_cluster_without_versions_points_at_its_retrain_not_at_train_models(world, staff_client):
    # train_models trains the global and region versions only: a cluster's versions come
    # from its retrains, so the empty table must name the command that makes one.
    TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")

    detail = staff_client.get(f"/console/models/{world.home.region.code}/hindi/").content.decode()

    assert "manage.py train_models" not in detail
    assert detail.count(f"manage.py retrain --region {world.home.region.code} --cluster hindi") == 2


def test_a_clusters_retrains_show_how_far_a_run_got_and_why_one_failed(world, staff_client):
    cluster = TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")
    common = {"region": world.home.region, "taste_cluster": cluster}
    TrainingRun.objects.create(**common, status="failed", stage="train", progress=40,
                               error="MemoryError: the fit ran out of memory")  # fmt: skip
    TrainingRun.objects.create(**common, status="running", stage="gate", progress=85)

    detail = staff_client.get(f"/console/models/{world.home.region.code}/hindi/").content.decode()

    assert "MemoryError: the fit ran out of memory" in detail
    assert "Running · gate 85%" in detail
