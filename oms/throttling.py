"""API rate limits: per API key when the request came with one, else per user, else per client address."""

from __future__ import annotations

import time
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .cache import incr_expiring
from .models import ApiKey


class ApiRateThrottle(SimpleRateThrottle):
    """One bucket per API key ("api_key" rate), per signed-in user ("user") or per address ("anon").

    Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, read on every request (so settings
    overrides apply at once). Two keys of one user have separate buckets: each integration its own budget.

    Each bucket counts its requests in fixed windows (a minute for "N/min"): one counter per window in the
    cache, incremented atomically, which on Redis is one round trip (INCR and EXPIRE, pipelined). DRF's own
    throttle keeps the time of every request of the last window in one cache entry and rewrites it whole on
    each request: at a key's default of 60,000/min that is a list of thousands of floats unpickled and pickled
    again per request, and concurrent requests overwrite each other's entries. The price of a fixed window:
    a client can make up to twice its rate across the boundary between two windows.

    An API key's bucket is named by the key's prefix, so its authentication, which reads the key's cached
    entry by that prefix, counts the request in the same Redis round trip (`api_key_counter`, COUNTED).
    """

    scope = "user"

    def __init__(self) -> None:
        # The rate depends on the request; it is chosen in allow_request().
        self.retry_after: float | None = None

    def get_rate(self) -> str | None:
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES
        rate = rates.get(self.scope)
        return str(rate) if rate else None

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiKey):
            self.scope, ident = "api_key", f"key:{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            self.scope, ident = "user", f"user:{request.user.pk}"
        else:
            self.scope, ident = "anon", f"ip:{self.get_ident(request)}"
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        now = time.time()
        key, timeout, limit, window_end = self.bucket(self.rate, self.scope, ident, now)
        # an API key's authentication may have counted this request already, with its read (one round trip)
        counted = getattr(request, COUNTED, None)
        count = counted[1] if counted is not None and counted[0] == key else incr_expiring(key, timeout)
        if count <= limit:
            return True
        self.retry_after = window_end - now
        return False

    def bucket(self, rate: str, scope: str, ident: str, now: float) -> tuple[str, int, int, float]:
        """The counter of the window `now` falls in: its cache key, timeout, the limit, the window's end."""
        num_requests, duration = self.parse_rate(rate)
        limit, seconds = int(num_requests or 0), int(duration or 1)
        window = int(now // seconds)
        # the counter outlives its window by a second, so a request at its very end still finds it
        return f"throttle:{scope}:{ident}:{window}", seconds + 1, limit, float((window + 1) * seconds)

    def wait(self) -> float | None:
        return self.retry_after


# The request attribute where API key authentication leaves (counter key, count) when it has counted the
# request in the same round trip as its own cache read (oms.authentication, oms.cache.get_many_and_incr).
COUNTED = "oms_throttle_counted"


def api_key_counter(prefix: str) -> tuple[str, int] | None:
    """The rate-limit counter (key, timeout) an API key's request counts in now; None when keys are not
    limited."""
    rate = api_settings.DEFAULT_THROTTLE_RATES.get("api_key")
    if not rate:
        return None
    key, timeout, _limit, _end = ApiRateThrottle().bucket(str(rate), "api_key", f"key:{prefix}", time.time())
    return key, timeout
