"""The deployment check that names each region whose time zone is no time zone."""

import pytest
from django.core import checks

from regions.models import Region, TasteCluster
from tests.factories import RegionFactory, TasteClusterFactory

pytestmark = pytest.mark.django_db


def zone_warnings(**options) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(**options) if m.id == "tonight.W005"]


def test_each_region_whose_zone_a_bulk_write_made_bad_is_named_when_the_database_is_checked():
    # given: a good region, and two whose zones writes that bypass save() made bad
    RegionFactory(code="IN", time_zone="Asia/Kolkata")
    RegionFactory(code="ZZ", time_zone="UTC")
    RegionFactory(code="YY", time_zone="UTC")
    Region.objects.filter(code="ZZ").update(time_zone="Mars/Olympus")
    Region.objects.filter(code="YY").update(time_zone="asia/kolkata")

    # when: the checks that `migrate` and `check --database default` run
    (warning,) = zone_warnings(databases=["default"], tags=[checks.Tags.database])

    # then: one warning naming each bad region with its zone, and what to do (a warning,
    # not an error, which would stop `migrate`, and every service with it)
    assert warning.level == checks.WARNING
    assert "YY ('asia/kolkata')" in warning.msg
    assert "ZZ ('Mars/Olympus')" in warning.msg
    assert "IN" not in warning.msg
    assert "admin" in warning.hint


def test_regions_whose_zones_are_all_good_are_not_warned_of_nor_read_without_a_database():
    RegionFactory(code="IN", time_zone="Asia/Kolkata")

    assert zone_warnings(databases=["default"], tags=[checks.Tags.database]) == []
    Region.objects.filter(code="IN").update(time_zone="Mars/Olympus")
    assert zone_warnings() == []  # a plain `check` touches no database


def default_cluster_warnings(**options) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(**options) if m.id == "tonight.W008"]


def test_each_region_whose_clusters_have_no_default_is_named_when_the_database_is_checked():
    # given: India with its default, and Brazil and Kenya whose defaults writes that bypass
    # save() unticked (a region with no cluster at all has none to have)
    for code in ("IN", "BR", "KE"):
        region = RegionFactory(code=code)
        TasteClusterFactory(region=region, slug="everyone", is_default=True)
        TasteClusterFactory(region=region, slug="drama")
    RegionFactory(code="US")
    TasteCluster.objects.filter(region_id__in=["BR", "KE"]).update(is_default=False)

    # when: the checks that `migrate` and `check --database default` run
    (warning,) = default_cluster_warnings(databases=["default"], tags=[checks.Tags.database])

    # then: one warning naming each such region and the cluster that catches everybody
    assert warning.level == checks.WARNING
    assert "BR (its first cluster, 'drama', holds them)" in warning.msg
    assert "KE (its first cluster, 'drama'" in warning.msg
    assert "IN" not in warning.msg
    assert "US" not in warning.msg
    assert "admin" in warning.hint
    assert default_cluster_warnings() == []  # a plain `check` touches no database
