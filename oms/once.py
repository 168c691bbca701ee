"""One submission per form: a page's form carries a fresh token (`{% once_field %}`, orders' `oms_format`
tags), and a view that records something claims it before acting (`first`). The same form sent again (a
double click, a resubmitted page, a phone retrying on a poor connection) finds its token taken and is told
where the first one led instead of recording twice. The tokens live in the cache (Redis in production, shared
by every process), per user, for a day; a form without one (an older page, a script) is not deduplicated."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext as _

FIELD = "once"
TTL = 24 * 3600
MAX_LENGTH = 64
PENDING = "-"  # the first submission is still running (or failed without saying where it led)


def new_token() -> str:
    return secrets.token_urlsafe(16)


def _key(request: Any) -> str | None:
    token = str(request.POST.get(FIELD, ""))[:MAX_LENGTH]
    if not token:
        return None
    return f"oms:once:{getattr(request.user, 'pk', '')}:{token}"


def first(request: Any) -> tuple[bool, str]:
    """Claim the request's token: (True, "") for the first submission of its form (or one without a token);
    (False, where the first one led: a URL, or "" while it has not finished) for a repeat."""
    key = _key(request)
    if key is None or cache.add(key, PENDING, timeout=TTL):
        return True, ""
    led = cache.get(key)
    return False, "" if led in (None, PENDING) else str(led)


def done(request: Any, url: str) -> None:
    """The first submission led to `url`: a repeat is sent there."""
    key = _key(request)
    if key is not None:
        cache.set(key, url, timeout=TTL)


def release(request: Any) -> None:
    """The first submission recorded nothing (refused): the same form may be sent again."""
    key = _key(request)
    if key is not None:
        cache.delete(key)


@contextmanager
def claimed(request: Any) -> Iterator[None]:
    """Around what the first submission records: whatever it raises (a refusal, a crash) leaves the token
    free, so the same form sent again is tried again instead of being told it was recorded."""
    try:
        yield
    except BaseException:
        release(request)
        raise


def repeated(request: Any, led: str, fallback: str) -> HttpResponse:
    """The answer to a form sent again (`first` said so): where the first one led, or, while it still runs, a
    word to wait (at `fallback`)."""
    if led:
        messages.info(request, _("That form was sent twice: it was recorded once."))
        return HttpResponseRedirect(led)
    messages.warning(request, _("That form is still being recorded: reload the page in a moment."))
    return HttpResponseRedirect(fallback)
