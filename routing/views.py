"""Routing pages: the decisions of an order explained, and the delivery-promise quote for customer service."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from inventory.models import LocationKind
from oms import phrases
from oms.brazil import format_brl
from oms.exceptions import DomainError
from oms.roles import Role, user_roles
from orders.models import Channel, Order
from orders.selectors import channel_list, order_get

from .forms import PromiseForm, WhatIfForm
from .models import WhatIfRun, WhatIfStatus
from .selectors import decision_list
from .services.promise import delivery_promise
from .services.whatif import (
    can_run_whatif,
    draft_initial,
    live_policy,
    whatif_run_get,
    whatif_run_list,
    whatif_run_start,
)

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


COST_PARTS = {
    "handling": gettext_lazy("handling"),
    "picking": gettext_lazy("picking"),
    "shipping": gettext_lazy("carriage"),
    "transfer": gettext_lazy("transfer"),
    "split_penalty": gettext_lazy("extra packages"),
    "unfilled_penalty": gettext_lazy("backorder penalty"),
}


def _said(value: Any) -> str:
    """A note or detail the engine stored, in the reader's language (older decisions: English text)."""
    if isinstance(value, dict):
        return phrases.render(value)
    return str(value or "")


def _day(value: Any) -> dt.date | None:
    """A stored ISO date as a date (shown in the reader's format); None when missing or unreadable."""
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


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
                "detail": _said(c.get("detail")),
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
                "date": _day(p.get("date")),
                "km": p.get("km"),
                "rate_card": p.get("rate_card"),
            }
        )
    breakdown = [
        (COST_PARTS.get(k, k.replace("_", " ")), _brl(v))
        for k, v in (decision.cost_breakdown or {}).items()
        if v
    ]
    return {
        "obj": decision,
        "summary": phrases.render_all(decision.summary_text) if decision.summary_text else decision.summary,
        "total": _brl(decision.total_cost),
        "candidates": cands,
        "packages": packages,
        "unfilled": decision.plan.get("unfilled", []),
        "breakdown": breakdown,
        "notes": [_said(note) for note in decision.candidates.get("notes", [])],
        "no_stock": decision.candidates.get("no_stock_locations", 0),
        "evaluated": decision.candidates.get("options_evaluated", 0),
        "priced": bool(decision.candidates.get("priced")),
        "stock_value": _brl(decision.candidates.get("opportunity_cost") or 0),
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
    # Routed before decisions were recorded (the demo history, older installations): its timeline says where.
    routed_unrecorded = not decisions and order.events.filter(kind="routed").exists()
    context = {
        "order": order,
        "decisions": decisions,
        "show_costs": show_costs,
        "routed_unrecorded": routed_unrecorded,
    }
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


RUNS_SHOWN = 20


def _whatif_allowed(request: HttpRequest) -> None:
    if not can_run_whatif(request.user):
        raise PermissionDenied(_("Only managers and admins run what-ifs."))


def _form_initial(user: Any, code: str) -> tuple[dict[str, Any], Channel | None]:
    channel = channel_list(user=user).filter(code=code).first() if code else None
    initial = draft_initial(live_policy(channel))
    initial["paused_locations"] = " ".join(initial["paused_locations"])
    initial["channel"] = channel
    initial["days"] = 30
    return initial, channel


@login_required
@require_http_methods(["GET", "POST"])
def whatif(request: HttpRequest) -> HttpResponse:
    """Managers and admins start a what-if (the draft starts as a live policy's copy) and see their runs."""
    _whatif_allowed(request)
    initial, base = _form_initial(request.user, request.GET.get("from", ""))
    form = WhatIfForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            run = whatif_run_start(
                by=request.user,
                channel=form.cleaned_data["channel"],
                days=form.cleaned_data["days"],
                draft_values=form.draft_values(),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, _("What-if started: it runs in the background."))
            return redirect("routing:whatif_detail", pk=run.pk)
    runs = list(whatif_run_list(user=request.user)[:RUNS_SHOWN])
    bases = channel_list(user=request.user).order_by("code")
    return render(request, "routing/whatif.html", {"form": form, "runs": runs, "bases": bases, "base": base})


METRICS: list[tuple[str, Any, str, int]] = [
    # key, label, kind (brl | pct | num | int), which way is better (-1 lower, 1 higher, 0 neither)
    ("total_cost", gettext_lazy("Total cost"), "brl", -1),
    ("cost_per_order", gettext_lazy("Cost per order"), "brl", -1),
    ("packages_per_order", gettext_lazy("Packages per order"), "num", -1),
    ("split_rate", gettext_lazy("Split orders"), "pct", -1),
    ("on_time_rate", gettext_lazy("On time (nothing backordered)"), "pct", 1),
    ("store_share", gettext_lazy("Units shipped from stores"), "pct", 0),
    ("backordered_units", gettext_lazy("Backordered units"), "int", -1),
    ("split_penalty", gettext_lazy("Split penalties (weighed, not spent)"), "brl", -1),
    ("backorder_penalty", gettext_lazy("Backorder penalties (weighed, not spent)"), "brl", -1),
]


def _fmt(kind: str, value: float, *, sign: bool = False) -> str:
    prefix = "+" if sign and value > 0 else ("−" if sign and value < 0 else "")
    value = abs(value) if sign else value
    if kind == "brl":
        return prefix + format_brl(Decimal(str(round(value, 2))))
    if kind == "pct":
        return prefix + number_format(value * 100, 1) + " %"
    if kind == "num":
        return prefix + number_format(value, 2)
    return prefix + str(int(value))


def _comparison(run: WhatIfRun) -> dict[str, Any]:
    live, draft = run.result.get("live", {}), run.result.get("draft", {})
    rows = []
    for key, label, kind, better in METRICS:
        a, b = float(live.get(key, 0)), float(draft.get(key, 0))
        diff = b - a
        tone = ""
        if better and abs(diff) > 1e-9:
            tone = "ok" if diff * better > 0 else "bad"
        rows.append(
            {
                "key": key,
                "label": label,
                "live": _fmt(kind, a),
                "draft": _fmt(kind, b),
                "diff": _fmt(kind, diff, sign=True) if abs(diff) > 1e-9 else "=",
                "tone": tone,
            }
        )
    a, b = float(live.get("cost_per_order", 0)), float(draft.get("cost_per_order", 0))
    top = max(a, b) or 1.0
    width = 200.0  # px of the longest bar in the chart's viewBox
    chart = []
    for label, value, y, css in ((_("Live"), a, 8, "live"), (_("Draft"), b, 44, "draft")):
        bar_width = round(width * value / top, 1)
        chart.append(
            {
                "label": label,
                "value": _fmt("brl", value),
                "width": bar_width,
                "y": y,
                "text_y": y + 17,
                "text_x": round(70 + bar_width + 6, 1),
                "css": css,
            }
        )
    return {"rows": rows, "chart": chart, "live": live, "draft": draft}


@login_required
def whatif_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: its progress while it runs (HTMX polls this page every second), then the comparison."""
    _whatif_allowed(request)
    try:
        run = whatif_run_get(user=request.user, pk=pk)
    except WhatIfRun.DoesNotExist:
        raise Http404(_("No such what-if.")) from None
    context: dict[str, Any] = {
        "run": run,
        "poll_url": reverse("routing:whatif_detail", args=[run.pk]),
        "done": run.status == WhatIfStatus.DONE,
        "kinds": dict(LocationKind.choices),
    }
    if run.status == WhatIfStatus.DONE:
        context.update(_comparison(run))
    template = "routing/whatif_status.html" if request.htmx else "routing/whatif_detail.html"  # type: ignore[attr-defined]
    return render(request, template, context)
