"""`Authorization: Api-Key <key>`: an integration acts as the user its key belongs to.

An integration calls many times a second, so the key row and its user, with the user's model permissions
already loaded, are kept in Django's cache (Redis in production, shared by every process) for
`CACHE_SECONDS`. The raw key is still checked against the stored hash on every request. Any change that could
deny a request drops every cached entry at once, by writing a new generation token: a key saved or deleted
(revoked, expired), a user saved (deactivated, made superuser), a user's groups or permissions changed, a
group's permissions changed. Entry and token are read in one round trip.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .cache import PREFETCHED, get_many_and_incr, keep
from .db import now_and_on_commit
from .models import ApiKey
from .roles import user_roles
from .throttling import COUNTED, api_key_counter

KEYWORD = "Api-Key"
_TOUCH_EVERY = dt.timedelta(minutes=5)
CACHE_SECONDS = 60
GENERATION_KEY = "oms:apikey:generation"


def _entry_key(prefix: str) -> str:
    return f"oms:apikey:{prefix}"


def _load(prefix: str, generation: str | None) -> tuple[ApiKey, Any]:
    """The usable key with this prefix and its user, permissions loaded; cached under `generation`."""
    key = ApiKey.objects.get_usable_keys().select_related("user").get(prefix=prefix)
    user = key.user
    user.get_all_permissions()  # fills the backend's permission cache, which is pickled with the user
    user_roles(user)  # and its roles (every scoped read asks)
    if generation is None:
        generation = uuid.uuid4().hex
        cache.add(GENERATION_KEY, generation, None)
        generation = cache.get(GENERATION_KEY, generation)
    cache.set(_entry_key(prefix), (generation, key, user), CACHE_SECONDS)
    return key, user


def credentials_changed(**kwargs: Any) -> None:
    """Forget every cached key (now, and again once the change is visible to other transactions)."""
    now_and_on_commit(lambda: cache.set(GENERATION_KEY, uuid.uuid4().hex, None))


User = get_user_model()
for _model in (ApiKey, User, Group):
    for _signal in (post_save, post_delete):
        _signal.connect(credentials_changed, sender=_model, dispatch_uid=f"oms.apikey.{_model.__name__}")
for _through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(credentials_changed, sender=_through, dispatch_uid=f"oms.apikey.{_through.__name__}")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(KEYWORD + " "):
            return None
        raw = header[len(KEYWORD) + 1 :].strip()
        prefix = raw.partition(".")[0]
        # The key's cached entry, and in the same round trip the count of this request in its rate limit,
        # which the throttle then reads from the request (oms.throttling), and the entries every request
        # keeps (oms.cache.prefetch).
        counter = api_key_counter(prefix)
        keys = [_entry_key(prefix), GENERATION_KEY, *PREFETCHED]
        if counter is None:
            cached = cache.get_many(keys)
        else:
            cached, count = get_many_and_incr(keys, *counter)
            setattr(request, COUNTED, (counter[0], count))
        keep(cached)
        entry, generation = cached.get(_entry_key(prefix)), cached.get(GENERATION_KEY)
        try:
            if entry is not None and generation is not None and entry[0] == generation:
                key, user = entry[1], entry[2]
            else:
                key, user = _load(prefix, generation)
        except ApiKey.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        if not key.is_valid(raw):
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if key.has_expired or key.revoked:
            raise exceptions.AuthenticationFailed(_("This API key is revoked or expired."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("The user of this API key is deactivated."))
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY:
            # an update, not a save: it must not drop the cached keys (post_save)
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
            if generation is not None:
                cache.set(_entry_key(prefix), (generation, key, user), CACHE_SECONDS)
        return user, key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD
