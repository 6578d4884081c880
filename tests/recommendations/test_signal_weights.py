"""The Django side and the engine agree on what signals are and what they are worth."""

import pytest
from django.conf import settings

from recommendations.engine.confidence import SignalCode, SignalWeights
from recommendations.models import SignalKind


def test_every_signal_kind_has_an_engine_code_and_back():
    assert {code.name.lower() for code in SignalCode} == set(SignalKind.values)


def test_settings_overrides_build_the_weights(settings):
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 5.0}}
    weights = SignalWeights.from_mapping(settings.TONIGHT["SIGNAL_WEIGHTS"])
    assert weights.rewatch == 5.0
    assert weights.play_start == SignalWeights().play_start


def test_a_misspelt_weight_in_settings_is_refused():
    with pytest.raises((ValueError, TypeError), match="rewach"):
        SignalWeights.from_mapping({"rewach": 5.0})


def test_default_settings_are_valid_weights():
    SignalWeights.from_mapping(settings.TONIGHT["SIGNAL_WEIGHTS"])


def test_the_served_weights_follow_settings_that_are_replaced(settings):
    """signal_weights() keeps its result while the overrides are the same object; new
    settings (a deploy, an override) must be read again."""
    from recommendations.selectors.training import signal_weights

    before = signal_weights()
    assert signal_weights() is before
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 7.5}}
    assert signal_weights().rewatch == 7.5
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 2.5}}
    assert signal_weights().rewatch == 2.5
