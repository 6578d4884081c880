"""Each pytest-xdist worker's Redis database (tests/workers.py)."""

import pytest

from tests.workers import worker_redis_url


@pytest.mark.parametrize(
    ("url", "worker", "moved"),
    [
        ("redis://127.0.0.1:6379/15", 0, "redis://127.0.0.1:6379/15"),
        ("redis://127.0.0.1:6379/15", 1, "redis://127.0.0.1:6379/14"),
        ("redis://127.0.0.1:6379/1", 3, "redis://127.0.0.1:6379/14"),  # round from 0 to 15
        ("redis://127.0.0.1:6379", 1, "redis://127.0.0.1:6379/15"),  # no number is 0
        (
            "rediss://:secret@cache:6380/2?ssl_cert_reqs=none",
            1,
            "rediss://:secret@cache:6380/1?ssl_cert_reqs=none",
        ),
        ("amqp://guest@rabbit//", 1, "amqp://guest@rabbit//"),  # not Redis: not moved
        ("", 1, ""),
    ],
)
def test_each_worker_is_moved_down_from_the_configured_database(url, worker, moved) -> None:
    assert worker_redis_url(url, worker) == moved


def test_a_database_given_as_a_query_is_refused_rather_than_shared() -> None:
    with pytest.raises(ValueError, match=r"in the path"):
        worker_redis_url("redis://127.0.0.1:6379?db=15", 1)


def test_more_workers_than_redis_has_databases_are_refused() -> None:
    with pytest.raises(ValueError, match=r"run fewer workers"):
        worker_redis_url("redis://127.0.0.1:6379/15", 16)
