"""Template context shared by every page: the navigation the user's roles allow."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from .roles import user_roles


def navigation(request: HttpRequest) -> dict[str, Any]:
    roles = user_roles(request.user)
    if not roles and not getattr(request.user, "is_superuser", False):
        return {"nav_items": [], "user_roles": roles}
    items = []
    for url_name, label, allowed in settings.OMS_NAVIGATION:
        if allowed and not (roles & set(allowed)):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        active = request.path.startswith(url) if url != "/" else request.path == "/"
        items.append({"url": url, "label": label, "active": active})
    return {"nav_items": items, "user_roles": roles}
