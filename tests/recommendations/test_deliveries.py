"""Counting a task's deliveries never eats the task's own time limit."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import caches

from recommendations.services.deliveries import task_delivery_count


def test_a_soft_time_limit_spent_waiting_on_the_cache_stops_the_task(monkeypatch):
    # given: a cache call the task's soft time limit interrupts (Celery raises it wherever
    # the task is, here inside the count, as when the cache hangs)
    def interrupted(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(caches["default"], "add", interrupted)

    # then: the limit reaches the task, which stops; not a "could not count" and a task
    # that runs on with its limit already spent
    with pytest.raises(SoftTimeLimitExceeded):
        task_delivery_count(task_id="a-task", retries=0)


def test_a_cache_that_fails_leaves_the_delivery_uncounted_and_the_task_running(monkeypatch):
    def refused(*args, **kwargs):
        raise ConnectionError("refused")

    monkeypatch.setattr(caches["default"], "add", refused)

    assert task_delivery_count(task_id="a-task", retries=0) is None
