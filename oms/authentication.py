"""`Authorization: Api-Key <key>`: an integration acts as the user its key belongs to."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import ApiKey

KEYWORD = "Api-Key"
_TOUCH_EVERY = dt.timedelta(minutes=5)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(KEYWORD + " "):
            return None
        raw = header[len(KEYWORD) + 1 :].strip()
        try:
            key = cast(ApiKey, ApiKey.objects.get_from_key(raw))
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        if key.has_expired or key.revoked:
            raise exceptions.AuthenticationFailed("This API key is revoked or expired.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The user of this API key is deactivated.")
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user, key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
