"""The Celery application: settings come from Django's (``CELERY_*``)."""

import os
from typing import Any

from celery import Celery, Task, signals
from celery.bin.beat import beat as beat_command
from celery.bin.worker import worker as worker_command
from celery.exceptions import Reject
from django.db import InterfaceError, OperationalError

from config.environment import read_dotenv

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# implicit's ALS is parallel on its own; BLAS threads on top of it oversubscribe the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Celery's command line reads an option it is not given from CELERY_<COMMAND>_<OPTION>
# (CELERY_WORKER_LOGLEVEL, CELERY_WORKER_CONCURRENCY: click's auto_envvar_prefix "CELERY")
# as it parses `worker` or `beat`, after `-A config` imported this module but before
# anything loads Django's settings, which read the .env beside manage.py themselves. Read
# here, with the same function, so that those variables count from the .env as every other
# does; the settings' own read then finds nothing new.
read_dotenv()


def _log_level_from_settings() -> str:
    """LOG_LEVEL as the settings read it (``config.environment.log_level``)."""
    from django.conf import settings

    return settings.LOG_LEVEL


# `celery worker` and `celery beat` log at LOG_LEVEL unless their command line gives
# --loglevel or the operator sets CELERY_WORKER_LOGLEVEL / CELERY_BEAT_LOGLEVEL: Celery's own
# default, WARNING, ignored it, and compose's `--loglevel info` overrode it. LOG_LEVEL is the
# option's default, which click takes only when neither says. Setting those variables from it
# ignored an operator's; setting them only when unset would have left them in the
# environment, where a worker started by a process that loaded this app took its parent's
# level over its own LOG_LEVEL. The option's default changes nothing a child inherits.
for _command in (worker_command, beat_command):
    (_option,) = [param for param in _command.params if param.name == "loglevel"]
    _option.default = _log_level_from_settings

#: Errors a task is sent again for, a little later, instead of failing: the database gone for
#: a moment (a restart, a failover, a session ended by an administrator). Django raises its
#: own ``OperationalError`` and ``InterfaceError`` for those, neither a ``ConnectionError``:
#: a task that retried only on ``ConnectionError`` failed on the first, and the nightly
#: fan-out lost its region's retrains until the next night.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (ConnectionError, OperationalError, InterfaceError)
#: How the fan-out, the retrains and the housekeeping tasks retry after a transient error: up to
#: 5, 10, 20, 40, 80 and 160 s later (each wait drawn at random up to that, so that
#: the tasks a database restart failed together do not all come back at once), about
#: five minutes in all: a restart or a failover, not an outage.
RETRY_ON_TRANSIENT_ERRORS: dict[str, Any] = {
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 160,
    "max_retries": 6,
}


class BoundedDeliveryTask(Task):
    """Every task's base: given up after ``MAX_DELIVERIES`` deliveries that never finished.

    Late acknowledgement hands a lost worker's task on, which must not go on forever
    for a task that kills its worker (``recommendations.services.deliveries``).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        request = self.request
        if request.called_directly or request.is_eager or not request.id:
            return super().__call__(*args, **kwargs)
        # Deferred: the app is created before Django's models can be imported.
        from recommendations.services.deliveries import (
            MAX_DELIVERIES,
            task_abandon,
            task_delivery_count,
        )

        delivery = task_delivery_count(task_id=request.id, retries=request.retries or 0)
        if delivery is not None and delivery > MAX_DELIVERIES:
            task_abandon(
                name=self.name,
                task_id=request.id,
                args=args,
                kwargs=kwargs,
                deliveries=delivery - 1,
            )
            raise Reject(f"given up after {delivery - 1} lost deliveries", requeue=False)
        return super().__call__(*args, **kwargs)


app = Celery("tonight", task_cls=BoundedDeliveryTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# The app's lines logged while a task runs end with its id (config/request_ids.py), which
# Celery's own lines about the task and admin's training runs (Celery task id) name: a
# retrain's "Retrain run 7 failed" and its traceback named the run but not the task, and a
# worker running two tasks at once mixed their lines. Celery replaces root's handlers with
# its own (worker_hijack_root_logger); their format stays LOG_FORMAT.
_task_tokens: dict[str, Any] = {}


@signals.after_setup_logger.connect
def _lines_name_their_task(logger: Any, format: str, **kwargs: Any) -> None:
    """Give the worker's (or beat's) handlers the app's formatter, Celery's format kept."""
    from config.request_ids import RequestContextFormatter

    for handler in logger.handlers:
        handler.setFormatter(RequestContextFormatter(format))


@signals.task_prerun.connect
def _task_started(task_id: str, **kwargs: Any) -> None:
    from config.request_ids import current_task_id

    _task_tokens[task_id] = current_task_id.set(task_id)


@signals.task_postrun.connect
def _task_ended(task_id: str, **kwargs: Any) -> None:
    from config.request_ids import current_task_id

    token = _task_tokens.pop(task_id, None)
    if token is not None:
        current_task_id.reset(token)
