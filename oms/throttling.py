"""API rate limits: per API key when the request came with one, else per user, else per client address."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


class ApiRateThrottle(SimpleRateThrottle):
    """One bucket per API key ("api_key" rate), per signed-in user ("user") or per address ("anon").

    Rates come from `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`, read on every request (so settings
    overrides apply at once). Two keys of one user have separate buckets: each integration its own budget.
    """

    scope = "user"

    def __init__(self) -> None:
        # The rate depends on the request; it is chosen in allow_request().
        pass

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
        self.num_requests, self.duration = int(num_requests or 0), int(duration or 1)
        self.key = self.cache_format % {"scope": self.scope, "ident": ident}
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            return self.throttle_failure()
        return self.throttle_success()

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return getattr(self, "key", None)
