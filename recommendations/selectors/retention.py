"""Housekeeping reads: how far back the page log's readers reach, and what a prune would cut.

How long page logs are kept (``TONIGHT["PAGE_LOG_KEEP_DAYS"]``) is bounded
below by their readers, listed in :func:`page_log_readers`: each reads its own
window of pages, and plays from the clock skew before it (a play may name a page up
to that long after its stamp), plus the attribution window (plays up to that long
after a page are credited to it, and a play names pages up to that long before
it). Every reader ends its range a window and a skew before now (their last
pages' plays must all be in:
:func:`~recommendations.selectors.attribution.closed_before`); the rankers' range
starts ``RANKER_LOG_DAYS`` before now whatever its end, while the artwork
policy's readers count their days back from that end, so they reach back two
windows and two skews.
``manage.py check`` refuses a keep shorter than any reader's need
(``tonight.E001``, :mod:`recommendations.checks`), so a prune
(:mod:`recommendations.services.retention`) cannot silently starve a retrain or
the artwork policy.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from axes.models import AccessLog
from django.conf import settings
from django.utils import timezone

from artwork.evaluation import EVALUATION_DAYS
from recommendations.models import PageLog
from recommendations.selectors.attribution import attribution_window, ranker_log_days
from recommendations.selectors.signals import signal_clock_skew

#: The artwork policy's full refit starts at the midnight before its window: up to a day more.
ARTWORK_REFIT_ROUNDING_DAYS = 1.0


@dataclass(frozen=True)
class PageLogReader:
    """Something that reads page logs, and how many days back from now it reaches."""

    name: str
    #: The TONIGHT setting its window comes from.
    setting: str
    days: float


def page_log_readers() -> list[PageLogReader]:
    """Every reader of page logs with a window fixed by settings, and the days it needs.

    ``evaluate_recommendations`` is not here: it learns the ranker from the
    ``RANKER_LOG_DAYS`` before its holdout cut, which depends on the signals, not
    on a setting. Neither is ``evaluate_artwork_policy --days N`` for N above the
    default: both are documented as reaching further back than the keep allows.
    """
    window = attribution_window() / dt.timedelta(days=1)
    skew = signal_clock_skew() / dt.timedelta(days=1)
    ranker = ranker_log_days()
    artwork = float(settings.TONIGHT["ARTWORK_TRAINING_DAYS"])
    grace = max(float(settings.TONIGHT["ARTWORK_UPLOAD_GRACE_SECONDS"]), 0.0) / 86400
    return [
        # Its range starts RANKER_LOG_DAYS before now (and ends at ``closed_before``); it
        # reads plays from a skew before that start, and a play there names pages up to a
        # window earlier.
        PageLogReader(
            "the title and row rankers' training (retrains, train_models)",
            "RANKER_LOG_DAYS",
            ranker + window + skew,
        ),
        # Both end their range a window, a skew and the artwork upload grace before now
        # (``artwork_folded_before``), count their days back from there, read plays from a
        # skew before its start and reach a window before those for the pages the plays name.
        PageLogReader(
            "the artwork policy's nightly full refit",
            "ARTWORK_TRAINING_DAYS",
            artwork + ARTWORK_REFIT_ROUNDING_DAYS + 2 * (window + skew) + grace,
        ),
        # Its holdout candidate is fitted on ARTWORK_TRAINING_DAYS of pages before the
        # evaluated days.
        PageLogReader(
            f"evaluate_artwork_policy's holdout candidate (default --days {EVALUATION_DAYS:g})",
            "ARTWORK_TRAINING_DAYS",
            artwork + EVALUATION_DAYS + 2 * (window + skew) + grace,
        ),
    ]


def page_log_keep_days_needed() -> tuple[int, PageLogReader]:
    """The fewest whole days of page log that serve every reader, and the reader that needs them."""
    longest = max(page_log_readers(), key=lambda reader: reader.days)
    return math.ceil(longest.days), longest


def page_log_cut(*, now: dt.datetime | None = None) -> dt.datetime:
    """Pages generated before this moment are past every reader's window."""
    now = now or timezone.now()
    return now - dt.timedelta(days=int(settings.TONIGHT["PAGE_LOG_KEEP_DAYS"]))


def page_logs_expired_count(*, now: dt.datetime | None = None) -> int:
    """How many pages the prune would delete now (``prune_logs --dry-run``)."""
    return PageLog.objects.filter(generated_at__lt=page_log_cut(now=now)).count()


def sign_in_logs_expired_count(*, now: dt.datetime | None = None) -> int:
    """How many sign-ins the prune would forget now (``prune_logs --dry-run``)."""
    now = now or timezone.now()
    limit = now - dt.timedelta(days=int(settings.TONIGHT["SIGN_IN_LOG_KEEP_DAYS"]))
    return AccessLog.objects.filter(attempt_time__lte=limit).count()


__all__ = [
    "PageLogReader",
    "page_log_cut",
    "page_log_keep_days_needed",
    "page_log_readers",
    "page_logs_expired_count",
    "sign_in_logs_expired_count",
]
