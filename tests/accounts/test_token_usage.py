"""Token last-used times: noted by authentication, written in batches, never on every request."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create
from accounts.token_usage import RESOLUTION_SECONDS, TokenUsage, token_usage
from tests.conftest import token_client
from tests.factories import AccountFactory

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


def test_the_request_that_comes_due_writes_the_batch(account):
    token = api_token_create(account=account)[0]
    usage = TokenUsage(flush_seconds=0)
    now = timezone.now()

    usage.note(token_pk=token.pk, stored=None, now=now)

    token.refresh_from_db()
    assert token.last_used_at == now
    assert usage.pending() == 0


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
