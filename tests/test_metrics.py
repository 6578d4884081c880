"""GET /metrics: off, refused, answered as the health check is; what the app counts; the
scrape-time gauges read from the database and the broker; several processes added up."""

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from config.metrics.collector import TonightCollector, queue_keys
from recommendations.models import ModelVersion, TrainingRun
from recommendations.services.retraining import retrain_queue
from recommendations.services.training import model_train
from tests.conftest import token_client
from tests.factories import (
    AccountFactory,
    AvailabilityFactory,
    ProfileFactory,
    RegionFactory,
    TasteClusterFactory,
    TitleFactory,
)
from tests.openapi import api_schema_generate
from tests.processes import current_database_url, run_python
from tests.recommendations.homepage_world import build_home_world

TOKEN = "scrape-0f6b1c3e7f3a4d529b1e2a6c8d4e"
NOW = dt.datetime(2026, 12, 7, 21, 0, tzinfo=dt.UTC)

Figures = dict[tuple[str, frozenset], float]


@pytest.fixture
def metrics_on(settings) -> None:
    settings.METRICS_TOKEN = TOKEN


def figures_of(text: str) -> Figures:
    """Every sample of a scrape's text by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scraped(client: Client | None = None) -> Figures:
    response = (client or Client()).get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    return figures_of(response.content.decode())


def value(figures: Figures, name: str, **labels: str) -> float:
    """A sample's value; 0 for one not written yet (a counter no request has moved)."""
    return figures.get((name, frozenset(labels.items())), 0.0)


# --- The endpoint ---------------------------------------------------------------------------


def test_metrics_are_off_while_no_token_is_set(settings) -> None:
    settings.METRICS_TOKEN = ""

    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")

    assert response.status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Token {TOKEN}",
        "Bearer wrong-token",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        "Bearer",
        f"Bearer {TOKEN.upper()}",
    ],
)
def test_a_scrape_without_the_bearer_token_is_refused(metrics_on, authorization) -> None:
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}

    response = Client().get("/metrics", **headers)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"tonight_" not in response.content


def test_a_scrape_is_a_get(metrics_on) -> None:
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405


def test_a_scrape_is_answered_as_the_health_check_is(metrics_on, settings, db) -> None:
    # given: production settings: the public name only, https enforced, a browser origin
    # allowed; Prometheus scrapes the process at its own address over plain http
    settings.ALLOWED_HOSTS = ["tonight.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    settings.CORS_ALLOWED_ORIGINS = ["https://watch.example.com"]
    client = Client(HTTP_HOST="10.0.3.7:8000", HTTP_ORIGIN="https://watch.example.com")

    # when
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    # then: answered, in the text format every Prometheus reads, with neither the pages'
    # Content-Security-Policy nor the API's CORS headers, and never cached
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert not response.has_header("Content-Security-Policy")
    assert not response.has_header("Access-Control-Allow-Origin")
    assert response["Cache-Control"] == "no-store"
    assert "# TYPE tonight_http_request_duration_seconds histogram" in response.content.decode()


def test_metrics_are_not_in_the_api_schema() -> None:
    paths = api_schema_generate()["paths"]

    assert not [path for path in paths if "metrics" in path]


# --- What requests move ---------------------------------------------------------------------


def test_a_homepage_moves_the_request_and_the_page_counters(metrics_on, db) -> None:
    # given: a trained region and a household in it
    world = build_home_world()
    model_train(region_code=world.region.code)
    account = AccountFactory(home_region=world.region)
    profile = ProfileFactory(account=account)
    before = scraped()

    # when: the phone app asks for the profile's homepage
    response = token_client(account).get(
        reverse("v1:homepage", args=[profile.pk]), {"device": "mobile"}
    )

    # then: one page for mobile, one homepage request by its route's name, never its path
    assert response.status_code == 200
    after = scraped()
    pages = "tonight_homepage_pages_total"
    assert value(after, pages, device="mobile") == value(before, pages, device="mobile") + 1
    assert value(after, pages, device="tv") == value(before, pages, device="tv")
    homepage = {"route": "v1:homepage", "method": "GET", "status": "2xx"}
    count = "tonight_http_request_duration_seconds_count"
    assert value(after, count, **homepage) == value(before, count, **homepage) + 1
    labels = {label for (_, pairs) in after for _, label in pairs}
    assert not [label for label in labels if "/" in label or str(profile.pk) == label]


def test_a_signal_batch_counts_its_events_by_kind_and_outcome(metrics_on, db) -> None:
    # given: a household whose region licenses a title
    account = AccountFactory(home_region=RegionFactory())
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    client = token_client(account)

    def event(kind: str, title_id: int) -> dict:
        return {
            "kind": kind,
            "title": title_id,
            "device": "tv",
            "occurred_at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
            "client_event_id": str(uuid.uuid4()),
        }

    stored = [event("play_start", title.pk), event("play_start", title.pk)]
    stored.append(event("impression", title.pk))
    gone = event("thumbs_up", 2**40)  # a title that does not exist: left out, the rest kept
    before = scraped()

    # when: the batch, then the same batch again, then one refused whole for a bad kind
    url = reverse("v1:signals", args=[profile.pk])
    first = client.post(url, {"events": [*stored, gone]}, format="json")
    again = client.post(url, {"events": stored}, format="json")
    refused = client.post(
        url, {"events": [event("hover", title.pk), event("no-such-kind", title.pk)]}, format="json"
    )

    # then
    assert (first.status_code, again.status_code, refused.status_code) == (200, 200, 400)
    after = scraped()

    def moved(**labels: str) -> float:
        name = "tonight_signals_total"
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(kind="play_start", outcome="accepted") == 4
    assert moved(kind="impression", outcome="accepted") == 2
    assert moved(kind="thumbs_up", outcome="rejected") == 1
    assert moved(kind="hover", outcome="rejected") == 1
    assert moved(kind="unknown", outcome="rejected") == 1
    assert moved(kind="hover", outcome="accepted") == 0
    duplicates = "tonight_signal_duplicates_total"
    assert value(after, duplicates) - value(before, duplicates) == 3


# --- The scrape-time gauges -----------------------------------------------------------------


def collected(collector: TonightCollector) -> Figures:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


def run(cluster, status: str, *, finished_hours_ago: float | None = None) -> TrainingRun:
    finished = None if finished_hours_ago is None else NOW - dt.timedelta(hours=finished_hours_ago)
    return TrainingRun.objects.create(
        region=cluster.region, taste_cluster=cluster, status=status, finished_at=finished
    )


def test_the_gauges_are_read_from_the_retrains_and_the_model_versions(db) -> None:
    # given: a cluster retrained 2 h ago (and 30 h ago) serving a version trained 3 h ago,
    # one whose last retrain failed and that serves none, and runs of every status
    region = RegionFactory()
    served = TasteClusterFactory(region=region, slug="tamil", is_default=True)
    failing = TasteClusterFactory(region=region, slug="hindi")
    run(served, TrainingRun.Status.SUCCEEDED, finished_hours_ago=30)
    run(served, TrainingRun.Status.SUCCEEDED, finished_hours_ago=2)
    ModelVersion.objects.create(
        scope=ModelVersion.Scope.CLUSTER,
        region=region,
        taste_cluster=served,
        status=ModelVersion.Status.ACTIVE,
        trained_at=NOW - dt.timedelta(hours=3),
    )
    ModelVersion.objects.create(
        scope=ModelVersion.Scope.CLUSTER,
        region=region,
        taste_cluster=failing,
        status=ModelVersion.Status.REJECTED,
        trained_at=NOW - dt.timedelta(hours=1),
    )
    run(failing, TrainingRun.Status.FAILED, finished_hours_ago=5)
    run(failing, TrainingRun.Status.FAILED, finished_hours_ago=30)  # before the last day
    run(failing, TrainingRun.Status.REJECTED, finished_hours_ago=1)
    run(served, TrainingRun.Status.RUNNING)
    run(failing, TrainingRun.Status.QUEUED)
    run(served, TrainingRun.Status.QUEUED)

    # when
    figures = collected(TonightCollector(now=lambda: NOW))

    # then
    tamil = {"region": region.code, "cluster": "tamil"}
    hindi = {"region": region.code, "cluster": "hindi"}
    assert value(figures, "tonight_taste_cluster_retrain_age_seconds", **tamil) == 2 * 3600
    assert value(figures, "tonight_taste_cluster_model_age_seconds", **tamil) == 3 * 3600
    never = ("tonight_taste_cluster_retrain_age_seconds", frozenset(hindi.items()))
    assert never not in figures
    assert ("tonight_taste_cluster_model_age_seconds", frozenset(hindi.items())) not in figures
    assert value(figures, "tonight_retrain_runs_running") == 1
    assert value(figures, "tonight_retrain_runs_queued") == 2
    assert value(figures, "tonight_retrain_runs_failed_last_day") == 1
    assert value(figures, "tonight_metrics_source_up", source="database") == 1


def test_a_scrape_costs_the_same_few_queries_however_many_clusters_and_runs(
    metrics_on, db, django_assert_num_queries
) -> None:
    # given: one cluster with one run
    region = RegionFactory()
    first = TasteClusterFactory(region=region, is_default=True)
    run(first, TrainingRun.Status.SUCCEEDED, finished_hours_ago=1)
    with django_assert_num_queries(3):  # the clusters, the runs' counts, the regions' queues
        small = scraped()

    # when: many more clusters, runs and regions
    for code in ("US", "BR"):
        RegionFactory(code=code, name=code)
    for _ in range(8):
        cluster = TasteClusterFactory(region=region)
        for status in TrainingRun.Status.values:
            run(cluster, status, finished_hours_ago=3)

    # then: as many queries, with every cluster's figure in
    with django_assert_num_queries(3):
        large = scraped()
    ages = "tonight_taste_cluster_retrain_age_seconds"
    assert len([key for key in small if key[0] == ages]) == 1
    assert len([key for key in large if key[0] == ages]) == 9


def test_the_queues_depth_is_read_from_the_redis_broker(settings, db) -> None:
    # given: a queue of this test's own with two messages, and one sent at a higher priority
    queue = f"metrics-test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    region = RegionFactory()
    broker = Redis.from_url(django_settings.CELERY_BROKER_URL)
    plain, *by_priority = queue_keys(queue)
    assert plain == queue
    try:
        broker.rpush(plain, b"one", b"two")
        broker.rpush(by_priority[0], b"three")

        # when
        figures = collected(TonightCollector())
    finally:
        broker.delete(*queue_keys(queue))

    # then: every message waiting on it, the routes' queues and the region's retrains' too
    assert value(figures, "tonight_celery_queue_length", queue=queue) == 3
    names = {dict(labels)["queue"] for name, labels in figures if name.endswith("queue_length")}
    assert {"retrain.default", retrain_queue(region.code)} <= names
    assert value(figures, "tonight_metrics_source_up", source="broker") == 1


def test_an_unreachable_broker_leaves_its_figures_out_and_says_so(settings, db) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    figures = collected(TonightCollector())

    assert value(figures, "tonight_metrics_source_up", source="broker") == 0
    assert value(figures, "tonight_metrics_source_up", source="database") == 1
    assert not [name for name, _ in figures if name == "tonight_celery_queue_length"]


# --- Several processes ----------------------------------------------------------------------

#: A child process: ``requests`` requests to a page that does not exist, as a worker of the
#: same server would answer them, then a scrape, printed.
CHILD = """
import os, sys
import django
django.setup()
from django.test import Client
client = Client()
for _ in range(int(sys.argv[1])):
    assert client.get("/no-such-page/").status_code == 404
if sys.argv[2] == "scrape":
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer " + os.environ["METRICS_TOKEN"])
    assert response.status_code == 200, response.status_code
    sys.stdout.write(response.content.decode())
"""


def test_a_scrape_adds_up_every_worker_process_in_multiprocess_mode(tmp_path: Path) -> None:
    # given: the folder compose gives web, shared by processes as gunicorn's workers share it
    folder = tmp_path / "metrics"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": current_database_url(),
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_TOKEN": TOKEN,
    }

    # when: one process answers two requests, another three, and a third, which answered
    # none, is scraped
    for requests in (2, 3):
        done = run_python("-c", CHILD, str(requests), "-", env=env)
        assert done.returncode == 0, done.stderr
    scrape = run_python("-c", CHILD, "0", "scrape", env=env)
    assert scrape.returncode == 0, scrape.stderr

    # then: the scrape counts the five, which neither process answered alone
    figures = figures_of(scrape.stdout)
    missing = {"route": "unmatched", "method": "GET", "status": "4xx"}
    assert value(figures, "tonight_http_request_duration_seconds_count", **missing) == 5
    assert value(figures, "tonight_metrics_source_up", source="database") == 1
    assert len(list(folder.glob("histogram_*.db"))) >= 2
