"""Stock pages: stock by location and SKU (searchable, HTMX), and one stock row's ledger with a count, an
adjustment and its safety stock.

Lists page by keyset ("next" links after the last row shown, fetching one row more than the page): no
count(*) over the stock table, so a page costs the same on ten rows or ten million.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from oms import once
from oms.charts import day_bars
from oms.csv_export import csv_response
from oms.exceptions import DomainError
from oms.pagination import KeysetPage, first_page_query, keyset_page, next_page_query, wants_partial
from oms.parsers import whole_number
from oms.roles import is_manager_or_admin

from .forms import StockAdjustForm, StockCountForm, StockFilterForm, StockSafetyForm
from .models import DemandForecast, Location, LocationDemandProfile, StockLevel
from .selectors import (
    events_touching,
    forecast_list,
    location_list,
    proposal_list,
    stock_list,
    stock_movement_list,
    transfer_lines_moving,
)
from .services import STOCK_CHANGES
from .services.events import EventCalendar
from .services.replenishment import COVER_DAYS, LEAD_DAYS, replenishment_decide_many

STOCK_PAGE_SIZE = 50
LEDGER_PAGE_SIZE = 50


# --- pages ------------------------------------------------------------------------------------------------


@login_required
@permission_required("inventory.view_stocklevel", raise_exception=True)
def stock(request: HttpRequest) -> HttpResponse:
    """Stock by location and SKU, searchable by SKU prefix, EAN or name, filtered by one of my locations."""
    form = StockFilterForm(request.GET, locations=location_list(user=request.user))
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if form.errors:
        rows = KeysetPage([], "", True)
    else:
        rows = keyset_page(
            stock_list(user=request.user, location=data.get("location"), query=data.get("q", "").strip()),
            ordering=["location__code", "product__sku"],
            cursor=request.GET.get("after", ""),
            size=STOCK_PAGE_SIZE,
        )
    context = {
        "form": form,
        "page": rows,
        "next_query": next_page_query(request, rows.next_cursor),
        "first_query": first_page_query(request),
    }
    partial = wants_partial(request)
    template = "inventory/_stock_results.html" if partial else "inventory/stock.html"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _stock_row(request: HttpRequest, location: str, sku: str) -> StockLevel:
    """The stock row at one of the user's locations; 404 outside the user's scope."""
    place = get_object_or_404(location_list(user=request.user), code=location)
    row: StockLevel = get_object_or_404(stock_list(user=request.user, location=place), product__sku=sku)
    return row


# Each action of a stock row's page: its form, the field of the change it makes (`STOCK_CHANGES`: the service
# and the permission), the message when it is made.
ROW_ACTIONS: dict[str, tuple[type[forms.Form], str, Any]] = {
    "count": (StockCountForm, "on_hand", gettext_lazy("Count saved.")),
    "adjust": (StockAdjustForm, "delta", gettext_lazy("Adjustment saved.")),
    "safety": (StockSafetyForm, "safety_stock", gettext_lazy("Safety stock saved.")),
}


@login_required
@permission_required("inventory.view_stocklevel", raise_exception=True)
def ledger(request: HttpRequest, location: str, sku: str) -> HttpResponse:
    """One stock row and its ledger; staff of the location may set a count or apply an adjustment, planners
    (managers, admins) set its safety stock."""
    row = _stock_row(request, location, sku)
    allowed = {
        action: request.user.has_perm(STOCK_CHANGES[field][1])
        for action, (_f, field, _d) in ROW_ACTIONS.items()
    }
    row_forms: dict[str, forms.Form] = {
        action: form_class(prefix=action) for action, (form_class, _f, _d) in ROW_ACTIONS.items()
    }
    row_forms["safety"].initial = {"safety_stock": row.safety_stock}
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in ROW_ACTIONS:
            messages.error(request, _("Unknown action."))
            return HttpResponseRedirect(request.path)
        if not allowed[action]:
            raise PermissionDenied
        form = row_forms[action] = ROW_ACTIONS[action][0](request.POST, prefix=action)
        if form.is_valid():
            is_first, led = once.first(request)
            if not is_first:  # sent twice: an adjustment is not applied twice
                return once.repeated(request, led, request.path)
            _apply(request, row, action, form.cleaned_data)
            return HttpResponseRedirect(request.path)
        status = 400
    movements = keyset_page(
        stock_movement_list(stock=row),
        ordering=["-at", "-id"],
        cursor=request.GET.get("after", ""),
        size=LEDGER_PAGE_SIZE,
    )
    context = {
        "row": row,
        "page": movements,
        "next_query": next_page_query(request, movements.next_cursor),
        "first_query": first_page_query(request),
        "can_change": allowed["count"],
        "can_plan": allowed["safety"],
        "count_form": row_forms["count"],
        "adjust_form": row_forms["adjust"],
        "safety_form": row_forms["safety"],
        "stock_url": reverse("inventory:stock"),
        "moving": transfer_lines_moving(stock=row),
    }
    return render(request, "inventory/ledger.html", context, status=status)


def _apply(request: HttpRequest, row: StockLevel, action: str, data: dict[str, Any]) -> None:
    """Call the stock service; a refused change (below reserved…) is an error message, nothing changes."""
    _form, field, done = ROW_ACTIONS[action]
    try:
        with once.claimed(request):
            STOCK_CHANGES[field][0](
                location=row.location,
                product=row.product,
                reason=data["reason"],
                by=request.user,
                **{field: data[field]},
            )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        once.done(request, request.path)
        messages.success(request, done)


PROPOSALS_SHOWN = 200  # the most urgent open proposals on one page; a location filter narrows them


def _planning_scope(request: HttpRequest) -> tuple[QuerySet[Location], Location | None]:
    """The user's locations and the one asked for (`?location=CODE`) on the replenishment and forecast pages:
    403 for roles that do not plan stock, 404 for a location outside the user's."""
    if not is_manager_or_admin(request.user):
        raise PermissionDenied(_("Only managers and admins plan stock."))
    locations = location_list(user=request.user)
    code = request.GET.get("location", "")
    return locations, get_object_or_404(locations, code=code) if code else None


@login_required
def replenishment(request: HttpRequest) -> HttpResponse:
    """Open replenishment proposals of the user's locations, most urgent first; managers and admins approve
    or reject the ones they tick (with their audit rows; approved ones from a source become transfers, one per
    source and location). A proposal outside the
    user's locations is a 404, whether asked for by filter or by id."""
    locations, location = _planning_scope(request)
    if request.method == "POST":
        action = request.POST.get("action", "")
        given = request.POST.getlist("proposal")
        ids = {n for i in given if (n := whole_number(i)) is not None}
        if action not in ("approve", "reject") or not ids or len(ids) < len(set(given)):
            messages.error(request, _("Tick the proposals to decide, then approve or reject them."))
            return HttpResponseRedirect(request.get_full_path())
        # decided ones too: the service tells who decided them (a double click, two managers at once)
        chosen = list(proposal_list(user=request.user, open_only=False).filter(pk__in=ids))
        if len(chosen) != len(ids):
            raise Http404(_("No such proposal."))
        decided, refused = replenishment_decide_many(
            proposals=chosen,
            approve=action == "approve",
            by=request.user,
            note=request.POST.get("note", "").strip(),
        )
        for proposal, exc in refused:
            messages.error(request, f"{proposal.product.sku} @ {proposal.location.code}: {exc.message}")
        if done := len(decided):
            if action == "approve":
                text = ngettext("%(n)d proposal approved.", "%(n)d proposals approved.", done)
            else:
                text = ngettext("%(n)d proposal rejected.", "%(n)d proposals rejected.", done)
            messages.success(request, text % {"n": done})
            opened = sorted({p.transfer.number for p in decided if p.transfer})
            if opened:
                messages.info(
                    request,
                    _("Transfers opened, units reserved at their source: %(list)s.")
                    % {"list": ", ".join(opened)},
                )
        return HttpResponseRedirect(request.get_full_path())
    rows = list(proposal_list(user=request.user, location=location)[: PROPOSALS_SHOWN + 1])
    today = timezone.localdate()
    events = events_touching(  # those the proposals plan with: why a quantity is large
        user=request.user,
        start=today,
        end=today + dt.timedelta(days=LEAD_DAYS + COVER_DAYS - 1),
        location=location,
    )
    context = {
        "rows": rows[:PROPOSALS_SHOWN],
        "more": len(rows) > PROPOSALS_SHOWN,
        "location": location,
        "locations": locations.order_by("code").only("code", "name"),
        "events": events,
    }
    return render(request, "inventory/replenishment.html", context)


EXPORT_COLUMNS = [
    "location", "sku", "product", "available", "incoming", "daily_demand", "days_covered", "reorder_point",
    "target", "qty", "source", "proposed_at",
]  # fmt: skip


@login_required
def replenishment_export(request: HttpRequest) -> StreamingHttpResponse:
    """The open proposals of the page (same scope and location filter) as CSV, all of them, most urgent first:
    what a buyer sends on to suppliers."""
    _locations, location = _planning_scope(request)
    proposals = proposal_list(user=request.user, location=location)

    def rows() -> Iterator[list[Any]]:
        for p in proposals.iterator(chunk_size=2000):
            yield [
                p.location.code, p.product.sku, p.product.name, p.available, p.incoming, p.daily_demand,
                p.cover_days if p.cover_days is not None else "", p.reorder_point, p.target, p.qty,
                p.source.code if p.source else "", timezone.localtime(p.created_at).isoformat(),
            ]  # fmt: skip

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return csv_response(EXPORT_COLUMNS, rows(), filename=f"replenishment-{stamp}.csv")


FORECAST_SHOWN = 100  # the products with the most demand at the location
FORECAST_DAYS = 14  # the chart: the location's expected units for the next two weeks


def _next_week(
    rows: list[DemandForecast], week: list[float], days: list[dt.date], calendar: EventCalendar
) -> list[DemandForecast]:
    """Each row with `next_week`: its units over `days`, each as its weekday and its demand events bring."""
    for r in rows:
        units = sum(
            float(r.daily)
            * week[day.weekday()]
            * calendar.factor(r.stock.location_id, r.stock.product_id, day)
            for day in days
        )
        r.next_week = Decimal(str(round(units, 1)))  # type: ignore[attr-defined]
    return rows


@login_required
def forecast(request: HttpRequest) -> HttpResponse:
    """A location's demand forecast for managers and admins: its next two weeks (chart), the shape of its
    week, how far off the method was on its last two weeks, and the products it sells most with the days their
    free stock lasts at the forecast rate. The first of my locations with a forecast, unless one is asked."""
    locations, location = _planning_scope(request)
    if location is None:
        location = locations.filter(demand_profile__isnull=False).order_by("code").first()
    profile = LocationDemandProfile.objects.filter(location=location).first() if location else None
    context: dict[str, Any] = {
        "locations": locations.order_by("code").only("code", "name"),
        "location": location,
        "profile": profile,
    }
    if location is not None and profile is not None:
        week = profile.weekday_factors
        today = timezone.localdate()
        days = [today + dt.timedelta(days=k) for k in range(FORECAST_DAYS)]
        calendar = EventCalendar.load(days[0], days[-1])
        named = calendar.named_products(location.pk, days)
        daily: dict[int, float] = {}
        if named:  # the location's rates read once: their sum, and those of the products its events name
            rates = DemandForecast.objects.filter(stock__location=location).values_list(
                "stock__product", "daily"
            )
            total = sum((rate for _product, rate in rates), Decimal(0))
            daily = {product: float(rate) for product, rate in rates if product in named}
        else:
            total = forecast_list(location=location).aggregate(n=Sum("daily"))["n"] or Decimal(0)
        expected = {
            d: calendar.location_day(location.pk, d, float(total), daily) * week[d.weekday()] for d in days
        }
        events = events_touching(user=request.user, start=today, end=days[-1], location=location)
        context |= {
            "chart": day_bars(days, expected, label="D", marked=calendar.event_days(location.pk, days)),
            "events": events,
            "week": [
                (date_format(today + dt.timedelta(days=(w - today.weekday()) % 7), "l"), round(100 * f))
                for w, f in enumerate(week)
            ],
            "total": total,
            "rows": _next_week(
                list(forecast_list(location=location)[:FORECAST_SHOWN]), week, days[:7], calendar
            ),
        }
    return render(request, "inventory/forecast.html", context)
