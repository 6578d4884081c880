"""Bounded deliveries: a task that kills its worker is given up, not delivered forever.

Every task is acknowledged after it ran and handed on when its worker process is
lost (``CELERY_TASK_ACKS_LATE``, ``CELERY_TASK_REJECT_ON_WORKER_LOST``), so that a
deploy or a crashed machine loses no prune and no retrain. But a task that kills its
worker itself (a region too big for memory, a crash in BLAS) is put back at the head
of its queue and kills the next process too, forever, while nothing else on that
queue runs: the reaper, the artwork updates, the other regions' fan-outs.

So each delivery is counted in the shared cache (Redis), by task id and retry
number, before the task runs, in one script that also gives the count its expiry
(:data:`_COUNT_SCRIPT`). A delivery that finishes is acknowledged and never
comes back, so a count above one means the earlier deliveries were lost midway. The
delivery after :data:`MAX_DELIVERIES` does not run: the task is recorded as an
:class:`~recommendations.models.AbandonedTask` (admin) and its message dropped. The
schedule's next send is a new task with a count of its own.

Retrains are bounded by their run row as well (``retraining.MAX_ATTEMPTS``, fewer than
this), which fails the runs themselves with the reason.
"""

from __future__ import annotations

import contextlib
import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache

from config.cache_scripts import cache_script_run
from recommendations.models import AbandonedTask

logger = logging.getLogger(__name__)

#: Deliveries a task gets (per retry) before it is given up: a worker lost once to a
#: deploy and once more to a crash still leaves a third try.
MAX_DELIVERIES = 3

#: Counts one delivery (``KEYS[1]``) and gives the count an expiry (``ARGV[1]`` seconds)
#: if it has none: made now, or left without one by a release that counted with Django's
#: ``add`` then ``incr`` (an EXISTS, then an INCRBY), which an expiry landing between them
#: turned into a lost count or a count kept for ever. One script: nothing runs between the
#: steps. TTL rather than ``EXPIRE ... NX``, which Redis 6 lacks.
_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""

#: Attempts at counting a delivery whose key is deleted under it (a cache other than Redis).
_COUNT_TRIES = 3


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
    try:
        return _count(caches["default"], key)
    except SoftTimeLimitExceeded:
        raise  # the task's own limit, spent waiting on the cache: not the cache's failure
    except Exception:
        logger.warning("Could not count the delivery of task %s", task_id, exc_info=True)
        return None


def _count(cache: BaseCache, key: str) -> int:
    """Add one delivery to the count at ``key``; the count with it.

    On Redis, one script (:data:`_COUNT_SCRIPT`). On another cache (the demo's
    per-process one, where tasks run in-process without a broker), ``add`` then
    ``incr``: a count deleted between them (``cache.clear()``) is made afresh.

    Raises
    ------
    ValueError
        The count was deleted under every try.
    """
    timeout = _count_timeout()
    if isinstance(cache, RedisCache):
        return int(cache_script_run(cache=cache, script=_COUNT_SCRIPT, keys=[key], args=[timeout]))
    for _ in range(_COUNT_TRIES):
        cache.add(key, 0, timeout=timeout)
        with contextlib.suppress(ValueError):
            return cache.incr(key)
    raise ValueError(f"The count {key} was deleted under each of {_COUNT_TRIES} tries.")


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
