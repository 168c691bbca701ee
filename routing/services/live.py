"""The live path: route an order's uncovered units, reserve them, create fulfilments, record the decision.

`order_route` is what the Celery task "routing.route_order" calls. Each attempt is one transaction that
locks the order first (then stock rows, through the inventory services, then capacity rows by location
pk). If stock moved between the snapshot and the reservation the attempt rolls back and runs again on a
fresh snapshot; the last attempt locks the stock rows of the order's products before reading them, so it
cannot go stale. Nothing is ever reserved beyond what is available.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Location as LocationRow
from inventory.models import Product
from inventory.services import ReserveItem, stock_reserve_many
from oms.brazil import format_brl
from oms.calendar import add_business_days
from oms.exceptions import DomainError
from oms.webhooks import emit_event
from orders.models import (
    DeliveryMode,
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
)
from orders.services import lock_order, order_event, order_refresh_status

from ..engine import HOME, PICKUP, TRANSFER, Plan
from ..engine import Order as EngineOrder
from ..engine import OrderLine as EngineLine
from ..models import DecisionTrigger, LocationDayCapacity, RoutingDecision
from .plans import plan_order
from .snapshot import Snapshot, after_cutoff, business_days_between, snapshot_build

MAX_ATTEMPTS = 3
ROUTABLE = frozenset(
    {
        OrderStatus.AWAITING_ROUTING,
        OrderStatus.ALLOCATED,
        OrderStatus.BACKORDERED,
        OrderStatus.IN_FULFILMENT,
        OrderStatus.PARTLY_SHIPPED,
    }
)
LINE_OPEN = frozenset(
    {LineStatus.PENDING, LineStatus.ALLOCATED, LineStatus.BACKORDERED, LineStatus.IN_FULFILMENT}
)
PICKUP_READY_HOUR = 18  # a pickup or transfer is ready by the end of its processing day


class CapacityTaken(DomainError):
    """A location's capacity for today was used up by another decision after our snapshot."""

    code = "capacity_taken"


def destination_point(order: Order) -> tuple[float, float] | None:
    """The customer's coordinates: the order's own, or the centre of its CEP's city."""
    if order.ship_lat is not None and order.ship_lon is not None:
        return order.ship_lat, order.ship_lon
    if order.ship_cep:
        try:
            from oms.cep import cep_to_point
        except ImportError:  # pragma: no cover - the CEP module ships with oms
            return None
        return cep_to_point(order.ship_cep)
    return None


def uncovered_units(order: Order) -> list[tuple[OrderLine, int]]:
    """(line, units) of each non-cancelled line not yet covered by active fulfilment lines, in line order."""
    return _uncovered(order)[0]


def _uncovered(order: Order) -> tuple[list[tuple[OrderLine, int]], str | None]:
    """The uncovered units, and why they are uncovered when the order was routed before: "short_pick" (units
    reported short), "cancel" (a fulfilment was cancelled), None (never routed)."""
    lines = list(
        order.lines.exclude(status=LineStatus.CANCELLED).select_related("product").order_by("line_no")
    )
    active = ~Q(fulfilment__status=FulfilmentStatus.CANCELLED)
    rows = (
        FulfilmentLine.objects.filter(order_line__order=order)
        .values("order_line_id")
        .annotate(units=Sum(F("qty") - F("qty_short"), filter=active), short=Sum("qty_short"), n=Count("pk"))
        .values_list("order_line_id", "units", "short", "n")
    )
    covered: dict[int, int] = {}
    seen = short = 0
    for line_id, units, line_short, n in rows:
        covered[line_id] = units or 0
        seen += n
        short += line_short or 0
    out = []
    for line in lines:
        missing = line.qty - covered.get(line.pk, 0)
        if missing > 0:
            out.append((line, missing))
    cause = None if not seen else (DecisionTrigger.SHORT_PICK if short else DecisionTrigger.CANCEL)
    return out, cause


def engine_deadline(order: Order, start: dt.date) -> int:
    """Business days left until the promised date; a late order gets its original window from today."""
    promised = order.promised_date or add_business_days(
        timezone.localtime(order.placed_at).date(), order.deadline_days
    )
    left = business_days_between(start, promised)
    return left if left >= 0 else order.deadline_days


def engine_order(
    order: Order, need: list[tuple[OrderLine, int]], deadline: int, point: tuple[float, float] | None
) -> EngineOrder:
    per_sku: dict[str, list[Any]] = {}
    for line, units in need:
        entry = per_sku.setdefault(line.product.sku, [0, 0.0])
        entry[0] += units
        entry[1] = max(entry[1], float(line.unit_price))
    lines = tuple(EngineLine(sku, q, price) for sku, (q, price) in per_sku.items())
    if order.delivery_mode == DeliveryMode.PICKUP:
        assert order.pickup_location is not None
        return EngineOrder(
            id=order.number or str(order.pk),
            mode=PICKUP,
            lines=lines,
            deadline_days=deadline,
            pickup_location=order.pickup_location.code,
        )
    assert point is not None
    return EngineOrder(
        id=order.number or str(order.pk),
        mode=HOME,
        lines=lines,
        deadline_days=deadline,
        lat=point[0],
        lon=point[1],
    )


@dataclass
class RouteOutcome:
    decision: RoutingDecision | None
    plan: Plan | None


def order_route(
    *, order_id: int, trigger: str = DecisionTrigger.NEW, by: Any = None
) -> RoutingDecision | None:
    """Route every uncovered unit of the order, reserve it and record the decision (or None: nothing to do).

    Idempotent: a second call finds every unit covered and changes nothing. Orders on hold, cancelled or
    finished are left alone. Retries (bounded) when stock or capacity moved since the snapshot; raises
    `InsufficientStock` / `CapacityTaken` only if even the locked last attempt could not reserve.
    """
    t0 = time.perf_counter()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _route_once(order_id, trigger, by, attempt, t0)
        except (InsufficientStock, CapacityTaken):
            if attempt == MAX_ATTEMPTS:
                raise
    return None  # pragma: no cover


@transaction.atomic
def _route_once(order_id: int, trigger: str, by: Any, attempt: int, t0: float) -> RoutingDecision | None:
    try:
        order = lock_order(Order(pk=order_id))  # one decision per order at a time
    except Order.DoesNotExist:
        return None
    if order.status not in ROUTABLE:
        return None
    need, cause = _uncovered(order)
    if not need:
        return None
    if trigger == DecisionTrigger.NEW and cause is not None:
        trigger = cause  # routed before: these units come back from a short pick or a cancelled fulfilment
    if order.delivery_mode == DeliveryMode.PICKUP:
        order = Order.objects.select_related("channel", "pickup_location").get(pk=order.pk)
    now = timezone.now()
    products = _distinct_products(need)
    units: dict[int, int] = defaultdict(int)
    for line, q in need:
        units[line.product_id] += q
    snap = snapshot_build(
        products=products,
        channel_id=order.channel_id,
        dest_cep=order.ship_cep if order.delivery_mode == DeliveryMode.HOME else "",
        pickup_code=order.pickup_location.code if order.pickup_location else None,
        now=now,
        lock_stock=attempt == MAX_ATTEMPTS,
        units=dict(units),
    )
    deadline = engine_deadline(order, snap.start)
    point = destination_point(order) if order.delivery_mode == DeliveryMode.HOME else None
    if order.delivery_mode == DeliveryMode.HOME and point is None:
        plan = None
    else:
        plan = plan_order(snap.network, engine_order(order, need, deadline, point), snap.engine_policy)
    if trigger == DecisionTrigger.BACKORDER_RETRY and (plan is None or not plan.packages):
        return None  # still nothing to send: no new decision, no timeline noise
    return persist_plan(
        order=order, need=need, plan=plan, snap=snap, trigger=trigger, by=by, now=now, attempt=attempt, t0=t0
    )


def _distinct_products(need: list[tuple[OrderLine, int]]) -> list[Product]:
    seen: dict[int, Product] = {}
    for line, _q in need:
        seen.setdefault(line.product_id, line.product)
    return list(seen.values())


def persist_plan(
    *,
    order: Order,
    need: list[tuple[OrderLine, int]],
    plan: Plan | None,
    snap: Snapshot,
    trigger: str,
    by: Any,
    now: dt.datetime,
    attempt: int = 1,
    t0: float | None = None,
) -> RoutingDecision:
    """Write a plan for a locked order: fulfilments and lines, reservations, capacity, line statuses, the
    decision, the timeline event and the order status. Raises InsufficientStock / CapacityTaken (the
    caller's transaction rolls back) when stock or capacity moved since the snapshot."""
    static = snap.static
    remaining = {line.pk: q for line, q in need}
    lines_by_sku: dict[str, list[OrderLine]] = defaultdict(list)
    for line, _q in need:
        lines_by_sku[line.product.sku].append(line)
    packages = plan.packages if plan is not None else []
    fulfilments = []
    for pkg in packages:
        loc = static.locations[pkg.location]
        if pkg.service is None:
            kind = FulfilmentKind.PICKUP
        elif pkg.service == TRANSFER:
            kind = FulfilmentKind.TRANSFER
        else:
            kind = FulfilmentKind.SHIP
        fulfilments.append(
            Fulfilment(
                order=order,
                location_id=loc.pk,
                kind=kind,
                carrier_service="" if kind != FulfilmentKind.SHIP else (pkg.service or ""),
                ship_by=_ship_by(snap, loc.processing_days, pkg.service, now),
            )
        )
    Fulfilment.objects.bulk_create(fulfilments)
    fl_rows: list[FulfilmentLine] = []
    for pkg, ful in zip(packages, fulfilments, strict=True):
        for sku, qty in pkg.lines:
            left = qty
            for line in lines_by_sku[sku]:
                take = min(left, remaining[line.pk])
                if take <= 0:
                    continue
                fl_rows.append(FulfilmentLine(fulfilment=ful, order_line=line, qty=take))
                remaining[line.pk] -= take
                left -= take
                if left == 0:
                    break
    FulfilmentLine.objects.bulk_create(fl_rows)
    if fl_rows:
        items = [
            ReserveItem(
                location=LocationRow(
                    pk=fl.fulfilment.location_id, code=static.by_pk[fl.fulfilment.location_id].code
                ),
                product=fl.order_line.product,
                qty=fl.qty,
                ref=f"fl:{fl.pk}",
            )
            for fl in fl_rows
        ]
        stock_reserve_many(
            items=items, group=order.number or "", reason=f"routed order {order.number}", by=by
        )
    _consume_capacity(fulfilments, packages, snap, now)
    allocated_lines = [line.pk for line, _q in need if remaining[line.pk] == 0]
    short_lines = [line.pk for line, _q in need if remaining[line.pk] > 0]
    OrderLine.objects.filter(
        pk__in=allocated_lines, status__in=[LineStatus.PENDING, LineStatus.BACKORDERED]
    ).update(status=LineStatus.ALLOCATED)
    OrderLine.objects.filter(pk__in=short_lines, status__in=LINE_OPEN).update(status=LineStatus.BACKORDERED)
    summary = explain(order=order, plan=plan, snap=snap)
    decision = _record(order, plan, snap, trigger, summary, fulfilments, need, remaining, attempt, t0)
    order_event(
        order=order,
        kind="routed",
        by=by,
        message=summary,
        data={
            "decision": decision.pk,
            "trigger": trigger,
            "fulfilments": [f.pk for f in fulfilments],
            "backordered_units": decision.units_backordered,
        },
    )
    order_refresh_status(order=order, by=by)
    emit_event(
        "order.routed",
        {
            "order": order.number,
            "fulfilments": [
                {
                    "id": f.pk,
                    "location": static.by_pk[f.location_id].code,
                    "kind": f.kind,
                    "service": f.carrier_service,
                }
                for f in fulfilments
            ],
            "backordered_units": decision.units_backordered,
        },
    )
    return decision


def _ship_by(snap: Snapshot, processing_days: int, service: str | None, now: dt.datetime) -> dt.datetime:
    hour = PICKUP_READY_HOUR
    shift = 0
    if service is not None and service != TRANSFER and service in snap.services:
        info = snap.services[service]
        hour = min(info.cutoff_hour, 23)
        shift = 1 if after_cutoff(now, info.cutoff_hour) else 0
    day = add_business_days(snap.start, processing_days + shift)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _consume_capacity(
    fulfilments: list[Fulfilment], packages: list[Any], snap: Snapshot, now: dt.datetime
) -> None:
    """Add each location's routed units to its capacity used today, never past its daily capacity."""
    per_loc: dict[int, int] = defaultdict(int)
    for ful, pkg in zip(fulfilments, packages, strict=True):
        per_loc[ful.location_id] += pkg.units
    if not per_loc:
        return
    today = timezone.localtime(now).date()
    table = LocationDayCapacity._meta.db_table
    # one statement per location: insert today's row or add to it, only while it stays within capacity
    # the table name is the model's; every value is a parameter
    sql = (
        f'INSERT INTO "{table}" ("location_id", "day", "units_used") VALUES (%s, %s, %s) '  # noqa: S608
        f'ON CONFLICT ("location_id", "day") DO UPDATE SET "units_used" = "{table}"."units_used" + '
        f'excluded."units_used" WHERE "{table}"."units_used" + excluded."units_used" <= %s RETURNING "id"'
    )
    with connection.cursor() as cursor:
        for pk in sorted(per_loc):  # capacity rows are updated in location pk order (no deadlock)
            qty = per_loc[pk]
            cap = snap.static.by_pk[pk].daily_capacity
            done = False
            if qty <= cap:
                cursor.execute(sql, [pk, today, qty, cap])
                done = cursor.fetchone() is not None
            if not done:
                code = snap.static.by_pk[pk].code
                raise CapacityTaken(f"{code} has no capacity left for {qty} units today.")


def capacity_give_back(*, location_id: int, units: int, day: dt.date) -> None:
    """Return units to a location's capacity for `day` (a decision was replaced)."""
    LocationDayCapacity.objects.filter(location_id=location_id, day=day, units_used__gte=units).update(
        units_used=F("units_used") - units
    )


def _record(
    order: Order,
    plan: Plan | None,
    snap: Snapshot,
    trigger: str,
    summary: str,
    fulfilments: list[Fulfilment],
    need: list[tuple[OrderLine, int]],
    remaining: dict[int, int],
    attempt: int,
    t0: float | None,
) -> RoutingDecision:
    static = snap.static
    if plan is not None:
        plan_doc = plan.to_dict()
        candidates = plan_doc.pop("explanation")
        for cand in candidates["candidates"]:
            info = static.locations.get(cand["location"])
            cand["name"] = info.name if info else cand["location"]
        for pkg_doc, ful in zip(plan_doc["packages"], fulfilments, strict=True):
            info = static.locations[pkg_doc["location"]]
            pkg_doc["name"] = info.name
            pkg_doc["fulfilment"] = ful.pk
            svc = snap.services.get(pkg_doc["service"] or "")
            pkg_doc["service_name"] = svc.name if svc else pkg_doc["service"]
            pkg_doc["rate_card"] = bool(svc and svc.code in snap.rate_priced)
            if pkg_doc["days"] is not None:
                pkg_doc["date"] = add_business_days(snap.start, pkg_doc["days"]).isoformat()
        total = Decimal(str(round(plan.total_cost, 2)))
        breakdown = plan_doc.pop("cost_breakdown")
        engine_ms = plan.latency_ms
    else:
        plan_doc = {"packages": [], "unfilled": [{"sku": ln.product.sku, "qty": q} for ln, q in need]}
        candidates = {"candidates": [], "notes": ["the delivery address has no coordinates and no known CEP"]}
        total, breakdown, engine_ms = Decimal("0.00"), {}, 0.0
    latency = (time.perf_counter() - t0) * 1000.0 if t0 is not None else engine_ms
    return RoutingDecision.objects.create(
        order=order,
        trigger=trigger,
        policy_id=snap.policy.pk,
        policy_version=snap.policy.version if snap.policy.pk else None,
        latency_ms=latency,
        engine_ms=engine_ms,
        attempts=attempt,
        total_cost=total,
        cost_breakdown=breakdown,
        plan=plan_doc,
        candidates=candidates,
        summary=summary,
        units_routed=sum(q for _l, q in need) - sum(remaining.values()),
        units_backordered=sum(remaining.values()),
    )


# ------------------------------------------------------------------------------------------ plain words
def _brl(value: float) -> str:
    return format_brl(Decimal(str(round(value, 2))))


REASON_WORDS = {
    "too slow": "could not arrive in time",
    "no capacity": "had no capacity left today",
    "paused": "is paused",
    "not allowed by policy": "is not allowed by the channel's policy",
    "out of service range": "is out of every service's range",
    "does not ship": "does not ship to homes",
}


def explain(*, order: Order, plan: Plan | None, snap: Snapshot, limit: int = 3) -> str:
    """Why this plan, in one or two plain sentences for customer service."""
    static = snap.static
    if plan is None:
        return (
            "Not routed: the delivery address has no coordinates and its CEP is unknown; units backordered."
        )

    def name(code: str) -> str:
        info = static.locations.get(code)
        return f"{info.name} ({code})" if info else code

    parts: list[str] = []
    if plan.packages:
        pieces = []
        for pkg in plan.packages:
            if pkg.service is None:
                pieces.append(f"picked at {name(pkg.location)} for pickup")
            elif pkg.service == TRANSFER:
                pieces.append(f"transferred from {name(pkg.location)} to the pickup store")
            else:
                svc = snap.services.get(pkg.service)
                pieces.append(f"ships from {name(pkg.location)} by {svc.name if svc else pkg.service}")
        days = plan.delivery_days or 0
        when = add_business_days(snap.start, days)
        verb = "ready" if plan.mode == PICKUP else "arrives"
        head = "; ".join(pieces)
        parts.append(
            f"{head[0].upper()}{head[1:]}: cheapest option that {verb} by {when:%d/%m} "
            f"({_brl(plan.total_cost)})"
        )
    expl = plan.explanation
    chosen = {p.location for p in plan.packages}
    costlier = sorted(
        (c for c in expl.candidates if c.reason == "costlier" and c.location not in chosen),
        key=lambda c: (c.cost is None, c.cost or 0.0),
    )
    for cand in costlier[:limit]:
        if cand.cost is None:  # the search proved it dearer without pricing it in full
            parts.append(f"{name(cand.location)} would cost more")
            continue
        delta = cand.cost - plan.total_cost
        if delta > 0.005:
            parts.append(f"{name(cand.location)} was {_brl(delta)} more expensive")
        else:
            parts.append(f"{name(cand.location)} cost the same")
    rejected = [c for c in expl.candidates if c.reason in REASON_WORDS]
    for cand in rejected[:limit]:
        parts.append(f"{name(cand.location)} {REASON_WORDS[cand.reason]}")
    if expl.no_stock:
        parts.append(f"{expl.no_stock} other location{'s' if expl.no_stock != 1 else ''} had no stock")
    if plan.unfilled:
        units = sum(q for _s, q in plan.unfilled)
        skus = ", ".join(s for s, _q in plan.unfilled)
        parts.append(
            f"{units} unit{'s' if units != 1 else ''} backordered ({skus}): no location can supply in time"
        )
    return "; ".join(parts) + "."
