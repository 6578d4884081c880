"""Lua scripts on the Redis cache: steps on a key that nothing can come between.

Django's cache methods are one command each, and its ``incr`` is two (an EXISTS, then
an INCRBY): an expiry or a delete landing between two steps loses a count, or leaves
one made again without an expiry, kept for ever. A script runs as one command.
"""

from collections.abc import Sequence
from typing import Any

from django.core.cache.backends.redis import RedisCache


def cache_script_run(
    *, cache: RedisCache, script: str, keys: Sequence[str], args: Sequence[int | str] = ()
) -> Any:
    """Run a Lua ``script`` on the Redis ``cache`` with the cache's keys for ``keys``.

    The cache's own keys (prefix and version), so that a delete through the cache (a
    support lift, a ``cache.delete``) deletes what a script counts, and ``cache.get``
    reads it. Django gives no public way to its Redis client; ``_cache`` is the one its
    own methods use. The client is the first key's: a script's keys must all live on
    one server, so callers keep them together.
    """
    cache_keys = [cache.make_and_validate_key(key) for key in keys]
    client = cache._cache.get_client(cache_keys[0], write=True)
    return client.eval(script, len(cache_keys), *cache_keys, *args)
