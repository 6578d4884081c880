"""What a scrape reads at the moment it is made: the retrains' state and the queues' depth.

Read once per scrape, by the worker that answers it, never per request: a few queries
(``recommendations.selectors.retrain_figures``) and one round trip to the broker. A source
that cannot be read leaves its figures out and says so in ``tonight_metrics_source_up``,
rather than failing the whole scrape, whose request counts on-call still wants while the
database is down.
"""

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from functools import cache

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from kombu.transport.redis import PRIORITY_STEPS, Channel
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis import Redis, RedisError

from recommendations.selectors.retrain_figures import (
    clusters_serving,
    region_codes,
    training_run_counts,
)
from recommendations.services.retraining import retrain_queue

logger = logging.getLogger(__name__)

#: How far back failed retrains are counted.
FAILED_RUNS_WINDOW = dt.timedelta(days=1)
#: Broker URL schemes whose queues are Redis lists this reads.
REDIS_SCHEMES = ("redis://", "rediss://")


class TonightCollector(Collector):
    """The scrape-time gauges: each taste cluster's retrain and model ages, the retrain runs
    queued, running and recently failed, and the Celery queues' depth (Redis broker only).

    ``now`` is the clock the ages are measured against (a test's fixed moment)."""

    def __init__(self, *, now: Callable[[], dt.datetime] = timezone.now) -> None:
        self.now = now

    def describe(self) -> list[Metric]:
        return []  # nothing to check against other metrics' names: read only when scraped

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tonight_metrics_source_up",
            "1 when the scrape read the source (database, broker), 0 when it could not "
            "(its figures are left out of this scrape).",
            labels=["source"],
        )
        try:
            yield from _database_metrics(self.now())
        except DatabaseError as error:
            logger.warning("Metrics: the database could not be read: %s", error)
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
        broker = settings.CELERY_BROKER_URL
        if broker.startswith(REDIS_SCHEMES):
            try:
                yield _queue_lengths(broker)
            except (RedisError, DatabaseError) as error:
                logger.warning("Metrics: the broker's queues could not be read: %s", error)
                up.add_metric(["broker"], 0)
            else:
                up.add_metric(["broker"], 1)
        yield up


def _database_metrics(now: dt.datetime) -> list[Metric]:
    """Built whole before any is yielded: a failure midway leaves none half-written."""
    retrained = GaugeMetricFamily(
        "tonight_taste_cluster_retrain_age_seconds",
        "Seconds since the cluster's newest succeeded retrain ended (absent: never succeeded).",
        labels=["region", "cluster"],
    )
    model_age = GaugeMetricFamily(
        "tonight_taste_cluster_model_age_seconds",
        "Seconds since the cluster's active model version was trained (absent: none active, "
        "its profiles are served by the region's or the global model).",
        labels=["region", "cluster"],
    )
    for cluster in clusters_serving():
        labels = [cluster.region_code, cluster.slug]
        if cluster.retrained_at is not None:
            retrained.add_metric(labels, (now - cluster.retrained_at).total_seconds())
        if cluster.model_trained_at is not None:
            model_age.add_metric(labels, (now - cluster.model_trained_at).total_seconds())
    runs = training_run_counts(failed_since=now - FAILED_RUNS_WINDOW)
    return [
        retrained,
        model_age,
        GaugeMetricFamily("tonight_retrain_runs_queued", "Retrain runs queued now.", runs.queued),
        GaugeMetricFamily(
            "tonight_retrain_runs_running", "Retrain runs running now.", runs.running
        ),
        GaugeMetricFamily(
            "tonight_retrain_runs_failed_last_day",
            "Retrain runs that failed in the last 24 hours.",
            runs.failed_since,
        ),
    ]


def celery_queues() -> list[str]:
    """Every queue a task is sent to: the default, the routes' and each region's retrains'."""
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    regions = (
        {retrain_queue(code) for code in region_codes()}
        if settings.TONIGHT.get("RETRAIN_QUEUE_PER_REGION", True)
        else set()
    )
    return sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *routed, *regions})


def queue_keys(queue: str) -> list[str]:
    """The Redis lists kombu keeps a queue's messages in: one per priority step, the first
    under the queue's own name, each under the broker's ``global_keyprefix``."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    prefix = options.get("global_keyprefix", "")
    steps = options.get("priority_steps", PRIORITY_STEPS)
    separator = options.get("sep", Channel.sep)
    return [f"{prefix}{queue}{separator}{step}" if step else f"{prefix}{queue}" for step in steps]


@cache
def _broker(url: str) -> Redis:
    """One client per broker URL for the process's life: its pool keeps the connection."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _queue_lengths(broker_url: str) -> Metric:
    queues = celery_queues()
    keys = [queue_keys(queue) for queue in queues]
    pipeline = _broker(broker_url).pipeline(transaction=False)
    for queue_keys_ in keys:
        for key in queue_keys_:
            pipeline.llen(key)
    lengths = iter(pipeline.execute())
    depth = GaugeMetricFamily(
        "tonight_celery_queue_length",
        "Messages waiting in the Celery queue (all priorities), read from the Redis broker.",
        labels=["queue"],
    )
    for queue, queue_keys_ in zip(queues, keys, strict=True):
        depth.add_metric([queue], sum(next(lengths) for _ in queue_keys_))
    return depth
