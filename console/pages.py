"""Homepages as the console draws them: tiles per row, and what several profiles' pages share.

The decision code returns a :class:`~recommendations.serving.homepage.Page`;
this module only reshapes it for templates (no decision is taken here), so what
staff see is what the API would have served.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from profiles.models import Profile
from recommendations.serving.homepage import Page, PageItem, PageRow


@dataclass(frozen=True, slots=True)
class Tile:
    title_id: int
    name: str
    match: int | None
    progress: float | None  # percent, clipped to 0-100 for the bar
    artwork_url: str
    variant_id: int | None
    propensity: float
    row_id: str
    position: int  # 0-based in its row
    why_url: str
    shared: int = 0  # 1-based number of the shared title in a comparison; 0: not shared


@dataclass(frozen=True, slots=True)
class RowView:
    id: str
    type: str
    title: str
    reason: str
    tiles: list[Tile]
    why_url: str = ""  # why the row is where it is (the row why page); "" for none


RowWhyUrl = Callable[[PageRow], str]


WhyUrl = Callable[[PageRow, int, PageItem], str]


def page_rows(
    page: Page,
    *,
    why_url: WhyUrl,
    shared: dict[int, int] | None = None,
    row_why_url: RowWhyUrl | None = None,
) -> list[RowView]:
    """The page's rows as tiles; ``shared`` numbers the titles a comparison highlights."""
    shared = shared or {}
    return [
        RowView(
            id=row.id,
            type=row.type,
            title=row.title,
            reason=row.reason,
            tiles=[
                Tile(
                    title_id=item.title_id,
                    name=item.name,
                    match=item.match,
                    progress=None if item.progress is None else min(max(item.progress, 0.0), 100.0),
                    artwork_url=item.artwork_path,
                    variant_id=item.variant_id,
                    propensity=item.propensity,
                    row_id=row.id,
                    position=position,
                    why_url=why_url(row, position, item),
                    shared=shared.get(item.title_id, 0),
                )
                for position, item in enumerate(row.items)
            ],
            why_url=row_why_url(row) if row_why_url else "",
        )
        for row in page.rows
    ]


def page_titles(page: Page) -> set[int]:
    """Every title id the page shows."""
    return {item.title_id for row in page.rows for item in row.items}


def page_find(
    page: Page, *, title_id: int, row_id: str = ""
) -> tuple[PageRow, int, PageItem] | None:
    """Where the page shows a title: in ``row_id`` if given and there, else its first place."""
    found = None
    for row in page.rows:
        for position, item in enumerate(row.items):
            if item.title_id == title_id:
                if row.id == row_id:
                    return row, position, item
                found = found or (row, position, item)
    return found


@dataclass(frozen=True, slots=True)
class Appearance:
    """Where one profile's page shows a shared title, and with which picture."""

    profile_id: int
    profile_name: str
    row_title: str
    row_number: int  # 1-based, as staff count rows
    position: int  # 1-based
    artwork_url: str
    variant_id: int | None


@dataclass(frozen=True, slots=True)
class SharedTitle:
    number: int
    title_id: int
    name: str
    appearances: list[Appearance]

    @property
    def same_picture(self) -> bool:
        """Whether every profile is shown the same artwork for it."""
        return len({a.artwork_url for a in self.appearances}) == 1


def shared_titles(pages: Sequence[tuple[Profile, Page]]) -> list[SharedTitle]:
    """Titles on at least two profiles' pages, most widely shared and highest placed first.

    For each profile, a title's first place on its page (top rows first) is the
    one that counts: that is where the profile meets it.
    """
    first_seen: dict[int, dict[int, Appearance]] = {}
    names: dict[int, str] = {}
    for profile, page in pages:
        for r, row in enumerate(page.rows):
            for position, item in enumerate(row.items):
                places = first_seen.setdefault(item.title_id, {})
                names.setdefault(item.title_id, item.name)
                if profile.pk not in places:
                    places[profile.pk] = Appearance(
                        profile_id=profile.pk,
                        profile_name=profile.name,
                        row_title=row.title,
                        row_number=r + 1,
                        position=position + 1,
                        artwork_url=item.artwork_path,
                        variant_id=item.variant_id,
                    )
    order = {profile.pk: i for i, (profile, _) in enumerate(pages)}
    shared = [
        (title_id, sorted(places.values(), key=lambda a: order[a.profile_id]))
        for title_id, places in first_seen.items()
        if len(places) >= 2
    ]
    shared.sort(
        key=lambda entry: (
            -len(entry[1]),
            min((a.row_number, a.position) for a in entry[1]),
            entry[0],
        )
    )
    return [
        SharedTitle(number=n, title_id=title_id, name=names[title_id], appearances=appearances)
        for n, (title_id, appearances) in enumerate(shared, start=1)
    ]
