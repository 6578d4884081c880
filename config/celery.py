"""The Celery application: settings come from Django's (``CELERY_*``)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# implicit's ALS is parallel on its own; BLAS threads on top of it oversubscribe the cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

app = Celery("tonight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
