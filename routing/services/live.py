"""The live path: route an order's uncovered units, reserve them, create fulfilments, record the decision.

`order_route` is what the Celery task "routing.route_order" calls. Each attempt is one transaction that
locks the order first (then stock rows, through the inventory services, then capacity rows by location
pk). If stock moved between the snapshot and the reservation the attempt rolls back and runs again on a
fresh snapshot; the last attempt locks the stock rows of the order's products before reading them, so it
cannot go stale. Nothing is ever reserved beyond what is available.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Location as LocationRow
from inventory.models import Product
from inventory.services import ReserveItem, stock_reserve_many
from oms.brazil import format_brl
from oms.calendar import add_business_days
from oms.db import assign_ids, columns_of, commit_async, rows_to_instances, save_new
from oms.exceptions import DomainError
from oms.queue import request_taken, send_task_now
from oms.webhooks import emit_event
from orders.models import (
    Channel,
    DeliveryMode,
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.services import lock_order, order_event, order_refresh_status, order_status_events

from ..engine import HOME, PICKUP, TRANSFER, Plan
from ..engine import Order as EngineOrder
from ..engine import OrderLine as EngineLine
from ..models import DecisionTrigger, LocationDayCapacity, RoutingDecision
from .plans import plan_order
from .snapshot import Snapshot, after_cutoff, business_days_between, snapshot_build, static_network

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# New orders ask for this task on commit (oms.queue.request_on_commit; the name is in orders.services too).
DRAIN_TASK = "routing.drain"
DRAIN_PASS = 100  # orders visited per pass
DRAIN_PASSES = 50  # passes per run, then a fresh run takes over
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


def _uncovered(order: Order) -> tuple[list[tuple[OrderLine, int]], str | None, dict[int, str]]:
    """The uncovered units, why they are uncovered when the order was routed before ("short_pick": units
    reported short, "cancel": a fulfilment was cancelled, None: never routed), and the status of every line
    (cancelled ones too: the order status is derived from them). One statement: lines, their products and
    what their fulfilment lines cover."""
    out: list[tuple[OrderLine, int]] = []
    seen = short = 0
    statuses: dict[int, str] = {}
    for line, covered_units, short_units, fl_count in _lines_covered(order.pk):
        statuses[line.pk] = line.status
        seen += fl_count
        short += short_units
        if line.status == LineStatus.CANCELLED:
            continue
        missing = line.qty - covered_units
        if missing > 0:
            out.append((line, missing))
    cause = None if not seen else (DecisionTrigger.SHORT_PICK if short else DecisionTrigger.CANCEL)
    return out, cause, statuses


def _lines_covered(order_id: int) -> list[tuple[OrderLine, int, int, int]]:
    """Each line of the order (its product loaded), by line number, with the units its fulfilment lines cover
    (not counting cancelled fulfilments, nor units reported short), the units reported short and how many
    fulfilment lines it has.

    Read on every routing decision: one plain statement, built from the models' own columns, with the
    instances made by `Model.from_db` (the ORM's compiler took longer for this aggregate than the query).
    """
    quote = connection.ops.quote_name
    tables = {
        name: quote(model._meta.db_table)
        for name, model in (("l", OrderLine), ("p", Product), ("fl", FulfilmentLine), ("f", Fulfilment))
    }
    # Only quoted names from the models' metadata go into the text; the order id and status are parameters.
    sql = (
        f"SELECT {columns_of(OrderLine, 'l')}, {columns_of(Product, 'p')},"  # noqa: S608
        " COALESCE(SUM(fl.qty - fl.qty_short) FILTER (WHERE f.status <> %s), 0),"
        " COALESCE(SUM(fl.qty_short), 0), COUNT(fl.id)"
        f" FROM {tables['l']} l JOIN {tables['p']} p ON p.id = l.product_id"
        f" LEFT JOIN {tables['fl']} fl ON fl.order_line_id = l.id"
        f" LEFT JOIN {tables['f']} f ON f.id = fl.fulfilment_id"
        " WHERE l.order_id = %s GROUP BY l.id, p.id ORDER BY l.line_no"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [FulfilmentStatus.CANCELLED, order_id])
        rows = rows_to_instances(cursor.fetchall(), [OrderLine, Product])
    out = []
    for line, product, covered, short, count in rows:
        line.product = product
        out.append((line, int(covered), int(short), int(count)))
    return out


def _pick_next(after: int) -> Order | None:
    """The next order awaiting routing after `after` (by pk) that no other transaction holds, locked until
    the caller's transaction ends (FOR UPDATE SKIP LOCKED), its channel loaded. A plain statement: the ORM's
    compiler took longer than the pick itself, which the partial index of the queue makes one index step."""
    quote = connection.ops.quote_name
    orders, channels = quote(Order._meta.db_table), quote(Channel._meta.db_table)
    # Only quoted names from the models' metadata go into the text; the status and pk are parameters.
    sql = (
        f"SELECT {columns_of(Order, 'o')}, {columns_of(Channel, 'c')}"  # noqa: S608
        f" FROM {orders} o JOIN {channels} c ON c.id = o.channel_id"
        " WHERE o.status = %s AND o.id > %s ORDER BY o.id LIMIT 1"
    )
    if connection.features.has_select_for_update_skip_locked:  # not SQLite: one writer at a time there
        sql += " FOR UPDATE OF o SKIP LOCKED"
    with connection.cursor() as cursor:
        cursor.execute(sql, [OrderStatus.AWAITING_ROUTING, after])
        rows = rows_to_instances(cursor.fetchall(), [Order, Channel])
    if not rows:
        return None
    order, channel = rows[0]
    order.channel = channel
    return order


def engine_deadline(order: Order, start: dt.date) -> int:
    """Business days left until the promised date; a late order gets its original window from today."""
    promised = order.promised_date or add_business_days(
        timezone.localtime(order.placed_at).date(), order.deadline_days
    )
    left = business_days_between(start, promised)
    return left if left >= 0 else order.deadline_days


def engine_order(
    order: Order,
    need: list[tuple[OrderLine, int]],
    deadline: int,
    point: tuple[float, float] | None,
    pickup_code: str | None = None,
) -> EngineOrder:
    """The engine's view of the order's uncovered units (`pickup_code` spares reading the pickup store)."""
    per_sku: dict[str, list[Any]] = {}
    for line, units in need:
        entry = per_sku.setdefault(line.product.sku, [0, 0.0])
        entry[0] += units
        entry[1] = max(entry[1], float(line.unit_price))
    lines = tuple(EngineLine(sku, q, price) for sku, (q, price) in per_sku.items())
    if order.delivery_mode == DeliveryMode.PICKUP:
        if pickup_code is None:
            assert order.pickup_location is not None
            pickup_code = order.pickup_location.code
        return EngineOrder(
            id=order.number or str(order.pk),
            mode=PICKUP,
            lines=lines,
            deadline_days=deadline,
            pickup_location=pickup_code,
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


@dataclass
class _Pick:
    """The cursor of a drain of orders awaiting routing: the last order picked (pk order)."""

    after: int = 0
    picked: int | None = None


def order_route(
    *, order_id: int, trigger: str = DecisionTrigger.NEW, by: Any = None
) -> RoutingDecision | None:
    """Route every uncovered unit of the order, reserve it and record the decision (or None: nothing to do).

    Idempotent: a second call finds every unit covered and changes nothing. Orders on hold, cancelled or
    finished are left alone. Retries (bounded) when stock or capacity moved since the snapshot; raises
    `InsufficientStock` / `CapacityTaken` only if even the locked last attempt could not reserve.
    """
    return _route_attempts(order_id, trigger, by, time.perf_counter(), first=1)


def _route_attempts(order_id: int, trigger: str, by: Any, t0: float, *, first: int) -> RoutingDecision | None:
    for attempt in range(first, MAX_ATTEMPTS + 1):
        try:
            return _route_once(order_id, trigger, by, attempt, t0)
        except (InsufficientStock, CapacityTaken):
            if attempt == MAX_ATTEMPTS:
                raise
    return None  # pragma: no cover


def orders_route_pending(*, limit: int = 100, by: Any = None) -> int:
    """Route up to `limit` orders awaiting routing, oldest (lowest pk) first; returns how many got a decision.

    Each order is one transaction that picks it with `FOR UPDATE SKIP LOCKED`, so several workers draining
    at once never wait for, nor route, the same order; an order held by anyone else (its own route_order
    task, a cancel) is skipped and left to them. Each order is visited once per call. An order whose stock
    or capacity moved is retried like `order_route`; one that still fails is logged and left awaiting
    routing (its own task, or the next drain, tries again).
    """
    pick = _Pick()
    routed = 0
    for _ in range(limit):
        pick.picked = None
        t0 = time.perf_counter()
        try:
            try:
                decision = _route_once(None, DecisionTrigger.NEW, by, 1, t0, pick=pick)
            except (InsufficientStock, CapacityTaken):
                if pick.picked is None:  # pragma: no cover - raised only once an order is picked
                    raise
                decision = _route_attempts(pick.picked, DecisionTrigger.NEW, by, t0, first=2)
        except (InsufficientStock, CapacityTaken, DatabaseError):
            logger.warning("routing order %s failed; it stays awaiting routing", pick.picked, exc_info=True)
            decision = None
        if pick.picked is None:
            break  # nothing left that nobody else holds
        if decision is not None:
            routed += 1
    return routed


def orders_drain(*, by: Any = None) -> int:
    """Route the orders awaiting routing, pass after pass, until a pass routes none; returns how many.

    The task behind new orders (`oms.queue.request_on_commit`): a commit queues a run only if none is
    waiting, so at a high intake one run serves many orders, without a Celery message per order. The request
    is cleared before each pass, which is what makes it safe (see request_on_commit). Each pass is
    `orders_route_pending`, so several runs (one per worker process) share the backlog with SKIP LOCKED.
    After DRAIN_PASSES passes a fresh run takes over, so under a steady intake no run holds a worker process
    for ever while other tasks wait.
    """
    routed = 0
    for _ in range(DRAIN_PASSES):
        request_taken(DRAIN_TASK)
        done = orders_route_pending(limit=DRAIN_PASS, by=by)
        routed += done
        if not done:
            return routed
    send_task_now(DRAIN_TASK)
    return routed


@transaction.atomic
def _route_once(
    order_id: int | None, trigger: str, by: Any, attempt: int, t0: float, *, pick: _Pick | None = None
) -> RoutingDecision | None:
    if trigger in (DecisionTrigger.NEW, DecisionTrigger.BACKORDER_RETRY):
        # Lost in a crash, this transaction is redone on its own: the order is still awaiting routing (or
        # backordered) until it commits, and the beat's route_pending / retry_backorders pick it up again.
        commit_async()
    if pick is not None:
        # the next order awaiting routing that no other transaction holds; locked until we commit
        order_or_none = _pick_next(pick.after)
        if order_or_none is None:
            return None
        order = order_or_none
        pick.picked = pick.after = order.pk
    else:
        try:
            order = lock_order(Order(pk=order_id))  # one decision per order at a time
        except Order.DoesNotExist:
            return None
    if order.status not in ROUTABLE:
        return None
    need, cause, statuses = _uncovered(order)
    if not need:
        return None
    if trigger == DecisionTrigger.NEW and cause is not None:
        trigger = cause  # routed before: these units come back from a short pick or a cancelled fulfilment
    now = timezone.now()
    products = _distinct_products(need)
    units: dict[int, int] = defaultdict(int)
    for line, q in need:
        units[line.product_id] += q
    static = static_network()
    pickup_code = None
    if order.delivery_mode == DeliveryMode.PICKUP and order.pickup_location_id is not None:
        info = static.by_pk.get(order.pickup_location_id)
        pickup_code = info.code if info is not None else None
    snap = snapshot_build(
        products=products,
        channel_id=order.channel_id,
        dest_cep=order.ship_cep if order.delivery_mode == DeliveryMode.HOME else "",
        pickup_code=pickup_code,
        now=now,
        lock_stock=attempt == MAX_ATTEMPTS,
        units=dict(units),
        static=static,
    )
    deadline = engine_deadline(order, snap.start)
    point = destination_point(order) if order.delivery_mode == DeliveryMode.HOME else None
    if order.delivery_mode == DeliveryMode.HOME and point is None:
        plan = None
    else:
        eng = engine_order(order, need, deadline, point, pickup_code=pickup_code)
        plan = plan_order(snap.network, eng, snap.engine_policy)
    if trigger == DecisionTrigger.BACKORDER_RETRY and (plan is None or not plan.packages):
        return None  # still nothing to send: no new decision, no timeline noise
    return persist_plan(
        order=order,
        need=need,
        plan=plan,
        snap=snap,
        trigger=trigger,
        by=by,
        now=now,
        attempt=attempt,
        t0=t0,
        line_statuses=statuses,
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
    line_statuses: dict[int, str] | None = None,
) -> RoutingDecision:
    """Write a plan for a locked order: fulfilments and lines, reservations, capacity, line statuses, the
    decision, the timeline events and the order status. Raises InsufficientStock / CapacityTaken (the
    caller's transaction rolls back) when stock or capacity moved since the snapshot.

    With `line_statuses` (the status of every line of the order, as read under the order's lock) the new
    order status is derived from them in memory and written with the timeline in one insert; without it the
    order status is refreshed from the database (`order_refresh_status`)."""
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
    # Keys first (one round trip), so that the reservations can name the fulfilment lines and the timeline the
    # decision; the rows themselves go in together at the end (oms.db.save_new). Without sequences to draw
    # from (SQLite), each is written as soon as it is complete instead.
    decision = RoutingDecision(order=order)
    keyed = assign_ids([fulfilments, fl_rows, [decision]])
    if not keyed:
        save_new([fulfilments, fl_rows])
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
        _reserve(items, snap, group=order.number or "", reason=f"routed order {order.number}", by=by)
    _consume_capacity(fulfilments, packages, snap, now)
    allocated_lines = [line.pk for line, _q in need if remaining[line.pk] == 0]
    short_lines = [line.pk for line, _q in need if remaining[line.pk] > 0]
    _line_statuses(allocated_lines, short_lines)
    summary = explain(order=order, plan=plan, snap=snap)
    _record(decision, plan, snap, trigger, summary, fulfilments, need, remaining, attempt, t0)
    if not keyed:
        save_new([[decision]])
    # The timeline is read by customer service, who see why but not what it costs (the decision has both).
    summary = explain(order=order, plan=plan, snap=snap, with_costs=False)
    routed_data = {
        "decision": decision.pk,
        "trigger": trigger,
        "fulfilments": [f.pk for f in fulfilments],
        "backordered_units": decision.units_backordered,
    }
    if line_statuses is None:
        save_new([fulfilments, fl_rows, [decision]])
        order_event(order=order, kind="routed", by=by, message=summary, data=routed_data)
        order_refresh_status(order=order, by=by)
    else:
        statuses = dict(line_statuses)
        for pk in allocated_lines:
            if statuses.get(pk) in ALLOCATABLE:
                statuses[pk] = LineStatus.ALLOCATED
        for pk in short_lines:
            if statuses.get(pk) in LINE_OPEN:
                statuses[pk] = LineStatus.BACKORDERED
        # the status the lines now add up to, and the "routed" entry with it, written with the plan's rows
        actor = by if getattr(by, "is_authenticated", False) else None
        routed = OrderEvent(order=order, kind="routed", message=summary[:500], actor=actor, data=routed_data)
        events = order_status_events(order=order, line_statuses=statuses.values(), by=by, events=[routed])
        save_new([fulfilments, fl_rows, [decision], events])
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


SINGLE_RESERVE_MAX = 3  # up to this many items, one single-item reservation each is the cheaper path


def _reserve(items: list[ReserveItem], snap: Snapshot, *, group: str, reason: str, by: Any) -> None:
    """Reserve every item, all or nothing (an InsufficientStock rolls back the caller's transaction).

    `stock_reserve_many` takes one statement for a single item on PostgreSQL and about 7 + n for n items;
    for a few items, one single-item call each (in stock-row pk order, the order every reservation locks in,
    so no deadlock) is fewer round trips. Beyond that, one call for all.
    """
    if 1 < len(items) <= SINGLE_RESERVE_MAX and connection.vendor == "postgresql":
        ids = snap.stock_ids
        last = 1 << 62  # rows the snapshot did not see (none available) go last
        ordered = sorted(items, key=lambda i: (ids.get((i.location.pk, i.product.pk), last), i.ref))
        for item in ordered:
            # the refs are this transaction's new fulfilment lines: no savepoint needed (see new_refs)
            stock_reserve_many(items=[item], group=group, reason=reason, by=by, new_refs=True)
        return
    stock_reserve_many(items=items, group=group, reason=reason, by=by, new_refs=True)


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


ALLOCATABLE = (LineStatus.PENDING, LineStatus.BACKORDERED)


def _line_statuses(allocated: list[int], short: list[int]) -> None:
    """Lines now wholly covered become allocated (from pending or backordered), lines left short backordered
    (while open): one UPDATE for both."""
    if not allocated and not short:
        return

    def marks(values: Any) -> str:
        return f"({', '.join(['%s'] * len(values))})" if values else "(NULL)"

    table = connection.ops.quote_name(OrderLine._meta.db_table)
    # The table name is the model's; every id and status is a parameter.
    sql = (
        f"UPDATE {table} SET status = CASE WHEN id IN {marks(allocated)} THEN %s ELSE %s END"  # noqa: S608
        f" WHERE (id IN {marks(allocated)} AND status IN {marks(ALLOCATABLE)})"
        f" OR (id IN {marks(short)} AND status IN {marks(LINE_OPEN)})"
    )
    params: list[int | str] = [*allocated, LineStatus.ALLOCATED, LineStatus.BACKORDERED, *allocated]
    params += [*ALLOCATABLE, *short, *sorted(LINE_OPEN)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _record(
    decision: RoutingDecision,
    plan: Plan | None,
    snap: Snapshot,
    trigger: str,
    summary: str,
    fulfilments: list[Fulfilment],
    need: list[tuple[OrderLine, int]],
    remaining: dict[int, int],
    attempt: int,
    t0: float | None,
) -> None:
    """Fill in the decision: the plan, the candidates considered and why, its costs and timings."""
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
    decision.trigger = trigger
    decision.policy_id = snap.policy.pk
    decision.policy_version = snap.policy.version if snap.policy.pk else None
    decision.latency_ms, decision.engine_ms, decision.attempts = latency, engine_ms, attempt
    decision.total_cost, decision.cost_breakdown = total, breakdown
    decision.plan, decision.candidates, decision.summary = plan_doc, candidates, summary
    decision.units_routed = sum(q for _l, q in need) - sum(remaining.values())
    decision.units_backordered = sum(remaining.values())


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


def explain(
    *, order: Order, plan: Plan | None, snap: Snapshot, limit: int = 3, with_costs: bool = True
) -> str:
    """Why this plan, in one or two plain sentences; `with_costs=False` leaves the money out."""
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
        cost = f" ({_brl(plan.total_cost)})" if with_costs else ""
        parts.append(f"{head[0].upper()}{head[1:]}: cheapest option that {verb} by {when:%d/%m}{cost}")
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
        if delta <= 0.005:
            parts.append(f"{name(cand.location)} cost the same")
        elif with_costs:
            parts.append(f"{name(cand.location)} was {_brl(delta)} more expensive")
        else:
            parts.append(f"{name(cand.location)} would cost more")
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
