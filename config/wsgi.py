"""WSGI entry point for gunicorn: ``gunicorn -c config/gunicorn.py config.wsgi``.

With ``TONIGHT_WARM_ON_START=1`` (set by ``config/gunicorn.py``) loading this
module also loads every served model version and its tables
(:func:`recommendations.serving.warmup.serving_warm`), so no request pays for
that; under gunicorn's ``preload_app`` that happens once, in the master.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

application = get_wsgi_application()

if os.environ.get("TONIGHT_WARM_ON_START") == "1":
    from django.db import connections

    from recommendations.serving.warmup import serving_warm

    serving_warm()
    # Forked workers must not share the master's database connections.
    connections.close_all()
