"""The Celery application: settings come from Django's (``CELERY_*``)."""

import os
from typing import Any

from celery import Celery, Task
from celery.exceptions import Reject

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# implicit's ALS is parallel on its own; BLAS threads on top of it oversubscribe the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


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
