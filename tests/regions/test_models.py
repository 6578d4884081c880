"""What a region refuses wherever the ORM writes it, and what a taste cluster's clean() says.

The database cannot check a zone name, and a bad one broke every ``install_schedules``
(compose's ``migrate`` service, so nothing started) and every homepage load. A taste
cluster's rules are ``regions.services``' (tests/regions/test_services.py).
"""

import pytest
from django.core.exceptions import ValidationError

from regions.models import Region, TasteCluster
from tests.factories import LanguageFactory, RegionFactory, TasteClusterFactory

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


def test_a_taste_clusters_move_to_another_region_is_refused_by_its_clean():
    # (regions.services refuse it; a form or a script calling full_clean() says why)
    cluster = TasteClusterFactory(region=RegionFactory(code="IN"), slug="tamil")
    cluster.region = RegionFactory(code="US", name="United States")

    with pytest.raises(ValidationError) as refused:
        cluster.full_clean()

    assert list(refused.value.message_dict) == ["region"]


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


def test_update_fields_given_as_a_generator_are_saved_and_still_checked():
    # given: India
    india = RegionFactory(code="IN")

    # when: it is renamed with update_fields given as a generator, read once
    india.name = "Bharat"
    india.save(update_fields=(field for field in ["name"]))

    # then: the rename is stored (the save's own test of the fields consumed them, and
    # Django then wrote none), and a bad zone named so is refused
    assert Region.objects.get(pk="IN").name == "Bharat"
    india.time_zone = "Mars/Olympus"
    with pytest.raises(ValidationError):
        india.save(update_fields=(field for field in ["time_zone"]))
