"""Which model version a preview is built with, why that one, and what another one changes.

The serving rule is :func:`recommendations.serving.recommend.profile_serving`'s: the
profile's cluster model, else its region's, else the global one, and the region's for a
profile with too little history for its cluster's. A page records only the version that
built it; this module puts that version back into words against the active versions
serving read, without deciding anything itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiles.models import Profile
from recommendations.models import ModelVersion
from recommendations.serving import artefacts
from recommendations.serving.cache import ActiveVersions
from recommendations.serving.homepage import FIRST_SCREEN_ROWS, Page


@dataclass(frozen=True, slots=True)
class ServedBy:
    """The scope whose version built a page, and in words why that scope serves the profile."""

    version_id: int
    scope: str  # a ModelVersion.Scope, or "" when the version no longer serves
    scope_label: str  # "region India (IN)", "the global scope"
    reason: str  # why that scope's version, a clause without its full stop
    fallback: bool  # served by a broader scope than the profile's own (cluster, or region)


def served_by(*, profile: Profile, version_id: int, active: ActiveVersions) -> ServedBy:
    """Why ``version_id`` (the page's) serves ``profile``, read against ``active``.

    ``profile`` needs ``account__home_region`` and ``taste_cluster`` loaded.
    """
    region = profile.account.home_region
    cluster = profile.taste_cluster
    cluster_active = cluster is not None and cluster.pk in active.by_cluster
    region_active = region.code in active.by_region
    if cluster_active and active.by_cluster[cluster.pk].pk == version_id:
        return ServedBy(
            version_id,
            ModelVersion.Scope.CLUSTER,
            f"taste cluster {cluster.name} ({region.code})",
            "its taste cluster's own model, fitted to that cluster's viewers",
            fallback=False,
        )
    if cluster is None:
        why_not_cluster = "it is in no taste cluster yet"
    elif not cluster_active:
        why_not_cluster = f"its taste cluster, {cluster.name}, has no active model"
    else:
        why_not_cluster = (
            f"it has engaged with too few titles for its taste cluster's ({cluster.name}) model"
        )
    if region_active and active.by_region[region.code].pk == version_id:
        return ServedBy(
            version_id,
            ModelVersion.Scope.REGION,
            f"region {region.name} ({region.code})",
            why_not_cluster,
            fallback=cluster is not None,
        )
    if active.global_version is not None and active.global_version.pk == version_id:
        return ServedBy(
            version_id,
            ModelVersion.Scope.GLOBAL,
            "the global scope",
            f"its region, {region.name} ({region.code}), has no active model of its own "
            f"(and {why_not_cluster})",
            fallback=True,
        )
    return ServedBy(
        version_id,
        "",
        "no scope",
        "it stopped serving since the page was built: reload",
        fallback=False,
    )


def artefacts_stored(version: ModelVersion) -> bool:
    """Whether every artefact serving loads is in storage (no query; a look per file)."""
    storage = artefacts.artefact_storage()
    return bool(version.artefact_key) and all(
        storage.exists(f"{version.artefact_key}/{name}") for name in artefacts.ARTEFACT_NAMES
    )


@dataclass(frozen=True, slots=True)
class RowChange:
    """One row of either page: where each page has it (1-based; None: not on that page)."""

    id: str
    title: str
    chosen: int | None
    active: int | None
    # For a row on both pages: the titles only one of the two shows in it, by name.
    titles_added: tuple[str, ...] = ()
    titles_removed: tuple[str, ...] = ()
    reordered: bool = False  # the same titles, in another order

    @property
    def change(self) -> str:
        if self.active is None:
            return "added"
        if self.chosen is None:
            return "removed"
        if self.chosen != self.active:
            return "moved"
        if self.titles_added or self.titles_removed:
            return "titles changed"
        return "reordered" if self.reordered else "same"

    @property
    def first_screen(self) -> bool:
        """In the first screen of either page: what a profile sees without scrolling."""
        return min(self.chosen or FIRST_SCREEN_ROWS + 1, self.active or FIRST_SCREEN_ROWS + 1) <= (
            FIRST_SCREEN_ROWS
        )


@dataclass(frozen=True, slots=True)
class PageDiff:
    rows: list[RowChange]
    first_screen_rows: int

    @property
    def identical(self) -> bool:
        return all(row.change == "same" for row in self.rows)


def page_diff(*, chosen: Page, active: Page) -> PageDiff:
    """The rows of ``chosen`` against ``active``: added, removed, moved, their titles changed
    or reordered; in ``chosen``'s order, then the rows only ``active`` has.

    Rows are matched by id (a "because you watched" row's id names its seed title), so a
    row whose copy differs is still the same row; titles by id.
    """
    active_at = {row.id: i for i, row in enumerate(active.rows)}
    chosen_ids = {row.id for row in chosen.rows}
    changes = []
    for i, row in enumerate(chosen.rows):
        was = active_at.get(row.id)
        if was is None:
            changes.append(RowChange(row.id, row.title, i + 1, None))
            continue
        mine = [item.title_id for item in row.items]
        theirs = [item.title_id for item in active.rows[was].items]
        changes.append(
            RowChange(
                row.id,
                row.title,
                i + 1,
                was + 1,
                titles_added=tuple(item.name for item in row.items if item.title_id not in theirs),
                titles_removed=tuple(
                    item.name for item in active.rows[was].items if item.title_id not in mine
                ),
                reordered=mine != theirs,
            )
        )
    for i, row in enumerate(active.rows):
        if row.id not in chosen_ids:
            changes.append(RowChange(row.id, row.title, None, i + 1))
    return PageDiff(rows=changes, first_screen_rows=FIRST_SCREEN_ROWS)
