"""The check that a retrain ends before the Redis broker would hand its message on again."""

import pytest
from django.core import checks

REDIS = "redis://redis:6379/0"


def visibility_warnings() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["retraining"]) if m.id == "tonight.W006"]


def limits(settings, *, soft: int, visibility: int, broker: str = REDIS) -> None:
    """The retrain limits as config/settings.py derives them, and the broker's timeout."""
    settings.CELERY_BROKER_URL = broker
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": visibility}
    settings.TONIGHT = {
        **settings.TONIGHT,
        "RETRAIN_SOFT_LIMIT_SECONDS": soft,
        "RETRAIN_HARD_LIMIT_SECONDS": soft + 5 * 60,
    }


@pytest.mark.parametrize(
    ("soft", "visibility"),
    [
        (7200, 7200),  # the soft limit at the timeout
        (10800, 7200),  # past it
        (6900, 7200),  # below it, but the hard limit (5 minutes on) reaches it
    ],
)
def test_a_retrain_that_may_outlive_the_visibility_timeout_is_warned_of(settings, soft, visibility):
    # given: a Redis broker, which hands an unacknowledged message on after its timeout
    limits(settings, soft=soft, visibility=visibility)

    # when
    (warning,) = visibility_warnings()

    # then: a warning (the cluster lock turns the second delivery away, so no retrain runs
    # twice) naming both variables and what to set them to
    assert warning.level == checks.WARNING
    assert f"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS is {soft}" in warning.msg
    assert f"CELERY_VISIBILITY_TIMEOUT is {visibility}" in warning.msg
    assert f"CELERY_VISIBILITY_TIMEOUT above {soft + 300}" in warning.hint
    assert f"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS below {visibility - 300}" in warning.hint


@pytest.mark.parametrize("broker", ["rediss://redis:6380/0", "sentinel://s1:26379;sentinel://s2"])
def test_every_redis_transport_has_the_timeout(settings, broker):
    limits(settings, soft=7200, visibility=7200, broker=broker)

    assert len(visibility_warnings()) == 1


@pytest.mark.parametrize("broker", ["amqp://rabbit//", "pyamqp://rabbit//", ""])
def test_a_broker_without_a_visibility_timeout_is_not_warned_of(settings, broker):
    # RabbitMQ hands a message on only when its consumer's connection closes, and without a
    # broker the retrain runs in the process that asks for it.
    limits(settings, soft=7200, visibility=7200, broker=broker)

    assert visibility_warnings() == []


def test_the_default_limits_are_not_warned_of(settings):
    # the defaults: an hour's soft limit, its hard limit 5 minutes later, a 2-hour timeout
    limits(settings, soft=3600, visibility=7200)

    assert visibility_warnings() == []


def retraining_messages(*ids: str) -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["retraining"]) if m.id in ids]


def heartbeat(settings, *, every: float, stale: float) -> None:
    settings.TONIGHT = {
        **settings.TONIGHT,
        "RETRAIN_HEARTBEAT_SECONDS": every,
        "RETRAIN_STALE_SECONDS": stale,
    }


@pytest.mark.parametrize(("every", "stale"), [(10, 10), (30, 20)])
def test_a_stale_window_no_longer_than_a_heartbeat_is_refused(settings, every, stale):
    # given: the reaper would call a live retrain's worker lost between two of its beats
    heartbeat(settings, every=every, stale=stale)

    # when
    (error,) = retraining_messages("tonight.E010", "tonight.W007")

    # then: an error naming both settings and what to set
    assert (error.level, error.id) == (checks.ERROR, "tonight.E010")
    assert f"TONIGHT_RETRAIN_STALE_SECONDS is {stale}, at or below" in error.msg
    assert f"TONIGHT_RETRAIN_HEARTBEAT_SECONDS ({every})" in error.msg
    assert f"TONIGHT_RETRAIN_STALE_SECONDS to {2 * every} or more" in error.hint


def test_a_stale_window_shorter_than_two_heartbeats_is_warned_of(settings):
    # a single lost beat (a database error costs one) would reap a live retrain
    heartbeat(settings, every=10, stale=15)

    (warning,) = retraining_messages("tonight.E010", "tonight.W007")

    assert (warning.level, warning.id) == (checks.WARNING, "tonight.W007")
    assert "TONIGHT_RETRAIN_STALE_SECONDS is 15, less than two" in warning.msg


def test_a_heartbeat_of_no_length_is_refused(settings):
    heartbeat(settings, every=0, stale=120)

    (error,) = retraining_messages("tonight.E010", "tonight.W007")

    assert error.msg.startswith("TONIGHT_RETRAIN_HEARTBEAT_SECONDS is 0: it must be more than 0")


def test_the_default_heartbeat_and_stale_window_pass(settings):
    heartbeat(settings, every=10.0, stale=120.0)

    assert retraining_messages("tonight.E010", "tonight.W007") == []


@pytest.mark.parametrize("soft", [0, -60])
def test_a_retrain_soft_limit_of_none_is_refused(settings, soft):
    # given: 0, which Celery reads as "no soft limit" (a retrain is killed at the hard limit)
    limits(settings, soft=soft, visibility=7200)

    # when
    (error,) = retraining_messages("tonight.E011")

    # then
    assert error.level == checks.ERROR
    assert f"TONIGHT_RETRAIN_SOFT_LIMIT_SECONDS is {soft}: it must be more than 0" in error.msg
    assert f"the hard limit ({soft + 300} s)" in error.msg


def test_the_default_soft_limit_passes(settings):
    limits(settings, soft=3600, visibility=7200)

    assert retraining_messages("tonight.E011") == []
