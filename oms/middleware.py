"""Project-wide middleware. Generic: it names no app (oms imports none)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseNotFound

from .audit import audit_record

logger = logging.getLogger("oms.access")

DENIED_PROBE = "access.denied_probe"


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


class DeniedProbeMiddleware:
    """Log a 404 on an object URL for a signed-in user: an audit row "access.denied_probe".

    An object URL is one that resolved with keyword arguments (/orders/<number>/, /api/v1/orders/<number>/),
    so a 404 there means "no such object in your scope": someone guessing numbers shows up in the audit log.
    Unresolved URLs (typos) are not logged. The user is read after the view ran, so API-key users count
    (DRF sets the authenticated user on the underlying request).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 404:
            self._record(request)
        return response

    def _record(self, request: HttpRequest) -> None:
        user: Any = getattr(request, "user", None)
        match = getattr(request, "resolver_match", None)
        if not getattr(user, "is_authenticated", False) or match is None or not match.kwargs:
            return
        kwargs = {key: str(value)[:100] for key, value in match.kwargs.items()}
        data = {
            "path": request.path[:500],
            "method": request.method,
            "view": match.view_name,
            "kwargs": kwargs,
        }
        try:
            with transaction.atomic():
                audit_record(
                    actor=user,
                    action=DENIED_PROBE,
                    summary=f"{request.method} {request.path}",
                    after=data,
                    ip=_client_ip(request),
                )
        except DatabaseError:
            # Never turn a 404 into a 500 because the log could not be written; say so in the logs.
            logger.exception("could not record a denied probe: %s", data)
            return
        logger.info("denied probe by %s: %s", user.get_username(), data)


class NulByteMiddleware:
    """Refuse a request whose path or query string holds a NUL character (`%00`): PostgreSQL stores no NUL
    in text, so a lookup with one fails deep in the database instead of saying what is wrong. A path with one
    names nothing (404); a query parameter with one is bad input (400). Form and JSON fields are checked by
    their own fields (Django's and DRF's CharField refuse NUL, naming the field)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            return HttpResponseNotFound("Not found.", content_type="text/plain")
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in v for v in values):
                return HttpResponseBadRequest(
                    f"The query parameter {name.replace(chr(0), '')!r} holds a NUL character.",
                    content_type="text/plain",
                )
        return self.get_response(request)
