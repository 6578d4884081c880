"""The Django side and the engine agree on what signals are and what they are worth."""

import pytest
from django.conf import settings

from recommendations.engine.confidence import SignalCode, SignalWeights
from recommendations.models import SignalKind
from recommendations.selectors.training import signal_weights


def test_every_signal_kind_has_an_engine_code_and_back():
    assert {code.name.lower() for code in SignalCode} == set(SignalKind.values)


def test_settings_overrides_build_the_weights(settings):
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 5.0}}
    weights = signal_weights()  # what training and serving read, not from_mapping itself
    assert weights.rewatch == 5.0
    assert weights.play_start == SignalWeights().play_start


def test_a_misspelt_weight_in_settings_is_refused(settings):
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewach": 5.0}}
    with pytest.raises((ValueError, TypeError), match="rewach"):
        signal_weights()


def test_default_settings_are_valid_weights():
    SignalWeights.from_mapping(settings.TONIGHT["SIGNAL_WEIGHTS"])


def test_the_served_weights_follow_settings_that_are_replaced(settings):
    """signal_weights() keeps its result while the overrides are the same object; new
    settings (a deploy, an override) must be read again."""
    before = signal_weights()
    assert signal_weights() is before
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 7.5}}
    assert signal_weights().rewatch == 7.5
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 2.5}}
    assert signal_weights().rewatch == 2.5
