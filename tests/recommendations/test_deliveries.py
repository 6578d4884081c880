"""Counting a task's deliveries never eats the task's own time limit."""

import threading
import uuid

import pytest
import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.core.cache import caches

from recommendations.services.deliveries import _count_timeout, task_delivery_count


def test_a_soft_time_limit_spent_waiting_on_the_cache_stops_the_task(monkeypatch):
    # given: a Redis command the task's soft time limit interrupts (Celery raises it
    # wherever the task is, here inside the count, as when the cache hangs)
    def interrupted(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(redis.Redis, "execute_command", interrupted)

    # then: the limit reaches the task, which stops; not a "could not count" and a task
    # that runs on with its limit already spent
    with pytest.raises(SoftTimeLimitExceeded):
        task_delivery_count(task_id=_task_id(), retries=0)


def test_a_cache_that_fails_leaves_the_delivery_uncounted_and_the_task_running(settings, caplog):
    # given: a cache on a port where no Redis listens
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }

    assert task_delivery_count(task_id=_task_id(), retries=0) is None
    assert "Could not count the delivery" in caplog.text


def test_the_demos_local_cache_counts_deliveries_with_an_expiry(settings):
    # given: no Redis, as in the first local run, where tasks run in-process
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    task_id = _task_id()

    counts = [task_delivery_count(task_id=task_id, retries=0) for _ in range(3)]

    assert counts == [1, 2, 3]
    assert task_delivery_count(task_id=task_id, retries=1) == 1
    key = caches["default"].make_key(f"task_deliveries_{task_id}_0")
    assert caches["default"]._expire_info[key] is not None


def _task_id() -> str:
    # Redis outlives the test run: each test counts a task of its own.
    return f"test-{uuid.uuid4()}"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(django_settings.CACHES["default"]["LOCATION"])


def _raw_key(task_id: str, retries: int = 0) -> str:
    return caches["default"].make_key(f"task_deliveries_{task_id}_{retries}")


def test_concurrent_deliveries_are_each_counted_once_and_the_count_expires():
    # given: a task delivered to many workers at once (a redelivery storm)
    task_id = _task_id()
    counts: list[int | None] = []
    start = threading.Barrier(8)

    def deliver() -> None:
        start.wait()
        for _ in range(25):
            counts.append(task_delivery_count(task_id=task_id, retries=0))

    # when
    workers = [threading.Thread(target=deliver) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    # then: every delivery has a number of its own, none lost, and the count expires
    assert sorted(counts) == list(range(1, 201))
    assert 0 < _redis().ttl(_raw_key(task_id)) <= _count_timeout()


def test_a_count_kept_without_an_expiry_is_given_one():
    # given: a count that was left without an expiry (Django's incr, an EXISTS then an
    # INCRBY, made one so when the count expired between the two)
    task_id = _task_id()
    client = _redis()
    client.set(_raw_key(task_id), 2)

    # when
    count = task_delivery_count(task_id=task_id, retries=0)

    # then: it counts on, and is no longer kept for ever
    assert count == 3
    assert 0 < client.ttl(_raw_key(task_id)) <= _count_timeout()


@pytest.mark.parametrize("after", [1, 2], ids=["1st", "2nd"])
def test_a_count_expiring_while_it_is_counted_still_counts_the_delivery(monkeypatch, caplog, after):
    # given: the count's key going (its expiry, a FLUSHDB) right after the after-th Redis
    # command on it: a real DEL, landing where an expiry can
    task_id = _task_id()
    raw_key = _raw_key(task_id)
    client = _redis()
    send = redis.Redis.execute_command
    sent: list[object] = []

    def execute_command(connection, *args, **options):
        answer = send(connection, *args, **options)
        if raw_key in args:
            sent.append(args[0])
            if len(sent) == after:
                send(client, "DEL", raw_key)
        return answer

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)

    # when
    count = task_delivery_count(task_id=task_id, retries=0)
    monkeypatch.undo()

    # then: the delivery is counted (it was lost, "Could not count", when the key went
    # between the add and the incr), and whatever is left of the count expires
    assert count == 1
    assert "Could not count" not in caplog.text
    assert client.ttl(raw_key) != -1
