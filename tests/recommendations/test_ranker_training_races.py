"""The rankers' examples read while staff delete a title the profiles played, or a
household deletes a profile that was shown pages.

The examples are read in several statements, not one snapshot: a title deleted
(with its signals) between the read of the signals and that of the titles they
name must be left out, as a title deleted before the read is, not a KeyError
that fails the retrain; so must a profile deleted (with its pages) between the
sample of pages and their read.
"""

import datetime as dt
import threading

import pytest
from django.db import connection

from catalog.models import Title
from profiles.models import Profile
from profiles.services import profile_delete
from recommendations.services.homepage import homepage_render
from recommendations.services.ranker_training import logged_examples_load
from recommendations.services.training import model_train
from tests.factories import AccountFactory, ProfileFactory
from tests.recommendations.homepage_world import NOW, build_home_world
from tests.recommendations.test_training import _fresh_serving, record, watch  # noqa: F401


def _staff_delete(title_id: int) -> None:
    """Delete the title in a session of its own, committed before this function returns."""

    def delete() -> None:
        try:
            Title.objects.get(pk=title_id).delete()
        finally:
            connection.close()

    staff = threading.Thread(target=delete)
    staff.start()
    staff.join()


def _household_delete(profile_id: int) -> None:
    """Delete the profile in a session of its own, committed before this function returns."""

    def delete() -> None:
        try:
            profile_delete(profile=Profile.objects.get(pk=profile_id))
        finally:
            connection.close()

    household = threading.Thread(target=delete)
    household.start()
    household.join()


class _DeleteAfterPagesSampled:
    """A query wrapper: once the pages to learn from are sampled, the profile is deleted."""

    def __init__(self, profile_id: int) -> None:
        self.profile_id = profile_id
        self.done = False

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.done and 'FROM "recommendations_pagelog"' in sql:
            self.done = True
            _household_delete(self.profile_id)
        return result


class _DeleteAfterStatesRead:
    """A query wrapper: once the examples' state signals are read, staff delete the title."""

    def __init__(self, title_id: int) -> None:
        self.title_id = title_id
        self.done = False

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self.done and 'LEAST("recommendations_signal"."occurred_at"' in sql:
            self.done = True
            _staff_delete(self.title_id)
        return result


@pytest.mark.django_db(transaction=True)
def test_a_title_deleted_while_the_examples_are_read_is_left_out_not_a_crash():
    # given: a trained region, a viewer who watched four films, a page two days ago, and
    # a play from it
    world = build_home_world()
    viewer = ProfileFactory(account=AccountFactory(home_region=world.region), name="Viewer")
    watched = world.titles["action"][:4]
    for i, title in enumerate(watched):
        watch(viewer, title, days_ago=20 + i)
    model_train(region_code=world.region.code)
    viewer.refresh_from_db()
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    played = page.rows[0].items[0].title_id
    record(viewer, "play_start", played, at=at + dt.timedelta(minutes=5), page_id=page.page_id)

    # when: staff delete a film the viewer watched, just after its signals were read
    deleting = _DeleteAfterStatesRead(watched[0].pk)
    with connection.execute_wrapper(deleting):
        examples = logged_examples_load(region_code=None, at=NOW)

    # then: the examples are built without it
    assert deleting.done, "the examples' state signals were never read"
    assert not Title.objects.filter(pk=watched[0].pk).exists()
    assert examples.pages == 1


@pytest.mark.django_db(transaction=True)
def test_a_profile_deleted_after_its_pages_were_sampled_leaves_no_examples_not_a_crash():
    # given: the region's only pages are one viewer's, one of them played from
    world = build_home_world()
    viewer = ProfileFactory(account=AccountFactory(home_region=world.region), name="Viewer")
    for i, title in enumerate(world.titles["action"][:4]):
        watch(viewer, title, days_ago=20 + i)
    model_train(region_code=world.region.code)
    viewer.refresh_from_db()
    at = NOW - dt.timedelta(days=2)
    page = homepage_render(profile=viewer, device="tv", at=at)
    played = page.rows[0].items[0].title_id
    record(viewer, "play_start", played, at=at + dt.timedelta(minutes=5), page_id=page.page_id)

    # when: the household deletes the viewer once its pages are sampled, before they are read
    deleting = _DeleteAfterPagesSampled(viewer.pk)
    with connection.execute_wrapper(deleting):
        examples = logged_examples_load(region_code=None, at=NOW)

    # then: nothing to learn from, as if the deletion had come first
    assert deleting.done, "the pages were never sampled"
    assert not Profile.objects.filter(pk=viewer.pk).exists()
    assert examples.pages == 0
