"""``GET /metrics`` for Prometheus, and the timing of every other request.

Answered as ``/healthz`` is (``config.middleware.HealthCheck``), before host validation,
the https redirect, CORS and the Content-Security-Policy: Prometheus scrapes each web
process at its own address over plain http, which a production ``ALLOWED_HOSTS`` would
refuse and ``SECURE_SSL_REDIRECT`` redirect. Not public all the same: the figures tell how
busy the service is and name its regions and clusters, so a scrape sends the bearer token
``METRICS_TOKEN`` (Prometheus' ``authorization: credentials``). Without one set, metrics are
off and the path is a 404 like any other that does not exist. Not a route either, so the
API's schema and its docs never list it.
"""

import hmac
from collections.abc import Callable, Iterator
from time import perf_counter

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from config.metrics.collector import TonightCollector
from config.metrics.instruments import MULTIPROCESS, request_observe

METRICS_PATH = "/metrics"


class Metrics:
    """Answers ``GET /metrics``; times every other request (:data:`REQUEST_DURATION`).

    Just after the health check in ``MIDDLEWARE``: the probes, every few seconds, are not
    timed, and everything further in (the security middleware and host validation, sessions,
    authentication, the view) is.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == METRICS_PATH:
            return metrics_page(request)
        started = perf_counter()
        response = self.get_response(request)
        request_observe(request, response, perf_counter() - started)
        return response


def metrics_page(request: HttpRequest) -> HttpResponse:
    """The scrape: 404 while ``METRICS_TOKEN`` is empty, 401 without its bearer token."""
    token = settings.METRICS_TOKEN
    if not token:
        return HttpResponseNotFound("Not found.", content_type="text/plain; charset=utf-8")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared in constant time: the answer's timing must not tell how much of it was right.
    if not (
        scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
    ):
        response = HttpResponse(
            "A bearer token (METRICS_TOKEN) is required.",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(scrape(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
    response["Cache-Control"] = "no-store"
    return response


class _Scrape:
    """The collectors one scrape reads, as ``generate_latest`` takes a registry."""

    def __init__(self, *collectors: object) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def scrape() -> bytes:
    """The text Prometheus reads: every process's counts, then the scrape-time gauges.

    In multiprocess mode the counts are the sum over every worker's files, the dead ones'
    included (a counter must not go back down when a worker is replaced); this process's
    own registry would be one worker's share, so it is not read. The mode is the one
    prometheus_client chose when it was imported (``config.metrics.instruments``).
    """
    counts = MultiProcessCollector(None) if MULTIPROCESS else REGISTRY
    return generate_latest(_Scrape(counts, TonightCollector()))
