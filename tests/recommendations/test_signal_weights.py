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


def test_the_weights_served_by_default_keep_the_order_the_design_gives_signals():
    # Only building them proved nothing but non-negative numbers: the settings' default
    # is {} (the dataclass's own weights), and any order of them would have passed.
    weights = SignalWeights.from_mapping(settings.TONIGHT["SIGNAL_WEIGHTS"])
    plays = (weights.play_start, weights.search_play, weights.external_play)

    # an intentional play (search, external link) is stronger than one from a recommendation
    assert min(weights.search_play, weights.external_play) > weights.play_start
    # a rewatch is heavier than any single play or a film's completion; a thumbs up than
    # any single play
    assert weights.rewatch > max(*plays, weights.complete)
    assert weights.thumbs_up > max(plays)
    # hover and preview are weak: together capped below one play
    assert max(weights.hover, weights.preview) <= weights.weak_cap < weights.play_start
    # rewatches and ratings are long-lived next to ordinary signals
    assert min(weights.rewatch_half_life_days, weights.explicit_half_life_days) > (
        weights.half_life_days
    )


def test_the_served_weights_follow_settings_that_are_replaced(settings):
    """signal_weights() keeps its result while the overrides are the same object; new
    settings (a deploy, an override) must be read again."""
    before = signal_weights()
    assert signal_weights() is before
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 7.5}}
    assert signal_weights().rewatch == 7.5
    settings.TONIGHT = {**settings.TONIGHT, "SIGNAL_WEIGHTS": {"rewatch": 2.5}}
    assert signal_weights().rewatch == 2.5
