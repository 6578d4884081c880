"""A region's time zone is checked wherever the ORM writes one, not only in admin's form.

The database cannot check a zone name, and a bad one broke every ``install_schedules``
(compose's ``migrate`` service, so nothing started) and every homepage load.
"""

import pytest
from django.core.exceptions import ValidationError

from regions.models import Region
from tests.factories import LanguageFactory, RegionFactory

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
