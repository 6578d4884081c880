"""Project-wide checks: migrations, schema, the deployers' compose file."""

import shutil
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command, get_commands
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_migrations_are_committed_for_every_model_change():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_openapi_schema_builds_without_warnings():
    out = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "/api/v1/profiles/" in out.getvalue()


@pytest.mark.django_db
def test_docs_page_is_served():
    response = Client().get("/api/docs/")
    assert response.status_code == 200


def test_compose_services_run_commands_that_exist_in_the_project():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert {"pgdata", "media"} <= set(compose["volumes"])

    for name in ("web", "worker", "beat"):
        command = " ".join(services[name]["command"])
        if "gunicorn" in command:
            assert "config.wsgi" in command
            assert (ROOT / "config" / "wsgi.py").exists()
            assert shutil.which("gunicorn") or (ROOT / ".venv/bin/gunicorn").exists()
        if "celery" in command:
            assert "-A config" in command
            assert (ROOT / "config" / "celery.py").exists()
        if "manage.py" in command:
            for word in command.split("manage.py ")[1:]:
                subcommand = word.split()[0]
                assert subcommand in get_commands(), f"no manage.py {subcommand}"
    build = services["web"].get("build") or compose["x-app"]["build"]
    assert (ROOT / build / "Dockerfile").exists()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            source = line.split()[1]
            assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
