"""Admin pages: users, roles, scopes, API keys and the audit log. Admins only; everyone else gets 403."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inventory.models import Location, Region
from oms.csv_export import csv_response
from oms.exceptions import DomainError
from oms.models import ApiKey
from oms.roles import Role, user_roles
from orders.models import Channel

from . import selectors, services
from .forms import (
    ROLE_NAMES,
    ApiKeyForm,
    AuditFilterForm,
    InviteForm,
    ScopeForm,
    UserEditForm,
    UserFilterForm,
)

User = get_user_model()

AUDIT_PAGE = 50
SCOPE_MODELS: dict[str, type[Location] | type[Channel] | type[Region]] = {
    "location": Location,
    "channel": Channel,
    "region": Region,
}


def admin_only(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Signed-in admins only: anonymous users go to the login page, other roles get 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if Role.ADMIN not in user_roles(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@admin_only
def users(request: HttpRequest) -> HttpResponse:
    form = UserFilterForm(request.GET or None)
    filters = selectors.UserFilters()
    if form.is_valid():
        filters = selectors.UserFilters(**form.cleaned_data)
    page = Paginator(selectors.user_list(filters=filters), 50).get_page(request.GET.get("page"))
    for user in page:
        user.role_labels = [ROLE_NAMES.get(g.name, g.name) for g in user.groups.all()]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "access/users.html",
        {"form": form, "page": page, "query": query.urlencode()},
    )


@require_http_methods(["GET", "POST"])
@admin_only
def user_invite(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_invite(
                **form.cleaned_data, by=request.user, base_url=request.build_absolute_uri("/")
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _("%(name)s was invited; an e-mail with a link to set the password was sent.")
                % {"name": user.username},
            )
            return redirect("access:user", pk=user.pk)
    return render(request, "access/invite.html", {"form": form}, status=400 if form.errors else 200)


def _user_page(request: HttpRequest, user: Any, *, status: int = 200, **extra: Any) -> HttpResponse:
    roles = sorted(user.groups.values_list("name", flat=True))
    scopes = selectors.user_scopes(user=user)
    context = {
        "subject": user,
        "roles": [ROLE_NAMES.get(r, r) for r in roles],
        "edit_form": extra.pop("edit_form", None)
        or UserEditForm(
            initial={
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "roles": roles,
            }
        ),
        "scope_form": extra.pop("scope_form", None) or ScopeForm(),
        "key_form": extra.pop("key_form", None) or ApiKeyForm(),
        "scope_groups": [
            (_("Locations"), scopes.locations, "location"),
            (_("Channels"), scopes.channels, "channel"),
            (_("Regions"), scopes.regions, "region"),
        ],
        "api_keys": selectors.api_key_list(user=user),
        "options": {
            "location": Location.objects.order_by("code").values_list("code", "name"),
            "channel": Channel.objects.order_by("code").values_list("code", "name"),
            "region": Region.objects.order_by("code").values_list("code", "name"),
        },
        "recent": selectors.audit_event_list(filters=selectors.AuditFilters(obj=f"auth.user:{user.pk}"))[:10],
        **extra,
    }
    return render(request, "access/user.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@admin_only
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The user page; a POST saves name, e-mail and roles."""
    user = get_object_or_404(User, pk=pk)
    if request.method == "GET":
        return _user_page(request, user)
    form = UserEditForm(request.POST)
    if not form.is_valid():
        return _user_page(request, user, edit_form=form, status=400)
    try:
        services.user_update(
            user=user,
            by=request.user,
            email=form.cleaned_data["email"],
            first_name=form.cleaned_data["first_name"],
            last_name=form.cleaned_data["last_name"],
            roles=form.cleaned_data["roles"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _user_page(request, user, edit_form=form, status=exc.status_code)
    messages.success(request, _("Saved."))
    return redirect("access:user", pk=user.pk)


@require_POST
@admin_only
def user_set_active(request: HttpRequest, pk: int, active: bool) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    try:
        if active:
            services.user_reactivate(user=user, by=request.user)
            messages.success(request, _("%(name)s can sign in again.") % {"name": user.username})
        else:
            services.user_deactivate(user=user, by=request.user)
            messages.success(request, _("%(name)s is deactivated.") % {"name": user.username})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("access:user", pk=user.pk)


def _scope_object(form: ScopeForm) -> Location | Channel | Region | None:
    model = SCOPE_MODELS[form.cleaned_data["kind"]]
    return model.objects.filter(code=form.cleaned_data["code"].strip()).first()


@require_POST
@admin_only
def scope_change(request: HttpRequest, pk: int, grant: bool) -> HttpResponse:
    """Tie the user to (or untie them from) a location, channel or region, by its code."""
    user = get_object_or_404(User, pk=pk)
    form = ScopeForm(request.POST)
    if not form.is_valid():
        return _user_page(request, user, scope_form=form, status=400)
    obj = _scope_object(form)
    if obj is None:
        form.add_error("code", _("No %(kind)s has this code.") % {"kind": form.cleaned_data["kind"]})
        return _user_page(request, user, scope_form=form, status=400)
    try:
        if grant:
            services.scope_grant(user=user, obj=obj, by=request.user)
            messages.success(
                request, _("%(name)s is now tied to %(obj)s.") % {"name": user.username, "obj": obj}
            )
        else:
            services.scope_revoke(user=user, obj=obj, by=request.user)
            messages.success(
                request, _("%(name)s is no longer tied to %(obj)s.") % {"name": user.username, "obj": obj}
            )
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("access:user", pk=user.pk)


@never_cache
@require_POST
@admin_only
def api_key_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a key and show it on this response only (it is never shown again: only its hash is kept)."""
    user = get_object_or_404(User, pk=pk)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _user_page(request, user, key_form=form, status=400)
    try:
        key, raw = services.api_key_issue(user=user, name=form.cleaned_data["name"], by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("access:user", pk=user.pk)
    return _user_page(request, user, new_key=raw, new_key_obj=key)


@require_POST
@admin_only
def api_key_revoke(request: HttpRequest, pk: int, prefix: str) -> HttpResponse:
    user = get_object_or_404(User, pk=pk)
    key = get_object_or_404(ApiKey, user=user, prefix=prefix)
    services.api_key_revoke(key=key, by=request.user)
    messages.success(request, _("The key %(prefix)s is revoked.") % {"prefix": key.prefix})
    return redirect("access:user", pk=user.pk)


def _audit_filters(request: HttpRequest) -> tuple[AuditFilterForm, selectors.AuditFilters]:
    form = AuditFilterForm(request.GET or None)
    if form.is_valid():
        data = form.cleaned_data
        return form, selectors.AuditFilters(
            action=data["action"],
            actor=data["actor"],
            obj=data["obj"],
            since=data["since"],
            until=data["until"],
            before_id=data["before"],
        )
    return form, selectors.AuditFilters()


@require_GET
@admin_only
def audit(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, 50 rows a page (keyset: "older" follows the last id, no count)."""
    form, filters = _audit_filters(request)
    rows = list(selectors.audit_event_list(filters=filters)[: AUDIT_PAGE + 1])
    older = None
    if len(rows) > AUDIT_PAGE:
        rows = rows[:AUDIT_PAGE]
        query = request.GET.copy()
        query["before"] = str(rows[-1].pk)
        older = "?" + query.urlencode()
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "access/audit.html",
        {"form": form, "events": rows, "older": older, "query": query.urlencode()},
        status=400 if form.errors else 200,
    )


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


@require_GET
@admin_only
def audit_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The filtered audit log as CSV, streamed row by row (no page limit, constant memory)."""
    form, filters = _audit_filters(request)
    if form.errors:
        return HttpResponseRedirect(reverse("access:audit") + "?" + request.GET.urlencode())
    events = selectors.audit_event_list(filters=filters).values_list(
        "id",
        "at",
        "actor__username",
        "action",
        "object_type",
        "object_id",
        "summary",
        "before",
        "after",
        "ip",
    )

    def rows() -> Iterator[list[Any]]:
        for row in events.iterator(chunk_size=2000):
            pk, at, actor, action, object_type, object_id, summary, before, after, ip = row
            when = timezone.localtime(at).isoformat()
            values = [pk, when, actor or "", action, object_type, object_id, summary]
            yield [*values, _json(before), _json(after), ip or ""]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(
        ["id", "at", "actor", "action", "object_type", "object_id", "summary", "before", "after", "ip"],
        rows(),
        filename=f"audit-{stamp}.csv",
    )
