"""A write whose body comes without a ``Content-Length`` is refused (411), never read as empty.

Under gunicorn a chunked body (``Transfer-Encoding: chunked``) reaches Django with no
``CONTENT_LENGTH``, and Django and DRF then read no body at all: a signal batch was
refused for missing ``events`` and a profile for missing ``name``, as if the client had
sent nothing. The tests that matter here drive a real gunicorn on the test database (its
data committed: ``transaction=True``), since the test client cannot send a chunked body.
"""

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.services import api_token_create
from profiles.models import Profile
from recommendations.models import Signal
from tests.factories import AccountFactory, AvailabilityFactory, ProfileFactory, TitleFactory
from tests.processes import ROOT, current_database_url

pytestmark = pytest.mark.django_db(transaction=True)

#: How long a request may take before the test takes the server to be waiting for more body.
ANSWER_SECONDS = 10


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[int]:
    """``gunicorn -c config/gunicorn.py config.wsgi`` as web runs it, on the test database.

    One sync worker, started cold (nothing is trained here); its port is returned.
    """
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": current_database_url(),
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "CONN_MAX_AGE": "0",
        "TONIGHT_WARM_ON_START": "0",
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("gunicorn-media")),
    }
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "--workers=1",
            "--no-control-socket",  # its default path is one per user, shared by every server
            f"--bind=127.0.0.1:{port}",
            "config.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the worker is stopped with it
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited: {process.stderr.read().decode()[-2000:]}")
            try:
                status, _, _ = _request(port, "GET", "/healthz")
            except OSError:
                status = None
            if status == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer /healthz within a minute")
            time.sleep(0.2)
        yield port
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    chunked: bool = False,
    finish: bool = True,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on its own connection: ``body`` with its length, or chunked.

    ``finish=False`` sends one chunk of the body and never its last chunk, as a client
    still streaming would: the answer can then only come from a server that does not wait
    for the rest.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_SECONDS)
    try:
        connection.putrequest(method, path)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif body or method != "GET":
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if chunked:
            if body:
                connection.send(b"%x\r\n%s\r\n" % (len(body), body))
            if finish:
                connection.send(b"0\r\n\r\n")
        elif body:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def _token_headers(account) -> dict[str, str]:
    key = api_token_create(account=account, name="chunked client")[1]
    return {"Authorization": f"Token {key}", "Content-Type": "application/json"}


def _batch(title) -> bytes:
    event = {
        "kind": "play_start",
        "title": title.pk,
        "device": "tv",
        "occurred_at": (timezone.now() - dt.timedelta(minutes=5)).isoformat(),
        "client_event_id": str(uuid.uuid4()),
    }
    return json.dumps({"events": [event]}).encode()


def _assert_length_required(status: int, headers: http.client.HTTPMessage, body: bytes) -> None:
    assert status == 411, body[:300]
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["code"] == "length_required"
    assert "Content-Length" in answer["message"]
    assert answer["errors"] == {}
    # Like every answer under /api/v1/: one account's, kept by no cache.
    assert "no-store" in headers["Cache-Control"]


def test_a_chunked_signal_batch_is_refused_for_its_missing_length_not_read_as_empty(server):
    # given: a profile with a title it may signal, and a batch for it
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    title = TitleFactory()
    AvailabilityFactory(title=title, region=account.home_region)
    path = f"/api/v1/profiles/{profile.pk}/signals/"
    headers = _token_headers(account)

    # when: the batch is sent chunked, then with its length
    chunked = _request(server, "POST", path, body=_batch(title), headers=headers, chunked=True)
    stored = Signal.objects.count()
    sized = _request(server, "POST", path, body=_batch(title), headers=headers)

    # then: the chunked one is a 411 saying what to do (it was a 400 saying `events` were
    # missing), stores nothing, and the same batch with its length is stored
    _assert_length_required(*chunked)
    assert stored == 0
    assert sized[0] == 200, sized[2][:300]
    assert Signal.objects.count() == 1


def test_a_chunked_profile_is_refused_for_its_missing_length_not_read_as_empty(server):
    # given: a household of one profile
    account = AccountFactory()
    ProfileFactory(account=account)
    headers = _token_headers(account)
    body = json.dumps({"name": "Chunked"}).encode()
    path = "/api/v1/profiles/"

    # when
    chunked = _request(server, "POST", path, body=body, headers=headers, chunked=True)
    sized = _request(server, "POST", path, body=body, headers=headers)

    # then: a 411 where it was "name: This field is required.", and nothing created by it
    _assert_length_required(*chunked)
    assert sized[0] == 201, sized[2][:300]
    assert list(Profile.objects.filter(name="Chunked").values_list("name", flat=True)) == [
        "Chunked"
    ]


@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_a_chunked_change_of_a_profile_is_refused_and_changes_nothing(server, method):
    account = AccountFactory()
    profile = ProfileFactory(account=account, name="Asha")
    body = json.dumps({"name": "Renamed"}).encode()

    status, headers, answer = _request(
        server,
        method,
        f"/api/v1/profiles/{profile.pk}/",
        body=body,
        headers=_token_headers(account),
        chunked=True,
    )

    _assert_length_required(status, headers, answer)
    assert Profile.objects.filter(pk=profile.pk, name="Asha").exists()


def test_a_chunked_body_is_refused_without_waiting_for_it_or_for_a_token(server):
    # given: a client streaming a batch whose end it has not sent, with no token at all
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    path = f"/api/v1/profiles/{profile.pk}/signals/"
    headers = {"Content-Type": "application/json"}

    # when
    answer = _request(
        server, "POST", path, body=b'{"events": [', headers=headers, chunked=True, finish=False
    )

    # then: answered at once (the body is never read, so its end is not awaited), and the
    # answer is about the framing, which no token would change
    _assert_length_required(*answer)


def test_a_read_with_a_transfer_encoding_is_answered_as_before(server):
    # A GET's body is read by no operation: its framing changes nothing.
    account = AccountFactory()
    ProfileFactory(account=account)

    status, _, body = _request(
        server, "GET", "/api/v1/profiles/", headers=_token_headers(account), chunked=True
    )

    assert status == 200, body[:300]
    assert len(json.loads(body)["results"]) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/api/v1/profiles/{profile_id}/homepage/", 405),
        ("DELETE", "/api/v1/titles/{title_id}/", 405),
        ("POST", "/api/v1/profiles/{profile_id}/nothing-here/", 404),
    ],
)
def test_a_chunked_write_that_no_operation_takes_is_its_405_or_404_not_a_411(
    server, method, path, status
):
    # given: a household's token, and a write no operation of the path takes (or no path)
    account = AccountFactory()
    profile = ProfileFactory(account=account)
    url = path.format(profile_id=profile.pk, title_id=TitleFactory().pk)

    # when: sent chunked, its last chunk never sent
    answer, headers, body = _request(
        server, method, url, body=b'{"name": "x"}', headers=_token_headers(account),
        chunked=True, finish=False,
    )  # fmt: skip

    # then: what is wrong with it, as sized it would be (a 411 sent the client to add a
    # length only to meet this next), and still answered without waiting for the body
    assert answer == status, body[:300]
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["code"] == ("method_not_allowed" if status == 405 else "not_found")
