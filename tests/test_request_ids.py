"""Every answer carries a request id, which its log lines and a 500's body carry too.

A client's bug report ("the homepage failed at 21:04") matched nothing in the log: the
access line and the traceback had no field in common, and nothing the client saw named
either. Now the answer's ``X-Request-ID`` is in the access line, in every line the app
logs while answering it, and in a 500's JSON body.
"""

import http.client
import json
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.services import api_token_create
from tests.factories import AccountFactory
from tests.failing_urls import FAILING_PAGE, FAILING_PATH
from tests.processes import current_database_url, free_port, gunicorn_serving
from tests.test_logging import process_log

GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.mark.django_db
def test_every_answer_carries_its_own_request_id() -> None:
    # given
    client = Client()

    # when: the health check, an API refusal and a page
    answers = [client.get("/healthz"), client.get("/api/v1/profiles/"), client.get("/")]

    # then: each names its own id
    ids = [answer["X-Request-ID"] for answer in answers]
    assert all(GENERATED_ID.fullmatch(request_id) for request_id in ids), ids
    assert len(set(ids)) == len(ids)


@pytest.mark.django_db
def test_a_proxys_request_id_is_kept_and_a_malformed_one_replaced() -> None:
    # given: a proxy in front that names its requests, and a client that sends anything
    client = Client()

    # when
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="edge-7f3a.2026:01")
    too_long = client.get("/healthz", HTTP_X_REQUEST_ID="a" * 65)
    odd = client.get("/healthz", HTTP_X_REQUEST_ID='x" forged=1')

    # then: the proxy's id is the request's, so its log and ours match; what could forge a
    # field in a log line, or fill it, is replaced by one of ours
    assert kept["X-Request-ID"] == "edge-7f3a.2026:01"
    assert GENERATED_ID.fullmatch(too_long["X-Request-ID"])
    assert GENERATED_ID.fullmatch(odd["X-Request-ID"])


@pytest.mark.django_db
@pytest.mark.urls("tests.failing_urls")
def test_a_pages_500_names_its_request_for_the_staff_member_who_reports_it(settings) -> None:
    # given: a page of admin's or the console's, outside the API, that fails
    settings.DEBUG = False
    client = Client(raise_request_exception=False)

    # when
    answer = client.get(FAILING_PAGE)

    # then: the page a person sees names the request (they do not read headers)
    assert answer.status_code == 500
    assert answer["Content-Type"].startswith("text/html")
    assert answer["X-Request-ID"] in answer.content.decode()


@pytest.mark.django_db
def test_a_line_logged_while_answering_names_the_request() -> None:
    # given
    client = Client()

    # when: a request the app logs a line for (a 404 under the API), and a line outside any
    with process_log() as log:
        answer = client.get("/api/v1/no-such-thing/")
        logging.getLogger("recommendations.services.retraining").error("Retrain run 7 failed")

    # then: the request's line ends with its id; the other has none
    lines = log.getvalue().splitlines()
    (not_found,) = [line for line in lines if "Not Found: /api/v1/no-such-thing/" in line]
    assert not_found.endswith(f" request_id={answer['X-Request-ID']}"), not_found
    (retrain,) = [line for line in lines if "Retrain run 7" in line]
    assert retrain.endswith("Retrain run 7 failed"), retrain


def _get(
    port: int, path: str, headers: dict[str, str]
) -> tuple[int, http.client.HTTPMessage, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.fixture
def failing_server(transactional_db, tmp_path) -> Iterator[tuple[int, Path, Path]]:
    """gunicorn as web runs it, with one API operation that fails; its port, stdout, stderr."""
    port = free_port()
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "CONN_MAX_AGE": "0",
        "TONIGHT_WARM_ON_START": "0",
        "ROOT_URLCONF": "tests.failing_urls",
        "LOG_LEVEL": "INFO",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    with gunicorn_serving(port=port, env=env, stdout=out, stderr=err) as process:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {err.read_text()[-2000:]}")
            try:
                if _get(port, "/healthz", {})[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer /healthz within a minute")
            time.sleep(0.2)
        yield port, out, err


def test_a_500_names_its_request_in_its_answer_its_access_line_and_its_traceback(
    failing_server,
) -> None:
    # given: a household's app, with its token and a profile's unlock token
    port, out, err = failing_server
    account = AccountFactory()
    key = api_token_create(account=account, name="tv")[1]
    headers = {"Authorization": f"Token {key}", "X-Profile-Unlock": "sekrit-unlock-token"}

    # when: an operation fails
    status, answer_headers, body = _get(port, FAILING_PATH, headers)
    request_id = answer_headers["X-Request-ID"]

    # then: the client gets the API's one error shape, naming the request, not Django's HTML
    assert status == 500
    assert answer_headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["code"] == "server_error"
    assert answer["errors"] == {}
    assert answer["request_id"] == request_id
    assert GENERATED_ID.fullmatch(request_id)
    # the access line names it (gunicorn writes it once the answer is sent),
    deadline = time.monotonic() + 10
    while request_id not in out.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    (access,) = [line for line in out.read_text().splitlines() if FAILING_PATH in line]
    assert "status=500" in access
    assert access.endswith(f" request_id={request_id}"), access
    # the traceback is logged once, its first line naming the path, the request and who sent it
    logged = err.read_text()
    assert logged.count("Traceback (most recent call last)") == 1, logged
    assert logged.count("RuntimeError: the operation failed on purpose") == 1, logged
    (first,) = [line for line in logged.splitlines() if "Internal Server Error" in line]
    assert f"Internal Server Error: {FAILING_PATH} " in first, first
    assert f" request_id={request_id} user=account:{account.pk}" in first, first
    # and no credential is anywhere
    for secret in (key, "sekrit-unlock-token"):
        assert secret not in out.read_text() + logged
