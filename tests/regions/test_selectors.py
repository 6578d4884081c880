"""The region reads that ``train_models`` and ``evaluate_recommendations`` delegate to."""

import zoneinfo

import numpy as np
import pytest

from recommendations.serving.bundle import catalogue_arrays_load
from regions.models import Region
from regions.selectors import region_codes, region_exists
from tests.factories import RegionFactory

pytestmark = pytest.mark.django_db


def test_the_region_codes_come_alphabetically_and_only_a_stored_code_exists():
    # (by code, not name: Aotearoa comes before India)
    RegionFactory(code="NZ", name="Aotearoa New Zealand")
    RegionFactory(code="IN", name="India")
    assert region_codes() == ["IN", "NZ"]
    assert region_exists(code="NZ")
    assert not region_exists(code="GB")


def test_a_region_whose_zone_a_bulk_write_made_bad_is_served_in_utc_not_failing_all(caplog):
    # given: a good region, and one whose zone a data migration wrote wrong (save() refuses it)
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    RegionFactory(code="ZZ", time_zone="UTC")
    Region.objects.filter(code="ZZ").update(time_zone="India/Chennai")

    # when: a serving process loads its catalogue (every region's homepages need it)
    arrays = catalogue_arrays_load(np.array([], dtype=np.int64))

    # then: the good region keeps its zone; the bad one is left out (its readers fall back
    # to UTC) and named, with its zone, in a warning
    assert arrays.time_zones == {"IN": zoneinfo.ZoneInfo("Asia/Kolkata")}
    assert "Region ZZ's time zone 'India/Chennai'" in caplog.text


@pytest.mark.parametrize("zone", ["America", "Asia/", "posixrules"])
def test_a_zone_that_names_a_folder_or_no_zone_file_is_left_out_not_raised(zone, caplog):
    # ("America" is a folder of zones: ZoneInfo raised IsADirectoryError, which the catalogue
    # load let through, and every region's homepages failed with it)
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    RegionFactory(code="ZZ", time_zone="UTC")
    Region.objects.filter(code="ZZ").update(time_zone=zone)

    arrays = catalogue_arrays_load(np.array([], dtype=np.int64))

    assert arrays.time_zones == {"IN": zoneinfo.ZoneInfo("Asia/Kolkata")}
    assert f"Region ZZ's time zone {zone!r}" in caplog.text
