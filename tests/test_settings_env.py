"""Settings from the environment: a value they cannot read stops the start, and the error
names the variable, the value and what was wanted, so an operator with forty variables set
knows which one to correct."""

import os
import runpy

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from config.environment import Env
from tests.processes import ROOT, run_python


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict:
    """What ``config/settings.py`` makes of ``env`` (the rest of the environment as it is)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "config" / "settings.py"))


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        pytest.param("TONIGHT_PAGE_LOG_KEEP_DAYS", "abc", "is not a whole number", id="int"),
        pytest.param("CONN_MAX_AGE", "1.5", "is not a whole number", id="int-not-whole"),
        pytest.param("SECURE_HSTS_SECONDS", "forever", "is not a whole number", id="hsts"),
        pytest.param("TONIGHT_RETRAIN_GATE_MARGIN", "lots", "is not a number", id="float"),
        # django-environ dropped every character but digits, commas, dots and minus: 10.0
        pytest.param("TONIGHT_RETRAIN_STALE_SECONDS", "10m", "is not a number", id="float-unit"),
        pytest.param("TONIGHT_ARTWORK_CHECK_SECONDS", "nan", "is not a number", id="float-nan"),
        # django-environ read a word it does not know as false: debug off, silently
        pytest.param("DEBUG", "maybe", "is not a boolean", id="bool"),
        pytest.param("TONIGHT_RETRAIN_TUNE", "1.0", "is not a boolean", id="bool-not-whole"),
        # and an empty one: secure cookies off, where the default is on
        pytest.param("SESSION_COOKIE_SECURE", "", "is not a boolean", id="bool-empty"),
        pytest.param("TONIGHT_SIGNAL_WEIGHTS", "{play: 1}", "is not JSON", id="json"),
        pytest.param("PREPARE_THRESHOLD", "twice", "is not a whole number or none", id="hand"),
        # DRF read "5/minute" by its first letter and failed on "five/min" at the first
        # wrong PIN, a 500 on the unlock endpoint rather than a refused start
        pytest.param("PIN_UNLOCK_RATE", "five/min", "is not a rate", id="rate"),
        pytest.param("PIN_UNLOCK_DAILY_RATE", "20/fortnight", "is not a rate", id="rate-period"),
        pytest.param("PIN_UNLOCK_DAILY_RATE", "0/day", "is not a rate", id="rate-zero"),
        # DRF would read "5/ms" as five a minute (its first letter)
        pytest.param("PIN_UNLOCK_RATE", "5/ms", "is not a rate", id="rate-letter-plural"),
        pytest.param("HOMEPAGE_RATE", "1200/week", "is not a rate", id="homepage-rate"),
        pytest.param("SIGNALS_RATE", "lots/hour", "is not a rate", id="signals-rate"),
        pytest.param("HOUSEHOLD_READS_RATE", "0/hour", "is not a rate", id="reads-rate"),
        # logging refused it at django.setup(): "Unable to configure root logger", no name
        pytest.param("LOG_LEVEL", "loud", "is not a log level", id="log-level"),
    ],
)
def test_a_value_that_does_not_read_is_refused_by_its_name(
    monkeypatch, name, value, expected
) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        settings_from_env(monkeypatch, **{name: value})

    assert str(refused.value).startswith(f"{name}={value!r} {expected}"), refused.value


@pytest.mark.parametrize(
    ("value", "read"),
    [
        *((word, True) for word in ("1", "true", "True", "YES", "on", " On ", "y", "ok", "2")),
        *((word, False) for word in ("0", "false", "FALSE", "no", "No", "off", "n", "00")),
    ],
)
def test_every_boolean_django_environ_knew_reads_as_before(monkeypatch, value, read) -> None:
    monkeypatch.setenv("TONIGHT_TEST_FLAG", value)

    assert Env().bool("TONIGHT_TEST_FLAG", default=not read) is read


def test_a_log_level_reads_in_either_case(monkeypatch) -> None:
    # logging knows only the upper-case names: LOG_LEVEL=debug stopped every process's start.
    for value in ("debug", " Warning ", "ERROR"):
        level = settings_from_env(monkeypatch, LOG_LEVEL=value)["LOGGING"]["root"]["level"]
        assert level == value.strip().upper(), value


def test_a_number_reads_as_python_writes_it(monkeypatch) -> None:
    # django-environ read 1e3 as 13.0 (the "e" dropped)
    loaded = settings_from_env(
        monkeypatch,
        TONIGHT_RETRAIN_QUEUED_SECONDS="1e3",
        TONIGHT_RETRAIN_GATE_MARGIN=" 0.05 ",
        TONIGHT_RANKER_LOG_DAYS="14",
    )

    assert loaded["TONIGHT"]["RETRAIN_QUEUED_SECONDS"] == 1000.0
    assert loaded["TONIGHT"]["RETRAIN_GATE_MARGIN"] == 0.05
    assert loaded["TONIGHT"]["RANKER_LOG_DAYS"] == 14.0


def test_both_wrong_pin_limits_are_read_from_the_environment(monkeypatch) -> None:
    loaded = settings_from_env(
        monkeypatch, PIN_UNLOCK_RATE="3/minute", PIN_UNLOCK_DAILY_RATE=" 10/day "
    )

    rates = loaded["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]
    assert (rates["pin_unlock"], rates["pin_unlock_day"]) == ("3/minute", "10/day")


def test_the_household_request_limits_are_read_from_the_environment(monkeypatch) -> None:
    loaded = settings_from_env(
        monkeypatch, HOMEPAGE_RATE="100/min", SIGNALS_RATE=" 5/s ", HOUSEHOLD_READS_RATE="9/day"
    )

    rates = loaded["REST_FRAMEWORK"]["DEFAULT_THROTTLE_RATES"]
    assert (rates["homepage"], rates["signals"], rates["household_reads"]) == (
        "100/min",
        "5/s",
        "9/day",
    )


def test_the_refusal_says_what_unsetting_the_variable_would_give(monkeypatch) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"unset it for the default \(90\)"):
        settings_from_env(monkeypatch, TONIGHT_PAGE_LOG_KEEP_DAYS="ninety")


def test_a_database_url_that_does_not_read_is_refused_without_showing_its_password(
    monkeypatch,
) -> None:
    for url in (
        "postgres://tonight:s3cret@db:fivefourthreetwo/tonight",
        "tonight-db",
        # A misspelt scheme: django-environ took it for a backend's module, and Django's
        # error ("'postgress' isn't an available database backend") named no variable.
        "postgress://tonight:s3cret@db:5432/tonight",
    ):
        with pytest.raises(ImproperlyConfigured) as refused:
            settings_from_env(monkeypatch, DATABASE_URL=url)

        assert str(refused.value).startswith("DATABASE_URL "), refused.value
        assert "s3cret" not in str(refused.value)


def test_a_process_with_a_value_that_does_not_read_stops_naming_it() -> None:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "DATABASE_URL") if k in os.environ}
    env |= {"SECRET_KEY": "test-only-secret-key", "TONIGHT_PAGE_LOG_KEEP_DAYS": "abc"}

    result = run_python("manage.py", "check", env=env)

    assert result.returncode != 0
    assert "TONIGHT_PAGE_LOG_KEEP_DAYS='abc' is not a whole number" in result.stderr


def test_a_value_beginning_with_a_dollar_is_read_as_written(monkeypatch) -> None:
    # django-environ read "$NAME" as the value of NAME: a generated secret key beginning
    # with "$" failed the start, naming the rest of the key as a variable to set
    key = "$w9(k2#x" + "q" * 42

    read = settings_from_env(monkeypatch, SECRET_KEY=key)

    assert read["SECRET_KEY"] == key


def test_gunicorns_worker_count_is_refused_by_its_name_too(monkeypatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "two")

    with pytest.raises(ImproperlyConfigured, match=r"^WEB_CONCURRENCY='two' is not a whole"):
        runpy.run_path(str(ROOT / "config" / "gunicorn.py"))


def test_production_without_a_database_url_refuses_to_start_naming_it(monkeypatch) -> None:
    # The first local run's SQLite file is the default only in development. With debug off
    # it was a file inside each container: migrate filled its own, web opened an empty one
    # (every page a 500 "no such table" while /healthz, a SELECT 1, stayed green), and
    # whatever was written was gone with the container.
    monkeypatch.delenv("DATABASE_URL", raising=False)

    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL is not set\. "):
        settings_from_env(monkeypatch, DEBUG="0")

    local = settings_from_env(monkeypatch, DEBUG="1")
    assert local["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"
    # SQLite when asked for by name, debug or not (the suite's SQLite runs do)
    asked = settings_from_env(monkeypatch, DEBUG="0", DATABASE_URL="sqlite://:memory:")
    assert asked["DATABASES"]["default"]["ENGINE"] == "django.db.backends.sqlite3"


@pytest.mark.parametrize("value", ["", ",", " , "], ids=["empty", "comma", "blanks"])
def test_production_with_no_allowed_host_refuses_to_start_naming_it(monkeypatch, value) -> None:
    # Django answered every request 400 (Bad Request) while /healthz, which answers before
    # host validation, stayed green: a site down behind a healthy container, and only
    # `check --deploy` said why (security.W020, a warning).
    with pytest.raises(ImproperlyConfigured, match=r"^ALLOWED_HOSTS is empty\. "):
        settings_from_env(monkeypatch, DEBUG="0", ALLOWED_HOSTS=value)

    # Development serves localhost whatever it says (Django's own rule with DEBUG on)
    assert settings_from_env(monkeypatch, DEBUG="1", ALLOWED_HOSTS=value)["ALLOWED_HOSTS"] == []


def test_allowed_hosts_are_read_without_the_spaces_around_them(monkeypatch) -> None:
    # "a.example, b.example" allowed " b.example", which no Host header is
    loaded = settings_from_env(monkeypatch, ALLOWED_HOSTS=" a.example, b.example ,")

    assert loaded["ALLOWED_HOSTS"] == ["a.example", "b.example"]


def test_a_process_with_no_allowed_host_stops_naming_it() -> None:
    # gunicorn's master loads the settings before it listens (preload_app), as migrate does
    # before compose starts anything else: the start fails, not every request.
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "DATABASE_URL") if k in os.environ}
    env |= {"SECRET_KEY": "test-only-secret-key", "DEBUG": "0", "ALLOWED_HOSTS": ""}

    result = run_python("-c", "import config.wsgi", env=env)

    assert result.returncode != 0
    assert "ALLOWED_HOSTS is empty" in result.stderr, result.stderr[-2000:]


def test_cors_origins_are_read_without_the_spaces_around_them(monkeypatch) -> None:
    origins = " https://watch.example.com, http://localhost:3000 ,http://[::1]:8080,"

    loaded = settings_from_env(monkeypatch, CORS_ALLOWED_ORIGINS=origins)

    assert loaded["CORS_ALLOWED_ORIGINS"] == [
        "https://watch.example.com",
        "http://localhost:3000",
        "http://[::1]:8080",
    ]


def test_a_cors_origin_whose_host_has_an_underscore_is_taken(monkeypatch) -> None:
    # Browsers send such hosts (a development machine's my_app.local): refused, the
    # process did not start.
    loaded = settings_from_env(monkeypatch, CORS_ALLOWED_ORIGINS="http://my_app.local:3000")

    assert loaded["CORS_ALLOWED_ORIGINS"] == ["http://my_app.local:3000"]


def test_no_cors_origin_is_allowed_unless_one_is_set(monkeypatch) -> None:
    monkeypatch.delenv("CORS_ALLOWED_ORIGINS", raising=False)

    assert settings_from_env(monkeypatch)["CORS_ALLOWED_ORIGINS"] == []


@pytest.mark.parametrize(
    "origin",
    [
        # read as the whole host by django-cors-headers, which only its own system check
        # (not run by gunicorn) refuses: one web app's path opened the API to every page there
        pytest.param("https://watch.example.com/", id="trailing-slash"),
        pytest.param("https://watch.example.com/app", id="path"),
        # the browser sends none of these, so none would ever match: every call blocked,
        # and nothing in the server's log to say why
        pytest.param("watch.example.com", id="no-scheme"),
        pytest.param("https://Watch.example.com", id="upper-case"),
        pytest.param("https://watch.example.com:443", id="default-port"),
        pytest.param("http://localhost:80", id="default-port-http"),
        pytest.param("http://localhost:99999", id="no-port"),
        # a browser writes a port and an address only in their shortest form
        pytest.param("http://localhost:03000", id="port-leading-zero"),
        pytest.param("http://127.000.0.1:3000", id="ipv4-leading-zero"),
        pytest.param("http://10.1:3000", id="ipv4-short"),
        pytest.param("http://[0:0::1]:8080", id="ipv6-uncompressed"),
        pytest.param("https://user@watch.example.com", id="user"),
        pytest.param("https://watch.example.com?x=1", id="query"),
        # every origin (or a sandboxed page's): a list of the web app's origins is wanted
        pytest.param("*", id="star"),
        pytest.param("null", id="null"),
    ],
)
def test_a_cors_origin_not_as_a_browser_sends_it_is_refused_by_its_name(
    monkeypatch, origin
) -> None:
    with pytest.raises(ImproperlyConfigured) as refused:
        settings_from_env(monkeypatch, CORS_ALLOWED_ORIGINS=f"https://ok.example,{origin}")

    assert str(refused.value).startswith(f"CORS_ALLOWED_ORIGINS holds {origin!r}, "), refused
    assert "unset it for no cross-origin access" in str(refused.value)


#: The libpq options that end a PostgreSQL connection whose server fell silent.
SILENT_SERVER_OPTIONS = (
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)


def database_options(monkeypatch: pytest.MonkeyPatch, url: str) -> dict:
    return settings_from_env(monkeypatch, DATABASE_URL=url)["DATABASES"]["default"]["OPTIONS"]


def test_a_postgresql_connection_gives_up_on_a_silent_server_within_half_a_minute(
    monkeypatch,
) -> None:
    options = database_options(monkeypatch, "postgres://tonight@db:5432/tonight")

    # then: an idle connection probes its server and gives up after the unanswered probes
    # (a request or a task hung on a query for the kernel's TCP timeout, some 15 minutes,
    # when a failover moved the server's address without a reset)
    assert options["keepalives"] == 1
    probes = options["keepalives_interval"] * options["keepalives_count"]
    assert 0 < options["keepalives_idle"] + probes <= 30
    # and one waiting on a query it sent gives up as soon, where libpq can say so
    if psycopg.pq.version() >= 120000:
        assert 0 < options["tcp_user_timeout"] <= 30_000
    else:
        assert "tcp_user_timeout" not in options


def test_the_database_url_sets_how_a_silent_server_is_given_up_on(monkeypatch) -> None:
    url = (
        "postgres://tonight@db:5432/tonight?keepalives_idle=60&keepalives_interval=10"
        "&keepalives_count=3&tcp_user_timeout=90000&connect_timeout=10"
    )

    options = database_options(monkeypatch, url)

    assert {name: options[name] for name in SILENT_SERVER_OPTIONS[1:]} == {
        "keepalives_idle": 60,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        "tcp_user_timeout": 90_000,
    }
    assert options["connect_timeout"] == 10
    assert database_options(monkeypatch, f"{url}&keepalives=0")["keepalives"] == 0


def test_sqlite_is_given_no_tcp_options(monkeypatch, tmp_path) -> None:
    options = database_options(monkeypatch, f"sqlite:///{tmp_path / 'db.sqlite3'}")

    assert not set(options) & set(SILENT_SERVER_OPTIONS)


@pytest.mark.django_db
def test_the_live_connection_carries_the_silent_server_options(settings) -> None:
    # given: the test database's connection, made from the settings as any process's is
    connection.ensure_connection()

    # then: libpq was given each option (Django passes OPTIONS on as they are)
    given = connection.connection.info.get_parameters()
    options = settings.DATABASES["default"]["OPTIONS"]
    for name in SILENT_SERVER_OPTIONS:
        if name in options:
            assert given.get(name) == str(options[name]), name
    assert "keepalives_idle" in given
