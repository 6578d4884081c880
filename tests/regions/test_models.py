"""What a region and its taste clusters refuse wherever the ORM writes them, not only in admin.

The database cannot check a zone name, and a bad one broke every ``install_schedules``
(compose's ``migrate`` service, so nothing started) and every homepage load. A taste
cluster's region is fixed once it exists: its profiles, versions and runs are its region's.
"""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from regions.models import Region, TasteCluster
from tests.factories import (
    LanguageFactory,
    ProfileFactory,
    RegionFactory,
    TasteClusterFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("zone", ["Not/AZone", "IST", "asia/kolkata", " Asia/Kolkata", ""])
def test_a_region_is_not_created_with_a_zone_that_is_not_iana(zone):
    language = LanguageFactory()

    with pytest.raises(ValidationError) as refused:
        Region.objects.create(code="ZZ", name="Nowhere", default_language=language, time_zone=zone)

    assert list(refused.value.message_dict) == ["time_zone"]
    assert not Region.objects.filter(code="ZZ").exists()


def test_a_regions_zone_is_not_changed_to_one_that_is_not_iana_from_the_shell():
    region = RegionFactory(time_zone="Asia/Kolkata")

    region.time_zone = "India/Chennai"
    with pytest.raises(ValidationError, match="India/Chennai"):
        region.save()
    with pytest.raises(ValidationError):
        Region.objects.update_or_create(code=region.code, defaults={"time_zone": "Mars/Olympus"})

    assert Region.objects.get(pk=region.pk).time_zone == "Asia/Kolkata"


def test_a_save_that_leaves_the_zone_alone_does_not_check_it():
    # (a zone a migration or bulk write left bad does not block a rename; the schedules skip it)
    region = RegionFactory(time_zone="Asia/Kolkata")
    Region.objects.filter(pk=region.pk).update(time_zone="Not/AZone")
    region.refresh_from_db()

    region.name = "Bharat"
    region.save(update_fields=["name"])

    assert Region.objects.get(pk=region.pk).name == "Bharat"


def test_a_taste_clusters_region_is_not_changed_once_it_exists():
    # given: India's Tamil community, whose profiles are Indian households'
    india = RegionFactory(code="IN")
    usa = RegionFactory(code="US")
    cluster = TasteClusterFactory(region=india, slug="tamil")
    profile = ProfileFactory(account__home_region=india, taste_cluster=cluster)

    # when: a script or the shell moves it to the United States
    cluster.region = usa
    with pytest.raises(ValidationError) as refused:
        cluster.save()

    # then: refused on its region, and it stays India's: moved, its profiles would be in
    # another region's cluster, and its versions and runs would name a region they never
    # learned from
    assert list(refused.value.message_dict) == ["region"]
    assert TasteCluster.objects.get(pk=cluster.pk).region_id == "IN"
    with pytest.raises(ValidationError):
        TasteCluster.objects.update_or_create(pk=cluster.pk, defaults={"region": usa})
    assert TasteCluster.objects.get(pk=cluster.pk).region_id == "IN"
    profile.refresh_from_db()
    assert profile.taste_cluster.region_id == profile.account.home_region_id


def test_a_taste_cluster_is_saved_when_its_region_stays():
    cluster = TasteClusterFactory(name="Tamil")

    cluster.name = "Tamil and Malayalam"
    cluster.save()
    TasteCluster.objects.get(pk=cluster.pk).save(update_fields=["name"])

    assert TasteCluster.objects.get(pk=cluster.pk).name == "Tamil and Malayalam"


def test_a_clusters_slug_differing_from_another_of_its_region_only_in_case_is_refused():
    # Retrains and the staff API name a cluster by its slug whatever its case
    # ("retrain --cluster Tamil"), so "tamil" and "Tamil" in one region named either one.
    tamil = TasteClusterFactory(slug="tamil")
    other_region = RegionFactory(code="US", name="United States")

    twin = TasteCluster(region=tamil.region, slug="Tamil", name="Tamil again")
    with pytest.raises(ValidationError) as refused:
        twin.full_clean()

    assert list(refused.value.message_dict) == ["slug"]
    assert "tamil" in refused.value.message_dict["slug"][0]
    # the cluster itself, and a cluster of another region, may keep or take the slug
    tamil.full_clean()
    TasteCluster(region=other_region, slug="Tamil", name="Tamil").full_clean()


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


def test_a_regions_default_cluster_is_not_unticked_from_the_shell():
    # given: India's default community, which holds everybody no keyed community holds, and
    # its Tamil one
    default, _ = _india_with_default()

    # when: a script unticks it
    default.is_default = False
    with pytest.raises(ValidationError) as refused:
        default.save()

    # then: refused on the tick, saying how the default moves; India keeps it (left with
    # none, the alphabetically first cluster caught everyone)
    assert list(refused.value.message_dict) == ["is_default"]
    assert "tick another cluster" in str(refused.value)
    assert _defaults("IN") == ["default"]
    with pytest.raises(ValidationError):
        TasteCluster.objects.update_or_create(pk=default.pk, defaults={"is_default": False})
    assert _defaults("IN") == ["default"]


def test_ticking_another_cluster_moves_the_regions_default_to_it():
    default, tamil = _india_with_default()

    tamil.is_default = True
    tamil.save()
    assert _defaults("IN") == ["tamil"]
    hindi = TasteCluster.objects.create(region_id="IN", slug="hindi", name="Hindi", is_default=True)
    assert _defaults("IN") == ["hindi"]
    default.refresh_from_db()
    default.name = "Everyone else"
    default.save()  # no longer the default: saved as it is

    assert _defaults("IN") == ["hindi"]
    assert hindi.is_default
    assert TasteCluster.objects.get(pk=default.pk).name == "Everyone else"


def test_a_regions_default_cluster_is_not_deleted_while_it_has_others():
    default, tamil = _india_with_default()

    # (refused inside the deletion's transaction, which it rolls back, as a constraint does)
    with pytest.raises(ValidationError, match="tick another cluster"), transaction.atomic():
        default.delete()
    with pytest.raises(ValidationError), transaction.atomic():
        TasteCluster.objects.filter(slug="default").delete()

    assert _defaults("IN") == ["default"]
    tamil.delete()  # not the default: goes
    assert TasteCluster.objects.filter(region_id="IN").count() == 1


def test_a_regions_clusters_are_deleted_together_or_with_their_region():
    _india_with_default()
    usa = RegionFactory(code="US", name="United States")
    TasteClusterFactory(region=usa, slug="default", is_default=True)
    TasteClusterFactory(region=usa, slug="spanish")

    TasteCluster.objects.filter(region_id="IN").delete()
    usa.delete()
    lone = TasteClusterFactory(region=RegionFactory(code="BR"), is_default=True)
    lone.delete()  # a region's only cluster: it is left with none, as before any was added

    assert not TasteCluster.objects.exists()


def test_update_fields_given_as_a_generator_are_saved_and_still_checked():
    # given: India and its default community
    default, _ = _india_with_default()
    india = Region.objects.get(pk="IN")

    # when: each is renamed with update_fields given as a generator, read once
    india.name = "Bharat"
    india.save(update_fields=(field for field in ["name"]))
    default.name = "Everyone else"
    default.save(update_fields=(field for field in ["name"]))

    # then: the renames are stored (the save's own test of the fields consumed them, and
    # Django then wrote none), and a bad zone or an untick named so is refused
    assert Region.objects.get(pk="IN").name == "Bharat"
    assert TasteCluster.objects.get(pk=default.pk).name == "Everyone else"
    india.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        india.save(update_fields=(field for field in ["time_zone"]))
    default.is_default = False
    with pytest.raises(ValidationError):
        default.save(update_fields=(field for field in ["is_default"]))
    assert _defaults("IN") == ["default"]


def test_a_clusters_move_named_by_its_column_in_update_fields_is_refused():
    # (Django takes a foreign key's column name, "region_id", as the field in update_fields)
    _, tamil = _india_with_default()
    RegionFactory(code="US", name="United States")

    tamil.region_id = "US"
    with pytest.raises(ValidationError):
        tamil.save(update_fields=["region_id"])

    assert TasteCluster.objects.get(pk=tamil.pk).region_id == "IN"


def test_a_stale_former_default_saved_does_not_take_the_default_back():
    # given: India's default and Tamil, each loaded, then the default moved to Tamil
    default, tamil = _india_with_default()
    former = TasteCluster.objects.get(pk=default.pk)  # still ticked in memory
    tamil.is_default = True
    tamil.save()

    # when: a script renames the former default from the object it loaded before the move
    former.name = "Everyone else"
    former.save()

    # then: renamed, and Tamil stays the default: the save did not change the tick, so it
    # writes the one the database has (the last writer took the default back unasked)
    assert _defaults("IN") == ["tamil"]
    assert TasteCluster.objects.get(pk=default.pk).name == "Everyone else"
    assert former.is_default is False


def test_a_stale_unticked_cluster_saved_keeps_the_default_that_moved_to_it():
    # given: Tamil loaded unticked, then made India's default from another object
    _, tamil = _india_with_default()
    stale = TasteCluster.objects.get(pk=tamil.pk)
    tamil.is_default = True
    tamil.save()

    # when: the stale object is renamed and saved
    stale.name = "Tamil and Malayalam"
    stale.save()

    # then: saved, not refused as an untick, and Tamil stays the default
    assert _defaults("IN") == ["tamil"]
    assert TasteCluster.objects.get(pk=tamil.pk).name == "Tamil and Malayalam"
    assert stale.is_default is True


def test_a_tick_set_on_a_loaded_or_refreshed_cluster_moves_the_default():
    default, tamil = _india_with_default()
    hindi = TasteClusterFactory(region=tamil.region, slug="hindi")

    loaded = TasteCluster.objects.get(pk=tamil.pk)
    loaded.is_default = True
    loaded.save(update_fields=["is_default"])
    assert _defaults("IN") == ["tamil"]
    hindi.refresh_from_db()
    hindi.is_default = True
    hindi.refresh_from_db(fields=["name"])  # reads no tick: the one set stays the caller's
    hindi.save()
    assert _defaults("IN") == ["hindi"]
    default.refresh_from_db()  # unticked by the moves; ticked again, it takes the default
    default.is_default = True
    default.save()
    assert _defaults("IN") == ["default"]


def test_a_regions_first_cluster_is_made_its_default():
    # given: India, without any taste cluster yet
    india = RegionFactory(code="IN")

    # when: a script adds its first clusters, none ticked
    tamil = TasteCluster.objects.create(region=india, slug="tamil", name="Tamil")
    hindi = TasteCluster.objects.create(region=india, slug="hindi", name="Hindi")

    # then: the first holds everybody no keyed community holds until staff tick another
    # (none ticked, the alphabetically first, Hindi, caught them, and W008 named India)
    assert _defaults("IN") == ["tamil"]
    assert tamil.is_default
    assert not hindi.is_default
    TasteCluster.objects.filter(region_id="IN").delete()
    everyone = TasteClusterFactory(region=india, slug="everyone")
    assert _defaults("IN") == ["everyone"]
    assert everyone.is_default


def test_a_cluster_added_to_a_region_an_older_write_left_without_a_default_is_not_ticked():
    # (which cluster holds everybody is staff's choice there, as W008 says; not the newest's)
    default, _ = _india_with_default()
    TasteCluster.objects.filter(pk=default.pk).update(is_default=False)

    TasteCluster.objects.create(region_id="IN", slug="hindi", name="Hindi")

    assert _defaults("IN") == []


def test_a_refused_deletion_leaves_the_callers_transaction_usable():
    # given: India's default and Tamil, and a caller's own transaction (a script's, a view's)
    default, tamil = _india_with_default()
    with transaction.atomic():
        # when: it tries to delete the default, one way and another, and catches the refusal
        with pytest.raises(ValidationError, match="tick another cluster"):
            default.delete()
        with pytest.raises(ValidationError):
            TasteCluster.objects.filter(slug="default").delete()
        with pytest.raises(ValidationError):
            tamil.region.taste_clusters.filter(slug="default").delete()

        # then: it goes on querying and writing (the refusal, raised inside Django's
        # deletion without a savepoint, left it "an error occurred in the current
        # transaction" until its end), and what it did next is kept
        assert _defaults("IN") == ["default"]
        tamil.delete()
    assert list(TasteCluster.objects.filter(region_id="IN").values_list("slug", flat=True)) == [
        "default"
    ]
