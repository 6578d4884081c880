"""Housekeeping: logs that only grow are cut back to what their readers need.

Every homepage adds a page log row on the request path
(:func:`~recommendations.services.homepage.page_log_create`) and every admin
sign-in a row of django-axes' access log; nothing else ever deletes either.
A nightly beat task (``recommendations.prune_logs``, see
``recommendations/schedules.py``) and ``manage.py prune_logs`` call
:func:`page_logs_prune` and :func:`sign_in_logs_prune`.

How long page logs are kept (``TONIGHT["PAGE_LOG_KEEP_DAYS"]``) is bounded
below by their readers, listed in :func:`page_log_readers`: each reads its own
window of pages plus the attribution window (plays up to that long after a page
are credited to it, and a play names pages up to that long before the range
read); the artwork policy's readers end their range a window before now too
(their last pages' plays must all be in), so they reach back two windows.
``manage.py check`` refuses a keep shorter than any reader's need
(``tonight.E001``, :mod:`recommendations.checks`), so a prune cannot silently
starve a retrain or the artwork policy.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from recommendations.models import PageLog
from recommendations.selectors.attribution import attribution_window
from recommendations.services.ranker_training import DEFAULT_LOG_DAYS

logger = logging.getLogger(__name__)

#: Time covered by one slice of the prune. A slice is found through the BRIN index on
#: ``generated_at`` (only its own block ranges are read), and deleted in batches of at
#: most ``PAGE_LOG_PRUNE_BATCH`` rows; a batch re-reads the dead rows its slice's earlier
#: batches left until vacuum, so slices are kept short: an hour of traffic.
SLICE = dt.timedelta(hours=1)
#: What ``evaluate_artwork_policy`` evaluates without ``--days``: its holdout candidate is
#: fitted on ``ARTWORK_TRAINING_DAYS`` of pages *before* those days.
ARTWORK_EVALUATION_DAYS = 7.0
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
    tonight = settings.TONIGHT
    window = attribution_window() / dt.timedelta(days=1)
    ranker = float(tonight.get("RANKER_LOG_DAYS", DEFAULT_LOG_DAYS))
    artwork = float(tonight.get("ARTWORK_TRAINING_DAYS", 60))
    return [
        PageLogReader(
            "the title and row rankers' training (retrains, train_models)",
            "RANKER_LOG_DAYS",
            ranker + window,
        ),
        # Both end their range a window before now (``until = now - window``), then reach
        # a window before its start for the pages the range's plays name.
        PageLogReader(
            "the artwork policy's nightly full refit",
            "ARTWORK_TRAINING_DAYS",
            artwork + ARTWORK_REFIT_ROUNDING_DAYS + 2 * window,
        ),
        PageLogReader(
            "evaluate_artwork_policy's holdout candidate (default --days 7)",
            "ARTWORK_TRAINING_DAYS",
            artwork + ARTWORK_EVALUATION_DAYS + 2 * window,
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


def page_logs_prune(
    *,
    now: dt.datetime | None = None,
    batch_size: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Delete the pages older than the cut, a bounded batch per statement; how many went.

    Called outside a transaction, each batch commits on its own: no call holds
    more than ``batch_size`` row locks or one long transaction (which would keep
    vacuum from reclaiming anything, table-wide), and a run that is stopped
    keeps what it deleted; the next run carries on. The oldest page by id
    (UUIDv7: time-ordered, one index probe) starts the hourly slices up to the
    cut; pages older than it (ids not made from their moment, as fixtures do)
    go first, through the same bounded batches.
    """
    cut = page_log_cut(now=now)
    size = int(batch_size or settings.TONIGHT["PAGE_LOG_PRUNE_BATCH"])
    _time_index_summarise()
    report = progress or (lambda fraction: None)
    oldest = PageLog.objects.order_by("pk").values_list("generated_at", flat=True).first()
    # Pages older than the one with the oldest id are only those whose id is not their moment.
    start = cut if oldest is None or oldest >= cut else oldest
    deleted = _delete_batches(PageLog.objects.filter(generated_at__lt=start), size=size)
    total = (cut - start).total_seconds()
    at = start
    while at < cut:
        end = min(at + SLICE, cut)
        deleted += _delete_batches(
            PageLog.objects.filter(generated_at__gte=at, generated_at__lt=end), size=size
        )
        at = end
        report((at - start).total_seconds() / total)
    report(1.0)
    logger.info("page logs before %s pruned: %d deleted", cut.isoformat(), deleted)
    return deleted


def _time_index_summarise() -> None:
    """Bring the BRIN index on ``generated_at`` up to date before slicing by it.

    Block ranges written since the last vacuum have no summary, and an index scan
    must read every one of them whatever the times asked for: on an insert-only
    table autovacuum comes after 20% growth, weeks of pages, which every slice's
    batch would then read (274 ms a batch instead of 4 ms on 1.2M pages, with
    the whole table unsummarised). Summarising reads that tail once; it locks out
    only vacuum and index builds, never inserts. Without the right to (a role that
    does not own the table) the prune goes on, slower.
    """
    if connection.vendor != "postgresql":
        return
    (index,) = (i for i in PageLog._meta.indexes if isinstance(i, BrinIndex))
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT brin_summarize_new_values(%s::regclass)", [index.name])
    except DatabaseError as error:
        logger.warning("page log time index not summarised before the prune: %s", error)


def _delete_batches(pages: QuerySet[PageLog], *, size: int) -> int:
    """Delete ``pages`` at most ``size`` at a time (a ``DELETE ... WHERE id IN (SELECT ...
    LIMIT size)``: Django deletes a model nothing cascades to in one statement)."""
    deleted = 0
    while True:
        count, _ = PageLog.objects.filter(pk__in=pages.values("pk")[:size]).delete()
        deleted += count
        if count < size:
            return deleted


def sign_in_logs_prune() -> int:
    """Forget admin sign-ins older than ``SIGN_IN_LOG_KEEP_DAYS``; how many went.

    Through axes' own handler (what ``axes_reset_logs`` calls): one statement,
    which suits a table that grows by a row per staff sign-in, not per page.
    """
    from axes.handlers.proxy import AxesProxyHandler  # deferred: axes reads settings on import

    return AxesProxyHandler.reset_logs(age_days=int(settings.TONIGHT["SIGN_IN_LOG_KEEP_DAYS"]))


def sign_in_logs_expired_count(*, now: dt.datetime | None = None) -> int:
    """How many sign-ins the prune would forget now (``prune_logs --dry-run``)."""
    from axes.models import AccessLog

    now = now or timezone.now()
    limit = now - dt.timedelta(days=int(settings.TONIGHT["SIGN_IN_LOG_KEEP_DAYS"]))
    return AccessLog.objects.filter(attempt_time__lte=limit).count()


__all__ = [
    "PageLogReader",
    "page_log_cut",
    "page_log_keep_days_needed",
    "page_log_readers",
    "page_logs_expired_count",
    "page_logs_prune",
    "sign_in_logs_expired_count",
    "sign_in_logs_prune",
]
