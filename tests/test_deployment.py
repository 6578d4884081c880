"""Production settings from the environment: TLS behind a proxy, the deploy checks, media."""

import json
import os
import re
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from django.core import checks
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from redis import Redis

from artwork.models import artwork_upload_to
from config.celery import app as celery_app
from config.urls import ARTWORK_MEDIA_DIR
from recommendations.checks import redis_databases
from recommendations.demo.artwork_variants import SHARED_DIR
from recommendations.schedules import schedules_overdue
from recommendations.services.retraining import retrain_queue
from tests.processes import ROOT, current_database_url, run_python

HOST = "tonight.example.com"
PASSWORD = "pw-12345-xyz"

# Every variable the security settings read; a test's environment sets only its own.
SECURITY_ENV = (
    "DEBUG",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "TRUST_X_FORWARDED_PROTO",
    "USE_X_FORWARDED_HOST",
    "TRUST_X_FORWARDED_FOR",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SERVE_MEDIA",
    "CORS_ALLOWED_ORIGINS",
)
SECURITY_SETTINGS = (
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SECURE_PROXY_SSL_HEADER",
    "USE_X_FORWARDED_HOST",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
)


def documented_production_env() -> dict[str, str]:
    """The README's production environment ("Behind a TLS proxy"), with a real secret key."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Behind a TLS proxy") :]
    block = re.search(r"```env\n(.*?)```", section, re.DOTALL)
    assert block, "README's TLS section lost its env block"
    env = dict(line.split("=", 1) for line in block[1].splitlines() if line.strip())
    env["SECRET_KEY"] = secrets.token_urlsafe(50)
    return env


def settings_from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> dict:
    """What ``config/settings.py`` makes of ``env`` (the rest of the environment as it is)."""
    for name in SECURITY_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


#: ``${NAME}``, ``${NAME:-default}`` or ``${NAME:?message}`` in docker-compose.yml.
COMPOSE_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def compose_interpolated(value: str, given: dict[str, str]) -> str:
    """``value`` from docker-compose.yml as compose makes it when the deployer sets ``given``."""

    def resolve(match: re.Match) -> str:
        name, kind, default = match.groups()
        if name in given:
            return given[name]
        assert kind == "-", f"compose requires {name}; give it a value here"
        return default

    return COMPOSE_VARIABLE.sub(resolve, value)


def compose_app_env(deployer: dict[str, str] | None = None) -> dict[str, str]:
    """The app's environment in compose when the deployer sets only what compose requires
    (a real ``SECRET_KEY``) and ``deployer``."""
    given = {"SECRET_KEY": secrets.token_urlsafe(50), **(deployer or {})}
    environment = compose()["services"]["web"]["environment"]
    return {name: compose_interpolated(str(value), given) for name, value in environment.items()}


def test_compose_publishes_web_on_this_host_only_unless_told_otherwise() -> None:
    # given: the ports compose publishes
    published = {
        name: service["ports"]
        for name, service in compose()["services"].items()
        if service.get("ports")
    }

    # then: web's alone, on the loopback address: gunicorn speaks plain http, believes
    # X-Forwarded-* once told to, and a proxy on this host is what should reach it (on
    # every interface, clients could skip the proxy and claim https themselves)
    assert list(published) == ["web"]
    (port,) = published["web"]
    assert compose_interpolated(port, {}) == "127.0.0.1:8000:8000"
    # and: a deployer whose proxy is elsewhere, or a trial from another machine, says so
    opened = compose_interpolated(port, {"WEB_PUBLISH_ADDRESS": "192.0.2.10"})
    assert opened == "192.0.2.10:8000:8000"
    assert "WEB_PUBLISH_ADDRESS" in (ROOT / "README.md").read_text().split("## Deploying", 1)[1]


PROXIED = {"DEBUG": "0", "ALLOWED_HOSTS": HOST}


def _sign_in(client: Client):
    """The admin login form posted as a browser on https://HOST posts it (Origin included)."""
    return client.post(
        "/admin/login/",
        {
            "username": "admin",
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
            "next": "/admin/",
        },
        HTTP_ORIGIN=f"https://{HOST}",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "env",
    [
        pytest.param("documented", id="readme-production-env"),
        pytest.param({**PROXIED, "TRUST_X_FORWARDED_PROTO": "1"}, id="proxy-header-trusted"),
        pytest.param({**PROXIED, "CSRF_TRUSTED_ORIGINS": f"https://{HOST}"}, id="origin-trusted"),
    ],
)
def test_admin_login_through_a_tls_proxy_succeeds(
    env, settings, monkeypatch, django_user_model
) -> None:
    # given: settings as the environment makes them, a superuser, a browser talking https
    # to the proxy, which talks http to us
    loaded = settings_from_env(
        monkeypatch, documented_production_env() if env == "documented" else env
    )
    for name in SECURITY_SETTINGS:
        setattr(settings, name, loaded.get(name))
    django_user_model.objects.create_superuser("admin", password=PASSWORD)
    client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    form = client.get("/admin/login/")
    assert form.status_code == 200

    # when
    response = _sign_in(client)

    # then: signed in, with cookies a browser keeps only over https
    assert response.status_code == 302, response.content[:300]
    assert response.headers["Location"] == "/admin/"
    assert response.cookies["sessionid"]["secure"]
    if loaded.get("SECURE_PROXY_SSL_HEADER"):
        # absolute URLs (artwork in the homepage JSON) name the scheme the browser used
        assert form.wsgi_request.build_absolute_uri("/media/x.jpg").startswith("https://")


@pytest.mark.django_db
def test_admin_login_through_a_tls_proxy_is_refused_when_nothing_says_https(
    settings, monkeypatch, django_user_model
) -> None:
    loaded = settings_from_env(monkeypatch, PROXIED)
    for name in SECURITY_SETTINGS:
        setattr(settings, name, loaded.get(name))
    assert "SECURE_PROXY_SSL_HEADER" not in loaded  # the header is believed only on request
    django_user_model.objects.create_superuser("admin", password=PASSWORD)
    client = Client(enforce_csrf_checks=True, HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https")
    client.get("/admin/login/")

    response = _sign_in(client)

    assert response.status_code == 403


def test_security_settings_default_to_off_and_read_the_environment(monkeypatch) -> None:
    defaults = settings_from_env(monkeypatch, {"DEBUG": "0"})
    assert "SECURE_PROXY_SSL_HEADER" not in defaults
    assert not defaults["USE_X_FORWARDED_HOST"]
    assert not defaults["SECURE_SSL_REDIRECT"]
    assert defaults["SECURE_HSTS_SECONDS"] == 0
    assert not defaults["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert not defaults["SECURE_HSTS_PRELOAD"]
    assert defaults["CSRF_TRUSTED_ORIGINS"] == []
    assert defaults["SESSION_COOKIE_SECURE"]
    assert defaults["CSRF_COOKIE_SECURE"]

    production = settings_from_env(monkeypatch, documented_production_env())
    assert production["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert production["CSRF_TRUSTED_ORIGINS"] == [f"https://{HOST}"]
    assert production["SECURE_SSL_REDIRECT"]
    assert production["SECURE_HSTS_SECONDS"] == 31536000
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"]
    assert production["SECURE_HSTS_PRELOAD"]

    forwarded_host = settings_from_env(monkeypatch, {"DEBUG": "0", "USE_X_FORWARDED_HOST": "1"})
    assert forwarded_host["USE_X_FORWARDED_HOST"]


def test_deploy_check_is_clean_for_the_documented_production_env() -> None:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "DATABASE_URL") if k in os.environ}
    env |= documented_production_env()
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


#: What ``check --deploy`` says of compose as shipped: it serves plain http on :8000 until the
#: operator puts TLS in front (README, "Deploying"). Each goes with an environment variable.
COMPOSE_DEPLOY_WARNINGS = {"security.W004", "security.W008"}
COMPOSE_BEHIND_TLS = {
    "TRUST_X_FORWARDED_PROTO": "1",
    "TRUST_X_FORWARDED_FOR": "1",  # or tonight.W003: the sign-in lockout sees the proxy only
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "1",
    "SECURE_HSTS_PRELOAD": "1",
}


def deploy_checks(*envs: dict[str, str]) -> list[set[str]]:
    """The ids ``manage.py check --deploy`` reports in each of ``envs``; fails on any error.

    The checks run side by side: each is mostly a process's start-up (Django and the apps'
    imports), and the second core is free whenever the suite's other worker is waiting."""
    base = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    checks = [
        subprocess.Popen(
            [sys.executable, "manage.py", "check", "--deploy"],
            cwd=ROOT,
            env=base | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for env in envs
    ]
    reported = []
    for check in checks:
        output, _ = check.communicate(timeout=180)
        assert check.returncode == 0, output
        reported.append(set(re.findall(r"\(([\w.]+\.[EWC]\d+)\)", output)))
    return reported


def test_deploy_check_of_compose_leaves_only_the_documented_warnings_each_an_env_var_fixes():
    # given: compose as shipped, with the secret key it requires; and the operator's, with
    # TLS in front and saying so
    shipped, behind_tls = deploy_checks(compose_app_env(), compose_app_env(COMPOSE_BEHIND_TLS))

    # then: no error, and only the warnings the README explains
    assert shipped <= COMPOSE_DEPLOY_WARNINGS
    deploying = (ROOT / "README.md").read_text().split("## Deploying", 1)[1]
    for warning in COMPOSE_DEPLOY_WARNINGS:
        assert warning in deploying, f"README's Deploying section does not explain {warning}"

    # and: the operator's has none
    assert behind_tls == set()


def test_media_are_served_by_default_only_in_debug(monkeypatch) -> None:
    assert settings_from_env(monkeypatch, {"DEBUG": "0"})["SERVE_MEDIA"] is False
    assert settings_from_env(monkeypatch, {"DEBUG": "1"})["SERVE_MEDIA"] is True  # make demo
    assert settings_from_env(monkeypatch, {"DEBUG": "0", "SERVE_MEDIA": "1"})["SERVE_MEDIA"]


@pytest.fixture
def stored_media() -> SimpleNamespace:
    """A model version's artefact, an artwork policy, and an uploaded artwork image, each
    where the default settings store it (the artefacts' own storage is MEDIA_ROOT too)."""
    storage, private = storages["default"], storages["artefacts"]
    image = storage.save(
        artwork_upload_to(SimpleNamespace(title_id=5), "poster.png"), ContentFile(b"\x89PNG art")
    )
    assert Path(private.path("models")) == Path(storage.path("models"))
    return SimpleNamespace(
        model="/media/" + private.save("models/7/index.npz", ContentFile(b"PK model")),
        policy="/media/" + private.save("artwork-policies/p.npz", ContentFile(b"PK policy")),
        image_url=storage.url(image),
    )


@pytest.mark.parametrize("serve_media", [False, True], ids=["debug-off-default", "serve-media"])
def test_model_artefacts_are_never_served_and_artwork_only_when_asked(
    serve_media, settings, stored_media
) -> None:
    settings.DEBUG = False
    settings.SERVE_MEDIA = serve_media
    client = Client()

    assert client.get(stored_media.model).status_code == 404
    assert client.get(stored_media.policy).status_code == 404
    sneaky = client.get(f"/media/{ARTWORK_MEDIA_DIR}/../models/7/index.npz")
    assert sneaky.status_code in {400, 404}

    image = client.get(stored_media.image_url)
    if serve_media:
        assert image.status_code == 200
        assert b"".join(image.streaming_content) == b"\x89PNG art"
    else:
        assert image.status_code == 404


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.jpeg", "image/jpeg"),
        ("b.JPG", "image/jpeg"),
        ("c.png", "image/png"),
        ("d.webp", "image/webp"),
        ("e.svg", None),
        ("f.html", None),
        ("g.xml", None),
        ("h.js", None),
        ("i", None),
    ],
)
def test_only_raster_images_are_served_from_the_artwork_folder(
    settings, monkeypatch, name, content_type
) -> None:
    # Served from the admin's own origin, a file of another type in the artwork folder (an
    # SVG or HTML page, put there by hand or by code that skipped the upload's checks)
    # would run its script with a signed-in admin's session. Uploads are only ever stored
    # as JPEG, PNG or WebP; older names keep their designer's extension (.jpeg, .JPG).
    settings.SERVE_MEDIA = True
    # As on a system without /etc/mime.types, where Python knows no .webp.
    monkeypatch.setattr("django.views.static.mimetypes.guess_type", lambda *a, **k: (None, None))
    storage = storages["default"]
    stored = storage.save(f"{ARTWORK_MEDIA_DIR}/1/{name}", ContentFile(b"<svg onload=alert(1)/>"))

    response = Client().get(storage.url(stored))

    if content_type is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert response["Content-Type"] == content_type


def test_the_demo_and_uploaded_artwork_live_in_the_served_folder() -> None:
    assert SHARED_DIR.startswith(f"{ARTWORK_MEDIA_DIR}/")
    assert artwork_upload_to(SimpleNamespace(title_id=1), "x.jpg").startswith(
        f"{ARTWORK_MEDIA_DIR}/"
    )


@pytest.mark.django_db
def test_the_health_check_answers_the_containers_probe_under_production_settings(
    settings, monkeypatch
) -> None:
    # given: production settings (the public name only, https forced)
    loaded = settings_from_env(monkeypatch, documented_production_env())
    for name in SECURITY_SETTINGS:
        setattr(settings, name, loaded.get(name))
    settings.ALLOWED_HOSTS = [HOST]

    # when: the orchestrator probes 127.0.0.1 over plain http, as compose's healthcheck does
    probe = Client(HTTP_HOST="127.0.0.1:8000").get("/healthz")
    other = Client(HTTP_HOST="127.0.0.1:8000").get("/admin/login/")

    # then: the probe is answered; anything else from that host is still refused
    assert (probe.status_code, probe.json()) == (200, {"status": "ok"})
    assert other.status_code in (301, 400)
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "/healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_compose_keeps_the_broker_and_the_cache_in_separate_redis_databases(monkeypatch) -> None:
    loaded = settings_from_env(monkeypatch, compose_app_env())

    broker = redis_databases(loaded["CELERY_BROKER_URL"])
    cache = redis_databases(loaded["CACHES"]["default"]["LOCATION"])

    assert broker, "compose's broker is not Redis"
    assert cache, "compose's cache is not Redis"
    assert not broker & cache, "a cache clear (FLUSHDB) would drop the queued tasks"


def test_compose_passes_the_web_apps_origins_through(monkeypatch) -> None:
    # given: compose as shipped, and with the deployer's web app on its own origins
    shipped = settings_from_env(monkeypatch, compose_app_env())
    origins = "https://watch.example.com,https://beta.watch.example.com"
    given = settings_from_env(monkeypatch, compose_app_env({"CORS_ALLOWED_ORIGINS": origins}))

    # then: no other origin's page reads the API unless the deployer lists it
    assert shipped["CORS_ALLOWED_ORIGINS"] == []
    assert given["CORS_ALLOWED_ORIGINS"] == origins.split(",")


@pytest.mark.parametrize(
    ("broker", "cache", "warned"),
    [
        ("redis://redis:6379/0", "redis://redis:6379/1", False),
        ("redis://redis:6379/0", "redis://redis:6379/0", True),
        ("redis://redis:6379", "redis://redis:6379/0", True),  # no number is database 0
        ("redis://redis:6379/0", "redis://redis:6379?db=0", True),
        ("redis://redis:6379/0", "redis://other:6379/0", False),
        ("amqp://rabbit//", "redis://redis:6379/0", False),
        ("", "redis://redis:6379/0", False),
    ],
)
def test_the_deploy_check_warns_when_cache_and_broker_share_a_redis_database(
    settings, broker, cache, warned
) -> None:
    settings.CELERY_BROKER_URL = broker
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache}
    }

    def ids(deploy: bool) -> list[str]:
        return [m.id for m in checks.run_checks(tags=["caches"], include_deployment_checks=deploy)]

    assert ("tonight.W002" in ids(deploy=True)) == warned
    assert "tonight.W002" not in ids(deploy=False)  # development may share one database


def compose_workers() -> dict[str, dict]:
    """The compose services that run a Celery worker, by name."""
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("command", [])[:1] == ["celery"] and "worker" in service["command"]
    }


def worker_option(service: dict, option: str) -> str:
    command = service["command"]
    assert option in command, f"{option} missing from {command}"
    return command[command.index(option) + 1]


def worker_queues(service: dict) -> set[str]:
    return set(worker_option(service, "--queues").split(","))


#: One part of a compose duration: ``1h6m``, ``40s``, ``1m30s``.
DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|m|s|ms|us)")


def compose_duration(value: str) -> timedelta:
    parts = DURATION_PART.findall(value)
    assert parts, f"not a duration: {value}"
    assert "".join(n + u for n, u in parts) == value, f"not a duration: {value}"
    unit = {
        "h": timedelta(hours=1),
        "m": timedelta(minutes=1),
        "s": timedelta(seconds=1),
        "ms": timedelta(milliseconds=1),
        "us": timedelta(microseconds=1),
    }
    return sum((float(n) * unit[u] for n, u in parts), timedelta())


@pytest.fixture
def compose_routing(monkeypatch, settings) -> dict:
    """The settings as compose makes them, with this process's retrain routing set to theirs."""
    loaded = settings_from_env(monkeypatch, compose_app_env())
    for name in ("RETRAIN_QUEUE_PREFIX", "RETRAIN_QUEUE_PER_REGION"):
        settings.TONIGHT = {**settings.TONIGHT, name: loaded["TONIGHT"][name]}
    return loaded


def test_the_compose_workers_serve_every_queue_a_task_is_sent_to(compose_routing) -> None:
    # given: every worker compose runs
    served = set().union(*(worker_queues(s) for s in compose_workers().values()))

    # then: together they listen to the demo's regions' retrains, to those of a region
    # created after they started, and to every routed task's queue
    for region in ("IN", "US", "ZZ"):
        assert retrain_queue(region) in served, region
    assert compose_routing["CELERY_TASK_DEFAULT_QUEUE"] in served
    for task, route in compose_routing["CELERY_TASK_ROUTES"].items():
        assert route["queue"] in served, task


def test_a_running_retrain_never_holds_up_the_default_queues_tasks(compose_routing) -> None:
    # given: the worker of the default queue and the one of the retrains
    workers = compose_workers()
    retrains = {retrain_queue(region) for region in ("IN", "US", "ZZ")}
    default = [
        n
        for n, s in workers.items()
        if compose_routing["CELERY_TASK_DEFAULT_QUEUE"] in worker_queues(s)
    ]
    retrain = [n for n, s in workers.items() if retrains <= worker_queues(s)]

    # then: one serves the default queue (and every other routed queue), more than one task
    # at a time, and never a retrain; the other every region's retrains, one at a time
    assert len(default) == len(retrain) == 1, workers
    default_worker, retrain_worker = workers[default[0]], workers[retrain[0]]
    assert not worker_queues(default_worker) & retrains
    routed = {route["queue"] for route in compose_routing["CELERY_TASK_ROUTES"].values()}
    assert routed - worker_queues(retrain_worker) <= worker_queues(default_worker)
    assert int(worker_option(default_worker, "--concurrency")) > 1
    assert worker_queues(retrain_worker) == retrains
    assert worker_option(retrain_worker, "--concurrency") == "1"


def test_stopping_the_retrain_worker_waits_for_its_retrain_to_end(
    compose_routing, settings
) -> None:
    from recommendations.tasks import reap_training_runs, retrain_clusters, retrain_region

    # given: the hard time limit compose's settings give the retrains (in this process's
    # settings, the limit the retrain tasks are declared with)
    hard = timedelta(seconds=compose_routing["TONIGHT"]["RETRAIN_HARD_LIMIT_SECONDS"])
    assert hard > timedelta(seconds=compose_routing["TONIGHT"]["RETRAIN_SOFT_LIMIT_SECONDS"])
    assert retrain_clusters.time_limit == settings.TONIGHT["RETRAIN_HARD_LIMIT_SECONDS"]
    workers = compose_workers()
    (retrain,) = [s for s in workers.values() if retrain_queue("IN") in worker_queues(s)]
    default_queue = compose_routing["CELERY_TASK_DEFAULT_QUEUE"]
    (default,) = [s for s in workers.values() if default_queue in worker_queues(s)]

    def grace(service: dict) -> timedelta:
        return compose_duration(service.get("stop_grace_period", "10s"))  # Docker's default

    # then: Docker kills the retrain worker only once every retrain has ended (Celery's warm
    # shutdown waits for it; Docker's own 10 s killed it midway)
    assert grace(retrain) > hard
    # and: the default queue's worker lets the fan-out and the reaper end
    for task in (retrain_region, reap_training_runs):
        assert grace(default) > timedelta(seconds=task.time_limit), task.name


def test_every_compose_worker_replaces_a_child_that_grew_too_large() -> None:
    workers = compose_workers()
    # (a worker started some other way than ``celery ... worker`` would be checked by none)
    assert len(workers) >= 2, workers
    for name, service in workers.items():
        assert int(worker_option(service, "--max-memory-per-child")) > 0, name


def test_retrains_have_a_queue_per_region_unless_told_otherwise(monkeypatch, settings) -> None:
    monkeypatch.delenv("TONIGHT_RETRAIN_QUEUE_PER_REGION", raising=False)
    assert settings_from_env(monkeypatch, {"DEBUG": "0"})["TONIGHT"]["RETRAIN_QUEUE_PER_REGION"]
    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_QUEUE_PREFIX": "retrain."}
    assert retrain_queue("IN") == "retrain.IN"

    settings.TONIGHT = {**settings.TONIGHT, "RETRAIN_QUEUE_PER_REGION": False}
    assert retrain_queue("IN") == retrain_queue("ZZ") == "retrain.default"


def test_every_compose_service_that_keeps_running_has_a_healthcheck() -> None:
    services = compose()["services"]
    running = [name for name, service in services.items() if service.get("restart") != "no"]
    assert {"web", "worker", "beat"} <= set(running)
    for name in running:
        assert services[name].get("healthcheck", {}).get("test"), name


#: Options that set a process's log level on its command line, over LOG_LEVEL.
LOG_LEVEL_OPTIONS = ("-l", "--loglevel", "--log-level")


def test_one_log_level_setting_reaches_every_app_service(monkeypatch) -> None:
    # given: the services compose runs from the app's image
    app_services = {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image") == "tonight:latest"
    }
    assert {"migrate", "web", "worker", "retrain-worker", "beat"} <= set(app_services)

    # then: each has LOG_LEVEL, from the deployer's .env (INFO, settings' default, unset),
    # and no command line sets a level of its own over it (the workers' `--loglevel info`
    # did: LOG_LEVEL=debug changed only web's lines)
    assert compose_app_env()["LOG_LEVEL"] == "INFO"
    assert compose_app_env({"LOG_LEVEL": "debug"})["LOG_LEVEL"] == "debug"
    for name, service in app_services.items():
        assert "LOG_LEVEL" in service["environment"], name
        command = service["command"]
        assert not [arg for arg in command if arg.split("=")[0] in LOG_LEVEL_OPTIONS], name

    # and: web's gunicorn writes its own lines at that level too
    web = app_services["web"]["command"]
    assert gunicorn_settings(monkeypatch, web, compose_app_env()).loglevel == "info"
    debug = compose_app_env({"LOG_LEVEL": "debug"})
    assert gunicorn_settings(monkeypatch, web, debug).loglevel == "debug"
    # unless its command line says otherwise (`make serve` asks for warnings only)
    assert gunicorn_settings(monkeypatch, [*web, "--log-level", "warning"], debug).loglevel == (
        "warning"
    )


#: ``celery`` as a container runs it (its arguments after this script's), the worker or beat
#: built as the command line says, then stopped before it starts: the level it logs at.
CELERY_LOG_LEVEL = """
import logging
import sys

from celery.apps.beat import Beat
from celery.apps.worker import Worker
from celery.bin.celery import main


def report(self):
    print("loglevel", logging.getLevelName(self.loglevel))
    raise SystemExit(0)


Worker.start = Beat.run = report
sys.argv[0] = "celery"
main()
"""


def test_celery_workers_and_beat_log_at_log_level_unless_their_command_line_says() -> None:
    # given: compose's worker, retrain worker and beat commands, in the test's environment
    services = compose()["services"]
    base = {**os.environ, "C_FORCE_ROOT": "1"}
    for name in ("LOG_LEVEL", "CELERY_WORKER_LOGLEVEL", "CELERY_BEAT_LOGLEVEL"):
        base.pop(name, None)
    runs = {
        f"{name}, LOG_LEVEL=debug": (services[name]["command"], {"LOG_LEVEL": "debug"})
        for name in ("worker", "retrain-worker", "beat")
    }
    runs["worker, LOG_LEVEL unset"] = (services["worker"]["command"], {})
    runs["beat, LOG_LEVEL=Warning"] = (services["beat"]["command"], {"LOG_LEVEL": "Warning"})
    runs["worker --loglevel error, LOG_LEVEL=debug"] = (
        [*services["worker"]["command"], "--loglevel", "error"],
        {"LOG_LEVEL": "debug"},
    )
    # Celery's own variables for its command line's --loglevel, an operator's: LOG_LEVEL's
    # level was set over them, so that they were ignored
    runs["worker, CELERY_WORKER_LOGLEVEL=error, LOG_LEVEL=debug"] = (
        services["worker"]["command"],
        {"CELERY_WORKER_LOGLEVEL": "error", "LOG_LEVEL": "debug"},
    )
    runs["beat, CELERY_BEAT_LOGLEVEL=error, LOG_LEVEL=debug"] = (
        services["beat"]["command"],
        {"CELERY_BEAT_LOGLEVEL": "error", "LOG_LEVEL": "debug"},
    )
    runs["beat, CELERY_WORKER_LOGLEVEL=error, LOG_LEVEL=debug"] = (
        services["beat"]["command"],
        {"CELERY_WORKER_LOGLEVEL": "error", "LOG_LEVEL": "debug"},
    )
    runs["worker --loglevel warning, CELERY_WORKER_LOGLEVEL=error"] = (
        [*services["worker"]["command"], "--loglevel", "warning"],
        {"CELERY_WORKER_LOGLEVEL": "error"},
    )

    # when: each starts (side by side: each is mostly Django's and the apps' imports)
    started = {
        what: subprocess.Popen(
            [sys.executable, "-c", CELERY_LOG_LEVEL, *command[1:]],
            cwd=ROOT,
            env=base | env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for what, (command, env) in runs.items()
    }
    levels = {}
    for what, process in started.items():
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, f"{what}: {err[-2000:]}"
        levels[what] = re.findall(r"^loglevel (\w+)$", out, re.MULTILINE)

    # then: LOG_LEVEL's level (INFO unset, as settings read it), and a --loglevel over it
    assert levels == {
        "worker, LOG_LEVEL=debug": ["DEBUG"],
        "retrain-worker, LOG_LEVEL=debug": ["DEBUG"],
        "beat, LOG_LEVEL=debug": ["DEBUG"],
        "worker, LOG_LEVEL unset": ["INFO"],
        "beat, LOG_LEVEL=Warning": ["WARNING"],
        "worker --loglevel error, LOG_LEVEL=debug": ["ERROR"],
        "worker, CELERY_WORKER_LOGLEVEL=error, LOG_LEVEL=debug": ["ERROR"],
        "beat, CELERY_BEAT_LOGLEVEL=error, LOG_LEVEL=debug": ["ERROR"],
        "beat, CELERY_WORKER_LOGLEVEL=error, LOG_LEVEL=debug": ["DEBUG"],
        "worker --loglevel warning, CELERY_WORKER_LOGLEVEL=error": ["WARNING"],
    }


def test_loading_the_celery_app_leaves_celerys_log_level_variables_unset() -> None:
    # given: a process without them (web, manage.py, a test runner)
    env = {**os.environ}
    for name in ("CELERY_WORKER_LOGLEVEL", "CELERY_BEAT_LOGLEVEL"):
        env.pop(name, None)

    # when: it loads the Celery app, as every process importing config does
    script = (
        "import os, config.celery; "
        "print([n for n in os.environ if n in ('CELERY_WORKER_LOGLEVEL', 'CELERY_BEAT_LOGLEVEL')])"
    )
    result = run_python("-c", script, env=env)

    # then: none is set, so that a worker or beat it starts, its environment inherited,
    # logs at its own LOG_LEVEL, an explicit one of those variables being the operator's
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "[]\n"


def compose_healthcheck(service: str) -> str:
    """The service's healthcheck as its container's shell gets it (compose unescapes ``$$``)."""
    kind, command = compose()["services"][service]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    return command.replace("$$", "$")


def run_healthcheck(command: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``sh -c command`` as in the container, with this virtualenv's commands on the PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["sh", "-c", command],
        cwd=ROOT,
        env={**os.environ, **env, "PATH": path},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def start_healthcheck(command: str, env: dict[str, str]) -> subprocess.Popen:
    """``run_healthcheck`` started, not awaited: a probe whose answer is known in advance
    runs while the test waits for something else."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.Popen(
        ["sh", "-c", command],
        cwd=ROOT,
        env={**os.environ, **env, "PATH": path},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def waited_for(condition: Callable[[], Any], *, within: float = 60.0) -> Any:
    """``condition()``'s first truthy value, asked every tenth of a second; ``None`` when
    it has none within ``within`` seconds.

    Waiting for a service to start is asked of the service in this process, not of its
    probe: each probe is a process start of a second or more, competing for the CPU with
    the start-up it waits for. The probe runs once the service answers, and must pass."""
    deadline = time.monotonic() + within
    while not (value := condition()):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)
    return value


def healthcheck_failure(
    command: str, env: dict[str, str], *, within: float
) -> subprocess.CompletedProcess | None:
    """The probe's first failing run, probing again and again; ``None`` when every run that
    started within ``within`` seconds passed.

    In place of sleeping ``within`` and probing once: the probe's own start-up (a second or
    two of imports) counts towards the wait instead of adding to it."""
    deadline = time.monotonic() + within
    while (result := run_healthcheck(command, env)).returncode == 0:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.25)
    return result


@pytest.mark.integration
def test_the_worker_healthcheck_fails_once_the_worker_stops_answering(settings) -> None:
    # given: compose's worker command, in a "container" whose hostname is this test's own
    # and on a queue of its own
    hostname = f"hc-{uuid.uuid4().hex[:8]}"
    queue = f"healthcheck-{hostname}"
    env = {"HOSTNAME": hostname, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    command = [word.replace("%h", hostname) for word in compose()["services"]["worker"]["command"]]
    command[command.index("--queues") + 1] = queue
    command[command.index("--concurrency") + 1] = "1"
    probe = compose_healthcheck("worker")
    assert "--timeout 10" in probe
    # A hung worker's wait, shortened: an idle worker answers a ping in milliseconds, and a
    # probe that starts before the worker answers is simply run again.
    probe = probe.replace("--timeout 10", "--timeout 1")
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: signals reach the pool too
    )
    destination = [f"celery@{hostname}"]
    try:
        # then: healthy once started
        answered = waited_for(lambda: celery_app.control.ping(destination, timeout=0.5))
        assert answered, "the worker never answered a ping"
        started = run_healthcheck(probe, env)
        assert started.returncode == 0, started.stdout + started.stderr

        # when: the worker hangs
        os.killpg(worker.pid, signal.SIGSTOP)

        # then
        hung = run_healthcheck(probe, env)
        assert hung.returncode != 0, hung.stdout
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        Redis.from_url(settings.CELERY_BROKER_URL).delete(
            f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )


def periodic_task(name: str, *, every: int = 60, **fields) -> PeriodicTask:
    interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
    return PeriodicTask.objects.create(name=name, task="tests.probe", interval=interval, **fields)


@pytest.mark.django_db
def test_only_interval_schedules_beat_should_have_sent_are_overdue() -> None:
    # given: schedules beat sent too long ago, in time, or must not send
    now = timezone.now()
    late = now - timedelta(seconds=60 + 61)
    periodic_task("late", last_run_at=late)
    periodic_task("in time", last_run_at=now - timedelta(seconds=60 + 59))
    periodic_task("hourly", every=3600, last_run_at=late)
    periodic_task("paused", enabled=False, last_run_at=late)
    periodic_task("ended", expires=now - timedelta(hours=1), last_run_at=late)
    periodic_task("not yet", start_time=now + timedelta(hours=1), last_run_at=late)
    periodic_task("one off", one_off=True, last_run_at=late)
    nightly, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="4")
    PeriodicTask.objects.create(name="nightly", task="tests.probe", crontab=nightly)
    PeriodicTask.objects.update(date_changed=late)  # no edit since
    periodic_task("edited", last_run_at=late)  # saved now: its clock restarts

    # when
    overdue = schedules_overdue(now=now, grace_seconds=60)

    # then
    assert [(s.name, s.every, s.last_sent) for s in overdue] == [
        ("late", timedelta(seconds=60), late)
    ]
    with pytest.raises(CommandError, match=r"'late' \(every 60 s\) last sent"):
        call_command("beat_health")
    PeriodicTask.objects.filter(name="late").update(enabled=False)
    call_command("beat_health")


@pytest.mark.django_db
def test_beat_health_says_when_a_schedule_was_last_sent_or_that_it_never_was() -> None:
    # given: a fresh install beat never ran for, beside a schedule edited after its last send
    changed = timezone.now() - timedelta(minutes=5)
    sent = changed - timedelta(minutes=1)
    periodic_task("reaper")
    periodic_task("updates", last_run_at=sent)
    PeriodicTask.objects.update(date_changed=changed)

    # when
    with pytest.raises(CommandError) as behind:
        call_command("beat_health")

    # then: both overdue (each clock started at the change); only a real send is called one
    assert str(behind.value) == (
        "Beat is behind: 'reaper' (every 60 s) never sent since its schedule changed at "
        f"{changed:%Y-%m-%d %H:%M:%S} UTC; 'updates' (every 60 s) last sent "
        f"{sent:%Y-%m-%d %H:%M:%S} UTC."
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_beat_healthcheck_fails_once_beat_stops_sending(settings) -> None:
    # given: a schedule due every second, sending to a queue of its own, last sent a
    # minute ago (a tight grace stands in for compose's minute)
    grace = 2
    queue = f"healthcheck-{uuid.uuid4().hex[:8]}"
    periodic_task(f"probe {queue}", every=1, queue=queue)
    PeriodicTask.objects.update(date_changed=timezone.now() - timedelta(minutes=1))
    env = {"DATABASE_URL": current_database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL}
    probe = f"{compose_healthcheck('beat')} --grace {grace}"
    command = compose()["services"]["beat"]["command"]

    # then: unhealthy while no beat sends it
    assert run_healthcheck(probe, env).returncode != 0
    beat = subprocess.Popen(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    unreachable = start_healthcheck(probe, {"DATABASE_URL": "postgres://postgres@127.0.0.1:9/x"})
    try:
        # when: beat runs, and its first write of a send would be overdue by now were it the
        # last (the probe reads later still: after its own start-up)
        schedule = PeriodicTask.objects.filter(name=f"probe {queue}")
        first = waited_for(lambda: schedule.values_list("last_run_at", flat=True).get())
        assert first, "beat ran but never wrote a send down"
        overdue_alone = first + timedelta(seconds=1 + grace + 0.5)
        time.sleep(max(0.0, (overdue_alone - timezone.now()).total_seconds()))

        # then: healthy: it keeps writing its sends down
        alive = run_healthcheck(probe, env)
        assert alive.returncode == 0, alive.stderr

        # when: it hangs
        os.killpg(beat.pid, signal.SIGSTOP)

        # then: the probe fails once the last send is older than the interval and the grace
        # (the probes before that, while it was not, may pass)
        stuck = healthcheck_failure(probe, env, within=1 + grace + 1)
        assert stuck is not None, "beat was stopped but the probe kept passing"
        assert f"'probe {queue}' (every 1 s)" in stuck.stderr
    finally:
        os.killpg(beat.pid, signal.SIGKILL)
        beat.wait(timeout=10)
        Redis.from_url(settings.CELERY_BROKER_URL).delete(
            queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}"
        )
        _, unreachable_stderr = unreachable.communicate(timeout=60)

    # and: unhealthy when the database is out of reach (probed while beat ran)
    assert unreachable.returncode != 0
    assert "Cannot read the schedules from the database" in unreachable_stderr


def test_gunicorn_logs_each_requests_time_and_never_its_credentials(monkeypatch, capsys) -> None:
    # given: gunicorn configured as web runs it (config/gunicorn.py)
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    monkeypatch.delenv("TONIGHT_WARM_ON_START", raising=False)  # the file sets a default
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "config" / "gunicorn.py")).items():
        if name in config.settings:
            config.set(name, value)
    log = Logger(config)

    # when: a homepage that took 1.234 s, with a token and an unlock token, is answered
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/v1/profiles/7/homepage/?device=tv",
        "PATH_INFO": "/api/v1/profiles/7/homepage/",
        "QUERY_STRING": "device=tv",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_USER_AGENT": "tv-app/3",
    }
    request = SimpleNamespace(
        headers=[("AUTHORIZATION", "Token sekrit-api-token"), ("X-PROFILE-UNLOCK", "sekrit-pin")]
    )
    response = SimpleNamespace(status="200 OK", sent=5120, headers=[])
    log.access(response, request, environ, timedelta(seconds=1, microseconds=234_000))

    # then: one access line on stdout with the path, the status and the time in ms (what a
    # p50/p99 over the log reads), and no credential
    (line,) = capsys.readouterr().out.splitlines()
    assert "/api/v1/profiles/7/homepage/?device=tv" in line
    assert re.search(r"\bstatus=200\b", line), line
    assert re.search(r"\bms=1234\b", line), line
    assert "sekrit" not in line


def test_gunicorns_own_lines_read_as_the_apps(monkeypatch, capsys) -> None:
    # given: gunicorn configured as web runs it, whose stderr carries the app's lines too
    import logging

    from django.conf import settings
    from gunicorn.config import Config

    monkeypatch.delenv("TONIGHT_WARM_ON_START", raising=False)  # the file sets a default
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "config" / "gunicorn.py")).items():
        if name in config.settings:
            config.set(name, value)
    log = config.logger_class(config)

    # when: the master says a worker timed out (the line on-call looks for)
    log.critical("WORKER TIMEOUT (pid:%s)", 7)

    # then: the line reads as the app's do, "time LEVEL logger [pid] message" (README,
    # "Logs"), not gunicorn's "[time] [pid] [LEVEL] message", which a reader of that
    # format took the pid of for the level
    (line,) = capsys.readouterr().err.splitlines()
    record = logging.makeLogRecord(
        {"name": "gunicorn.error", "levelname": "CRITICAL", "msg": "WORKER TIMEOUT (pid:7)"}
    )
    expected = logging.Formatter(settings.LOG_FORMAT).format(record)
    assert line.partition(" CRITICAL ")[2] == expected.partition(" CRITICAL ")[2], line
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", line.partition(" CRITICAL ")[0])


def image_command() -> list[str]:
    """The image's own command (the Dockerfile's CMD), as compose's web runs it too."""
    return json.loads(next(args for keyword, args in dockerfile_instructions() if keyword == "CMD"))


def test_gunicorn_sends_statsd_metrics_when_given_a_statsd_host(monkeypatch, capsys) -> None:
    # given: a statsd server (a UDP socket on this machine), and gunicorn as the image starts
    # it with --statsd-host added, as gunicorn's docs say to turn metrics on
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        statsd.settimeout(10)
        port = statsd.getsockname()[1]
        argv = [*image_command(), "--statsd-host", f"127.0.0.1:{port}"]
        cfg = gunicorn_settings(monkeypatch, argv, {})
        log = cfg.logger_class(cfg)

        # when: the master says a worker timed out
        log.critical("WORKER TIMEOUT (pid:%s)", 7)

        # then: statsd counts it (the project's logger class had turned gunicorn's statsd
        # logger off unless --logger-class named it too), and the line keeps the app's
        # format, "time LEVEL logger [pid] message"
        assert statsd.recv(512).startswith(b"gunicorn.log.critical:1|c"), "no metric sent"
    (line,) = capsys.readouterr().err.splitlines()
    assert " CRITICAL gunicorn.error [" in line, line


def test_gunicorn_opens_no_statsd_socket_without_a_statsd_host(monkeypatch) -> None:
    from gunicorn.instrument.statsd import Statsd

    cfg = gunicorn_settings(monkeypatch, image_command(), {})

    assert not isinstance(cfg.logger_class(cfg), Statsd)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (keyword, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (keyword.upper(), rest.strip())
        for keyword, _, rest in (line.partition(" ") for line in lines)
        if keyword and not keyword.startswith("#")
    ]


def locked_requirements() -> dict[str, str]:
    lock = ROOT / "requirements.lock"
    assert lock.exists(), "no requirements.lock: `make lock` writes it"
    pins = {}
    for line in lock.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version.strip(), f"not an exact pin: {line}"
            pins[name.strip()] = version.strip()
    return pins


def test_the_image_installs_the_locked_dependencies_and_nothing_else() -> None:
    # given: the image's recipe
    instructions = dockerfile_instructions()
    (base,) = [args for keyword, args in instructions if keyword == "FROM"]
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]

    # then: a base image that cannot move to another Debian release under the same tag
    # (python:3.11-slim went from bookworm to trixie), and one install, of exact pins only
    # (no resolution at build time), checked for completeness while building
    assert base.endswith("-bookworm") or "@sha256:" in base, base
    assert len(installs) == 1, installs
    (install,) = installs
    assert "--no-deps -r requirements.lock" in install, install
    assert "pip check" in install, install
    assert "COPY requirements.lock ./" in [f"{k} {a}" for k, a in instructions]


def test_the_lock_pins_every_runtime_dependency_at_the_version_the_suite_runs() -> None:
    # given: what the lock pins, and the runtime dependencies (pyproject's, and theirs) as
    # installed where this suite runs
    runtime_pins = runpy.run_path(str(ROOT / ".ci" / "lock_requirements.py"))["runtime_pins"]

    # then: the image gets exactly what the suite ran on: no more, no fewer, none other
    assert locked_requirements() == runtime_pins(ROOT / "pyproject.toml")


def gunicorn_settings(monkeypatch, argv: list[str], env: dict[str, str]):
    """The settings gunicorn runs with when started as ``argv`` in ``env``: its config file,
    then the environment's GUNICORN_CMD_ARGS, then the command line, as gunicorn reads them."""
    from gunicorn.app.wsgiapp import WSGIApplication

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.setattr(sys, "path", list(sys.path))  # gunicorn puts its directory first
    for name in ("TONIGHT_WARM_ON_START", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS"):
        monkeypatch.delenv(name, raising=False)  # the config file sets the first one
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]").cfg


def test_the_deployers_web_concurrency_sets_how_many_gunicorn_workers_serve(monkeypatch) -> None:
    # given: web as compose starts it, and the image's own command
    compose_web = compose()["services"]["web"]["command"]
    image_cmd = json.loads(
        next(args for keyword, args in dockerfile_instructions() if keyword == "CMD")
    )
    image_env = dict(
        pair.split("=", 1)
        for keyword, args in dockerfile_instructions()
        if keyword == "ENV"
        for pair in args.split()
    )

    # then: the deployer's WEB_CONCURRENCY is the worker count, as config/gunicorn.py says
    deployed = compose_app_env({"WEB_CONCURRENCY": "7"})
    assert gunicorn_settings(monkeypatch, compose_web, deployed).workers == 7
    assert (
        gunicorn_settings(monkeypatch, image_cmd, {**image_env, "WEB_CONCURRENCY": "7"}).workers
        == 7
    )
    # and: unset, both keep the four the image always ran
    assert gunicorn_settings(monkeypatch, compose_web, compose_app_env()).workers == 4
    assert gunicorn_settings(monkeypatch, image_cmd, image_env).workers == 4


def test_gunicorn_opens_no_control_socket_that_every_server_of_the_user_would_share(
    monkeypatch,
) -> None:
    # given: web as the image starts it, and as `make serve` does (the same config file)
    image_cmd = json.loads(
        next(args for keyword, args in dockerfile_instructions() if keyword == "CMD")
    )

    # then: no control socket, whose default path is one per user, not per server
    assert gunicorn_settings(monkeypatch, image_cmd, {}).control_socket_disable is True


#: Memory-backed in every Linux container (gunicorn's advice for its heartbeat files).
DEV_SHM = "/dev/shm"  # noqa: S108


def test_gunicorns_workers_heartbeat_in_memory_where_there_is_dev_shm(monkeypatch) -> None:
    # given: web as the image and compose start it, where /dev/shm is (every container)
    assert os.access(DEV_SHM, os.W_OK), "this test needs a writable /dev/shm"
    compose_web = compose()["services"]["web"]["command"]

    # then: each worker's heartbeat file is in memory, not on /tmp, which in a container is
    # the image's overlay filesystem: its writes stall with the disk, and gunicorn kills a
    # worker whose heartbeat stalls (gunicorn's docs, "Blocking OS calls")
    assert gunicorn_settings(monkeypatch, image_command(), {}).worker_tmp_dir == DEV_SHM
    assert gunicorn_settings(monkeypatch, compose_web, compose_app_env()).worker_tmp_dir == DEV_SHM

    # and: where there is none (macOS running `make serve`), gunicorn's own default
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: path != DEV_SHM and real_access(path, mode)
    )
    assert gunicorn_settings(monkeypatch, image_command(), {}).worker_tmp_dir is None


def test_compose_gives_web_a_metrics_folder_in_memory_and_the_deployers_token() -> None:
    # given: compose's services as a deployer who set no METRICS_TOKEN, and one who did
    services = compose()["services"]
    shipped = compose_app_env()
    token = secrets.token_urlsafe(32)
    scraped = compose_app_env({"METRICS_TOKEN": token})

    # then: web's workers count into files in memory (/dev/shm, as their heartbeats), which
    # a scrape adds up; metrics are off until the deployer gives the token
    folder = shipped["PROMETHEUS_MULTIPROC_DIR"]
    assert folder.startswith(f"{DEV_SHM}/"), folder
    assert shipped["METRICS_TOKEN"] == ""
    assert scraped["METRICS_TOKEN"] == token
    # and: web keeps every variable the app services share, and the others get neither of
    # web's two: nothing would empty a worker's folder, and no scrape reaches a worker
    shared = services["worker"]["environment"]
    assert shared.items() <= services["web"]["environment"].items()
    for name, service in services.items():
        if name != "web":
            environment = service.get("environment", {})
            assert not {"METRICS_TOKEN", "PROMETHEUS_MULTIPROC_DIR"} & set(environment), name


def test_gunicorn_empties_the_metrics_folder_when_its_master_starts(monkeypatch, tmp_path) -> None:
    # given: web as the image starts it, and the folder a previous server's workers left
    folder = tmp_path / "metrics"
    folder.mkdir()
    for name in ("counter_7.db", "histogram_7.db", "gauge_livesum_8.db"):
        (folder / name).write_bytes(b"\0" * 64)
    cfg = gunicorn_settings(monkeypatch, image_command(), {"PROMETHEUS_MULTIPROC_DIR": str(folder)})

    # when: the master starts
    cfg.on_starting(SimpleNamespace())

    # then: no count of the previous server is added to this one's
    assert folder.is_dir()
    assert list(folder.iterdir()) == []
    # and: a folder that is not there yet (a new container's /dev/shm) is made
    (folder).rmdir()
    cfg.on_starting(SimpleNamespace())
    assert folder.is_dir()


def test_gunicorn_keeps_a_dead_workers_counts_and_drops_its_live_gauges(monkeypatch, tmp_path):
    # given: the files of two workers, 8 and 9
    folder = tmp_path / "metrics"
    folder.mkdir()
    names = ("counter_8.db", "histogram_8.db", "gauge_livesum_8.db", "gauge_liveall_8.db")
    for name in (*names, "counter_9.db", "gauge_livesum_9.db"):
        (folder / name).write_bytes(b"\0" * 64)
    cfg = gunicorn_settings(monkeypatch, image_command(), {"PROMETHEUS_MULTIPROC_DIR": str(folder)})

    # when: worker 8 exits
    cfg.child_exit(SimpleNamespace(), SimpleNamespace(pid=8))

    # then: its counts still count (a counter never goes down when a worker is replaced);
    # its live gauges, true only while it lived, go; worker 9's files are untouched
    left = sorted(path.name for path in folder.iterdir())
    assert left == sorted(["counter_8.db", "histogram_8.db", "counter_9.db", "gauge_livesum_9.db"])


@pytest.mark.parametrize(
    ("broker", "warned"), [("", True), ("redis://redis:6379/0", False), ("amqp://rabbit//", False)]
)
def test_the_deploy_check_warns_when_tasks_would_run_inside_the_web_process(
    settings, broker, warned
) -> None:
    # Without a broker every task runs in the process that sends it: a retrain asked for in
    # admin runs inside the web request (which gunicorn kills after 30 s), and no worker or
    # beat runs the nightly retrains, the reaper or the artwork updates.
    settings.CELERY_BROKER_URL = broker

    def ids(deploy: bool) -> list[str]:
        return [m.id for m in checks.run_checks(include_deployment_checks=deploy)]

    assert ("tonight.W004" in ids(deploy=True)) == warned
    assert "tonight.W004" not in ids(deploy=False)  # the first local run has no broker


def test_gunicorn_leaves_believing_x_forwarded_proto_to_the_apps_opt_in(monkeypatch) -> None:
    # given: web as the image starts it, and a request from a proxy on the same host that
    # passed a client's own X-Forwarded-Proto through (gunicorn trusts 127.0.0.1 by default)
    from gunicorn.http import wsgi
    from gunicorn.http.message import Request
    from gunicorn.http.unreader import IterUnreader

    image_cmd = json.loads(
        next(args for keyword, args in dockerfile_instructions() if keyword == "CMD")
    )
    cfg = gunicorn_settings(monkeypatch, image_cmd, {})
    raw = b"GET /api/v1/health/ HTTP/1.1\r\nHost: a\r\nX-Forwarded-Proto: https\r\n\r\n"
    proxy = ("127.0.0.1", 50000)

    # when: gunicorn makes the request's WSGI environ
    _, environ = wsgi.create(
        Request(cfg, IterUnreader([raw]), proxy, 1), None, proxy, ("127.0.0.1", 8000), cfg
    )

    # then: the scheme is the connection's; only TRUST_X_FORWARDED_PROTO makes Django read
    # the header (settings.SECURE_PROXY_SSL_HEADER), so https cannot be claimed without it
    assert environ["wsgi.url_scheme"] == "http"


#: A serving process's preload as gunicorn's master runs it (config/wsgi.py, warming on),
#: with warming finding one table stale at its end, then a fork as gunicorn forks a worker:
#: the child prints whether that table's re-read is still under way in it.
FORKED_MID_REFRESH = """
import os
import threading

import django

django.setup()
from recommendations.serving import warmup
from recommendations.serving.refresh import Refreshing

reads = []


def load():
    if reads:  # the re-read: slow, as a catalogue's is
        threading.Event().wait(2)
    reads.append(1)
    return len(reads)


table = Refreshing(load, name="a table")


def serving_warm():
    table.get(60.0)
    table.expire()  # changed while warming (a policy update committed, a version activated)
    table.get(60.0)  # so it is re-read in the background


warmup.serving_warm = serving_warm
import config.wsgi

read, write = os.pipe()
if os.fork() == 0:
    os.write(write, b"refreshing" if table.refreshing else b"idle")
    os._exit(0)
os.wait()
print(os.read(read, 100).decode())
"""


def _preload_env() -> dict[str, str]:
    """A serving process's environment as compose gives web, warming on, on this database."""
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return (
        env
        | compose_app_env()
        | {
            "DATABASE_URL": current_database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "TONIGHT_WARM_ON_START": "1",
            "PYTHONPATH": str(ROOT),
        }
    )


def test_gunicorn_forks_its_workers_after_warmings_background_reads_ended() -> None:
    # Warming in the master (preload_app) can find a table stale and start its re-read in a
    # background thread (recommendations.serving.refresh, the artwork state). A worker forked
    # meanwhile inherits the flag saying a re-read is under way but not the thread: that
    # table was never re-read in it again, serving what the master read until a restart.
    result = run_python("-c", FORKED_MID_REFRESH, env=_preload_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["idle"], result.stdout + result.stderr


#: A serving process's preload (config/wsgi.py, warming on) where warming fails, as it does
#: on one served version whose artefact file is missing or unreadable.
WARMING_FAILS = """
import django

django.setup()
from recommendations.serving import warmup


def serving_warm():
    raise FileNotFoundError("media/models/17/model.npz")


warmup.serving_warm = serving_warm
import config.wsgi

print("serving" if callable(config.wsgi.application) else "no application")
"""


def test_a_failed_warm_up_starts_the_server_cold_rather_than_not_at_all() -> None:
    # Warming is a head start: a version whose artefacts are missing (a media volume restored
    # older than the database) fails only its own scopes' pages when served cold. Raised from
    # the preload, it stopped gunicorn's master before it listened: web restarted forever,
    # every homepage and /healthz down with it.
    result = run_python("-c", WARMING_FAILS, env=_preload_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["serving"], result.stdout + result.stderr
    # Said, with its cause, where on-call reads: the log, at ERROR.
    assert re.search(r" ERROR config\.wsgi \[\d+\] Warming .*failed", result.stderr), result.stderr
    assert "media/models/17/model.npz" in result.stderr
