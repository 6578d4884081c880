"""Argument types shared by the management commands (and the benchmarks)."""

import argparse
import datetime as dt
from collections.abc import Callable

from django.utils import timezone

from recommendations.signal_events import EARLIEST_SIGNAL_TIME


def moment(value: str) -> dt.datetime:
    """An ISO 8601 date or time, not in the future, given for a command's clock
    (``--at``, ``--until``).

    A date alone is its midnight UTC, which is what ``seed_demo --as-of``
    means by a date: the same date given to ``seed_demo``, ``train_models``
    and ``simulate_traffic`` puts all three on one clock, so a seed gives the
    same world on any machine and day. A time without an offset is UTC.
    """
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 date or time "
            "(e.g. 2026-12-01, 2026-12-01T20:30 or 2026-12-01T20:30+05:30)"
        ) from None
    parsed = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
    if parsed < EARLIEST:
        raise argparse.ArgumentTypeError(f"{parsed.isoformat()} is before {EARLIEST.date()}")
    if parsed > timezone.now():
        # A clock is where training or a simulation stands: nothing is known after now,
        # and a client cannot send signals from there.
        raise argparse.ArgumentTypeError(f"{parsed.isoformat()} is in the future")
    return parsed


#: The earliest clock a command takes: the earliest time a signal can have. The signals' parser
#: refuses every event before it, so simulate_traffic at an earlier clock could send none.
EARLIEST = EARLIEST_SIGNAL_TIME


def whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``minimum`` (to ``maximum``), else a message."""
    bounds = f"from {minimum} to {maximum}" if maximum is not None else f"from {minimum} up"

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < minimum or (maximum is not None and number > maximum):
            raise argparse.ArgumentTypeError(f"{number} is not a whole number {bounds}")
        return number

    return parse


#: A random seed: numpy takes 0 to 2**32 - 1 (a negative one was its traceback).
seed = whole_number(0, 2**32 - 1)


def past_date(value: str) -> dt.date:
    """A ``YYYY-MM-DD`` date from 1990 to today: a day a history can end on (``--as-of``).

    Later, and the demo's signals lie in the future, where ``train_models --at``
    (given the same date, as the docs say) refuses to stand; much earlier, and
    the date arithmetic of licence windows overflows.
    """
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST.date() <= day <= timezone.now().astimezone(dt.UTC).date():
        raise argparse.ArgumentTypeError(f"{day} is not a day from {EARLIEST.date()} to today")
    return day


def positive_number(value: str) -> float:
    """A finite number above 0 (``--days``, ``--timeout``): not 0, nan or inf."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not (number > 0 and number < 1e6):
        raise argparse.ArgumentTypeError(f"{value} is not a number above 0 and below 1,000,000")
    return number
