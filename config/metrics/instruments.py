"""What the web process counts while it answers: request durations, homepages, signals.

Under gunicorn each worker is its own process with its own counters; with
``PROMETHEUS_MULTIPROC_DIR`` set (compose sets it for web, ``config/gunicorn.py`` empties it
when the master starts) prometheus_client writes every value to a memory-mapped file per
process in that folder and a scrape, answered by whichever worker, adds them all up. Unset
(``runserver``, the tests, the SQLite demo) the values live in this process's memory, and a
scrape reads them there. prometheus_client chooses between the two when it is first
imported, so the variable must be in the environment before the process starts.

The homepage pays for what is counted here on every page (about 6 ms of CPU a page, where
every 10 us shows): labels are resolved once per distinct combination and kept
(prometheus_client's ``labels()`` takes a lock and builds a key each call), and the request
histogram has few buckets. ``bench/metrics_overhead.py`` measures the cost per request.
Labels are only ever values from a short, fixed list (a route's name, a method, a status
class, a device class, a signal kind): never an id, a raw path or a client's text, which
would make a new series per value.
"""

import os
from collections import Counter as Tally
from collections.abc import Iterable, Sequence

from django.http import HttpRequest, HttpResponse

from artwork.models import DeviceClass
from recommendations.models import SignalKind

# The folder must exist before the first value is made (one file per process and type of
# metric, opened as each metric is created): gunicorn's master creates it, and so does this,
# for any other process started with the variable (a shell, a Celery worker given web's
# environment), which would otherwise fail to import this module.
_MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _MULTIPROCESS_DIR:
    os.makedirs(_MULTIPROCESS_DIR, exist_ok=True)
#: Whether values are written to the folder (prometheus_client reads the same variable, once,
#: when it is first imported, which is why it must be set before the process starts).
MULTIPROCESS = bool(_MULTIPROCESS_DIR)

from prometheus_client import Counter, Histogram, disable_created_metrics  # noqa: E402

# A ``*_created`` timestamp beside every series is not written in multiprocess mode; without
# it the single-process answer reads the same, and each new series costs one call less.
disable_created_metrics()

#: Seconds. The homepage takes tens of milliseconds, a signal batch a few, admin pages and
#: retrain requests up to seconds: enough to read p50 and p99 of each, and no more (each
#: bucket is a series per route, method and status class; an observation scans them).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

REQUEST_DURATION = Histogram(
    "tonight_http_request_duration_seconds",
    "Time from the request reaching the app to its answer leaving it, by the route's name "
    "(the URL pattern's, 'unmatched' when none answered), method and status class.",
    ["route", "method", "status"],
    buckets=DURATION_BUCKETS,
)
HOMEPAGE_PAGES = Counter(
    "tonight_homepage_pages",
    "Homepages computed and logged, by device class.",
    ["device"],
)
SIGNALS = Counter(
    "tonight_signals",
    "Signal events posted, by kind and outcome: accepted (stored, or a resend of one stored "
    "before) or rejected (its batch refused with a 400, or left out of a stored batch as "
    "naming a title or episode the profile cannot see).",
    ["kind", "outcome"],
)
SIGNAL_DUPLICATES = Counter(
    "tonight_signal_duplicates",
    "Accepted signal events that were resends of events already stored.",
)

#: Methods named as such; anything else a client sends is "other", not a series of its own.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: A route no pattern matched: a 404, or an answer given before routing (a redirect to
#: https, a static file, a refusal of the Host).
UNMATCHED = "unmatched"
#: The kind a rejected event is counted under when it named none the API knows.
UNKNOWN_KIND = "unknown"
_KINDS = frozenset(SignalKind.values)
_STATUS_CLASSES = ("0xx", "1xx", "2xx", "3xx", "4xx", "5xx")

_durations: dict[tuple[str, str, int], Histogram] = {}
_pages = {device: HOMEPAGE_PAGES.labels(device=device) for device in DeviceClass.values}
_signals = {
    (kind, outcome): SIGNALS.labels(kind=kind, outcome=outcome)
    for kind in (*SignalKind.values, UNKNOWN_KIND)
    for outcome in ("accepted", "rejected")
}


def request_observe(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    """Count the request's answer in :data:`REQUEST_DURATION`."""
    match = request.resolver_match
    route = UNMATCHED if match is None else match.view_name
    method = request.method
    if method not in KNOWN_METHODS:
        method = "other"  # before the key too: the cache holds no client's word either
    status_class = response.status_code // 100
    key = (route, method, status_class)
    child = _durations.get(key)
    if child is None:
        child = _durations[key] = REQUEST_DURATION.labels(
            route=route,
            method=method,
            status=_STATUS_CLASSES[status_class] if 0 < status_class < 6 else "other",
        )
    child.observe(seconds)


def homepage_served(*, device: str) -> None:
    """Count a homepage computed for ``device`` (a device class the API accepted)."""
    _pages[device].inc()


def signals_accepted(*, kinds: Sequence[str], duplicates: int) -> None:
    """Count a stored batch's events by kind (``kinds``: each accepted event's)."""
    for kind, count in Tally(kinds).items():
        _signals[kind, "accepted"].inc(count)
    if duplicates:
        SIGNAL_DUPLICATES.inc(duplicates)


def signals_rejected(*, kinds: Iterable[object]) -> None:
    """Count refused events by kind; a kind the API does not know counts as ``unknown``."""
    known = Tally(
        kind if isinstance(kind, str) and kind in _KINDS else UNKNOWN_KIND for kind in kinds
    )
    for kind, count in known.items():
        _signals[kind, "rejected"].inc(count)
