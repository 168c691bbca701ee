"""Routing pages: the decisions of an order explained, and the delivery-promise quote for customer service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from oms.brazil import format_brl
from oms.roles import Role, user_roles
from orders.models import Order
from orders.selectors import order_get

from .forms import PromiseForm
from .selectors import decision_list
from .services.promise import delivery_promise

QUOTE_ROLES = {Role.CUSTOMER_SERVICE, Role.MANAGER, Role.ADMIN}
COST_ROLES = {Role.MANAGER, Role.ADMIN}

REASONS = {
    "chosen": gettext_lazy("chosen"),
    "costlier": gettext_lazy("costlier"),
    "no stock": gettext_lazy("no stock"),
    "too slow": gettext_lazy("too slow for the deadline"),
    "no capacity": gettext_lazy("no capacity left today"),
    "paused": gettext_lazy("paused"),
    "not allowed by policy": gettext_lazy("not allowed by the policy"),
    "out of service range": gettext_lazy("out of every service's range"),
    "does not ship": gettext_lazy("does not ship to homes"),
}


def _brl(value: Any) -> str:
    if value is None:
        return "—"
    return format_brl(Decimal(str(value)))


def _decision_view(decision: Any) -> dict[str, Any]:
    cands = []
    for c in decision.candidates.get("candidates", []):
        cands.append(
            {
                "code": c.get("location"),
                "name": c.get("name") or c.get("location"),
                "reason": c.get("reason"),
                "reason_label": REASONS.get(c.get("reason"), c.get("reason")),
                "cost": _brl(c.get("cost")) if c.get("cost") is not None else "—",
                "detail": c.get("detail", ""),
                "chosen": c.get("reason") == "chosen",
            }
        )
    packages = []
    for p in decision.plan.get("packages", []):
        packages.append(
            {
                "name": p.get("name") or p.get("location"),
                "code": p.get("location"),
                "service": p.get("service_name") or p.get("service") or _("pickup at the store"),
                "units": sum(line["qty"] for line in p.get("lines", [])),
                "lines": p.get("lines", []),
                "handling": _brl(p.get("handling")),
                "picking": _brl(p.get("picking")),
                "shipping": _brl((p.get("shipping") or 0) + (p.get("transfer") or 0)),
                "cost": _brl(p.get("cost")),
                "date": p.get("date"),
                "km": p.get("km"),
                "rate_card": p.get("rate_card"),
            }
        )
    breakdown = [(k.replace("_", " "), _brl(v)) for k, v in (decision.cost_breakdown or {}).items() if v]
    return {
        "obj": decision,
        "total": _brl(decision.total_cost),
        "candidates": cands,
        "packages": packages,
        "unfilled": decision.plan.get("unfilled", []),
        "breakdown": breakdown,
        "notes": decision.candidates.get("notes", []),
        "no_stock": decision.candidates.get("no_stock_locations", 0),
        "evaluated": decision.candidates.get("options_evaluated", 0),
    }


@login_required
def decision_detail(request: HttpRequest, number: str) -> HttpResponse:
    """Every routing decision of an order: candidates with costs, why each lost, the plan, the latency."""
    try:
        order = order_get(user=request.user, number=number)
    except Order.DoesNotExist:
        raise Http404(_("No such order.")) from None
    decisions = [_decision_view(d) for d in decision_list(order=order)]
    # Customer service sees why, not what it costs: cost figures are for managers and admins.
    show_costs = bool(user_roles(request.user) & COST_ROLES) or request.user.is_superuser
    context = {"order": order, "decisions": decisions, "show_costs": show_costs}
    return render(request, "routing/decision.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def promise_quote(request: HttpRequest) -> HttpResponse:
    """Customer service quotes delivery options for a cart and a CEP (HTMX swaps in the results)."""
    if not (user_roles(request.user) & QUOTE_ROLES or request.user.is_superuser):
        raise Http404(_("No such page."))
    form = PromiseForm(request.POST or None)
    result = None
    error = ""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        point: tuple[float, float] | None
        if data.get("lat") is not None and data.get("lon") is not None:
            point = (data["lat"], data["lon"])
        else:
            from oms.cep import cep_to_point

            point = cep_to_point(data["cep"])
        if point is None:
            error = _("That CEP could not be placed on the map: give latitude and longitude.")
        else:
            result = delivery_promise(lines=data["lines"], cep=data["cep"], lat=point[0], lon=point[1])
    context = {"form": form, "result": result, "error": error}
    template = "routing/_promise_results.html" if request.htmx else "routing/promise.html"  # type: ignore[attr-defined]
    return render(request, template, context)
