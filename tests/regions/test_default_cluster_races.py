"""Two staff moving a region's default taste cluster at once, made to race."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from regions.models import TasteCluster
from regions.services import taste_cluster_create, taste_cluster_default_set, taste_clusters_delete
from tests.db_waits import race_while_held, row_writes_held
from tests.factories import RegionFactory, TasteClusterFactory

pytestmark = pytest.mark.django_db(transaction=True)

HOLD_KEY = (7338, 1)


def _ticked(slug: str) -> None:
    taste_cluster_default_set(cluster=TasteCluster.objects.get(region_id="IN", slug=slug))


def test_two_clusters_ticked_at_once_leave_the_later_one_the_default():
    # given: India's default community and two keyed ones
    india = RegionFactory(code="IN")
    TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    TasteClusterFactory(region=india, slug="hindi", name="Hindi")

    # when: one save ticks Tamil, held as it writes the tick, while another ticks Hindi
    race = race_while_held(
        lambda: _ticked("tamil"),
        lambda: _ticked("hindi"),
        row_writes_held(
            name="it_hold_cluster_tick",
            table=TasteCluster._meta.db_table,
            event="UPDATE",
            key=HOLD_KEY,
            when="NEW.slug = 'tamil' AND NEW.is_default",
        ),
    )

    # then: both saves succeed, the later wins, and the region keeps one default; the
    # second's unticking of the former default did not see the first's tick, and its
    # own tick was refused by the constraint (a server error on a region's page)
    assert "error" not in race.held, race.held["error"]
    assert "error" not in race.other, race.other["error"]
    assert race.waited
    assert list(
        TasteCluster.objects.filter(region_id="IN", is_default=True).values_list("slug", flat=True)
    ) == ["hindi"]


def _india_clusters() -> list[tuple[str, bool]]:
    return list(TasteCluster.objects.filter(region_id="IN").values_list("slug", "is_default"))


def _added(slug: str) -> None:
    taste_cluster_create(region="IN", slug=slug, name=slug.title())


def test_a_regions_first_two_clusters_added_at_once_leave_the_first_its_default():
    # given: India, without any taste cluster yet
    RegionFactory(code="IN")

    # when: one save adds Tamil, held as it inserts it, while another adds Hindi
    race = race_while_held(
        lambda: _added("tamil"),
        lambda: _added("hindi"),
        row_writes_held(
            name="it_hold_cluster_add",
            table=TasteCluster._meta.db_table,
            event="INSERT",
            key=HOLD_KEY,
            when="NEW.slug = 'tamil'",
        ),
    )

    # then: both are added and Tamil alone is the default: Hindi's save waited for
    # Tamil's and saw it (each seeing no cluster, both were ticked, and the constraint
    # refused the second, a server error)
    assert "error" not in race.held, race.held["error"]
    assert "error" not in race.other, race.other["error"]
    assert race.waited
    assert _india_clusters() == [("tamil", True), ("hindi", False)]


def _deleted(slug: str) -> str:
    try:
        taste_clusters_delete(clusters=TasteCluster.objects.filter(region_id="IN", slug=slug))
    except ValidationError:
        return "refused"
    return "deleted"


def _moved_from_default_to(slug: str) -> None:
    # as the region's page does: tick another cluster, delete the former default
    with transaction.atomic():
        _ticked(slug)
        taste_clusters_delete(clusters=TasteCluster.objects.filter(region_id="IN", slug="default"))


def test_a_cluster_deleted_while_the_default_moves_to_it_is_refused_as_the_default():
    # given: India's default community and two keyed ones
    india = RegionFactory(code="IN")
    TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    TasteClusterFactory(region=india, slug="tamil", name="Tamil")
    TasteClusterFactory(region=india, slug="hindi", name="Hindi")

    # when: one save moves the default to Tamil and deletes the former, held as it ticks
    # Tamil, while another deletes Tamil, which it reads as no default
    race = race_while_held(
        lambda: _moved_from_default_to("tamil"),
        lambda: _deleted("tamil"),
        row_writes_held(
            name="it_hold_cluster_tick",
            table=TasteCluster._meta.db_table,
            event="UPDATE",
            key=HOLD_KEY,
            when="NEW.slug = 'tamil' AND NEW.is_default",
        ),
    )

    # then: the deletion waited for the move, saw Tamil the default and was refused; India
    # keeps Tamil as its default (deleted too, Hindi was left and no cluster held everyone)
    assert "error" not in race.held, race.held["error"]
    assert race.other == {"result": "refused"}
    assert race.waited
    assert _india_clusters() == [("tamil", True), ("hindi", False)]
