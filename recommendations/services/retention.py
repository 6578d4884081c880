"""Housekeeping: logs that only grow are cut back to what their readers need.

Every homepage adds a page log row on the request path
(:func:`~recommendations.services.homepage.page_log_create`) and every admin
sign-in a row of django-axes' access log; nothing else ever deletes either.
A nightly beat task (``recommendations.prune_logs``, see
``recommendations/schedules.py``) and ``manage.py prune_logs`` call
:func:`page_logs_prune` and :func:`sign_in_logs_prune`.

What they may delete is bounded below by the page log's readers: see
:mod:`recommendations.selectors.retention`, whose keep check (``tonight.E001``)
refuses a keep shorter than any reader's need.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import DatabaseError, connection, transaction
from django.db.models import QuerySet

from recommendations.models import PageLog
from recommendations.selectors.retention import page_log_cut

logger = logging.getLogger(__name__)

#: Time covered by one slice of the prune. A slice is found through the BRIN index on
#: ``generated_at`` (only its own block ranges are read), and deleted in batches of at
#: most ``PAGE_LOG_PRUNE_BATCH`` rows; a batch re-reads the dead rows its slice's earlier
#: batches left until vacuum, so slices are kept short: an hour of traffic.
SLICE = dt.timedelta(hours=1)


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

    Block ranges without a summary are read by every index scan whatever the
    times asked for (274 ms a slice's batch instead of 4 ms on 1.2M pages, with
    the whole table unsummarised). The index asks autovacuum to summarise each
    range once an insert starts the next (``autosummarize``), but that leaves
    some: the last, partly filled range; ranges written before the index asked
    (migration 0012), while autovacuum was off, or whose request autovacuum's
    full queue dropped; and otherwise a vacuum of this insert-only table comes
    after 20% growth, weeks of pages. Summarising reads only that unsummarised
    tail, once (nothing when autovacuum kept up); it locks out only vacuum and
    index builds, never inserts. Without the right to (a role that does not own
    the table) the prune goes on, slower.
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


__all__ = ["page_logs_prune", "sign_in_logs_prune"]
