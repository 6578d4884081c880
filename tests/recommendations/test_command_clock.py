"""The commands' notion of "now" is Django's clock, so a test can move it.

Tests move ``timezone.now`` to check time-of-day behaviour; a command option
that read the wall clock itself disagreed with every other part of the run.
"""

import argparse
import datetime as dt

import pytest
from django.utils import timezone

from recommendations.demo.builder import DemoOptions
from recommendations.management.options import moment, past_date

# A clock set back to a day long past: "the future" is measured from it.
MOVED = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def moved_clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    monkeypatch.setattr(timezone, "now", lambda: MOVED)
    return MOVED


def test_a_moment_after_the_moved_clock_is_in_the_future(moved_clock):
    assert moment("2025-06-01T11:59") == dt.datetime(2025, 6, 1, 11, 59, tzinfo=dt.UTC)
    with pytest.raises(argparse.ArgumentTypeError, match="is in the future"):
        moment("2025-06-01T12:01")


def test_a_day_after_the_moved_clocks_day_is_not_a_past_date(moved_clock):
    assert past_date("2025-06-01") == dt.date(2025, 6, 1)
    with pytest.raises(argparse.ArgumentTypeError, match="is not a day from 1990-01-01 to today"):
        past_date("2025-06-02")


def test_a_clock_before_the_earliest_a_signal_can_have_is_refused():
    # simulate_traffic's events at such a clock would all be refused by the signals'
    # own parser, which holds every event to EARLIEST_SIGNAL_TIME
    with pytest.raises(argparse.ArgumentTypeError, match="is before 1990-01-01"):
        moment("1985-06-01")
    with pytest.raises(argparse.ArgumentTypeError, match="is not a day from 1990-01-01 to today"):
        past_date("1985-06-01")
    assert moment("1990-01-01") == dt.datetime(1990, 1, 1, tzinfo=dt.UTC)


def test_the_demo_history_ends_at_the_moved_clocks_midnight_by_default(moved_clock):
    assert DemoOptions().anchor() == dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
