"""WSGI entry point for gunicorn: ``gunicorn config.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

application = get_wsgi_application()
