"""WSGI entry point for gunicorn: ``gunicorn -c config/gunicorn.py config.wsgi``.

With ``TONIGHT_WARM_ON_START=1`` (set by ``config/gunicorn.py``) loading this
module also loads what a process would otherwise load on its first requests:
every served model version and its tables
(:func:`recommendations.serving.warmup.serving_warm`) and every URL module with
its views. Under gunicorn's ``preload_app`` that happens once, in the master,
and the workers share it copy-on-write.
"""

import gc
import logging
import os
import threading

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

application = get_wsgi_application()


def _import_url_modules(patterns: list) -> None:
    """Import every included URL module (Django does it lazily, on the first request)."""
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            _import_url_modules(pattern.url_patterns)


if os.environ.get("TONIGHT_WARM_ON_START") == "1":
    from django.db import connections
    from django.urls import get_resolver

    from recommendations.serving.warmup import serving_warm

    _import_url_modules(get_resolver().url_patterns)
    warming = set(threading.enumerate())
    try:
        serving_warm()
    except Exception:
        # A head start, not a condition of serving: a version whose artefacts are missing
        # or unreadable fails its own scopes' pages when served cold, where raised here it
        # stopped the master before it listened (every page and /healthz down, web
        # restarting forever). What did load stays loaded.
        logging.getLogger(__name__).exception("Warming failed; serving starts cold")
    # A table warming found stale (changed meanwhile, or older than its refresh) is re-read
    # by a background thread (recommendations.serving.refresh, the artwork state). A worker
    # forked mid-read inherits the flag saying a re-read is under way, and perhaps a held
    # lock, but not the thread: it never re-read that table again. Fork once they ended,
    # or after a minute: a read hung on an unanswering database must not keep the master
    # from listening (its workers then start without that table's re-read).
    for thread in set(threading.enumerate()) - warming:
        thread.join(timeout=60)
        if thread.is_alive():
            logging.getLogger(__name__).warning(
                "Warming's background read %s still running after 60 s; forking anyway",
                thread.name,
            )
    # Forked workers must not share the master's database connections.
    connections.close_all()
    # What warming loaded lives as long as the process: keep the collector from
    # scanning it (and, in forked workers, from touching its pages).
    gc.freeze()
