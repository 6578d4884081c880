"""A cache server that stops answering fails a call in seconds, not never."""

import socket
import threading
import time

from django.conf import settings
from django.core.cache.backends.redis import RedisCache


def test_a_redis_that_accepts_but_never_answers_fails_a_call_within_seconds():
    # given: a server that takes the connection and then says nothing (a hung Redis)
    silent = socket.create_server(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    params = {
        **settings.CACHES["default"],
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
    }
    cache = RedisCache(f"redis://127.0.0.1:{port}/0", params)
    outcome: list[BaseException] = []

    def call() -> None:
        started = time.monotonic()
        try:
            cache.get("anything")
        except Exception as error:
            outcome.append((error, time.monotonic() - started))

    # when: a cache call goes to it
    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    caller.join(10)

    # then: it failed within the project's socket timeout
    silent.close()
    assert not caller.is_alive(), "the cache call was still waiting after 10 s"
    assert outcome, "the cache call neither answered nor failed"
    ((error, seconds),) = outcome
    assert "Timeout" in type(error).__name__, error
    # the project's 2 s (redis-py alone gives up on a silent handshake after 5 s, and never
    # on a command once connected)
    assert seconds < 4, seconds
