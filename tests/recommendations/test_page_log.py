"""The page log: one insert per page; later plays attributed to page, row, position, artwork."""

import datetime as dt
import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recommendations.models import PageLog
from recommendations.selectors.attribution import page_impressions_attributed
from recommendations.services.homepage import homepage_render
from recommendations.services.signals import signal_batch_record
from recommendations.services.training import model_train
from recommendations.signal_events import SignalEvent
from tests.conftest import token_client
from tests.factories import AccountFactory, ArtworkVariantFactory, ProfileFactory
from tests.module_world import the_module_world, world_for_the_module
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_training import _fresh_serving, watch  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def _setup(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[Path, tuple]]:
    """Built and trained once for the module (tests/module_world.py)."""
    with world_for_the_module(django_db_blocker, tmp_path_factory.mktemp("page_log")) as root:
        world = build_home_world()
        # Every title has artwork, so that a play's artwork is attributed as a variant,
        # not as "none" (which a tile without artwork compares equal to).
        for title in world.all_titles():
            ArtworkVariantFactory(title=title)
        profile = ProfileFactory(account=AccountFactory(home_region=world.region), name="Asha")
        watch(profile, world.titles["action"][0], days_ago=3)
        model_train(region_code=world.region.code)
        profile.refresh_from_db()
        yield root, (world, profile)


@pytest.fixture
def setup(_setup, settings, db) -> tuple:
    return the_module_world(settings, _setup)


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


def test_a_clients_at_sets_the_logged_hour_and_weekday_not_the_pages_time(setup):
    # given: a client asking for the page of an evening three days ahead, in India
    world, profile = setup
    local = (NOW + dt.timedelta(days=3)).astimezone(ZoneInfo(world.region.time_zone))
    evening = local.replace(hour=21, minute=30)
    client = token_client(profile.account)
    before = timezone.now()

    # when
    response = client.get(
        f"/api/v1/profiles/{profile.pk}/homepage/",
        {"device": "tv", "at": evening.isoformat(), "items": 5},
    )

    # then: the context is that evening's; the page was generated, and is logged, now
    after = timezone.now()
    assert response.status_code == 200, response.json()
    body = response.json()
    log = PageLog.objects.get(pk=body["page_id"])
    assert (log.hour, log.weekday) == (21, evening.weekday())
    assert (body["context"]["hour"], body["context"]["weekday"]) == (21, evening.weekday())
    assert before <= log.generated_at <= after
    assert dt.datetime.fromisoformat(body["generated_at"]) == log.generated_at


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
    assert item.variant_id is not None
    assert labelled.variant_id[i] == item.variant_id
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


def test_a_play_naming_another_profiles_page_is_matched_by_its_own_session(setup):
    # given the victim's page and, a minute later, the other profile's page; both show a title
    world, victim = setup
    other = ProfileFactory(account=AccountFactory(home_region=world.region), name="Other")
    at = NOW - dt.timedelta(hours=6)
    victims = homepage_render(profile=victim, device="tv", at=at)
    others = homepage_render(profile=other, device="tv", at=at + dt.timedelta(minutes=1))
    on_victims = {item.title_id for row in victims.rows for item in row.items}
    title = next(i.title_id for r in others.rows for i in r.items if i.title_id in on_victims)

    # when the other profile plays it naming the victim's page
    play(other, title, at + dt.timedelta(minutes=10), page_id=victims.page_id)

    # then the victim's page is not credited; the other's own page is, by session
    labelled = page_impressions_attributed(
        since=at - dt.timedelta(hours=1), until=at + dt.timedelta(hours=1)
    )
    hits = labelled.played.nonzero()[0]
    assert [labelled.page_ids[labelled.page[i]] for i in hits] == [others.page_id]
    assert not labelled.exact[hits].any()


def test_a_play_naming_a_valid_page_is_never_credited_to_another(setup, settings):
    # given two pages that both show a title; the first is outside the range read
    _, profile = setup
    at = NOW - dt.timedelta(hours=6)
    first = homepage_render(profile=profile, device="tv", at=at)
    second = homepage_render(profile=profile, device="tv", at=at + dt.timedelta(minutes=30))
    on_first = {item.title_id for row in first.rows for item in row.items}
    title = next(i.title_id for r in second.rows for i in r.items if i.title_id in on_first)
    # and a play naming the first page, and one naming a page generated a minute more than
    # the tolerated clock skew after the play
    play(profile, title, at + dt.timedelta(minutes=40), page_id=first.page_id)
    skew = dt.timedelta(seconds=settings.TONIGHT["SIGNAL_MAX_FUTURE_SKEW_SECONDS"])
    second_at = at + dt.timedelta(minutes=45)
    later = homepage_render(
        profile=profile, device="tv", at=second_at + skew + dt.timedelta(minutes=1)
    )
    second_title = next(
        i.title_id for r in later.rows for i in r.items if i.title_id in on_first - {title}
    )
    play(profile, second_title, second_at, page_id=later.page_id)

    # when only the second page's range is read
    labelled = page_impressions_attributed(
        since=at + dt.timedelta(minutes=10), until=at + dt.timedelta(minutes=40)
    )

    # then the first play stays with the page it names (not read here); the second, whose
    # page came after it by more than a client's clock may be behind, falls back to the
    # session rule and goes to the second page
    assert labelled.page_ids == [second.page_id]
    assert labelled.title_id[labelled.played].tolist() == [second_title]
    assert not labelled.exact.any()


def test_a_pages_labels_do_not_depend_on_the_range_it_is_read_in(setup):
    # given pages a few minutes apart and plays after each, some naming their page
    _, profile = setup
    at = NOW - dt.timedelta(hours=8)
    pages = [
        homepage_render(profile=profile, device="tv", at=at + dt.timedelta(minutes=7 * k))
        for k in range(4)
    ]
    shown = [[i.title_id for r in p.rows for i in r.items] for p in pages]
    for k, page in enumerate(pages):
        when = at + dt.timedelta(minutes=7 * k + 3)
        play(profile, shown[k][k], when, page_id=page.page_id if k % 2 else None)
        play(profile, shown[0][k + 4], when + dt.timedelta(minutes=1))

    # when the pages are read whole, in ranges cut between them, and as a sample
    whole = page_impressions_attributed(since=at, until=at + dt.timedelta(hours=1))
    cuts = [at + dt.timedelta(minutes=m) for m in (0, 5, 12, 24, 60)]
    parts = [page_impressions_attributed(since=a, until=b) for a, b in itertools.pairwise(cuts)]
    sample = page_impressions_attributed(
        since=at,
        until=at + dt.timedelta(hours=1),
        profile_ids=[profile.pk],
        page_ids=[pages[1].page_id, pages[3].page_id],
    )

    # then every page has the same labels
    def labels(result):
        return {
            page_id: result.played[result.page == p].tolist()
            for p, page_id in enumerate(result.page_ids)
        }

    assert whole.played.sum() == 8
    assert {k: v for part in parts for k, v in labels(part).items()} == labels(whole)
    assert labels(sample) == {p: labels(whole)[p] for p in (pages[1].page_id, pages[3].page_id)}
