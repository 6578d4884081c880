"""The preview's model versions: which scope serves a profile and why, and another version's page.

"Did the new version change the pages?" is answered by building the page with a version
of the scope serving the profile (retired, ready, rejected: any whose files are stored),
through the homepage's own code, beside the serving version's page, and never in place
of what serves real traffic.
"""

import dataclasses
import re
from html import unescape
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from console.access import HOUSEHOLDS
from console.versions import page_diff
from profiles.models import Profile
from recommendations.models import ModelVersion, PageLog
from recommendations.services.training import model_train
from recommendations.serving import artefacts
from recommendations.serving.cache import model_cache
from recommendations.serving.homepage import homepage_build
from regions.models import TasteCluster
from tests.console.conftest import view_permissions
from tests.console.test_views import FRIDAY_NIGHT, friday_night, preview_url, row_ids, tiles
from tests.factories import AccountFactory, ProfileFactory, RegionFactory

pytestmark = pytest.mark.django_db


def page_titles(page) -> list[int]:
    return [item.title_id for row in page.rows for item in row.items]


def page_layout(page) -> list[tuple[str, list[int]]]:
    return [(row.id, [item.title_id for item in row.items]) for row in page.rows]


def version_options(html: str) -> list[str]:
    """The version menu's choices, as their labels (with ``*`` before the selected one)."""
    menu = re.search(r'<select name="version"[^>]*>(.*?)</select>', html, flags=re.S)
    if menu is None:
        return []
    return [
        ("*" if selected else "") + unescape(label)
        for selected, label in re.findall(
            r'<option value="\d*"( selected)?>([^<]*)</option>', menu.group(1)
        )
    ]


def html_layout(html: str) -> list[tuple[str, list[int]]]:
    """Each row of the rendered page with the title ids of its tiles."""
    return [
        (
            re.search(r'data-row="([^"]+)"', section).group(1),
            [int(t["title"]) for t in tiles(section)],
        )
        for section in re.findall(r'<section class="row".*?</section>', html, flags=re.S)
    ]


@pytest.fixture
def two_versions(world):
    """The world's version (retired now) and the one trained after it (active), with their
    pages for the action fan on Friday night, which differ."""
    profile = world.action_fan
    first = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    before = homepage_build(profile=profile, device="tv", at=friday_night(profile))
    assert before.model_version == first.pk
    second = model_train(region_code=world.home.region.code, random_state=7)
    after = homepage_build(profile=profile, device="tv", at=friday_night(profile))
    assert after.model_version == second.pk
    first.refresh_from_db()
    assert first.status == ModelVersion.Status.RETIRED
    # Else choosing a version could not be told from ignoring the choice.
    assert page_layout(before) != page_layout(after)
    return first, second, before, after


# --- Which scope serves -----------------------------------------------------------------------


def page_text(response) -> str:
    """The page's HTML as its sentences read: entities decoded, <bdi> (which isolates a
    household's name from the sentence around it) left out."""
    return unescape(re.sub(r"</?bdi>", "", response.content.decode()))


def test_the_preview_says_which_scope_serves_the_profile_and_why(world, staff_client):
    version = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)

    html = page_text(staff_client.get(preview_url(world.action_fan)))

    region = world.home.region
    assert (
        f"Model #{version.pk} of region {region.name} ({region.code}) serves Asha: "
        "it is in no taste cluster yet." in html
    )


def test_a_profile_whose_cluster_has_no_model_is_said_to_be_served_by_its_regions(
    world, staff_client
):
    version = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)
    cluster = TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")
    Profile.objects.filter(pk=world.action_fan.pk).update(taste_cluster=cluster)

    html = page_text(staff_client.get(preview_url(world.action_fan)))

    assert (
        f"Model #{version.pk} of region India (IN) serves Asha as a fallback: its taste "
        "cluster, Hindi, has no active model." in html
    )


def test_a_profile_of_a_region_without_a_model_is_said_to_be_served_by_the_global_one(
    world, staff_client
):
    # given: a household in a region no version was trained for, and a global version
    region = RegionFactory(code="BR", name="Brazil", time_zone="America/Sao_Paulo")
    profile = ProfileFactory(account=AccountFactory(home_region=region), name="Mina")
    global_version = model_train(region_code=None)

    # when
    response = staff_client.get(preview_url(profile))

    # then
    assert response.status_code == 200
    html = page_text(response)
    assert (
        f"Model #{global_version.pk} of the global scope serves Mina as a fallback: its "
        "region, Brazil (BR), has no active model of its own "
        "(and it is in no taste cluster yet)." in html
    )


# --- Another version's page -------------------------------------------------------------------


def test_choosing_a_retired_version_builds_the_page_that_version_builds(
    world, staff_client, two_versions
):
    first, second, before, after = two_versions

    plain = staff_client.get(preview_url(world.action_fan)).content.decode()
    chosen = staff_client.get(preview_url(world.action_fan, version=first.pk)).content.decode()

    assert html_layout(plain) == page_layout(after)
    assert html_layout(chosen) == page_layout(before)
    assert f'data-chosen-version="{first.pk}"' in chosen
    # Both versions are offered, newest first, the serving one marked.
    options = version_options(chosen)
    assert options[0] == f"serving now (#{second.pk})"
    assert options[1].startswith(f"#{second.pk} · Active · ")
    assert options[1].endswith(", serving now")
    assert options[2].startswith(f"*#{first.pk} · Retired · ")
    assert len(options) == 3


def test_the_comparison_lists_rows_added_removed_and_moved(world, staff_client, two_versions):
    first, _, before, after = two_versions

    html = staff_client.get(
        preview_url(world.action_fan, version=first.pk, diff=1)
    ).content.decode()

    changes = dict(re.findall(r'data-diff-row="([^"]+)" data-change="([^"]+)"', html))
    assert set(changes) == {row.id for row in before.rows} | {row.id for row in after.rows}
    now = {row.id: (i, [item.title_id for item in row.items]) for i, row in enumerate(after.rows)}
    for i, row in enumerate(before.rows):
        titles = [item.title_id for item in row.items]
        if row.id not in now:
            assert changes[row.id] == "added"
        elif now[row.id][0] != i:
            assert changes[row.id] == "moved"
        elif set(now[row.id][1]) != set(titles):
            assert changes[row.id] == "titles changed"
        elif now[row.id][1] != titles:
            assert changes[row.id] == "reordered"
        else:
            assert changes[row.id] == "same"
    for row_id in now.keys() - {row.id for row in before.rows}:
        assert changes[row_id] == "removed"
    assert set(changes.values()) != {"same"}


def test_a_chosen_version_leaves_the_serving_cache_and_the_page_log_alone(
    world, staff_client, two_versions
):
    first, second, _, _ = two_versions
    staff_client.get(preview_url(world.action_fan))
    serving = model_cache.loaded(second.pk)
    assert serving is not None
    logged = PageLog.objects.count()

    staff_client.get(preview_url(world.action_fan, version=first.pk, diff=1))

    assert model_cache.loaded(second.pk) is serving
    assert model_cache.loaded(first.pk) is None
    assert model_cache.bundle(world.home.region.code).version_id == second.pk
    assert PageLog.objects.count() == logged


def test_versions_without_stored_files_are_neither_offered_nor_built(
    world, staff_client, two_versions
):
    first, _, _, _ = two_versions
    region = world.home.region
    failed = ModelVersion.objects.create(
        scope=ModelVersion.Scope.REGION,
        region=region,
        status=ModelVersion.Status.FAILED,
        artefact_key=first.artefact_key,
    )
    unstored = ModelVersion.objects.create(
        scope=ModelVersion.Scope.REGION,
        region=region,
        status=ModelVersion.Status.REJECTED,
        artefact_key="models/nowhere",
    )

    html = staff_client.get(preview_url(world.action_fan)).content.decode()

    offered = version_options(html)
    assert any(label.startswith(f"#{first.pk} · ") for label in offered)
    for version in (failed, unstored):
        assert not any(label.startswith(f"#{version.pk} · ") for label in offered)
        response = staff_client.get(preview_url(world.action_fan, version=version.pk))
        assert response.status_code == 400
        assert "is not a stored version of the scope serving \u2068Asha\u2069" in unescape(
            response.content.decode()
        )


def test_the_version_choice_costs_the_same_queries_however_many_versions_there_are(
    world, staff_client, two_versions
):
    first, _, _, _ = two_versions

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = staff_client.get(preview_url(world.action_fan, version=first.pk, diff=1))
        assert response.status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for _ in range(5):  # more retired versions, with files, of the same scope
        ModelVersion.objects.create(
            scope=ModelVersion.Scope.REGION,
            region=world.home.region,
            status=ModelVersion.Status.RETIRED,
            artefact_key=first.artefact_key,
        )
    assert queries() == few


def _households_only(django_user_model) -> Client:
    """Staff who may look at households but not at model versions, signed in."""
    user = django_user_model.objects.create_user(username="households-only", is_staff=True)
    user.user_permissions.add(*view_permissions(*HOUSEHOLDS))
    client = Client()
    client.force_login(user)
    return client


def test_staff_who_may_not_view_model_versions_get_no_choice(
    world, django_user_model, two_versions
):
    first, _, _, _ = two_versions
    client = _households_only(django_user_model)

    page = client.get(preview_url(world.action_fan))
    chosen = client.get(preview_url(world.action_fan, version=first.pk))
    compared = client.get(preview_url(world.action_fan, diff=1))

    assert page.status_code == 200
    assert version_options(page.content.decode()) == []
    assert "serves Asha" in page_text(page)  # which scope serves: for all
    assert chosen.status_code == 403
    assert compared.status_code == 403
    assert row_ids(page.content.decode())


def test_a_page_diff_names_each_rows_change(world):
    # given: the action fan's page, and pages as other versions might build it
    page = homepage_build(profile=world.action_fan, device="tv", at=friday_night(world.action_fan))
    r0, r1, r2, r3 = page.rows[:4]
    assert min(len(r1.items), len(r2.items), len(r3.items)) >= 2
    dropped = dataclasses.replace(r3, items=list(r3.items)[:-1])
    shuffled = dataclasses.replace(page, rows=[r1, r0, dropped])
    edited = dataclasses.replace(
        page,
        rows=[
            r0,
            dataclasses.replace(r1, items=list(r1.items)[::-1]),
            dataclasses.replace(r2, items=list(r2.items)[1:]),
            r3,
        ],
    )

    # when
    against_shuffled = {row.id: row for row in page_diff(chosen=page, active=shuffled).rows}
    against_edited = {row.id: row.change for row in page_diff(chosen=page, active=edited).rows}
    back = {row.id: row.change for row in page_diff(chosen=shuffled, active=page).rows}

    # then
    assert list(against_shuffled) == [r0.id, r1.id, r2.id, r3.id]
    assert (against_shuffled[r0.id].change, against_shuffled[r0.id].active) == ("moved", 2)
    assert (against_shuffled[r1.id].change, against_shuffled[r1.id].active) == ("moved", 1)
    assert against_shuffled[r2.id].change == "added"
    assert against_shuffled[r3.id].change == "moved"  # its place is named first
    assert against_shuffled[r3.id].titles_added == (list(r3.items)[-1].name,)
    assert against_edited == {
        r0.id: "same",
        r1.id: "reordered",
        r2.id: "titles changed",
        r3.id: "same",
    }
    assert back[r2.id] == "removed"
    assert page_diff(chosen=page, active=page).identical
    assert not page_diff(chosen=page, active=edited).identical


def test_a_title_on_a_chosen_versions_page_is_explained_under_that_version(
    world, staff_client, two_versions
):
    first, second, _, _ = two_versions
    html = staff_client.get(preview_url(world.action_fan, version=first.pk)).content.decode()
    link = tiles(html)[1]["href"]
    assert f"version={first.pk}" in link

    why = unescape(staff_client.get(link).content.decode())

    assert f"model #{first.pk}" in why
    assert f"model #{second.pk}" not in why
    assert f'data-chosen-version="{first.pk}"' in why
    assert "a new version was activated in between" not in why


def test_staff_who_may_not_view_model_versions_are_refused_a_chosen_versions_why(
    world, django_user_model, two_versions
):
    first, _, _, _ = two_versions
    client = _households_only(django_user_model)
    title = world.home.titles["action"][0]
    query = f"profile={world.action_fan.pk}&title={title.pk}&device=tv&weekday=4&hour=21"

    assert client.get(f"/console/why/?{query}").status_code == 200
    assert client.get(f"/console/why/?{query}&version={first.pk}").status_code == 403


# --- Why this row, under a chosen version -----------------------------------------------------


def row_why_links(html: str) -> dict[str, str]:
    """Each row's "why here?" link on a rendered preview, by row id."""
    return {
        row: unescape(link)
        for row, link in re.findall(
            r'<section class="row" data-row="([^"]+)">.*?'
            r'<a href="([^"]+)" class="why-link row-why-link"',
            html,
            flags=re.S,
        )
    }


def test_a_chosen_versions_rows_are_explained_under_that_version(world, staff_client, two_versions):
    # given: the action fan's page built with the retired version
    first, second, before, _ = two_versions
    html = staff_client.get(preview_url(world.action_fan, version=first.pk)).content.decode()

    # when: every row's "why here?" is followed
    links = row_why_links(html)

    # then: each row has one, carrying the version, and is explained in the order that
    # version's build gave the rows
    assert list(links) == [row.id for row in before.rows]
    for number, (row_id, link) in enumerate(links.items(), start=1):
        assert f"version={first.pk}" in link
        response = staff_client.get(link)
        assert response.status_code == 200
        assert response.context["page"].model_version == first.pk
        assert response.context["selected"].row_id == row_id
        assert response.context["selected"].row_number == number
    # and the page names the version, and its links stay with it
    why = unescape(response.content.decode())
    assert f'data-chosen-version="{first.pk}"' in why
    assert f"model #{first.pk}" in why
    assert f"model #{second.pk}" not in why
    back = re.search(r'<a href="([^"]+)">back to the preview</a>', why).group(1)
    assert f"version={first.pk}" in back
    assert all(f"version={first.pk}" in url for _, url in response.context["candidates"])
    assert f"version={first.pk}" in response.context["all_url"]
    # and "why these rows?" beside the row ranker is under the version too
    every = re.search(r'<a href="([^"]+)" class="why-link rows-why-link"', html).group(1)
    assert f"version={first.pk}" in unescape(every)


def test_the_serving_versions_row_why_names_no_chosen_version(world, staff_client, two_versions):
    _, second, _, after = two_versions
    html = staff_client.get(preview_url(world.action_fan)).content.decode()
    links = row_why_links(html)
    assert list(links) == [row.id for row in after.rows]
    assert not any("version=" in link for link in links.values())

    response = staff_client.get(next(iter(links.values())))

    assert response.context["page"].model_version == second.pk
    assert "data-chosen-version" not in response.content.decode()


def test_a_row_why_under_a_version_of_another_scope_is_refused(world, staff_client, two_versions):
    # given: a global version, stored, but the action fan is served by its region's
    first, _, _, _ = two_versions
    global_version = model_train(region_code=None)
    query = f"profile={world.action_fan.pk}&device=tv&weekday=4&hour=21"

    # when
    other_scope = staff_client.get(f"/console/why/row/?{query}&version={global_version.pk}")
    unknown = staff_client.get(f"/console/why/row/?{query}&version=987654")
    same_scope = staff_client.get(f"/console/why/row/?{query}&version={first.pk}")

    # then: as the preview's version menu refuses them, by name
    assert other_scope.status_code == 400
    assert unknown.status_code == 400
    assert (
        "is not a stored version of the scope serving \u2068Asha\u2069"
        in other_scope.content.decode()
    )
    assert same_scope.status_code == 200


def test_staff_who_may_not_view_model_versions_are_refused_a_chosen_versions_row_why(
    world, django_user_model, two_versions
):
    first, _, _, _ = two_versions
    client = _households_only(django_user_model)
    query = f"profile={world.action_fan.pk}&device=tv&weekday=4&hour=21"

    assert client.get(f"/console/why/row/?{query}").status_code == 200
    assert client.get(f"/console/why/row/?{query}&version={first.pk}").status_code == 403


def test_each_row_of_the_diff_links_to_its_why_on_its_own_side(world, staff_client, two_versions):
    # given: the retired version's page against the serving one's
    first, second, before, after = two_versions
    html = staff_client.get(
        preview_url(world.action_fan, version=first.pk, diff=1)
    ).content.decode()
    diff_rows = re.findall(r'<tr data-diff-row="([^"]+)".*?</tr>', html, flags=re.S)
    assert set(diff_rows) == {row.id for row in before.rows} | {row.id for row in after.rows}

    # when: each row's place on either page is followed
    sides = {"chosen": (first, before), "active": (second, after)}
    followed = 0
    for block in re.findall(r'<tr data-diff-row="[^"]+".*?</tr>', html, flags=re.S):
        row_id = re.search(r'data-diff-row="([^"]+)"', block).group(1)
        for side, (version, page) in sides.items():
            on_page = [row.id for row in page.rows]
            cell = re.search(rf'<td class="place" data-side="{side}">(.*?)</td>', block, re.S)
            assert cell, (row_id, side)
            link = re.search(r'<a href="([^"]+)"[^>]*class="why-link row-why-link"', cell.group(1))
            if row_id not in on_page:
                assert link is None, (row_id, side)
                continue
            # then: it is the row's why under that side's version, at that side's place
            url = unescape(link.group(1))
            assert ("version=" in url) == (side == "chosen")
            response = staff_client.get(url)
            assert response.status_code == 200
            assert response.context["page"].model_version == version.pk
            assert response.context["selected"].row_id == row_id
            assert response.context["selected"].row_number == on_page.index(row_id) + 1
            followed += 1
    assert followed == len(before.rows) + len(after.rows)


def test_both_whys_link_back_to_the_preview_they_explain(world, staff_client, two_versions):
    # given: the action fan's page of 8 rows of 10 built with the retired version, and the
    # "why" of its first title and of its first row
    first, _, _, _ = two_versions
    preview = preview_url(world.action_fan, version=first.pk, rows=8, items=10)
    html = staff_client.get(preview).content.decode()
    whys = [tiles(html)[0]["href"], next(iter(row_why_links(html).values()))]

    # when
    pages = [staff_client.get(why).content.decode() for why in whys]

    # then: each goes back to the same household, profile, moment, size and version
    expected = parse_qs(urlsplit(preview).query)
    for page in pages:
        back = re.search(r'<a href="([^"]+)">back to the preview</a>', page).group(1)
        url = urlsplit(unescape(back))
        assert url.path == "/console/preview/"
        assert parse_qs(url.query) == expected


def test_a_version_whose_files_cannot_be_read_is_explained_by_neither_why(world, staff_client):
    # given: a retired version of the serving scope whose stored files are not artefacts
    broken = ModelVersion.objects.create(
        scope=ModelVersion.Scope.REGION,
        region=world.home.region,
        status=ModelVersion.Status.RETIRED,
        artefact_key="models/broken",
    )
    for name in artefacts.ARTEFACT_NAMES:
        artefacts.artefact_write(broken.artefact_key, name, lambda f: f.write(b"not an npz"))
    title = world.home.titles["action"][0]
    query = f"profile={world.action_fan.pk}&device=tv&weekday=4&hour=21&version={broken.pk}"

    # when
    row_why = staff_client.get(f"/console/why/row/?{query}")
    why = staff_client.get(f"/console/why/?{query}&title={title.pk}&fragment=1")

    # then: the panel says so, as the preview does
    for response in (row_why, why):
        assert response.status_code == 503
        assert f"Version #{broken.pk}&#x27;s artefacts cannot be read." in (
            response.content.decode()
        )


def test_no_console_page_writes_to_the_database(world, admin_client, two_versions):
    # Previews never count as impressions (README): not the page log, nor any other row,
    # for any page, a chosen version's and its comparison included.
    first, _ = two_versions[:2]
    profile, title = world.action_fan, world.home.titles["action"][0]
    moment = {"profile": profile.pk, **FRIDAY_NIGHT}
    household = {"account": world.account.pk, **moment}
    paths = [
        "/console/?q=Testers",
        f"/console/preview/?{urlencode(household)}",
        f"/console/preview/?{urlencode({**household, 'version': first.pk, 'diff': 1})}",
        f"/console/compare/?{urlencode(household)}",
        f"/console/why/?{urlencode({**moment, 'title': title.pk, 'version': first.pk})}",
        f"/console/why/row/?{urlencode({**moment, 'version': first.pk})}",
        "/console/models/",
        "/console/artwork/",
    ]
    for path in paths:
        # when
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(path)

        # then
        assert response.status_code == 200, path
        writes = [
            q["sql"]
            for q in captured.captured_queries
            if q["sql"].lstrip().split(" ", 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}
        ]
        assert writes == [], path
