"""The KPI dashboard: orders, revenue and fulfilment of the channels and locations a manager sees."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from inventory.selectors import proposal_list
from oms.brazil import format_brl
from oms.charts import day_bars
from oms.csv_export import csv_response
from oms.roles import is_manager_or_admin
from orders.models import Channel
from orders.selectors import channel_list

from .models import ZERO, ChannelDay
from .selectors import channel_day_list, location_totals, overdue_by_location
from .services import kpi_refresh_if_stale

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30


class KpiFilterForm(forms.Form):
    days = forms.TypedChoiceField(
        label=gettext_lazy("Period"),
        choices=[(d, d) for d in PERIODS],  # labelled in the template (in the request's language)
        coerce=int,
        required=False,
    )
    channel = forms.CharField(label=gettext_lazy("Channel"), required=False, max_length=32)


def _pct(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage with one decimal, rounded half up (151 of 2657: "5,7 %"); in exact
    decimals, as number_format cuts a float's digits instead of rounding them."""
    if not whole:
        return "–"
    share = (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return formats.number_format(share, 1) + " %"


def _money(value: Decimal) -> str:
    return format_brl(value.quantize(Decimal("0.01")))


def _figures(rows: list[ChannelDay]) -> dict[str, Any]:
    """Totals of some rollup rows, formatted for the page."""
    orders = sum(r.orders for r in rows)
    routed = sum(r.routed_orders for r in rows)
    revenue = sum((r.revenue for r in rows), ZERO)
    refunded = sum((r.refunded for r in rows), ZERO)
    collected = sum((r.collected for r in rows), ZERO)
    cost = sum((r.fulfilment_cost for r in rows), ZERO)
    units = sum(r.units for r in rows)
    return {
        "orders": orders,
        "units": units,
        "revenue": _money(revenue),
        "refunded": _money(refunded),
        "net_revenue": _money(revenue - refunded + collected),
        "returned_units": sum(r.returned_units for r in rows),
        "returned": _pct(sum(r.returned_units for r in rows), units),
        "aov": _money(revenue / orders) if orders else "–",
        "cancelled": _pct(sum(r.cancelled_orders for r in rows), orders),
        "pickup": _pct(sum(r.pickup_orders for r in rows), orders),
        "split": _pct(sum(r.split_orders for r in rows), sum(r.fulfilled_orders for r in rows)),
        "backordered": _pct(sum(r.backordered_orders for r in rows), orders),
        "cost_per_order": _money(cost / routed) if routed else "–",
    }


@dataclass
class _Filters:
    form: KpiFilterForm
    channels: list[Channel]
    channel: Channel | None
    days: int
    since: dt.date
    until: dt.date


def _allowed(request: HttpRequest) -> None:
    if not is_manager_or_admin(request.user):
        raise PermissionDenied(_("Only managers and admins read the KPI dashboard."))


def _filters(request: HttpRequest) -> _Filters:
    """The period and channel asked for (a period not offered falls back to the default, and the form says
    so); 403 for roles without KPIs, 404 for a channel outside the user's scope."""
    _allowed(request)
    form = KpiFilterForm(request.GET or None)
    days = DEFAULT_PERIOD
    channel: Channel | None = None
    channels = list(channel_list(user=request.user).order_by("code"))
    if form.is_valid():
        days = form.cleaned_data["days"] or DEFAULT_PERIOD
        code = form.cleaned_data["channel"]
        if code:
            channel = next((c for c in channels if c.code == code), None)
            if channel is None:  # another department's channel, or none: nothing to show
                raise Http404(_("No such channel."))
    today = timezone.localdate()
    return _Filters(form, channels, channel, days, today - dt.timedelta(days=days - 1), today)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """KPIs of the last 7, 30 or 90 days for the channels and locations the user sees. Reads only the rollups
    (reporting.services), so it costs the same few queries whatever the number of orders."""
    f = _filters(request)
    form, days, channel, channels, since, today = f.form, f.days, f.channel, f.channels, f.since, f.until
    kpi_refresh_if_stale()
    rows = list(channel_day_list(user=request.user, since=since, until=today, channel=channel))
    by_channel: dict[int, list[ChannelDay]] = defaultdict(list)
    per_day: dict[dt.date, int] = defaultdict(int)
    for r in rows:
        by_channel[r.channel_id].append(r)
        per_day[r.day] += r.orders
    channel_rows = [{"channel": group[0].channel, **_figures(group)} for group in by_channel.values()]
    overdue = overdue_by_location(user=request.user)
    locations = []
    for loc in location_totals(user=request.user, since=since, until=today):
        done = loc["done"] or 0
        on_time = loc["done_on_time"] or 0
        locations.append(
            {
                **loc,
                "on_time": _pct(on_time, done),
                "on_time_width": round(100.0 * on_time / done) if done else 0,
                "short": _pct(loc["short_units"] or 0, loc["units"] or 0),
                "overdue": overdue.get(loc["location"], 0),
            }
        )
    stamps = [r.rolled_at for r in rows] + [loc["rolled_at"] for loc in locations]
    context = {
        "form": form,
        "days": days,
        "channel": channel,
        "channels": channels,
        "since": since,
        "until": today,
        "total": _figures(rows),
        "channel_rows": channel_rows,
        "locations": locations,
        "overdue": sum(overdue.values()),
        "chart": day_bars([since + dt.timedelta(days=i) for i in range(days)], per_day),
        "rolled_at": max(stamps) if stamps else None,
    }
    return render(request, "reporting/dashboard.html", context)


EXPORT_COLUMNS = [
    "day", "channel", "orders", "units", "revenue", "pickup_orders", "cancelled_orders", "fulfilled_orders",
    "split_orders", "backordered_orders", "routed_orders", "fulfilment_cost", "returned_units", "refunded",
    "collected",
]  # fmt: skip


@login_required
@require_GET
def export(request: HttpRequest) -> StreamingHttpResponse:
    """The dashboard's rollup rows (one per channel and day, same period, channel and scope) as CSV."""
    f = _filters(request)
    rows = channel_day_list(user=request.user, since=f.since, until=f.until, channel=f.channel)

    def lines() -> Iterator[list[Any]]:
        for r in rows.iterator(chunk_size=2000):
            yield [r.day.isoformat(), r.channel.code, *(getattr(r, c) for c in EXPORT_COLUMNS[2:])]

    name = f"kpis-{f.channel.code + '-' if f.channel else ''}{f.since.isoformat()}-{f.until.isoformat()}.csv"
    return csv_response(EXPORT_COLUMNS, lines(), filename=name)


@login_required
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    """Today's figures in brief for the home page (an HTMX fragment): orders and revenue of the user's
    channels, what is late right now at their locations, and the replenishment proposals waiting for them."""
    _allowed(request)
    kpi_refresh_if_stale()
    day = timezone.localdate()
    rows = list(channel_day_list(user=request.user, since=day, until=day))
    overdue = overdue_by_location(user=request.user)
    context = {
        "total": _figures(rows),
        "overdue": sum(overdue.values()),
        "proposals": proposal_list(user=request.user).count(),
    }
    return render(request, "reporting/_today.html", context)
