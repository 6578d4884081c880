"""gunicorn settings for serving Tonight: ``gunicorn -c config/gunicorn.py config.wsgi``.

The app is loaded once, in the master, before the workers are forked
(``preload_app``), and that load warms serving (``TONIGHT_WARM_ON_START=1``,
see ``config/wsgi.py``): every served model version, the catalogue arrays,
the title tables and the artwork state. Each worker starts with them, shared
copy-on-write, instead of reading them during its first requests, which is
where a cold worker's multi-second first pages came from. Set
``TONIGHT_WARM_ON_START=0`` to start cold (faster start, slow first pages).

Everything else can be given on the command line as usual (``--bind``,
``--workers``, ...); ``WEB_CONCURRENCY`` sets the default worker count.
"""

import os
from typing import Any

from gunicorn.glogging import Logger
from gunicorn.instrument.statsd import Statsd

from config.environment import Env, log_level

os.environ.setdefault("TONIGHT_WARM_ON_START", "1")

preload_app = True
# Read as settings.py reads its variables: "WEB_CONCURRENCY='two' is not a whole number".
workers = Env().int("WEB_CONCURRENCY", default=2)
# gunicorn 27 opens a control socket by default at one path per user (~/.gunicorn/gunicorn.ctl),
# which every server the user runs shares: `make serve` beside the tests or a benchmark, or
# two sites on one host, each took it over from the other. Nothing here uses the interface.
control_socket_disable = True
# gunicorn believes X-Forwarded-Proto (and two other scheme headers) from any peer in
# forwarded_allow_ips, 127.0.0.1 by default: behind a proxy on the same host that passes a
# client's own header through, the client could claim https and Django, which reads the
# scheme gunicorn sets, would take it, TRUST_X_FORWARDED_PROTO or not. The app's opt-in
# (settings.SECURE_PROXY_SSL_HEADER) is the one place the header is believed.
secure_scheme_headers: dict[str, str] = {}
# gunicorn's own lines (gunicorn.error) at the app's LOG_LEVEL; a --log-level on the
# command line still wins (`make serve` asks for warnings only).
loglevel = log_level(Env()).lower()
# Warming happens before the fork, so a worker's boot is quick; keep the usual timeout.
timeout = 30
# Each worker proves it is alive by touching a file in worker_tmp_dir, and the master kills
# one whose file goes stale for `timeout`. On /tmp, which in a container is the image's
# overlay filesystem, a slow disk stalled those writes and with them healthy workers
# (gunicorn's docs, "Blocking OS calls"): memory instead, where there is /dev/shm (every
# container, Linux); elsewhere (macOS running `make serve`) gunicorn's default.
# gunicorn makes each file with mkstemp and unlinks it at once: nothing to guess or hijack.
_MEMORY_DIR = "/dev/shm"  # noqa: S108
worker_tmp_dir = _MEMORY_DIR if os.access(_MEMORY_DIR, os.W_OK) else None
# One line per request on stdout (gunicorn writes none unless asked): ms= is the time to
# the response's last byte, so slow homepages and p50/p99 are a sed over the log that
# reads the fields by their place (README, "Logs"). The request line, never a header:
# API and unlock tokens travel in headers, and no endpoint reads a credential from the
# query string. Last, the answer's X-Request-ID (config/request_ids.py), which the app's
# lines for the request and a 500's body carry too: after the client's own text, a client
# cannot make a line seem to end with another request's id.
accesslog = "-"
access_log_format = (
    '%(t)s access status=%(s)s ms=%(M)s bytes=%(b)s request="%(r)s" '
    'remote=%(h)s forwarded_for="%({x-forwarded-for}i)s" agent="%(a)s" '
    "request_id=%({x-request-id}o)s"
)


class AppFormatLogger(Logger):
    """gunicorn's own lines (a worker's boot, its timeout, the master's signals) in the app's
    format, settings.LOG_FORMAT: ``time LEVEL logger [pid] message`` (README, "Logs"). Its
    default, ``[time] [pid] [LEVEL] message``, shared web's stderr with the app's lines, and
    a reader of theirs found no level in a ``WORKER TIMEOUT``. The access lines keep their
    own format (``access_log_format``).

    gunicorn switches to its statsd logger only while ``logger_class`` is its default, so
    this class makes the switch itself: with ``--statsd-host`` it is an
    :class:`AppFormatStatsdLogger`. The choice waits for the instance because the command
    line, which gives the host, is read after this file."""

    error_fmt = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
    datefmt = None

    def __new__(cls, cfg: Any) -> "AppFormatLogger":
        if cls is AppFormatLogger and cfg.statsd_host is not None:
            cls = AppFormatStatsdLogger
        return super().__new__(cls)


class AppFormatStatsdLogger(AppFormatLogger, Statsd):
    """The app's format, and gunicorn's metrics (requests, their durations and statuses,
    workers, log lines by level) sent to ``statsd_host``."""


logger_class = AppFormatLogger


def worker_exit(server: object, worker: object) -> None:
    """Write the API tokens' last-used times the worker noted but has not written yet."""
    from accounts.token_usage import token_usage

    token_usage.flush()


def on_starting(server: object) -> None:
    """Empty the metrics folder (``PROMETHEUS_MULTIPROC_DIR``) when the master starts.

    Each worker writes its counts to files of its own there, and a scrape adds up every
    file (``config.metrics``): a previous server's files (a container restarted with the
    same /dev/shm, ``make serve`` run again) would count their requests twice, under pids
    that this server's workers may reuse. Only at the start, never on a reload (HUP),
    whose workers' counts must carry on. The master has loaded the app already
    (``preload_app``), and the files its import made go with the rest: it serves nothing,
    and each worker opens files of its own on its first count.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    for entry in os.scandir(folder):
        if entry.is_file() and entry.name.endswith(".db"):
            os.unlink(entry.path)


def child_exit(server: object, worker: Any) -> None:
    """Tell prometheus_client a worker has gone (``PROMETHEUS_MULTIPROC_DIR`` set).

    Its counters stay in the folder and keep counting in every scrape (a counter must not
    go down when a worker is replaced); only its live gauges' files are removed, which the
    app has none of today but a gauge added later would leave behind for ever.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
