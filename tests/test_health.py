"""``/healthz`` when the database does not answer: a 503 from a server that started.

A database host that drops packets (a failover moving its address, a partition) is not
one that refuses: a connection attempt waited for psycopg's default, 130 s. Warming in
gunicorn's master waited that long before the server listened, and each health probe
and request held its worker until gunicorn killed it (30 s, ``WORKER TIMEOUT``), the
probe getting no answer at all. A real gunicorn, and a real socket that takes
connections and never answers, since the waiting is in the driver and the server.
"""

import http.client
import json
import logging
import os
import socket
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client

from tests.failing_urls import QUERY_REFUSED_PATH
from tests.processes import free_port, gunicorn_serving


@pytest.fixture
def silent_database() -> Iterator[str]:
    """The URL of a database that takes connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # the kernel completes each connection; nothing ever accepts
        yield f"postgres://postgres@127.0.0.1:{listener.getsockname()[1]}/tonight"


def test_with_a_silent_database_the_server_starts_and_healthz_answers_503(
    silent_database, tmp_path
) -> None:
    # given: web as the image runs it (warming in the master), on a database that is silent
    port = free_port()
    err = tmp_path / "stderr"
    env = _web_env(silent_database, tmp_path, warm=True)
    with gunicorn_serving(port=port, env=env, stdout=tmp_path / "stdout", stderr=err) as process:
        # when: the orchestrator probes it, as compose's healthcheck does, until it answers
        answer = _first_answer(process, port, "/healthz", wait=120)
        live = _get(port, "/livez") if answer is not None else None

    # then: a 503 saying why, from a server that started (its warming failed, logged),
    # whose liveness check, which asks nothing of the database, still passes
    assert answer is not None, f"no answer to /healthz: {err.read_text()[-3000:]}"
    status, _, body = answer
    assert status == 503
    assert json.loads(body) == {"status": "database unreachable"}
    assert "Warming failed; serving starts cold" in err.read_text()
    assert live == (200, b'{"status": "ok"}')
    # and the log says why the probe failed, which the answer, anyone's to read, does not
    (why,) = [line for line in err.read_text().splitlines() if "Health check failed" in line]
    assert " WARNING config.middleware " in why, why
    assert "database unreachable: connection timeout expired" in why, why


def _web_env(database_url: str, tmp_path, *, warm: bool) -> dict[str, str]:
    """web's environment as the image runs it, on ``database_url``."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "TONIGHT_WARM_ON_START": "1" if warm else "0",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }


def _first_answer(
    process, port: int, path: str, *, wait: float, headers: dict[str, str] | None = None
) -> tuple[int, str | None, bytes] | None:
    """The first answer to ``GET path`` once the server listens: status, ``Retry-After``
    and body; None if none came within ``wait`` seconds, the server stopped, or a worker
    was killed mid-request or never answered."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and process.poll() is None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Retry-After"), response.read()
        except (ConnectionRefusedError, ConnectionResetError):
            time.sleep(0.2)  # not listening yet
        except (http.client.RemoteDisconnected, TimeoutError):
            return None
        finally:
            connection.close()
    return None


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.django_db
def test_livez_asks_nothing_of_the_database_and_comes_before_host_validation(
    django_assert_num_queries,
) -> None:
    # given: a probe by the container's own address, which production's hosts do not list
    client = Client(HTTP_HOST="10.1.2.3:8000")

    # when
    with django_assert_num_queries(0):
        live = client.get("/livez")

    # then: alive, whatever the database says: an orchestrator that restarts a process
    # whose liveness fails must not restart every web process because PostgreSQL is down
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}


def test_an_api_call_while_the_database_is_down_is_a_503_to_retry(tmp_path) -> None:
    # given: web, started, whose database refuses connections (restarting, failed over),
    # and which writes a traceback of it at most once an hour (the default is a minute: an
    # hour is longer than this test can take, however slow the machine)
    port = free_port()
    err = tmp_path / "stderr"
    env = _web_env(f"postgres://postgres@127.0.0.1:{free_port()}/tonight", tmp_path, warm=False)
    env["DATABASE_UNAVAILABLE_TRACEBACK_SECONDS"] = "3600"
    headers = {"Authorization": "Token abc"}
    with gunicorn_serving(port=port, env=env, stdout=tmp_path / "stdout", stderr=err) as process:
        # when: three calls, one after another, to its one worker
        answers = [
            _first_answer(process, port, "/api/v1/profiles/", headers=headers, wait=60)
            for _ in range(3)
        ]

    # then: not a 500 (a bug to report) but the API's shape for "try again shortly", which
    # clients and proxies retry, with the id that the log's line names
    assert None not in answers, err.read_text()[-3000:]
    bodies = []
    for status, retry_after, body in answers:
        assert status == 503, body
        assert retry_after == "10"
        data = json.loads(body)
        assert data["code"] == "database_unavailable"
        assert data["errors"] == {}
        bodies.append(data)
    logged = err.read_text()
    lines = [line for line in logged.splitlines() if "database unavailable" in line]
    assert len(lines) == 3, logged
    for line, data in zip(lines, bodies, strict=True):
        assert " ERROR " in line
        assert line.endswith(f" request_id={data['request_id']}"), line
    # and the cause's traceback is written once, whole; the calls after it, within the
    # interval, are one line each that says so, counting them: an outage of ten minutes at
    # 300 calls a second wrote 180,000 tracebacks
    first, second, third = lines
    whole, folded = logged.split(first, 1)[1].split(second, 1)
    assert whole.count("django.db.utils.OperationalError: connection failed") == 1, logged
    assert "Traceback (most recent call last)" not in folded, logged
    assert "traceback folded, 1 since the last one logged" in second, second
    assert "traceback folded, 2 since the last one logged" in third, third
    assert "OperationalError: connection failed" in third, third


@pytest.mark.django_db
@pytest.mark.urls("tests.failing_urls")
def test_a_query_the_database_refuses_every_time_is_a_500_not_a_503_to_retry(settings) -> None:
    # given: an operation whose query PostgreSQL, up and answering, refuses for a limit of
    # its own (an OperationalError, as a lost connection is)
    settings.DEBUG = False
    client = Client(raise_request_exception=False)

    # when
    answer = client.get(QUERY_REFUSED_PATH)

    # then: a fault to report, not "cannot reach its database, retry in 10 s", which
    # clients would retry for ever and on-call would look for an outage behind
    assert answer.status_code == 500, answer.content
    assert answer.json()["code"] == "server_error"
    assert "Retry-After" not in answer


def test_a_503s_log_line_escapes_the_path_it_names(caplog) -> None:
    # The path is the client's: a line break in it would start a forged log line (Django
    # escapes it in its own request lines).
    from types import SimpleNamespace

    from django.db import OperationalError

    from config.api.exceptions import exception_handler

    request = SimpleNamespace(method="GET", path="/api/v1/x\nERROR forged", request_id="r1")
    with caplog.at_level("ERROR", logger="config.api.exceptions"):
        response = exception_handler(OperationalError("gone"), {"request": request})

    assert response.status_code == 503
    (record,) = [r for r in caplog.records if r.name == "config.api.exceptions"]
    assert "\n" not in record.getMessage()
    assert "/api/v1/x\\nERROR forged" in record.getMessage()


def test_a_503s_traceback_is_logged_whole_again_once_its_interval_is_over(
    caplog, monkeypatch, settings
) -> None:
    # given: this process's throttle of the tracebacks, on a clock the test turns
    from types import SimpleNamespace

    from django.db import OperationalError

    from config.api import exceptions

    now = [1000.0]
    monkeypatch.setattr(
        exceptions, "database_tracebacks", exceptions.TracebackThrottle(clock=lambda: now[0])
    )
    settings.DATABASE_UNAVAILABLE_TRACEBACK_SECONDS = 60
    request = SimpleNamespace(method="GET", path="/api/v1/profiles/", request_id="r1")

    def call_at(seconds: float) -> logging.LogRecord:
        now[0] = 1000.0 + seconds
        caplog.clear()
        with caplog.at_level("ERROR", logger="config.api.exceptions"):
            exceptions.exception_handler(OperationalError("gone"), {"request": request})
        (record,) = [r for r in caplog.records if r.name == "config.api.exceptions"]
        return record

    # when: calls during an outage, the last two a minute and more after the first
    records = [call_at(seconds) for seconds in (0, 1, 59.9, 60, 61)]

    # then: whole, folded twice, whole again naming how many it folded, folded
    assert [record.exc_info is not None for record in records] == [True, False, False, True, False]
    assert records[0].getMessage() == "database unavailable: GET /api/v1/profiles/"
    assert "traceback folded, 2 since the last one logged" in records[2].getMessage()
    assert records[3].getMessage().endswith("(2 tracebacks folded since the last one)")
    assert "traceback folded, 1 since the last one logged" in records[4].getMessage()
