"""Project-wide checks: migrations, schema, the deployers' image and compose file."""

import fnmatch
import html
import os
import re
import shutil
import subprocess
import tomllib
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.apps import apps
from django.conf import settings
from django.core.management import call_command, get_commands, load_command_class
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.processes import run_python

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
def test_docs_page_is_served_with_the_schema_it_reads():
    client = Client()
    response = client.get("/api/docs/")
    assert response.status_code == 200

    # The page's Swagger UI loads the schema from the URL its start-up script names (a
    # file of its own, for the Content-Security-Policy): that must be the schema.
    script_url = re.search(r'<script src="(/api/docs/\?[^"]*)"', response.content.decode())
    assert script_url, "the docs page loads no start-up script of its own"
    script = client.get(html.unescape(script_url.group(1)))
    assert script.status_code == 200
    named = re.search(r'\burl: "([^"]+)"', script.content.decode())
    assert named, "the docs page names no schema URL"
    assert named.group(1) == reverse("schema")
    schema = client.get(named.group(1), HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/profiles/{profile_id}/homepage/" in document["paths"]


def test_compose_services_run_commands_that_exist_in_the_project():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert {"pgdata", "media"} <= set(compose["volumes"])

    for name in ("migrate", "web", "worker", "beat"):
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


def test_make_clean_removes_every_cache_the_projects_tools_write():
    # `make -n` prints the recipe without running it. make lint's import-linter, make
    # test's hypothesis and README's schemathesis run each leave a directory of their own
    # at the top level: README's "make clean" removes "the tool caches", and left them.
    recipe = subprocess.run(
        ["make", "-n", "clean"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    written = {".venv", "var", ".pytest_cache", ".ruff_cache", ".import_linter_cache"}
    assert written | {".hypothesis", ".schemathesis"} <= set(recipe)


def test_the_build_context_leaves_out_local_state_and_keeps_what_the_image_copies():
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # .env holds the deployment's SECRET_KEY: not sent to the builder, nor copied by a later COPY .
    assert {".venv", "var", ".git", ".env"} <= set(ignored)
    copied = [
        line.split()[1]
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and "--from" not in line
    ]
    for source in copied:
        assert source.rstrip("/") not in ignored, f"the image copies {source}, which is ignored"


def test_compose_migrates_once_before_the_app_starts_and_restarts_what_runs():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]

    # One-shot schema and schedules; nothing that reads the tables starts before it succeeded.
    migrate = " ".join(services["migrate"]["command"])
    assert "manage.py migrate" in migrate
    assert "manage.py install_schedules" in migrate
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }, name
        assert "migrate" not in " ".join(services[name]["command"]), f"{name} races migrate"
    for name, service in services.items():
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name

    # The broker keeps queued runs across restarts.
    redis = services["redis"]
    assert "--appendonly yes" in " ".join(redis["command"])
    volume, target = redis["volumes"][0].split(":")[:2]
    assert target == "/data"
    assert volume in compose["volumes"]


def test_compose_waits_for_the_database_server_the_app_connects_to():
    # On a new volume the postgres image's entrypoint first runs a temporary server that
    # listens on its Unix socket only (listen_addresses=''), creates the database, stops it
    # and starts the real one. A bare pg_isready asks that socket: postgres turned healthy
    # while nothing listened on 5432, migrate connected into "connection refused", exited 1,
    # and (restart "no", service_completed_successfully) web, the workers and beat never
    # started on a first `docker compose up`. Over TCP the probe passes only for the real
    # server, which the app reaches the same way.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    test = compose["services"]["postgres"]["healthcheck"]["test"]
    probe = test[1] if test[0] == "CMD-SHELL" else " ".join(test[1:])
    assert re.search(r"\bpg_isready\b", probe), probe
    host = re.search(r"(?:-h|--host)[ =](\S+)", probe)
    assert host, f"pg_isready asks the Unix socket: {probe}"
    assert host[1] in ("127.0.0.1", "localhost", "postgres"), probe


def test_compose_lets_gunicorn_finish_its_requests_before_docker_kills_it(monkeypatch):
    # Docker sends SIGTERM, then SIGKILL after stop_grace_period (10 s unless set); gunicorn
    # stops taking connections and gives its workers graceful_timeout to finish theirs, and
    # each worker writes the API tokens' last-used times on its way out (worker_exit).
    import runpy

    from gunicorn.config import Config

    monkeypatch.delenv("TONIGHT_WARM_ON_START", raising=False)  # the file sets a default
    config = Config()
    for name, value in runpy.run_path(str(ROOT / "config" / "gunicorn.py")).items():
        if name in config.settings:
            config.set(name, value)
    web = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]

    grace = re.fullmatch(r"(\d+)s", str(web.get("stop_grace_period", "10s")))
    assert grace, web.get("stop_grace_period")
    assert int(grace[1]) > config.graceful_timeout >= config.timeout


def test_media_volume_is_mounted_where_the_image_made_it_the_app_users():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app = compose["services"]["web"]
    mount = next(v.split(":")[1] for v in app["volumes"] if v.startswith("media:"))
    assert app["environment"]["MEDIA_ROOT"] == mount

    # A new named volume copies the image directory's owner; a missing one is root's.
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert user, "the image should not run as root"
    before_user = dockerfile[: user.start()]
    assert re.search(rf"mkdir -p \S*{re.escape(mount)}\b", before_user)
    chown = re.search(rf"chown -R {user[1]} (\S+)", before_user)
    assert chown, "chown -R of the app's var directory before USER"
    assert mount.startswith(chown[1].rstrip("/") + "/")


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """The Dockerfile's ``COPY <source>... <dest>`` lines from the build context."""
    copies = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            copies.append((words[1:-1], words[-1]))
    return copies


def project_packages() -> set[str]:
    """Top-level packages of this checkout (directories with an ``__init__.py``)."""
    return {p.parent.name for p in ROOT.glob("*/__init__.py")}


def _project_dotted_paths(value: object) -> set[str]:
    """Project modules named by dotted strings anywhere inside a setting's value."""
    if isinstance(value, str):
        head = value.split(".")[0]
        dotted = re.fullmatch(r"[A-Za-z_][\w.]*", value)
        return {head} if dotted and head in project_packages() else set()
    if isinstance(value, dict):
        return set().union(*map(_project_dotted_paths, [*value.keys(), *value.values()]))
    if isinstance(value, list | tuple):
        return set().union(*map(_project_dotted_paths, value))
    return set()


def _url_modules(patterns: list) -> set[str]:
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            module = pattern.urlconf_module
            if hasattr(module, "__name__"):
                found.add(module.__name__)
            found |= _url_modules(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            callback = pattern.callback
            found.add(getattr(callback, "view_class", callback).__module__)
    return found


def modules_the_running_site_needs() -> set[str]:
    """Top-level project packages named by the settings, installed apps and URL map.

    The image runs whatever these name: a package left out of the image is an
    ImportError at build (collectstatic) or at the first request that reaches it.
    """
    needed = {"config"}  # compose runs `celery -A config` and `config.wsgi`
    for app_config in apps.get_app_configs():
        if Path(app_config.path).resolve().is_relative_to(ROOT):
            needed.add(app_config.name.split(".")[0])
    for name in dir(settings):
        if name.isupper() and name not in {"BASE_DIR", "VAR_DIR"}:
            needed |= _project_dotted_paths(getattr(settings, name))
    needed |= {m.split(".")[0] for m in _url_modules(get_resolver("config.urls").url_patterns)}
    return needed & project_packages()


def test_image_copies_and_packages_every_module_the_site_needs(production_hashing):
    # production_hashing: the settings as the site runs them, without the suite's hasher
    needed = modules_the_running_site_needs()
    assert {"config", "console", "recommendations", "profiles"} <= needed  # the walk works

    copied = {Path(source).parts[0] for sources, _ in dockerfile_copies() for source in sources}
    assert not needed - copied, f"Dockerfile does not COPY {sorted(needed - copied)}"

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    include = find["packages"]["find"]["include"]
    unpackaged = {m for m in needed if not any(fnmatch.fnmatch(m, p) for p in include)}
    assert not unpackaged, f"pyproject's packages.find leaves out {sorted(unpackaged)}"


def test_image_copies_the_translations():
    """Row copy is translated from LOCALE_PATHS' compiled catalogues, read at run time."""
    copied = {Path(source).parts[0] for sources, _ in dockerfile_copies() for source in sources}
    for path in settings.LOCALE_PATHS:
        relative = Path(path).resolve().relative_to(ROOT)
        assert relative.parts[0] in copied, f"Dockerfile does not COPY {relative}"
        assert list(Path(path).glob("*/LC_MESSAGES/django.mo")), f"no compiled catalogue in {path}"


# Run in the copied tree as the image would: the venv's editable install of this checkout
# must not supply a package the Dockerfile forgot to copy.
_IN_IMAGE_TREE = """
import os, runpy, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, os.getcwd())
sys.argv = sys.argv[1:]
runpy.run_path("manage.py", run_name="__main__")
import django.urls
import config.urls
from config.celery import app
app.loader.import_default_modules()
django.urls.get_resolver("config.urls").url_patterns
"""


@pytest.mark.slow
def test_image_build_step_runs_on_what_the_dockerfile_copies(tmp_path):
    # given: only what the Dockerfile copies, where it copies it
    dockerfile = (ROOT / "Dockerfile").read_text()
    build = re.search(
        r"(?P<env>(?:\w+=\S+ )*)python manage\.py (?P<args>collectstatic[^\n]*)", dockerfile
    )
    assert build, "the Dockerfile no longer runs collectstatic; update this test"
    image = tmp_path / "app"
    image.mkdir()
    for sources, dest in dockerfile_copies():
        for source in sources:
            target = image / dest / Path(source).name if dest.endswith("/") else image / dest
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / source, target)
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env |= dict(word.split("=", 1) for word in build["env"].split())
    env["OPENBLAS_NUM_THREADS"] = "1"

    # when: the build's collectstatic runs there, then the URL map and tasks are imported
    result = run_python(
        "-c", _IN_IMAGE_TREE, "manage.py", *build["args"].split(), env=env, cwd=image
    )

    # then
    assert result.returncode == 0, result.stderr[-3000:]
    assert (image / "var" / "static" / "console").is_dir()


def _project_commands() -> list[str]:
    """The manage.py commands the project's own apps define (not Django's or a library's).

    By where the app lives, but not by the checkout's prefix alone: ``make test`` puts the
    virtualenv inside the checkout (``.venv``), and its packages' apps live under it too.
    """
    ours = {
        config.name
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(ROOT)
        and not Path(config.path).relative_to(ROOT).parts[0].startswith(".")
    }
    return sorted(name for name, app in get_commands().items() if app in ours)


@pytest.mark.parametrize("name", _project_commands())
def test_every_option_of_a_project_command_says_what_it_does(name):
    # given the command's parser, as --help prints it
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("manage.py", name)

    # then every argument has help text (Django's own options have theirs)
    silent = [
        action.option_strings[0] if action.option_strings else action.dest
        for action in parser._actions
        if not (action.help or "").strip()
    ]
    assert silent == [], f"manage.py {name} --help says nothing of {silent}"
