"""Token last-used times: noted by authentication, written in batches, never on every request."""

import datetime as dt
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create
from accounts.token_usage import RESOLUTION_SECONDS, TokenUsage, token_usage
from tests.conftest import token_client
from tests.factories import AccountFactory
from tests.served import served

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _nothing_pending():
    token_usage.flush()
    yield
    token_usage.flush()


def test_a_request_notes_the_token_without_writing_it(account):
    client = token_client(account)
    token = ApiToken.objects.get(account=account)

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/profiles/").status_code == 200

    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("UPDATE")]
    token.refresh_from_db()
    assert token.last_used_at is None
    assert token_usage.pending() == 1


def test_a_flush_writes_every_noted_token_in_one_statement(account):
    tokens = [api_token_create(account=account, name=f"device {i}")[0] for i in range(3)]
    now = timezone.now()
    usage = TokenUsage(flush_seconds=3600)
    for token in tokens:
        usage.note(token_pk=token.pk, stored=None, now=now)

    with CaptureQueriesContext(connection) as queries:
        assert usage.flush() == 3

    assert len(queries) == 1
    assert {t.last_used_at for t in ApiToken.objects.filter(account=account)} == {now}
    assert usage.pending() == 0


def test_a_token_written_within_the_resolution_is_not_noted_again(account):
    token = api_token_create(account=account)[0]
    now = timezone.now()
    usage = TokenUsage(flush_seconds=3600)

    recently = now - dt.timedelta(seconds=RESOLUTION_SECONDS - 5)
    usage.note(token_pk=token.pk, stored=recently, now=now)
    assert usage.pending() == 0
    long_ago = now - dt.timedelta(seconds=RESOLUTION_SECONDS + 5)
    usage.note(token_pk=token.pk, stored=long_ago, now=now)
    assert usage.pending() == 1


def test_noting_never_writes_even_when_a_batch_is_due(account):
    token = api_token_create(account=account)[0]
    usage = TokenUsage(flush_seconds=0)

    with CaptureQueriesContext(connection) as queries:
        usage.note(token_pk=token.pk, stored=None, now=timezone.now())

    assert len(queries) == 0
    assert usage.pending() == 1


def test_the_request_that_finishes_once_the_batch_is_due_writes_it(account, monkeypatch):
    # given: a device's token noted by one request, in a process that flushes every minute
    client = token_client(account)
    token = ApiToken.objects.get(account=account)
    monkeypatch.setattr(token_usage, "flush_seconds", 60)
    monkeypatch.setattr(token_usage, "_flushed_at", time.monotonic())
    assert client.get("/api/v1/profiles/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is None

    # when: a request finishes once the minute has passed (any request: it notes nothing)
    monkeypatch.setattr(token_usage, "_flushed_at", time.monotonic() - 60)
    assert client.get("/healthz").status_code == 200

    # then
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token_usage.pending() == 0


def test_a_flush_the_database_refuses_at_a_requests_end_keeps_the_times(account, monkeypatch):
    """The write runs as the server closes the response: it must neither raise there nor
    lose what it was to write."""
    # given: a process due to write, on a database that takes reads but refuses writes
    client = token_client(account)
    token = ApiToken.objects.get(account=account)
    monkeypatch.setattr(token_usage, "flush_seconds", 0)
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT refused")
        cursor.execute("SET LOCAL transaction_read_only = on")

    # when
    status = client.get("/api/v1/profiles/").status_code

    # then: the page was served; the time waits for the next request's end
    with connection.cursor() as cursor:
        cursor.execute("ROLLBACK TO SAVEPOINT refused")
    assert status == 200
    assert token_usage.pending() == 1
    assert client.get("/healthz").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_requests_end_writes_the_batch_before_its_connection_is_closed(settings, monkeypatch):
    """Connected after close_old_connections, the flush would find a connection past
    CONN_MAX_AGE closed, open another and leave it open until the next request."""
    account = AccountFactory()
    token, key = api_token_create(account=account)
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    monkeypatch.setattr(token_usage, "flush_seconds", 0)
    connection.close()

    # when: served as gunicorn serves it, the handler closing old connections as in production
    answer = served("/api/v1/profiles/", headers={"authorization": f"Token {key}"})
    assert answer.status.startswith("200"), answer.body
    answer.close()

    # then: the token was written on the request's connection, which was then closed
    assert connection.connection is None
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_token_is_refused_at_once(account):
    token, key = api_token_create(account=account)
    client = token_client(account)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/profiles/").status_code == 200

    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())

    assert client.get("/api/v1/profiles/").status_code == 401


def test_a_large_batch_is_one_statement_and_writes_each_tokens_own_time(account):
    tokens = ApiToken.objects.bulk_create(
        [
            ApiToken(account=account, key_hash=f"{i:064x}", key_prefix=f"{i:08x}")
            for i in range(1500)
        ]
    )
    start = timezone.now()
    usage = TokenUsage(flush_seconds=3600)
    for i, token in enumerate(tokens):
        usage.note(token_pk=token.pk, stored=None, now=start + dt.timedelta(seconds=i))

    with CaptureQueriesContext(connection) as queries:
        assert usage.flush() == 1500

    assert len(queries) == 1
    written = dict(ApiToken.objects.filter(account=account).values_list("pk", "last_used_at"))
    assert all(written[t.pk] == start + dt.timedelta(seconds=i) for i, t in enumerate(tokens))


@pytest.mark.django_db(transaction=True)
def test_two_processes_flushing_the_same_tokens_at_once_neither_deadlock_nor_go_back_in_time():
    """Each process notes the same household devices; their flushes must queue, not deadlock."""
    import threading

    from django.db import connections

    account = AccountFactory()
    tokens = ApiToken.objects.bulk_create(
        [ApiToken(account=account, key_hash=f"{i:064x}", key_prefix=f"{i:08x}") for i in range(400)]
    )
    start = timezone.now()
    results: list[int] = []
    barrier = threading.Barrier(2)

    def flush(offset: int, order: list) -> None:
        usage = TokenUsage(flush_seconds=3600)
        for token in order:
            usage.note(token_pk=token.pk, stored=None, now=start + dt.timedelta(seconds=offset))
        barrier.wait()
        results.append(usage.flush())
        connections.close_all()

    for _ in range(5):
        threads = [
            threading.Thread(target=flush, args=(0, tokens)),
            threading.Thread(target=flush, args=(30, tokens[::-1])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        barrier.reset()

    assert results == [400] * 10  # a flush that hit a deadlock would have written 0
    times = set(ApiToken.objects.filter(account=account).values_list("last_used_at", flat=True))
    assert times == {start + dt.timedelta(seconds=30)}
