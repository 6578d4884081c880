"""Who may open which console page: staff with the model permissions admin asks for the same rows.

The audit's case: staff who may only view the catalogue were refused households,
profiles and signals by admin, but the console showed them all three.
"""

import re
from html import unescape
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from console.access import ARTWORK, HOUSEHOLDS, MODELS
from regions.models import TasteCluster
from tests.console.conftest import view_permissions

pytestmark = pytest.mark.django_db

FRIDAY_NIGHT = {"device": "tv", "weekday": 4, "hour": 21}

# Ids that exist in no database: staff without the permissions are refused before any lookup.
UNKNOWN_PATHS = {
    "/console/?q=Sharma": HOUSEHOLDS,
    "/console/preview/?account=1": HOUSEHOLDS,
    "/console/compare/?account=1": HOUSEHOLDS,
    "/console/why/?profile=1&title=1": HOUSEHOLDS,
    "/console/why/row/?profile=1&row=top_picks": HOUSEHOLDS,
    "/console/models/": MODELS,
    "/console/models/IN/hindi/": MODELS,
    "/console/artwork/": ARTWORK,
}


@pytest.fixture
def world_paths(world) -> dict[str, tuple[str, ...]]:
    """Every console page, about the world's household, with the models it needs."""
    profile = world.action_fan
    title = world.home.titles["action"][0]
    cluster = TasteCluster.objects.create(region=world.home.region, slug="hindi", name="Hindi")
    return {
        "/console/?q=testers": HOUSEHOLDS,
        f"/console/preview/?{urlencode({'account': world.account.pk, **FRIDAY_NIGHT})}": (
            HOUSEHOLDS
        ),
        f"/console/compare/?{urlencode({'account': world.account.pk, **FRIDAY_NIGHT})}": (
            HOUSEHOLDS
        ),
        f"/console/why/?{urlencode({'profile': profile.pk, 'title': title.pk, **FRIDAY_NIGHT})}": (
            HOUSEHOLDS
        ),
        f"/console/why/row/?{urlencode({'profile': profile.pk, **FRIDAY_NIGHT})}": HOUSEHOLDS,
        "/console/models/": MODELS,
        f"/console/models/{world.home.region.code}/{cluster.slug}/": MODELS,
        "/console/artwork/": ARTWORK,
    }


def staff_client(django_user_model, *permissions: Permission) -> Client:
    user = django_user_model.objects.create_user(
        username=f"staff-{len(permissions)}-{django_user_model.objects.count()}", is_staff=True
    )
    user.user_permissions.add(*permissions)
    client = Client()
    client.force_login(user)
    return client


def catalogue_permissions() -> list[Permission]:
    return list(
        Permission.objects.filter(content_type__app_label="catalog", codename__startswith="view_")
    )


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_catalogue_staff_are_refused_every_page(django_user_model, path):
    # given: the audit's user, staff who may view the whole catalogue and nothing else
    client = staff_client(django_user_model, *catalogue_permissions())

    response = client.get(path)

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "missing"),
    [(path, label) for path, models in UNKNOWN_PATHS.items() for label in models],
)
def test_each_permission_a_page_needs_is_needed(django_user_model, path, missing):
    needed = UNKNOWN_PATHS[path]
    client = staff_client(
        django_user_model, *view_permissions(*(m for m in needed if m != missing))
    )

    response = client.get(path)

    assert response.status_code == 403


@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_anonymous_people_are_still_sent_to_the_admin_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_staff_with_exactly_a_sections_permissions_open_its_pages_and_no_other(
    world_paths, django_user_model
):
    for section in (HOUSEHOLDS, MODELS, ARTWORK):
        # given: staff who may view exactly this section's models
        client = staff_client(django_user_model, *view_permissions(*section))

        # when / then
        for path, needed in world_paths.items():
            expected = 200 if needed == section else 403
            assert client.get(path).status_code == expected, (section, path)


def test_permission_to_change_a_model_lets_one_view_it_as_in_admin(world, django_user_model):
    change = Permission.objects.filter(
        content_type__app_label="recommendations",
        codename__in=("change_modelversion", "change_trainingrun"),
    )
    client = staff_client(django_user_model, *change)

    assert client.get("/console/models/").status_code == 200
    assert client.get("/console/?q=testers").status_code == 403


def test_superusers_open_every_page(world_paths, admin_client):
    for path in world_paths:
        assert admin_client.get(path).status_code == 200, path


def test_the_navigation_links_only_the_pages_the_user_may_open(world, django_user_model):
    # given: staff who may look at models, not at households nor artwork
    client = staff_client(django_user_model, *view_permissions(*MODELS))

    # when
    console = client.get("/console/models/").content.decode()
    admin = client.get("/admin/").content.decode()

    # then
    assert 'href="/console/models/"' in console
    assert 'href="/console/"' not in console
    assert 'href="/console/artwork/"' not in console
    assert 'href="/console/models/"' in admin
    assert "Homepage preview and household comparison" not in admin


def test_staff_without_any_console_permission_see_no_console_box_in_admin(django_user_model):
    client = staff_client(django_user_model, *catalogue_permissions())

    admin = client.get("/admin/").content.decode()

    assert 'id="tonight-console"' not in admin


def view_site_link(client: Client) -> str | None:
    """Where the admin's "View site" link leads on its index page (None: no link)."""
    page = client.get("/admin/").content.decode()
    found = re.search(r'<a href="([^"]*)">View site</a>', page)
    return found.group(1) if found else None


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        # Those who may use the console are led to the first page of it they may open.
        pytest.param(HOUSEHOLDS, "/console/", id="households"),
        pytest.param(MODELS, "/console/models/", id="models"),
        pytest.param(ARTWORK, "/console/artwork/", id="artwork"),
        # It was /console/ for every staff member, and a 403 for these.
        pytest.param((), None, id="no-console-permission"),
    ],
)
def test_the_admins_view_site_link_leads_only_where_the_user_may_go(
    django_user_model, permissions, expected
):
    client = staff_client(
        django_user_model, *catalogue_permissions(), *view_permissions(*permissions)
    )

    link = view_site_link(client)

    assert link == expected
    if link is not None:
        assert client.get(link).status_code == 200


def console_box_links(client: Client) -> set[str] | None:
    """The console pages the admin index's console box links (None: no box)."""
    page = client.get("/admin/").content.decode()
    found = re.search(r'<div class="module" id="tonight-console">.*?</div>', page, re.S)
    return set(re.findall(r'href="(/console/[^"]*)"', found.group(0))) if found else None


@pytest.mark.parametrize(
    "sections",
    [
        pytest.param((), id="none"),
        pytest.param((HOUSEHOLDS,), id="households"),
        pytest.param((MODELS,), id="models"),
        # "View site" led to the artwork page, and the box was missing or left it out.
        pytest.param((ARTWORK,), id="artwork"),
        pytest.param((MODELS, ARTWORK), id="models-artwork"),
        pytest.param((HOUSEHOLDS, MODELS, ARTWORK), id="all"),
    ],
)
def test_the_admins_console_box_lists_exactly_the_pages_the_user_may_open(
    django_user_model, sections
):
    # given: staff who may open these sections of the console
    models = [label for section in sections for label in section]
    client = staff_client(django_user_model, *catalogue_permissions(), *view_permissions(*models))
    pages = {HOUSEHOLDS: "/console/", MODELS: "/console/models/", ARTWORK: "/console/artwork/"}

    # when
    box, link = console_box_links(client), view_site_link(client)

    # then: the box lists those pages, and "View site" leads to one of them
    if not sections:
        assert (box, link) == (None, None)
    else:
        assert box == {pages[section] for section in sections}
        assert link in box
        for page in box:
            assert client.get(page).status_code == 200, page


def test_superusers_view_site_link_leads_to_the_household_search(admin_client):
    assert view_site_link(admin_client) == "/console/"


def why_panel(client: Client, world) -> str:
    """The why panel of the first tile of the action fan's Friday-night preview."""
    query = {"account": world.account.pk, "profile": world.action_fan.pk, **FRIDAY_NIGHT}
    preview = client.get(f"/console/preview/?{urlencode(query)}").content.decode()
    href = re.search(r'<a href="([^"]+)" class="why-link"', preview).group(1)
    response = client.get(unescape(href) + "&fragment=1")
    assert response.status_code == 200
    return response.content.decode()


def test_the_why_panel_lists_artwork_variants_only_to_staff_who_may_view_artwork(
    world, django_user_model
):
    """The panel listed every variant of the title with the artwork policy's estimate for
    each, to staff whom admin refuses variants and policies (the artwork page, 403)."""
    # given: staff who may look at households, and staff who may also look at artwork
    households = staff_client(django_user_model, *view_permissions(*HOUSEHOLDS))
    both = staff_client(django_user_model, *view_permissions(*HOUSEHOLDS, *ARTWORK))

    # when
    refused, shown = why_panel(households, world), why_panel(both, world)

    # then: the first sees that there is more to see, not the variants nor the policy
    assert households.get("/console/artwork/").status_code == 403
    assert 'class="arms"' not in refused
    assert "Variant <strong>" not in refused
    assert "Estimated take rate" not in refused
    assert "Permission to view artwork" in refused
    assert 'class="arms"' in shown
    assert "Variant <strong>" in shown
    assert "Permission to view artwork" not in shown


def test_no_cache_keeps_a_console_page(world_paths, world, admin_client):
    # Admin's pages say no cache may keep them, and the API's answers too; the console's
    # said nothing, and show households' profiles and what their viewing makes of them.
    refused = "/console/why/?" + urlencode(
        {"profile": world.action_fan.pk, "title": 1, "version": 99999, **FRIDAY_NIGHT}
    )
    for path in [*world_paths, refused]:
        # when
        response = admin_client.get(path)

        # then
        assert response.status_code in (200, 400), path
        cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
        assert {"private", "no-store"} <= cache_control, path
