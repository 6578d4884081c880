"""A region's taste clusters as ``regions.services`` change them: one default, kept.

A region that has clusters has one default, which holds everybody no keyed community
holds; with none, the alphabetically first cluster caught them. A cluster's region is
fixed once it exists: its profiles, versions and runs are its region's.
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from regions.models import TasteCluster
from regions.services import (
    taste_cluster_create,
    taste_cluster_default_set,
    taste_cluster_delete,
    taste_cluster_update,
    taste_clusters_delete,
)
from tests.factories import LanguageFactory, ProfileFactory, RegionFactory, TasteClusterFactory

pytestmark = pytest.mark.django_db


def _india_with_default() -> tuple[TasteCluster, TasteCluster]:
    india = RegionFactory(code="IN")
    default = TasteClusterFactory(region=india, slug="default", name="Everyone", is_default=True)
    return default, TasteClusterFactory(region=india, slug="tamil", name="Tamil")


def _defaults(region_code: str) -> list[str]:
    return list(
        TasteCluster.objects.filter(region_id=region_code, is_default=True).values_list(
            "slug", flat=True
        )
    )


def test_a_taste_clusters_region_is_not_changed_once_it_exists():
    # given: India's Tamil community, whose profiles are Indian households'
    india = RegionFactory(code="IN")
    usa = RegionFactory(code="US")
    cluster = TasteClusterFactory(region=india, slug="tamil")
    profile = ProfileFactory(account__home_region=india, taste_cluster=cluster)

    # when: a script moves it to the United States, by the field or by its column
    with pytest.raises(ValidationError) as refused:
        taste_cluster_update(cluster=cluster, data={"region": usa})
    with pytest.raises(ValidationError):
        taste_cluster_update(cluster=cluster, data={"region_id": "US", "name": "Tamil"})

    # then: refused on its region, and it stays India's: moved, its profiles would be in
    # another region's cluster, and its versions and runs would name a region they never
    # learned from
    assert list(refused.value.message_dict) == ["region"]
    assert TasteCluster.objects.get(pk=cluster.pk).region_id == "IN"
    profile.refresh_from_db()
    assert profile.taste_cluster.region_id == profile.account.home_region_id


def test_a_taste_clusters_name_slug_and_languages_are_changed():
    cluster = TasteClusterFactory(name="Tamil", slug="tamil")
    tamil = LanguageFactory(code="ta", name="Tamil", native_name="தமிழ்")

    taste_cluster_update(
        cluster=cluster, data={"name": "Tamil and Malayalam", "slug": "south", "languages": [tamil]}
    )

    stored = TasteCluster.objects.get(pk=cluster.pk)
    assert (stored.name, stored.slug) == ("Tamil and Malayalam", "south")
    assert list(stored.languages.values_list("code", flat=True)) == ["ta"]


def test_a_regions_default_cluster_is_not_unticked():
    # given: India's default community, which holds everybody no keyed community holds, and
    # its Tamil one
    default, tamil = _india_with_default()

    # when: a script unticks it
    with pytest.raises(ValidationError) as refused:
        taste_cluster_update(cluster=default, data={"is_default": False})

    # then: refused on the tick, saying how the default moves; India keeps it (left with
    # none, the alphabetically first cluster caught everyone); a cluster that is not the
    # default "unticked" changes nothing
    assert list(refused.value.message_dict) == ["is_default"]
    assert "tick another cluster" in str(refused.value)
    assert _defaults("IN") == ["default"]
    taste_cluster_update(cluster=tamil, data={"is_default": False})
    assert _defaults("IN") == ["default"]


def test_ticking_another_cluster_moves_the_regions_default_to_it():
    default, tamil = _india_with_default()

    taste_cluster_default_set(cluster=tamil)
    assert _defaults("IN") == ["tamil"]
    assert tamil.is_default
    hindi = taste_cluster_create(region="IN", slug="hindi", name="Hindi", is_default=True)
    assert _defaults("IN") == ["hindi"]
    taste_cluster_update(cluster=default, data={"is_default": True})
    assert _defaults("IN") == ["default"]
    taste_cluster_update(cluster=default, data={"name": "Everyone else"})

    assert _defaults("IN") == ["default"]
    assert hindi.is_default  # (as made; the object is not read again)
    assert TasteCluster.objects.get(pk=default.pk).name == "Everyone else"


def test_a_regions_default_cluster_is_not_deleted_while_it_has_others():
    default, tamil = _india_with_default()

    with pytest.raises(ValidationError, match="tick another cluster"):
        taste_cluster_delete(cluster=default)
    with pytest.raises(ValidationError):
        taste_clusters_delete(clusters=TasteCluster.objects.filter(slug="default"))

    assert _defaults("IN") == ["default"]
    taste_cluster_delete(cluster=tamil)  # not the default: goes
    assert TasteCluster.objects.filter(region_id="IN").count() == 1


def test_a_regions_clusters_are_deleted_together_or_with_their_region():
    _india_with_default()
    usa = RegionFactory(code="US", name="United States")
    TasteClusterFactory(region=usa, slug="default", is_default=True)
    TasteClusterFactory(region=usa, slug="spanish")

    taste_clusters_delete(clusters=TasteCluster.objects.filter(region_id="IN"))
    usa.delete()
    lone = TasteClusterFactory(region=RegionFactory(code="BR"), is_default=True)
    taste_cluster_delete(cluster=lone)  # a region's only cluster: left with none, as before

    assert not TasteCluster.objects.exists()


def test_a_stale_former_default_renamed_does_not_take_the_default_back():
    # given: India's default and Tamil, each loaded, then the default moved to Tamil
    default, tamil = _india_with_default()
    former = TasteCluster.objects.get(pk=default.pk)  # still ticked in memory
    taste_cluster_default_set(cluster=tamil)

    # when: a script renames the former default from the object it loaded before the move
    taste_cluster_update(cluster=former, data={"name": "Everyone else"})

    # then: renamed, and Tamil stays the default: the rename writes no tick
    assert _defaults("IN") == ["tamil"]
    assert TasteCluster.objects.get(pk=default.pk).name == "Everyone else"


def test_a_stale_unticked_cluster_renamed_keeps_the_default_that_moved_to_it():
    # given: Tamil loaded unticked, then made India's default from another object
    _, tamil = _india_with_default()
    stale = TasteCluster.objects.get(pk=tamil.pk)
    taste_cluster_default_set(cluster=tamil)

    # when: the stale object is renamed
    taste_cluster_update(cluster=stale, data={"name": "Tamil and Malayalam"})

    # then: renamed, and Tamil stays the default; its tick as loaded, said again, is refused
    # as an untick of the default it now is (the object then holds the stored tick)
    assert _defaults("IN") == ["tamil"]
    assert TasteCluster.objects.get(pk=tamil.pk).name == "Tamil and Malayalam"
    with pytest.raises(ValidationError):
        taste_cluster_update(cluster=stale, data={"is_default": False})
    assert stale.is_default is True


def test_a_regions_first_cluster_is_made_its_default():
    # given: India, without any taste cluster yet
    india = RegionFactory(code="IN")

    # when: a script adds its first clusters, none ticked
    tamil = taste_cluster_create(region=india, slug="tamil", name="Tamil")
    hindi = taste_cluster_create(region=india, slug="hindi", name="Hindi")

    # then: the first holds everybody no keyed community holds until staff tick another
    # (none ticked, the alphabetically first, Hindi, caught them, and W008 named India)
    assert _defaults("IN") == ["tamil"]
    assert tamil.is_default
    assert not hindi.is_default
    taste_clusters_delete(clusters=TasteCluster.objects.filter(region_id="IN"))
    everyone = TasteClusterFactory(region=india, slug="everyone")
    assert _defaults("IN") == ["everyone"]
    assert everyone.is_default


def test_a_cluster_added_to_a_region_an_older_write_left_without_a_default_is_not_ticked():
    # (which cluster holds everybody is staff's choice there, as W008 says; not the newest's)
    default, _ = _india_with_default()
    TasteCluster.objects.filter(pk=default.pk).update(is_default=False)

    taste_cluster_create(region="IN", slug="hindi", name="Hindi")

    assert _defaults("IN") == []


def test_a_refused_deletion_leaves_the_callers_transaction_usable():
    # given: India's default and Tamil, and a caller's own transaction (a script's, a view's)
    default, tamil = _india_with_default()
    with transaction.atomic():
        # when: it tries to delete the default, one way and another, and catches the refusal
        with pytest.raises(ValidationError, match="tick another cluster"):
            taste_cluster_delete(cluster=default)
        with pytest.raises(ValidationError):
            taste_clusters_delete(clusters=tamil.region.taste_clusters.filter(slug="default"))

        # then: it goes on querying and writing, and what it did next is kept
        assert _defaults("IN") == ["default"]
        taste_cluster_delete(cluster=tamil)
    assert list(TasteCluster.objects.filter(region_id="IN").values_list("slug", flat=True)) == [
        "default"
    ]
