"""Names a household chooses, as the console shows them to staff.

A profile's or household's name is the household's own text (the API takes any
name a picker can draw): markup in it must read as text, and a right-to-left
override in it must not turn the staff page's words around it back to front.
"""

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.django_db

FRIDAY_NIGHT = {"device": "tv", "weekday": 4, "hour": 21}
#: U+202E RIGHT-TO-LEFT OVERRIDE, left open as a name may leave it: everything after it in
#: its paragraph is drawn right to left, unless the name is isolated (<bdi>, or FSI/PDI).
OVERRIDING_NAME = "\u202eAsha"
OVERRIDING_HOUSEHOLD = "\u202eThe Testers"
FSI, PDI = "\u2068", "\u2069"
MARKUP = (
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(2)>',
    "</script><script>alert(3)",
)


class _Unisolated(HTMLParser):
    """The text runs holding ``name`` that neither a <bdi> nor FSI ... PDI isolates.

    Text a browser draws as a paragraph of its own (the document's <title>, a menu's
    <option>) is left out: an override there reaches nothing else.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.open: list[str] = []
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in {"br", "img", "input", "meta", "link", "hr", "wbr", "source"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self.name not in data or {"bdi", "title", "option"} & set(self.open):
            return
        if f"{FSI}{self.name}{PDI}" in data and data.count(self.name) == data.count(
            f"{FSI}{self.name}{PDI}"
        ):
            return
        self.found.append(data.strip())


def unisolated(html: str, name: str) -> list[str]:
    parser = _Unisolated(name)
    parser.feed(html)
    return parser.found


@pytest.fixture
def overriding_names(world):
    world.action_fan.name = OVERRIDING_NAME
    world.action_fan.save(update_fields=["name"])
    world.account.name = OVERRIDING_HOUSEHOLD
    world.account.save(update_fields=["name"])
    return world


def household_pages(world) -> list[str]:
    profile = world.action_fan
    title = world.home.titles["action"][0]
    moment = {"profile": profile.pk, **FRIDAY_NIGHT}
    return [
        "/console/?q=Testers",
        f"/console/preview/?{urlencode({'account': world.account.pk, **moment})}",
        f"/console/compare/?{urlencode({'account': world.account.pk, **FRIDAY_NIGHT})}",
        f"/console/why/?{urlencode({**moment, 'title': title.pk})}",
        f"/console/why/row/?{urlencode(moment)}",
        f"/console/why/row/?{urlencode({**moment, 'row': 'continue_watching'})}",
    ]


def test_a_name_that_overrides_the_direction_is_isolated_on_every_page(
    overriding_names, admin_client
):
    # A name ending in an open U+202E turned "on TV, Friday 21:00 · back to the preview"
    # after it into "weiverp eht ot kcab ..." on the "why" pages, and so on elsewhere.
    world = overriding_names
    for path in household_pages(world):
        # when
        response = admin_client.get(path)

        # then
        assert response.status_code == 200, path
        html = response.content.decode()
        assert world.account.name in html or world.action_fan.name in html, path
        for name in (world.action_fan.name, world.account.name):
            assert unisolated(html, name) == [], (path, name)


def test_a_refused_version_isolates_the_name_it_gives(overriding_names, admin_client):
    # The version's refusal names the profile, in the preview's form errors and as the
    # "why" pages' plain text.
    world = overriding_names
    profile = world.action_fan
    moment = {"profile": profile.pk, **FRIDAY_NIGHT, "version": 99_999}
    title = world.home.titles["action"][0]
    preview = f"/console/preview/?{urlencode({'account': world.account.pk, **moment})}"
    why = f"/console/why/?{urlencode({**moment, 'title': title.pk})}"

    # when
    page, text = admin_client.get(preview), admin_client.get(why)

    # then
    assert page.status_code == text.status_code == 400
    assert unisolated(page.content.decode(), profile.name) == []
    assert f"serving {FSI}{profile.name}{PDI}" in text.content.decode()


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_in_household_and_catalogue_names_reads_as_text(world, admin_client, markup):
    # given: the household, its profiles, the titles and their artwork named with markup
    world.account.name = markup
    world.account.save(update_fields=["name"])
    for number, profile in enumerate((world.action_fan, world.romance_fan, world.kid)):
        profile.name = f"{markup} {number}"  # names are unique in a household
        profile.save(update_fields=["name"])
    for films in world.home.titles.values():
        for title in films:
            title.original_name = markup
            title.save(update_fields=["original_name"])
            title.artwork_variants.update(label=markup)
    moment = {"profile": world.action_fan.pk, **FRIDAY_NIGHT}
    pages = [
        *household_pages(world),
        f"/console/why/?{urlencode({**moment, 'title': world.home.titles['action'][0].pk})}"
        + "&fragment=1",
        "/console/artwork/",
        f"/admin/accounts/account/{world.account.pk}/change/",
        f"/admin/profiles/profile/?q={world.account.pk}",
        f"/admin/profiles/profile/{world.action_fan.pk}/change/",
        "/admin/artwork/artworkvariant/",
    ]
    for path in pages:
        # when
        response = admin_client.get(path)

        # then
        assert response.status_code == 200, path
        assert markup not in response.content.decode(), path
