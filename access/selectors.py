"""Reads for the access pages: users with their roles and scopes, API keys, the audit log (admins only)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch, Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from inventory.models import Location, Region
from oms.calendar import start_of_day
from oms.models import ApiKey, AuditEvent
from orders.models import Channel

from .services import SCOPE_PERMISSIONS

User = get_user_model()


@dataclass(frozen=True)
class UserFilters:
    q: str = ""
    role: str = ""
    active: str = ""  # "", "yes" or "no"


def user_list(*, filters: UserFilters | None = None) -> QuerySet[Any]:
    """Users with their role groups prefetched, filtered by a search box, a role and active/inactive."""
    filters = filters or UserFilters()
    users = User.objects.prefetch_related(Prefetch("groups", queryset=Group.objects.order_by("name")))
    q = filters.q.strip()
    if q:
        users = users.filter(
            Q(username__icontains=q)
            | Q(email__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
        )
    if filters.role:
        users = users.filter(groups__name=filters.role)
    if filters.active == "yes":
        users = users.filter(is_active=True)
    elif filters.active == "no":
        users = users.filter(is_active=False)
    return users.order_by("username")


@dataclass(frozen=True)
class UserScopes:
    locations: list[Location]
    channels: list[Channel]
    regions: list[Region]


def _direct(user: Any, model: type[Any]) -> list[Any]:
    # Only what was granted to the user themself (not global or group permissions): what the page can remove.
    return list(
        get_objects_for_user(
            user,
            SCOPE_PERMISSIONS[model],
            klass=model,
            accept_global_perms=False,
            with_superuser=False,
            use_groups=False,
        ).order_by("code")
    )


def user_scopes(*, user: Any) -> UserScopes:
    """The locations, channels and regions a user is tied to."""
    return UserScopes(
        locations=_direct(user, Location), channels=_direct(user, Channel), regions=_direct(user, Region)
    )


def api_key_list(*, user: Any) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created")


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    obj: str = ""  # "app.model:id", "app.model" or an id
    since: dt.date | None = None
    until: dt.date | None = None
    before_id: int | None = None  # keyset pagination: rows older than this id


def audit_event_list(*, filters: AuditFilters | None = None) -> QuerySet[AuditEvent]:
    """Audit rows, newest first, filtered by action (prefix), actor (user name), object and local date range.

    Ordered by id (rows are appended, so id order is time order) for keyset pagination without a count.
    """
    filters = filters or AuditFilters()
    events = AuditEvent.objects.select_related("actor")
    if filters.action.strip():
        events = events.filter(action__startswith=filters.action.strip())
    if filters.actor.strip():
        events = events.filter(actor__username__iexact=filters.actor.strip())
    obj = filters.obj.strip()
    if obj:
        if ":" in obj:
            object_type, object_id = obj.split(":", 1)
            events = events.filter(object_type=object_type.lower(), object_id=object_id)
        elif "." in obj:
            events = events.filter(object_type=obj.lower())
        else:
            events = events.filter(Q(object_id=obj) | Q(summary__icontains=obj))
    if filters.since:
        events = events.filter(at__gte=start_of_day(filters.since))
    if filters.until:
        events = events.filter(at__lt=start_of_day(filters.until + dt.timedelta(days=1)))
    if filters.before_id:
        events = events.filter(id__lt=filters.before_id)
    return events.order_by("-id")
