"""The page log: one insert per page; later plays attributed to page, row, position, artwork."""

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from recommendations.models import PageLog
from recommendations.selectors.attribution import page_impressions_attributed
from recommendations.services.homepage import homepage_render
from recommendations.services.signals import signal_batch_record
from recommendations.services.training import model_train
from recommendations.signal_events import SignalEvent
from tests.factories import AccountFactory, ArtworkVariantFactory, ProfileFactory
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_training import _fresh_serving, watch  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    world = build_home_world()
    for title in world.all_titles()[:6]:
        ArtworkVariantFactory(title=title)
    profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Asha")
    watch(profile, world.titles["action"][0], days_ago=3)
    model_train(region_code=world.region.code)
    profile.refresh_from_db()
    return world, profile


def play(profile, title_id, at, *, page_id=None, row="", position=None, variant=None):
    signal_batch_record(
        profile=profile,
        events=[
            SignalEvent(
                index=0,
                kind="play_start",
                title_id=title_id,
                episode_id=None,
                value=None,
                device="tv",
                occurred_at=at,
                client_event_id=uuid.uuid4(),
                page_id=page_id,
                row=row,
                position=position,
                artwork_variant_id=variant,
            )
        ],
    )


def test_a_page_is_logged_in_exactly_one_write(setup):
    _, profile = setup
    with CaptureQueriesContext(connection) as queries:
        page = homepage_render(profile=profile, device="tv", n_items=5)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert len(writes) == 1
    assert "recommendations_pagelog" in writes[0]
    log = PageLog.objects.get(pk=page.page_id)
    shown = sum(len(row.items) for row in page.rows)
    assert len(log.items) == shown
    assert [r[:2] for r in log.rows] == [[row.id, row.type] for row in page.rows]
    first = page.rows[0].items[0]
    assert log.items[0] == [first.title_id, 0, 0, first.variant_id, 1.0]
    assert (log.device, log.region, log.hour) == ("tv", "IN", page.context.hour)


def test_a_later_play_is_attributed_to_the_page_row_position_and_artwork(setup):
    # given a logged page
    _, profile = setup
    at = NOW - dt.timedelta(hours=5)
    page = homepage_render(profile=profile, device="tv", at=at, n_items=5)
    row_index = 1
    row = page.rows[row_index]
    position = 2
    item = row.items[position]
    # when the profile plays that title 20 minutes later, without naming the page
    play(profile, item.title_id, at + dt.timedelta(minutes=20))

    # then
    labelled = page_impressions_attributed(
        since=at - dt.timedelta(hours=1), until=at + dt.timedelta(hours=1)
    )
    hits = labelled.played.nonzero()[0]
    assert len(hits) == 1
    i = hits[0]
    assert labelled.page_ids[labelled.page[i]] == page.page_id
    assert labelled.title_id[i] == item.title_id
    assert (labelled.row[i], labelled.position[i]) == (row_index, position)
    assert labelled.variant_id[i] == (item.variant_id or -1)
    assert labelled.propensity[i] == 1.0
    assert not labelled.exact[i]
    engaged = labelled.row_played.nonzero()[0]
    assert labelled.row_index[engaged].tolist() == [row_index]


def test_plays_outside_the_session_window_are_not_attributed(setup, settings):
    _, profile = setup
    settings.TONIGHT = {**settings.TONIGHT, "ATTRIBUTION_WINDOW_SECONDS": 1800}
    at = NOW - dt.timedelta(hours=6)
    page = homepage_render(profile=profile, device="tv", at=at, n_items=5)
    play(profile, page.rows[0].items[0].title_id, at + dt.timedelta(hours=1))

    labelled = page_impressions_attributed(
        since=at - dt.timedelta(hours=1), until=at + dt.timedelta(hours=1)
    )

    assert not labelled.played.any()


def test_a_play_naming_its_page_is_attributed_exactly_even_after_a_newer_page(setup):
    _, profile = setup
    at = NOW - dt.timedelta(hours=6)
    first = homepage_render(profile=profile, device="tv", at=at, n_items=5)
    second = homepage_render(profile=profile, device="mobile", at=at + dt.timedelta(minutes=5))
    item = first.rows[0].items[1]
    play(
        profile,
        item.title_id,
        at + dt.timedelta(minutes=10),
        page_id=first.page_id,
        row=first.rows[0].id,
        position=1,
    )

    labelled = page_impressions_attributed(
        since=at - dt.timedelta(hours=1), until=at + dt.timedelta(hours=1)
    )

    i = labelled.played.nonzero()[0]
    assert len(i) == 1
    assert labelled.page_ids[labelled.page[i[0]]] == first.page_id != second.page_id
    assert labelled.exact[i[0]]
    assert labelled.position[i[0]] == 1


def test_page_ids_are_time_ordered_so_the_log_appends_to_its_index(setup):
    _, profile = setup
    pages = [homepage_render(profile=profile, device="tv", n_items=3) for _ in range(3)]

    ids = [page.page_id for page in pages]
    assert [page_id.version for page_id in ids] == [7, 7, 7]
    assert ids == sorted(ids)  # later pages sort after earlier ones, as the index stores them
    stored = list(PageLog.objects.filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    assert stored == ids
