"""The region reads that ``train_models`` and ``evaluate_recommendations`` delegate to."""

import pytest

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
