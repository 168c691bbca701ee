"""Django's Redis cache, with one redis-py client per pool instead of a new one per cache call; and an
atomic expiring counter (`incr_expiring`, the API rate limits).

`django.core.cache.backends.redis.RedisCacheClient.get_client` builds a `redis.Redis` for every operation.
With redis-py 8 that costs ~0.2 ms of CPU (its response-callback table and event dispatcher are rebuilt each
time), which was a tenth of an API request: an order create makes five cache calls (key, throttle,
webhook subscribers). A `redis.Redis` is safe to share: each command takes a connection from the pool.
The cache object itself is per thread (Django's cache handler), so nothing here is shared across threads.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends import redis as django_redis
from django.http import HttpRequest, HttpResponse

from .db import now_and_on_commit


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django_client: Any = self  # its private helpers are not in django-stubs
        pool = django_client._get_connection_pool(write)  # Django keeps one pool per server
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = django_client._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


def incr_expiring(key: str, timeout: int, *, alias: str = "default") -> int:
    """Add one to the counter `key` (0 if missing) and return it. It expires `timeout` seconds after the last
    add. Atomic: on Redis one round trip (INCR and EXPIRE, pipelined); on other caches `add` then `incr`.
    """
    backend = caches[alias]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        pipe = backend._cache.get_client(full_key, write=True).pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, timeout)
        return int(pipe.execute()[0])
    backend.add(key, 0, timeout)
    try:
        return int(backend.incr(key))
    except ValueError:  # expired between the two calls: this add opens a new counter
        backend.set(key, 1, timeout)
        return 1


def get_many_and_incr(
    keys: list[str], counter: str, timeout: int, *, alias: str = "default"
) -> tuple[dict[str, Any], int]:
    """`cache.get_many(keys)` and `incr_expiring(counter, timeout)` together: on Redis one round trip (MGET,
    INCR and EXPIRE, pipelined). An API key's cached entry and its rate-limit counter are wanted by the same
    request, one right after the other."""
    backend = caches[alias]
    if not isinstance(backend, RedisCache):
        return backend.get_many(keys), incr_expiring(counter, timeout, alias=alias)
    full = [backend.make_and_validate_key(key) for key in keys]
    counter_key = backend.make_and_validate_key(counter)
    client: Any = backend._cache
    pipe = client.get_client(counter_key, write=True).pipeline(transaction=False)
    pipe.mget(full)
    pipe.incr(counter_key)
    pipe.expire(counter_key, timeout)
    values, count, _expire = pipe.execute()
    loads = client._serializer.loads
    found = {key: loads(value) for key, value in zip(keys, values, strict=True) if value is not None}
    return found, int(count)


# --- Entries read once per request --------------------------------------------------------------------------
# A few entries are read by nearly every API write: the webhook subscribers, the sales channels. Each is
# registered with `prefetch`; an API request reads them in the round trip that reads its key's entry
# (oms.authentication) and keeps them for the rest of the request (`RequestCacheMiddleware`), so `cached`
# finds them without another round trip. A value kept is as fresh as the request's start.

_MISSING = object()
_SCOPE: ContextVar[dict[str, Any] | None] = ContextVar("oms_request_cache", default=None)
PREFETCHED: list[str] = []


def prefetch(key: str) -> str:
    """Register `key` to be read at the start of each API request (see above); returns it."""
    if key not in PREFETCHED:
        PREFETCHED.append(key)
    return key


class RequestCacheMiddleware:
    """Give each request its own store of prefetched entries (and none outside a request)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _SCOPE.set({})
        try:
            return self.get_response(request)
        finally:
            _SCOPE.reset(token)


def keep(found: dict[str, Any]) -> None:
    """Keep the prefetched keys' values as read (`found` lacks those not in the cache) for this request."""
    scope = _SCOPE.get()
    if scope is not None:
        for key in PREFETCHED:
            scope[key] = found.get(key, _MISSING)


def cached[T](key: str, load: Callable[[], T], timeout: int) -> T:
    """The cache's entry `key`, or `load()` stored there for `timeout` seconds; a value prefetched for this
    request is used without a round trip (and so is the knowledge that the cache had none)."""
    scope = _SCOPE.get()
    value = scope[key] if scope is not None and key in scope else cache.get(key, _MISSING)
    if value is _MISSING:
        value = load()
        cache.set(key, value, timeout)
    if scope is not None:
        scope[key] = value
    return value


def forget(key: str) -> None:
    """Drop entry `key` from the cache and from this request's prefetched values, now and once the current
    transaction commits (`oms.db.now_and_on_commit`)."""

    def drop() -> None:
        cache.delete(key)
        scope = _SCOPE.get()
        if scope is not None:
            scope.pop(key, None)

    now_and_on_commit(drop)
