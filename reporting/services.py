"""Writing the KPI rollups (reporting.models): each day's figures recomputed from the orders, fulfilments and
routing decisions by a few grouped queries, and swapped in whole in one transaction, so re-running a day (the
beat does, every few minutes, for the last days) gives the same rows and a reader never sees half a day."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, F, FloatField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone

from oms.calendar import start_of_day
from oms.queue import send_task_now
from orders.models import (
    FULFILMENT_DONE_AT,
    DeliveryMode,
    EntryKind,
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
    ReturnEntry,
    ReturnLine,
)
from routing.models import RoutingDecision

from .models import ZERO, ChannelDay, LocationDay

RECENT_DAYS = 7  # the beat re-rolls today and the days before it: their orders still ship, arrive, cancel
# today's rows older than this are asked for again by whoever reads them (where no beat runs, or it lags)
STALE_AFTER = dt.timedelta(minutes=15)
REFRESH_KEY = "reporting:today-refresh-requested"
# what a routing decision plans to spend (the penalties of its cost breakdown only weigh the choice)
SPENT = ("handling", "picking", "shipping", "transfer")


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of `day` and of the next one, in the project's time zone."""
    return start_of_day(day), start_of_day(day + dt.timedelta(days=1))


def _money_kind(kind: str) -> Q:
    """Entries of `kind` and the corrections of such entries (of the opposite sign)."""
    return Q(kind=kind) | Q(kind=EntryKind.REVERSAL, reverses__kind=kind)


def _after_sales(start: dt.datetime, end: dt.datetime) -> dict[int, dict[str, Any]]:
    """Per channel, the returns of its orders between `start` and `end`: units received back, money refunded
    and money collected from customers who owed, less the corrections of either made then (a refund that
    bounced, a payment charged back); entries of other kinds move no money."""
    rows: dict[int, dict[str, Any]] = {}
    back = (
        ReturnLine.objects.filter(ret__received_at__gte=start, ret__received_at__lt=end)
        .values("ret__order__channel")
        .annotate(u=Sum("qty_received"))
        .order_by()
        .values_list("ret__order__channel", "u")
    )
    for channel, units in back:
        rows.setdefault(channel, {})["returned_units"] = units or 0
    money = (
        ReturnEntry.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            kind__in=[EntryKind.REFUND, EntryKind.CHARGE, EntryKind.REVERSAL],
        )
        .values("ret__order__channel")
        .annotate(
            refunded=Sum("amount", filter=_money_kind(EntryKind.REFUND)),
            collected=Sum("amount", filter=_money_kind(EntryKind.CHARGE)),
        )
        .order_by()
        .values_list("ret__order__channel", "refunded", "collected")
    )
    for channel, refunded, collected in money:
        row = rows.setdefault(channel, {})
        row["refunded"] = refunded or ZERO
        row["collected"] = -(collected or ZERO)  # a charge settles what the customer owed: negative
    return rows


def _channel_rows(day: dt.date, now: dt.datetime) -> list[ChannelDay]:
    """The channels' sales of `day`: an exchange order sent for a return is after-sales, not a sale (the
    customer paid for the order it replaces), so it counts in neither the orders nor the revenue; its work
    counts at the locations that did it. With them, the returns of the channels' orders that happened that day
    (`_after_sales`), whatever day those orders were placed."""
    start, end = day_bounds(day)
    placed = Q(placed_at__gte=start, placed_at__lt=end, exchange_for__isnull=True)
    shipments = (
        Fulfilment.objects.filter(order=OuterRef("pk"))
        .exclude(kind=FulfilmentKind.TRANSFER)
        .exclude(status=FulfilmentStatus.CANCELLED)
        .values("order")
        .annotate(n=Count("pk"))
        .values("n")
    )
    orders = (
        Order.objects.filter(placed)
        .annotate(
            shipments=Subquery(shipments),
            line_units=Subquery(
                OrderLine.objects.filter(order=OuterRef("pk"))
                .values("order")
                .annotate(u=Sum("qty"))
                .values("u")
            ),
            backordered=Exists(OrderLine.objects.filter(order=OuterRef("pk"), status=LineStatus.BACKORDERED)),
            routed=Exists(RoutingDecision.objects.filter(order=OuterRef("pk"))),
        )
        .values("channel")
        .annotate(
            n=Count("pk"),
            units=Sum("line_units"),
            revenue=Sum("total"),
            pickup=Count("pk", filter=Q(delivery_mode=DeliveryMode.PICKUP)),
            cancelled=Count("pk", filter=Q(status=OrderStatus.CANCELLED)),
            fulfilled=Count("pk", filter=Q(shipments__gte=1)),
            split=Count("pk", filter=Q(shipments__gte=2)),
            back=Count("pk", filter=Q(backordered=True)),
            routed_n=Count("pk", filter=Q(routed=True)),
        )
        .order_by()
    )
    spent = sum(
        (Cast(KT(f"cost_breakdown__{key}"), FloatField()) for key in SPENT[1:]),
        Cast(KT(f"cost_breakdown__{SPENT[0]}"), FloatField()),
    )
    cost = dict(
        RoutingDecision.objects.filter(
            order__placed_at__gte=start, order__placed_at__lt=end, order__exchange_for__isnull=True
        )
        .values("order__channel")
        .annotate(c=Sum(spent))
        .order_by()
        .values_list("order__channel", "c")
    )
    after = _after_sales(start, end)
    rows = [
        ChannelDay(
            day=day,
            channel_id=row["channel"],
            orders=row["n"],
            units=row["units"] or 0,
            revenue=row["revenue"] or ZERO,
            pickup_orders=row["pickup"],
            cancelled_orders=row["cancelled"],
            fulfilled_orders=row["fulfilled"],
            split_orders=row["split"],
            backordered_orders=row["back"],
            routed_orders=row["routed_n"],
            fulfilment_cost=Decimal(str(round(cost.get(row["channel"]) or 0.0, 2))),
            rolled_at=now,
            **after.pop(row["channel"], {}),
        )
        for row in orders
    ]
    # channels with returns that day and no order placed
    rows.extend(
        ChannelDay(day=day, channel_id=channel, rolled_at=now, **values) for channel, values in after.items()
    )
    return rows


def _location_rows(day: dt.date, now: dt.datetime) -> list[LocationDay]:
    start, end = day_bounds(day)
    rows: dict[int, dict[str, Any]] = {}
    given = (
        Fulfilment.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("location")
        .annotate(n=Count("pk"), cancelled=Count("pk", filter=Q(status=FulfilmentStatus.CANCELLED)))
        .order_by()
    )
    for lid, n, cancelled in given.values_list("location", "n", "cancelled"):
        rows.setdefault(lid, {}).update(assigned=n, cancelled=cancelled)
    lines = (
        FulfilmentLine.objects.filter(fulfilment__created_at__gte=start, fulfilment__created_at__lt=end)
        .values("fulfilment__location")
        .annotate(u=Sum("qty"), short=Sum("qty_short"))
        .order_by()
    )
    for lid, units, short in lines.values_list("fulfilment__location", "u", "short"):
        rows.setdefault(lid, {}).update(units=units or 0, short_units=short or 0)
    done = (
        Fulfilment.objects.annotate(done_at=FULFILMENT_DONE_AT)
        .filter(done_at__gte=start, done_at__lt=end)
        .values("location")
        .annotate(
            n=Count("pk"), on_time=Count("pk", filter=Q(ship_by__isnull=True) | Q(done_at__lte=F("ship_by")))
        )
        .order_by()
    )
    for lid, n, on_time in done.values_list("location", "n", "on_time"):
        rows.setdefault(lid, {}).update(done=n, done_on_time=on_time)
    return [LocationDay(day=day, location_id=lid, rolled_at=now, **values) for lid, values in rows.items()]


def kpi_rollup(*, day: dt.date) -> tuple[int, int]:
    """Recompute one day's rollup rows (channels, locations) and swap them in; returns how many of each."""
    now = timezone.now()
    channel_rows = _channel_rows(day, now)
    location_rows = _location_rows(day, now)
    with transaction.atomic():
        ChannelDay.objects.filter(day=day).delete()
        LocationDay.objects.filter(day=day).delete()
        ChannelDay.objects.bulk_create(channel_rows)
        LocationDay.objects.bulk_create(location_rows)
    return len(channel_rows), len(location_rows)


def kpi_rollup_recent(*, days: int = RECENT_DAYS, today: dt.date | None = None) -> int:
    """Re-roll today and the `days - 1` days before it (the beat's job; a backfill with a larger `days`).
    Returns the rows written."""
    today = today or timezone.localdate()
    return sum(sum(kpi_rollup(day=today - dt.timedelta(days=back))) for back in range(days))


def kpi_refresh_if_stale() -> bool:
    """Ask for today's rollup again when today's newest row is older than STALE_AFTER, or there is none: the
    beat's work, asked for by a reader where no beat runs (`make run`, tasks inline: it runs now, before the
    page reads the rows) or where it lags (a worker runs it; the next read shows it). At most one request a
    minute, whoever reads. Returns whether it asked."""
    newest = ChannelDay.objects.filter(day=timezone.localdate()).aggregate(m=Max("rolled_at"))["m"]
    if newest is not None and timezone.now() - newest < STALE_AFTER:
        return False
    if not cache.add(REFRESH_KEY, 1, timeout=60):
        return False
    send_task_now("reporting.rollup", 1)
    return True
