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
            self.scope, ident = "api_key", f"key:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            self.scope, ident = "user", f"user:{request.user.pk}"
        else:
            self.scope, ident = "anon", f"ip:{self.get_ident(request)}"
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        num_requests, duration = self.parse_rate(self.rate)
        limit, seconds = int(num_requests or 0), int(duration or 1)
        now = time.time()
        window = int(now // seconds)
        # the counter outlives its window by a second, so a request at its very end still finds it
        count = incr_expiring(f"throttle:{self.scope}:{ident}:{window}", seconds + 1)
        if count <= limit:
            return True
        self.retry_after = (window + 1) * seconds - now
        return False

    def wait(self) -> float | None:
        return self.retry_after
