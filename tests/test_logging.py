"""The process's log, configured from ``settings.LOGGING`` as ``django.setup()`` does."""

import contextlib
import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django.utils.log import DEFAULT_LOGGING, configure_logging


@contextlib.contextmanager
def process_log() -> Iterator[io.StringIO]:
    """What the process's handlers write, in one buffer; the suite's logging is put back after.

    Django's default configuration is applied first, then ours, as at start-up: a duplicate
    comes from the two together, which pytest's own capture (one record, whatever the
    handlers) would not show.
    """
    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    saved = [
        (logger, logger.handlers[:], logger.level, logger.propagate, logger.disabled)
        for logger in loggers
        if isinstance(logger, logging.Logger)
    ]
    try:
        configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
        out = io.StringIO()
        # Only the loggers the two configurations set up: another logger may keep a handler
        # an earlier test left on a stream since closed (pytest's capture of its output).
        configured = ["", *DEFAULT_LOGGING["loggers"], *settings.LOGGING.get("loggers", {})]
        for name in configured:
            for handler in logging.getLogger(name or None).handlers:
                if type(handler) is logging.StreamHandler:
                    handler.setStream(out)
        yield out
    finally:
        for logger, handlers, level, propagate, disabled in saved:
            logger.handlers = handlers
            logger.setLevel(level)
            logger.propagate = propagate
            logger.disabled = disabled


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True], ids=["production", "DEBUG"])
def test_each_client_error_is_logged_once(settings, debug):
    # given: the log as a server process has it (make serve and the demo run with DEBUG=1)
    settings.DEBUG = debug
    client = Client()

    # when: a request without a token, and one for no page
    with process_log() as log:
        unauthorized = client.get("/api/v1/profiles/")
        missing = client.get("/api/v1/no-such-thing/")

    # then: one line each (ending with the request's id, config/request_ids.py)
    assert (unauthorized.status_code, missing.status_code) == (401, 404)
    lines = log.getvalue().splitlines()
    assert sum(" Unauthorized: /api/v1/profiles/ request_id=" in line for line in lines) == 1
    assert sum(" Not Found: /api/v1/no-such-thing/ request_id=" in line for line in lines) == 1


@pytest.mark.django_db
def test_a_page_refused_to_staff_is_one_line_without_a_traceback(django_user_model):
    # Django logs a 403 with the PermissionDenied's traceback: staff in narrow roles meet
    # admin pages they may not open all day, and a crawl of 921 admin URLs wrote 2,925
    # tracebacks that buried the real errors. What was refused, where and to whom is the line.
    staff = django_user_model.objects.create_user("narrow", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)

    with process_log() as log:
        refused = client.get("/admin/accounts/account/")

    assert refused.status_code == 403
    text = log.getvalue()
    assert " WARNING django.request " in text
    assert "Forbidden (Permission denied): /admin/accounts/account/" in text
    assert "Traceback" not in text


def test_a_failure_says_when_where_and_how_bad_in_its_line(settings):
    # given: the log as a worker or web process has it
    with process_log() as log:
        # when: a retrain's failure is logged, as the service logs it
        logging.getLogger("recommendations.services.retraining").error("Retrain run %s failed", 7)

    # then: its one line carries the time, the level and the logger, so an on-call search
    # for ERROR (or for the retraining logger) finds it among gunicorn's and Celery's lines
    (line,) = log.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR recommendations\.services\.retraining "
        r"\[\d+\] Retrain run 7 failed",
        line,
    ), line


# A Celery worker as `celery -A config worker` sets it up: Celery replaces root's handlers
# with its own (worker_hijack_root_logger), in its own format unless told otherwise.
WORKER_LOG = """
import logging
from config.celery import app
app.Worker(loglevel="INFO", pool_cls="solo", concurrency=1, quiet=True).setup_logging()
logging.getLogger("recommendations.services.retraining").error("Retrain run %s failed", 7)
"""


def test_a_workers_failure_says_when_where_and_how_bad_in_its_line() -> None:
    # given: a worker's process, its logging set up by Celery
    # when: a retrain's failure is logged there (where retrains run)
    done = subprocess.run(
        [sys.executable, "-c", WORKER_LOG],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "C_FORCE_ROOT": "1"},
        check=True,
    )

    # then: the worker's line reads as web's do, so the README's search for the
    # retraining logger (or ERROR) finds it in the worker's log
    lines = [line for line in done.stderr.splitlines() if "Retrain run 7" in line]
    assert len(lines) == 1, done.stderr
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR recommendations\.services\.retraining "
        r"\[\d+\] Retrain run 7 failed",
        lines[0],
    ), lines[0]


# The same worker, running a task as Celery's tracer does: the signals around the task's body.
WORKER_TASK_LOG = """
import logging
from celery import signals
from config.celery import app
app.Worker(loglevel="INFO", pool_cls="solo", concurrency=1, quiet=True).setup_logging()
task = app.tasks["recommendations.retrain_clusters"]
signals.task_prerun.send(sender=task, task_id="task-7e1", task=task, args=([7],), kwargs={})
logging.getLogger("recommendations.services.retraining").error("Retrain run %s failed", 7)
signals.task_postrun.send(sender=task, task_id="task-7e1", task=task, args=([7],), kwargs={})
logging.getLogger("recommendations.services.retraining").error("Retrain run %s failed", 8)
"""


def test_a_line_a_task_logs_names_the_task() -> None:
    # given: a worker's process, its logging set up by Celery
    # when: a retrain task logs a run's failure, and a line is logged after the task ended
    done = subprocess.run(
        [sys.executable, "-c", WORKER_TASK_LOG],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "C_FORCE_ROOT": "1"},
        check=True,
    )

    # then: the task's line ends with the task's id, which admin's training run shows
    # (Celery task id) and Celery's own lines about the task name, so the worker's lines
    # of one run are found together; the later line names no task
    (during,) = [line for line in done.stderr.splitlines() if "Retrain run 7" in line]
    assert during.endswith(" Retrain run 7 failed task_id=task-7e1"), done.stderr
    (after,) = [line for line in done.stderr.splitlines() if "Retrain run 8" in line]
    assert after.endswith(" Retrain run 8 failed"), after
