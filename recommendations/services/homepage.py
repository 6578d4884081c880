"""Rendering a homepage for a profile and logging it: the one write of a page."""

from __future__ import annotations

import datetime as dt

from profiles.models import Profile
from recommendations.models import PageLog
from recommendations.serving.homepage import Page, homepage_build


def page_log_create(*, profile: Profile, page: Page) -> PageLog:
    """Store the page's context and every shown item in one insert.

    Items are ``[title_id, row_index, position, variant_id, propensity]`` so a
    12x20 page is one row of two small JSON arrays, not 240 rows.
    """
    rows = [[row.id, row.type, row.strength] for row in page.rows]
    items = [
        [item.title_id, r, position, item.variant_id, item.propensity]
        for r, row in enumerate(page.rows)
        for position, item in enumerate(row.items)
    ]
    return PageLog.objects.create(
        id=page.page_id,
        profile_id=profile.pk,
        generated_at=page.generated_at,
        device=page.context.device,
        region=page.context.region,
        cluster=page.context.cluster or "",
        hour=page.context.hour,
        weekday=page.context.weekday,
        model_version_id=page.model_version or None,
        rows=rows,
        items=items,
    )


def homepage_render(
    *,
    profile: Profile,
    device: str,
    at: dt.datetime | None = None,
    n_rows: int = 12,
    n_items: int = 20,
) -> Page:
    """Build the profile's homepage and log it (the page's only database write).

    ``profile`` needs its ``account`` loaded. ``at`` (default now) is the
    moment the page is for: availability, history and time of day are taken
    at it, and it is the page's ``generated_at`` in the log, so simulated
    traffic and later plays line up in attribution.
    """
    page = homepage_build(profile=profile, device=device, at=at, n_rows=n_rows, n_items=n_items)
    page_log_create(profile=profile, page=page)
    return page
