"""The signal and model-version reads ``train_models``, ``evaluate_recommendations`` and
``rollback_model`` delegate to."""

import datetime as dt

import pytest
from django.utils import timezone

from recommendations.models import ModelVersion, SignalKind
from recommendations.selectors.model_versions import model_version_get
from recommendations.selectors.training import signal_newest_at, signals_exist
from tests.factories import AccountFactory, ProfileFactory, RegionFactory, SignalFactory

pytestmark = pytest.mark.django_db


def test_signals_exist_by_region_and_window_impressions_counted_too():
    # given: one impression from India ten days ago, none from Brazil's households
    now = timezone.now()
    india = ProfileFactory(account=AccountFactory(home_region=RegionFactory(code="IN")))
    ProfileFactory(account=AccountFactory(home_region=RegionFactory(code="BR", name="Brazil")))
    seen = now - dt.timedelta(days=10)
    SignalFactory(profile=india, kind=SignalKind.IMPRESSION, occurred_at=seen)

    # then: the window takes its start, not its end
    assert signals_exist()
    assert signals_exist(region_code="IN")
    assert not signals_exist(region_code="BR")
    assert signals_exist(region_code="IN", since=seen, until=now)
    assert not signals_exist(region_code="IN", since=seen + dt.timedelta(seconds=1), until=now)
    assert not signals_exist(region_code="IN", since=seen - dt.timedelta(days=1), until=seen)


def test_the_newest_signal_is_of_the_region_asked_and_none_without_any():
    assert signal_newest_at() is None
    now = timezone.now()
    india = ProfileFactory(account=AccountFactory(home_region=RegionFactory(code="IN")))
    brazil = ProfileFactory(
        account=AccountFactory(home_region=RegionFactory(code="BR", name="Brazil"))
    )
    SignalFactory(profile=india, occurred_at=now - dt.timedelta(days=3))
    SignalFactory(profile=india, occurred_at=now - dt.timedelta(days=2))
    SignalFactory(profile=brazil, occurred_at=now)
    assert signal_newest_at(region_code="IN") == now - dt.timedelta(days=2)
    assert signal_newest_at() == now
    assert signal_newest_at(region_code="GB") is None


def test_a_model_version_is_found_by_id_and_none_for_an_unknown_one():
    version = ModelVersion.objects.create(scope=ModelVersion.Scope.GLOBAL)
    assert model_version_get(pk=version.pk) == version
    assert model_version_get(pk=version.pk + 1) is None
