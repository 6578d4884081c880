"""Argument types shared by the management commands (and the benchmarks)."""

import argparse
import datetime as dt


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
    if parsed > dt.datetime.now(dt.UTC):
        # A clock is where training or a simulation stands: nothing is known after now,
        # and a client cannot send signals from there.
        raise argparse.ArgumentTypeError(f"{parsed.isoformat()} is in the future")
    return parsed
