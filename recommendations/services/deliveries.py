"""Bounded deliveries: a task that kills its worker is given up, not delivered forever.

Every task is acknowledged after it ran and handed on when its worker process is
lost (``CELERY_TASK_ACKS_LATE``, ``CELERY_TASK_REJECT_ON_WORKER_LOST``), so that a
deploy or a crashed machine loses no prune and no retrain. But a task that kills its
worker itself (a region too big for memory, a crash in BLAS) is put back at the head
of its queue and kills the next process too, forever, while nothing else on that
queue runs: the reaper, the artwork updates, the other regions' fan-outs.

So each delivery is counted in the shared cache (Redis), by task id and retry
number, before the task runs. A delivery that finishes is acknowledged and never
comes back, so a count above one means the earlier deliveries were lost midway. The
delivery after :data:`MAX_DELIVERIES` does not run: the task is recorded as an
:class:`~recommendations.models.AbandonedTask` (admin) and its message dropped. The
schedule's next send is a new task with a count of its own.

Retrains are bounded by their run row as well (``retraining.MAX_ATTEMPTS``, fewer than
this), which fails the runs themselves with the reason.
"""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import caches

from recommendations.models import AbandonedTask

logger = logging.getLogger(__name__)

#: Deliveries a task gets (per retry) before it is given up: a worker lost once to a
#: deploy and once more to a crash still leaves a third try.
MAX_DELIVERIES = 3


def _count_timeout() -> int:
    """How long a count is kept: past the last redelivery a lost worker can cause.

    A worker lost as a whole (not only its pool process) leaves its message to be
    handed on after the broker's visibility timeout, once per delivery.
    """
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    return int(visibility) * (MAX_DELIVERIES + 1)


def task_delivery_count(*, task_id: str, retries: int) -> int | None:
    """Count this delivery of the task; which one it is (1 for the first), None if unknown.

    A cache that cannot be reached must not stop every task: the delivery runs uncounted.
    """
    key = f"task_deliveries_{task_id}_{retries}"
    cache = caches["default"]
    try:
        cache.add(key, 0, timeout=_count_timeout())
        return cache.incr(key)
    except SoftTimeLimitExceeded:
        raise  # the task's own limit, spent waiting on the cache: not the cache's failure
    except Exception:
        logger.warning("Could not count the delivery of task %s", task_id, exc_info=True)
        return None


def task_abandon(
    *, name: str, task_id: str, args: object, kwargs: object, deliveries: int
) -> AbandonedTask:
    """Record a task given up after ``deliveries`` lost deliveries, with the reason."""
    reason = (
        f"{name} lost its worker process {deliveries} times (out of memory, a crash in "
        f"native code, a restart mid-task) and was given up rather than delivered again, "
        f"which would have held up its queue. The next scheduled send runs as usual; see "
        f"the worker's log for what killed it."
    )
    logger.error("Task %s[%s] given up: %s", name, task_id, reason)
    return AbandonedTask.objects.create(
        name=name,
        task_id=task_id,
        arguments={"args": list(args or ()), "kwargs": dict(kwargs or {})},
        deliveries=deliveries,
        reason=reason,
    )
