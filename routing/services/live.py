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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Location as LocationRow
from inventory.models import Product
from inventory.services import ReserveItem, stock_reserve_many
from oms.calendar import add_business_days
from oms.db import assign_ids, columns_of, commit_async, model_row, rows_to_instances, save_new
from oms.exceptions import DomainError
from oms.phrases import Phrase, choice_arg, date_arg, english, joined, money_arg, nphrase, phrase, sentence
from oms.queue import lease_release, lease_take, request_taken, send_task_now
from oms.webhooks import emit_all
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
from orders.services import (
    STATUS_FIELDS,
    lock_order,
    new_event,
    order_event,
    order_refresh_status,
    order_status_events,
)

from ..engine import HOME, PICKUP, TRANSFER, Plan
from ..engine import Order as EngineOrder
from ..engine import OrderLine as EngineLine
from ..engine import Policy as EnginePolicy
from ..models import DecisionTrigger, LocationDayCapacity, RoutingDecision
from .demand import live_pricer
from .plans import plan_order
from .snapshot import (
    Moving,
    Snapshot,
    StaticNetwork,
    after_cutoff,
    business_days_between,
    destination_point,
    moving_read,
    snapshot_build,
    static_network,
)

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
# New orders ask for this task on commit (oms.queue.request_on_commit; the name is in orders.services too).
DRAIN_TASK = "routing.drain"
DRAIN_PASS = 100  # orders visited per pass
DRAIN_BATCH = 16  # orders routed per transaction by a pass
# After a pass that found a trickle (fewer than DRAIN_BATCH), the drain waits this long before the next, so
# that under a steady intake each transaction routes several orders (a batch costs little more than one order)
# instead of each commit's order alone; an order waits at most this long more for its routing.
DRAIN_LINGER = 0.02
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


def _uncovered(
    rows: list[tuple[OrderLine, int, int, int, int]],
) -> tuple[list[tuple[OrderLine, int]], str | None, dict[int, str]]:
    """From an order's `_lines_covered` rows: the uncovered units, why they are uncovered when the order was
    routed before ("short_pick": units reported short, "cancel": a fulfilment was cancelled,
    "backorder_retry": units no location could send then; None: never routed), and the status of every line
    (cancelled ones too: the order status is derived from them)."""
    out: list[tuple[OrderLine, int]] = []
    seen = short = cancelled = 0
    backordered = False
    statuses: dict[int, str] = {}
    for line, covered_units, short_units, cancelled_units, fl_count in rows:
        statuses[line.pk] = line.status
        seen += fl_count
        short += short_units
        cancelled += cancelled_units
        if line.status == LineStatus.CANCELLED:
            continue
        missing = line.qty - covered_units
        if missing > 0:
            out.append((line, missing))
            backordered |= line.status == LineStatus.BACKORDERED
    cause = None
    if short:
        cause = DecisionTrigger.SHORT_PICK
    elif cancelled:
        cause = DecisionTrigger.CANCEL
    elif seen or backordered:  # routed before, and nothing came back: what could not be sent then
        cause = DecisionTrigger.BACKORDER_RETRY
    return out, cause, statuses


def _lines_covered(order_ids: Sequence[int]) -> dict[int, list[tuple[OrderLine, int, int, int, int]]]:
    """Each line of these orders (its product loaded), by order and line number, with the units its
    fulfilment lines cover (not counting cancelled fulfilments, nor units reported short), the units
    reported short, the units of its cancelled fulfilments and how many fulfilment lines it has.

    Read on every routing transaction, for all its orders at once: one plain statement, built from the
    models' own columns, with the instances made by `Model.from_db` (the ORM's compiler took longer for this
    aggregate than the query).
    """
    quote = connection.ops.quote_name
    tables = {
        name: quote(model._meta.db_table)
        for name, model in (("l", OrderLine), ("p", Product), ("fl", FulfilmentLine), ("f", Fulfilment))
    }
    marks = ", ".join(["%s"] * len(order_ids))
    # Only quoted names from the models' metadata go into the text; the order ids and status are parameters.
    sql = (
        f"SELECT {columns_of(OrderLine, 'l')}, {columns_of(Product, 'p')},"  # noqa: S608
        " COALESCE(SUM(fl.qty - fl.qty_short) FILTER (WHERE f.status <> %s), 0),"
        " COALESCE(SUM(fl.qty_short), 0),"
        " COALESCE(SUM(fl.qty - fl.qty_short) FILTER (WHERE f.status = %s), 0), COUNT(fl.id)"
        f" FROM {tables['l']} l JOIN {tables['p']} p ON p.id = l.product_id"
        f" LEFT JOIN {tables['fl']} fl ON fl.order_line_id = l.id"
        f" LEFT JOIN {tables['f']} f ON f.id = fl.fulfilment_id"
        f" WHERE l.order_id IN ({marks}) GROUP BY l.id, p.id ORDER BY l.order_id, l.line_no"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [FulfilmentStatus.CANCELLED, FulfilmentStatus.CANCELLED, *order_ids])
        rows = rows_to_instances(cursor.fetchall(), [OrderLine, Product])
    out: dict[int, list[tuple[OrderLine, int, int, int, int]]] = defaultdict(list)
    for line, product, covered, short, cancelled, count in rows:
        line.product = product
        out[line.order_id].append((line, int(covered), int(short), int(cancelled), int(count)))
    return out


def short_reporters(order_ids: Sequence[int], static: StaticNetwork) -> dict[int, frozenset[str]]:
    """The codes of the locations that reported units of these orders missing (a short pick, a rejected
    fulfilment, a short transfer receipt), by order. Routing leaves them out of the order's plans from then
    on, as if the policy paused them for it: their books said they had units they could not find, so the
    units they still show are not to be trusted for this order (Sterling and Manhattan do the same).
    Without another location that can serve, the units are backordered rather than sent back there."""
    if not order_ids:
        return {}
    rows = FulfilmentLine.objects.filter(order_line__order_id__in=order_ids, qty_short__gt=0).values_list(
        "order_line__order_id", "fulfilment__location_id"
    )
    out: dict[int, set[str]] = defaultdict(set)
    for order_id, location_id in rows:
        info = static.by_pk.get(location_id)
        if info is not None:
            out[order_id].add(info.code)
    return {order_id: frozenset(codes) for order_id, codes in out.items()}


def excluding(policy: EnginePolicy, excluded: frozenset[str]) -> EnginePolicy:
    """`policy` with the `excluded` locations paused as well (the engine's own way to leave one out)."""
    if not excluded:
        return policy
    return replace(policy, paused_locations=policy.paused_locations | excluded)


def _pick(after: int, limit: int) -> list[Order]:
    """Up to `limit` orders awaiting routing after `after` (by pk) that no other transaction holds, locked
    until the caller's transaction ends (FOR UPDATE SKIP LOCKED), their channels loaded. A plain statement:
    the ORM's compiler took longer than the pick itself, which the partial index of the queue makes one
    index range."""
    quote = connection.ops.quote_name
    orders, channels = quote(Order._meta.db_table), quote(Channel._meta.db_table)
    # Only quoted names from the models' metadata go into the text; the status, pk and limit are parameters.
    sql = (
        f"SELECT {columns_of(Order, 'o')}, {columns_of(Channel, 'c')}"  # noqa: S608
        f" FROM {orders} o JOIN {channels} c ON c.id = o.channel_id"
        " WHERE o.status = %s AND o.id > %s ORDER BY o.id LIMIT %s"
    )
    if connection.features.has_select_for_update_skip_locked:  # not SQLite: one writer at a time there
        sql += " FOR UPDATE OF o SKIP LOCKED"
    with connection.cursor() as cursor:
        cursor.execute(sql, [OrderStatus.AWAITING_ROUTING, after, limit])
        rows = rows_to_instances(cursor.fetchall(), [Order, Channel])
    picked = []
    for order, channel in rows:
        order.channel = channel
        picked.append(order)
    return picked


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
class _Job:
    """One order's decision inside a routing transaction, planned and not yet written."""

    order: Order
    need: list[tuple[OrderLine, int]]
    line_statuses: dict[int, str] | None  # every line's status as read under the order's lock
    trigger: str
    snap: Snapshot
    plan: Plan | None
    excluded: frozenset[str] = frozenset()  # locations left out: they reported units of this order missing


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

    Up to DRAIN_BATCH orders at a time are picked with `FOR UPDATE SKIP LOCKED` and routed in one transaction
    (`_route_batch`), so several workers draining at once never wait for, nor route, the same order; an order
    held by anyone else (its own route_order task, a cancel) is skipped and left to them. Each order is
    visited once per call. When a batch cannot reserve (stock or capacity moved since its read) it rolls back
    whole and each of its orders is routed alone, retried like `order_route`; one that still fails is logged
    and left awaiting routing (its own task, or the next drain, tries again).
    """
    after = visited = routed = 0
    while visited < limit:
        t0 = time.perf_counter()
        picked: list[int] = []
        try:
            routed += len(_route_batch(after, min(DRAIN_BATCH, limit - visited), by, t0, picked))
        except (InsufficientStock, CapacityTaken, DatabaseError):
            for pk in picked:
                try:
                    routed += _route_attempts(pk, DecisionTrigger.NEW, by, t0, first=2) is not None
                except (InsufficientStock, CapacityTaken, DatabaseError):
                    logger.warning("routing order %s failed; it stays awaiting routing", pk, exc_info=True)
        if not picked:
            break  # nothing left that nobody else holds
        after, visited = picked[-1], visited + len(picked)
    return routed


def orders_drain(*, by: Any = None) -> int:
    """Route the orders awaiting routing, pass after pass, until a pass routes none; returns how many.

    The task behind new orders (`oms.queue.request_on_commit`): a commit queues a run only if none is
    waiting, so at a high intake one run serves many orders, without a Celery message per order. The request
    is cleared before each pass, which is what makes it safe (see request_on_commit). One run drains at a
    time (`oms.queue.lease_take`): a run queued while another works returns at once, and the working one,
    on giving the lease back, queues a run if a commit asked for one since its last pass began
    (`lease_release`). So the orders of a steady intake gather between passes instead of being taken one or
    two at a time by every worker process: after a pass that routed only a trickle the run waits
    DRAIN_LINGER (the request is cleared after the wait, right before the pass, so the argument holds).
    Each pass is `orders_route_pending`, which other tasks (the beat's safety net, bulk imports) may run
    beside it, sharing the backlog with SKIP LOCKED. After DRAIN_PASSES passes a fresh run takes over, so
    under a steady intake no run holds a worker process for ever while other tasks wait.
    """
    if not lease_take(DRAIN_TASK):
        return 0  # another run is draining: it sees this run's orders (see lease_release)
    routed, more = 0, True
    try:
        for _ in range(DRAIN_PASSES):
            request_taken(DRAIN_TASK)
            done = orders_route_pending(limit=DRAIN_PASS, by=by)
            routed += done
            if not done:
                more = False
                break
            if done < DRAIN_BATCH:
                time.sleep(DRAIN_LINGER)
    finally:
        requested = lease_release(DRAIN_TASK)
    if more or requested:
        send_task_now(DRAIN_TASK)  # a fresh run takes over, or serves a commit this one may have missed
    return routed


def _new_routing_transaction(trigger: str) -> None:
    if trigger in (DecisionTrigger.NEW, DecisionTrigger.BACKORDER_RETRY):
        # Lost in a crash, this transaction is redone on its own: its orders are still awaiting routing (or
        # backordered) until it commits, and the beat's route_pending / retry_backorders pick them up again.
        commit_async()


@transaction.atomic
def _route_batch(after: int, limit: int, by: Any, t0: float, picked: list[int]) -> list[RoutingDecision]:
    """Pick up to `limit` orders awaiting routing after pk `after` (their pks go into `picked`) and route
    them in this one transaction: one read of their lines, one of the stock of all their products, the
    decisions one after the other (each sees the stock the ones before it planned to take), then one write
    of everything (reservations, capacity, rows). Raises like `order_route`'s first attempt."""
    _new_routing_transaction(DecisionTrigger.NEW)
    orders = _pick(after, limit)
    picked.extend(order.pk for order in orders)
    return _route_locked(orders, DecisionTrigger.NEW, by, 1, t0)


@transaction.atomic
def _route_once(order_id: int, trigger: str, by: Any, attempt: int, t0: float) -> RoutingDecision | None:
    _new_routing_transaction(trigger)
    try:
        order = lock_order(Order(pk=order_id))  # one decision per order at a time
    except Order.DoesNotExist:
        return None
    decisions = _route_locked([order], trigger, by, attempt, t0)
    return decisions[0] if decisions else None


def _route_locked(
    orders: list[Order], trigger: str, by: Any, attempt: int, t0: float
) -> list[RoutingDecision]:
    """Route the uncovered units of orders this transaction holds locked; the decisions made (an order with
    nothing to route, or a backorder retry that still finds nothing, gets none)."""
    orders = [order for order in orders if order.status in ROUTABLE]
    if not orders:
        return []
    covered = _lines_covered([order.pk for order in orders])
    pending = []
    shorted = {pk for pk, rows in covered.items() if any(short for _l, _c, short, _x, _n in rows)}
    for order in orders:
        need, cause, statuses = _uncovered(covered.get(order.pk, []))
        if need:
            # routed before: these units come back from a short pick or a cancelled fulfilment, or are
            # what could not be sent then (a second run of the order's routing retries them quietly)
            pending.append(
                (order, need, statuses, cause if trigger == DecisionTrigger.NEW and cause else trigger)
            )
    if not pending:
        return []
    now = timezone.now()
    static = static_network()
    products = {line.product_id: line.product for _o, need, _s, _t in pending for line, _q in need}
    moving = moving_read(list(products), timezone.localtime(now).date(), lock_stock=attempt == MAX_ATTEMPTS)
    reporters = short_reporters([o.pk for o, *_rest in pending if o.pk in shorted], static)
    jobs = []
    for order, need, statuses, job_trigger in pending:
        excluded = reporters.get(order.pk, frozenset())
        snap, plan = _plan(order, need, static, moving, now, excluded)
        if job_trigger == DecisionTrigger.BACKORDER_RETRY and (plan is None or not plan.packages):
            continue  # still nothing to send: no new decision, no timeline noise
        product_of = {line.product.sku: line.product_id for line, _q in need}
        for pkg in plan.packages if plan is not None else ():  # the next order sees what this one takes
            loc_pk = static.locations[pkg.location].pk
            for sku, qty in pkg.lines:
                moving.take(loc_pk, product_of[sku], qty)
            moving.use(loc_pk, pkg.units)
        jobs.append(_Job(order, need, statuses, job_trigger, snap, plan, excluded))
    return _persist(jobs, by=by, now=now, attempt=attempt, t0=t0)


def _plan(
    order: Order,
    need: list[tuple[OrderLine, int]],
    static: StaticNetwork,
    moving: Moving,
    now: dt.datetime,
    excluded: frozenset[str] = frozenset(),
) -> tuple[Snapshot, Plan | None]:
    """The snapshot for the order's uncovered units, cut from `moving`, and the engine's plan for them
    (None: a home order with no coordinates and no known CEP), leaving out the `excluded` locations."""
    products = _distinct_products(need)
    units: dict[int, int] = defaultdict(int)
    for line, q in need:
        units[line.product_id] += q
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
        units=dict(units),
        static=static,
        moving=moving,
    )
    point = destination_point(order) if order.delivery_mode == DeliveryMode.HOME else None
    if order.delivery_mode == DeliveryMode.HOME and point is None:
        return snap, None
    eng = engine_order(order, need, engine_deadline(order, snap.start), point, pickup_code=pickup_code)
    prices = live_pricer(snap.network, [p.sku for p in products], snap.static, snap.engine_policy)
    return snap, plan_order(snap.network, eng, excluding(snap.engine_policy, excluded), prices=prices)


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
    excluded: frozenset[str] = frozenset(),
) -> RoutingDecision:
    """Write a plan for a locked order (see `_persist`); its order status is refreshed from the database.
    `excluded`: the locations the plan left out because they reported units of the order missing."""
    job = _Job(order, need, None, trigger, snap, plan, excluded)
    return _persist([job], by=by, now=now, attempt=attempt, t0=t0)[0]


@dataclass
class _Rows:
    """What a job writes: its fulfilments (one per package), their lines, the decision; and the units of
    each order line left unrouted."""

    fulfilments: list[Fulfilment]
    lines: list[FulfilmentLine]
    decision: RoutingDecision
    remaining: dict[int, int]


def _rows(job: _Job, now: dt.datetime) -> _Rows:
    static = job.snap.static
    remaining = {line.pk: q for line, q in job.need}
    lines_by_sku: dict[str, list[OrderLine]] = defaultdict(list)
    for line, _q in job.need:
        lines_by_sku[line.product.sku].append(line)
    packages = job.plan.packages if job.plan is not None else []
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
                order=job.order,
                location_id=loc.pk,
                kind=kind,
                carrier_service="" if kind != FulfilmentKind.SHIP else (pkg.service or ""),
                ship_by=_ship_by(job.snap, loc.processing_days, pkg.service, now),
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
    return _Rows(fulfilments, fl_rows, RoutingDecision(order=job.order), remaining)


def _persist(
    jobs: list[_Job], *, by: Any, now: dt.datetime, attempt: int, t0: float | None
) -> list[RoutingDecision]:
    """Write the plans of locked orders: fulfilments and lines, reservations, capacity, line statuses, the
    decisions, the timeline events and the order statuses, and emit their webhooks. Raises InsufficientStock
    / CapacityTaken (the caller's transaction rolls back) when stock or capacity moved since the snapshot.

    On PostgreSQL, for any number of orders: one round trip for the keys, the reservations (one statement
    per item up to SINGLE_RESERVE_MAX items, else four round trips for all), one for the capacity, and one
    statement for every row and status. A job without `line_statuses` (re-optimisation) has its line statuses
    set by an UPDATE and its order status refreshed from the database (`order_refresh_status`) instead.
    """
    if not jobs:
        return []
    snap = jobs[0].snap  # the jobs of one transaction share the static network and the stock read
    built = [_rows(job, now) for job in jobs]
    fulfilments = [f for rows in built for f in rows.fulfilments]
    fl_rows = [fl for rows in built for fl in rows.lines]
    decisions = [rows.decision for rows in built]
    # Keys first (one round trip), so that the reservations can name the fulfilment lines and the timeline the
    # decisions; the rows themselves go in together at the end (oms.db.save_new). Without sequences to draw
    # from (SQLite), each is written as soon as it is complete instead.
    keyed = assign_ids([fulfilments, fl_rows, decisions])
    if not keyed:
        save_new([fulfilments, fl_rows])
    items = [
        ReserveItem(
            location=LocationRow(
                pk=fl.fulfilment.location_id, code=snap.static.by_pk[fl.fulfilment.location_id].code
            ),
            product=fl.order_line.product,
            qty=fl.qty,
            ref=f"fl:{fl.pk}",
            group=job.order.number or "",
            reason=f"routed order {job.order.number}",
        )
        for job, rows in zip(jobs, built, strict=True)
        for fl in rows.lines
    ]
    if items:
        _reserve(items, snap.stock_ids, by=by)
    _consume_capacity(
        [(f.location_id, pkg.units) for job, rows in zip(jobs, built, strict=True) if job.plan
         for f, pkg in zip(rows.fulfilments, job.plan.packages, strict=True)],
        snap,
        now,
    )  # fmt: skip
    events: list[OrderEvent] = []
    webhooks: list[tuple[str, dict[str, Any]]] = []
    line_rows: list[dict[str, Any]] = []
    order_rows: list[dict[str, Any]] = []
    refresh = []
    for job, rows in zip(jobs, built, strict=True):
        allocated = [line.pk for line, _q in job.need if rows.remaining[line.pk] == 0]
        short = [line.pk for line, _q in job.need if rows.remaining[line.pk] > 0]
        why = explain(order=job.order, plan=job.plan, snap=job.snap, excluded=job.excluded)
        _record(rows.decision, job.plan, job.snap, job.trigger, why, rows.fulfilments, job.need,
                rows.remaining, attempt, t0, job.excluded)  # fmt: skip
        # The timeline is read by customer service, who see why but not what it costs (the decision has both).
        text = [
            explain(order=job.order, plan=job.plan, snap=job.snap, with_costs=False, excluded=job.excluded)
        ]
        routed_data = {
            "decision": rows.decision.pk,
            "trigger": job.trigger,
            "fulfilments": [f.pk for f in rows.fulfilments],
            "backordered_units": rows.decision.units_backordered,
        }
        webhooks.append(("order.routed", _routed_webhook(job, rows)))
        if job.line_statuses is None:
            _line_statuses(allocated, short)
            refresh.append((job.order, text, routed_data))
            continue
        statuses = dict(job.line_statuses)
        for pk in allocated:
            if statuses.get(pk) in ALLOCATABLE:
                statuses[pk] = LineStatus.ALLOCATED
        for pk in short:
            if statuses.get(pk) in LINE_OPEN:
                statuses[pk] = LineStatus.BACKORDERED
        line_rows += [{"id": pk, "status": st} for pk, st in statuses.items() if st != job.line_statuses[pk]]
        # the status the lines now add up to, and the "routed" entry with it, written with the plan's rows
        routed = new_event(order=job.order, kind="routed", text=text, by=by, data=routed_data)
        before = job.order.status
        events += order_status_events(
            order=job.order,
            line_statuses=statuses.values(),
            by=by,
            events=[routed],
            write=False,
            webhooks=webhooks,
        )
        if job.order.status != before:
            order_rows.append(model_row(job.order))
    if not keyed:
        save_new([decisions])
    save_new(
        [fulfilments, fl_rows, decisions, events],
        updates=[(OrderLine, ["status"], line_rows), (Order, STATUS_FIELDS, order_rows)],
    )
    for order, text, routed_data in refresh:
        order_event(order=order, kind="routed", by=by, text=text, data=routed_data)
        order_refresh_status(order=order, by=by)
    emit_all(webhooks)
    return decisions


def _routed_webhook(job: _Job, rows: _Rows) -> dict[str, Any]:
    static = job.snap.static
    return {
        "order": job.order.number,
        "fulfilments": [
            {
                "id": f.pk,
                "location": static.by_pk[f.location_id].code,
                "kind": f.kind,
                "service": f.carrier_service,
            }
            for f in rows.fulfilments
        ],
        "backordered_units": rows.decision.units_backordered,
    }


SINGLE_RESERVE_MAX = 3  # up to this many items, one single-item reservation each is the cheaper path


def _reserve(items: list[ReserveItem], stock_ids: dict[tuple[int, int], int], *, by: Any) -> None:
    """Reserve every item, all or nothing (an InsufficientStock rolls back the caller's transaction).

    `stock_reserve_many` takes one statement for a single item on PostgreSQL and, for new refs, four round
    trips for more; for a few items, one single-item call each (in stock-row pk order, the order every
    reservation locks in, so no deadlock) is fewer round trips. Beyond that, one call for all. `stock_ids`
    maps (location pk, product pk) to the stock row's pk, as the snapshot read them.
    """
    if 1 < len(items) <= SINGLE_RESERVE_MAX and connection.vendor == "postgresql":
        last = 1 << 62  # rows the snapshot did not see (none available) go last
        ordered = sorted(items, key=lambda i: (stock_ids.get((i.location.pk, i.product.pk), last), i.ref))
        for item in ordered:
            # the refs are this transaction's new fulfilment lines: no savepoint needed (see new_refs)
            stock_reserve_many(items=[item], by=by, new_refs=True)
        return
    stock_reserve_many(items=items, by=by, new_refs=True)


def _ship_by(snap: Snapshot, processing_days: int, service: str | None, now: dt.datetime) -> dt.datetime:
    hour = PICKUP_READY_HOUR
    shift = 0
    if service is not None and service != TRANSFER and service in snap.services:
        info = snap.services[service]
        hour = min(info.cutoff_hour, 23)
        shift = 1 if after_cutoff(now, info.cutoff_hour) else 0
    day = add_business_days(snap.start, processing_days + shift)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _consume_capacity(used: list[tuple[int, int]], snap: Snapshot, now: dt.datetime) -> None:
    """Add the routed units (location pk, units) to each location's capacity used today, never past its daily
    capacity: one statement for every location, its rows updated in location pk order (no deadlock)."""
    per_loc: dict[int, int] = defaultdict(int)
    for location_pk, units in used:
        per_loc[location_pk] += units
    if not per_loc:
        return
    for pk, qty in per_loc.items():
        if qty > snap.static.by_pk[pk].daily_capacity:
            raise CapacityTaken(f"{snap.static.by_pk[pk].code} has no capacity left for {qty} units today.")
    today = timezone.localtime(now).date()
    quote = connection.ops.quote_name
    table, locations = quote(LocationDayCapacity._meta.db_table), quote(LocationRow._meta.db_table)
    # Insert today's row or add to it, only while it stays within the location's capacity. The table names
    # are the models'; every value is a parameter.
    values = ", ".join(["(%s, %s, %s)"] * len(per_loc))
    capacity = f'(SELECT "daily_capacity" FROM {locations} WHERE "id" = excluded."location_id")'  # noqa: S608
    sql = (
        f'INSERT INTO {table} ("location_id", "day", "units_used") VALUES {values} '  # noqa: S608
        f'ON CONFLICT ("location_id", "day") DO UPDATE SET "units_used" = {table}."units_used" + '
        f'excluded."units_used" WHERE {table}."units_used" + excluded."units_used" <= {capacity} '
        'RETURNING "location_id"'
    )
    params: list[Any] = []
    for pk in sorted(per_loc):
        params += [pk, today, per_loc[pk]]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        done = {row[0] for row in cursor.fetchall()}
    for pk in sorted(set(per_loc) - done):
        code = snap.static.by_pk[pk].code
        raise CapacityTaken(f"{code} has no capacity left for {per_loc[pk]} units today.")


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
    why: Phrase,
    fulfilments: list[Fulfilment],
    need: list[tuple[OrderLine, int]],
    remaining: dict[int, int],
    attempt: int,
    t0: float | None,
    excluded: frozenset[str] = frozenset(),
) -> None:
    """Fill in the decision: the plan, the candidates considered and why, its costs and timings."""
    static = snap.static
    if plan is not None:
        plan_doc = plan.to_dict()
        candidates = plan_doc.pop("explanation")
        for cand in candidates["candidates"]:
            info = static.locations.get(cand["location"])
            cand["name"] = info.name if info else cand["location"]
            args = (cand.get("detail") or {}).get("a", {})
            if isinstance(args.get("kinds"), list):  # the engine's location kinds, read as their names
                args["kinds"] = [choice_arg(LocationRow, "kind", kind, lower=True) for kind in args["kinds"]]
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
        candidates = {
            "candidates": [],
            "notes": [phrase("the delivery address has no coordinates and no known CEP")],
        }
        total, breakdown, engine_ms = Decimal("0.00"), {}, 0.0
    if excluded:
        candidates.setdefault("notes", []).append(
            phrase(
                "left out (reported units of this order missing): %(codes)s",
                codes=", ".join(sorted(excluded)),
            )
        )
    latency = (time.perf_counter() - t0) * 1000.0 if t0 is not None else engine_ms
    decision.trigger = trigger
    decision.policy_id = snap.policy.pk
    decision.policy_version = snap.policy.version if snap.policy.pk else None
    decision.latency_ms, decision.engine_ms, decision.attempts = latency, engine_ms, attempt
    decision.total_cost, decision.cost_breakdown = total, breakdown
    decision.plan, decision.candidates = plan_doc, candidates
    decision.summary, decision.summary_text = english([why]), [why]
    decision.units_routed = sum(q for _l, q in need) - sum(remaining.values())
    decision.units_backordered = sum(remaining.values())


# ------------------------------------------------------------------------------------------ plain words
def _brl(value: float) -> Phrase:
    return money_arg(Decimal(str(round(value, 2))))


# why a location could not supply the order, as the "why" says it
REASON_PHRASES = {
    "too slow": phrase("%(location)s could not arrive in time"),
    "no capacity": phrase("%(location)s had no capacity left today"),
    "paused": phrase("%(location)s is paused"),
    "not allowed by policy": phrase("%(location)s is not allowed by the channel's policy"),
    "out of service range": phrase("%(location)s is out of every service's range"),
    "does not ship": phrase("%(location)s does not ship to homes"),
}


def explain(
    *,
    order: Order,
    plan: Plan | None,
    snap: Snapshot,
    limit: int = 3,
    with_costs: bool = True,
    excluded: frozenset[str] = frozenset(),
) -> Phrase:
    """Why this plan, in one or two plain sentences (`oms.phrases`: each reader reads it in their language);
    `with_costs=False` leaves the money out. `excluded`: the locations left out because they reported units
    of the order missing."""
    static = snap.static
    if plan is None:
        return sentence(
            [
                phrase(
                    "Not routed: the delivery address has no coordinates and its CEP is unknown; units"
                    " backordered."
                )
            ]
        )

    def name(code: str) -> str:
        info = static.locations.get(code)
        return f"{info.name} ({code})" if info else code

    parts: list[Phrase] = []
    if plan.packages:
        pieces = []
        for pkg in plan.packages:
            if pkg.service is None:
                pieces.append(phrase("picked at %(location)s for pickup", location=name(pkg.location)))
            elif pkg.service == TRANSFER:
                pieces.append(
                    phrase("transferred from %(location)s to the pickup store", location=name(pkg.location))
                )
            else:
                svc = snap.services.get(pkg.service)
                pieces.append(
                    phrase("ships from %(location)s by %(service)s", location=name(pkg.location),
                           service=svc.name if svc else pkg.service)
                )  # fmt: skip
        when = date_arg(add_business_days(snap.start, plan.delivery_days or 0))
        how = joined(pieces)
        if plan.mode == PICKUP:
            head = phrase("%(plan)s: cheapest option that is ready by %(date)s", plan=how, date=when)
        else:
            head = phrase("%(plan)s: cheapest option that arrives by %(date)s", plan=how, date=when)
        parts.append(
            phrase("%(what)s (%(cost)s)", what=head, cost=_brl(plan.total_cost)) if with_costs else head
        )
    expl = plan.explanation
    decision = plan.total_cost + expl.opportunity_cost  # what the candidates' figures are comparable with
    chosen = {p.location for p in plan.packages}
    costlier = sorted(
        (c for c in expl.candidates if c.reason == "costlier" and c.location not in chosen),
        key=lambda c: (c.cost is None, c.cost or 0.0),
    )
    for cand in costlier[:limit]:
        if cand.cost is None:  # the search proved it dearer without pricing it in full
            parts.append(phrase("%(location)s would cost more", location=name(cand.location)))
            continue
        delta = cand.cost - decision
        if delta <= 0.005:
            parts.append(phrase("%(location)s cost the same", location=name(cand.location)))
        elif with_costs:
            parts.append(
                phrase(
                    "%(location)s was %(more)s more expensive", location=name(cand.location), more=_brl(delta)
                )
            )
        else:
            parts.append(phrase("%(location)s would cost more", location=name(cand.location)))
    if expl.priced and costlier:
        if with_costs and expl.opportunity_cost >= 0.005:
            parts.append(
                phrase(
                    "costs count what each location's stock and picking capacity are worth to the orders"
                    " expected next (%(value)s for what this plan uses)",
                    value=_brl(expl.opportunity_cost),
                )
            )
        else:
            parts.append(
                phrase(
                    "costs count what each location's stock and picking capacity are worth to the orders"
                    " expected next"
                )
            )
    if excluded:
        parts.append(
            nphrase(
                "%(locations)s reported units of this order missing and is left out of its routing",
                "%(locations)s reported units of this order missing and are left out of its routing",
                len(excluded),
                locations=", ".join(name(code) for code in sorted(excluded)),
            )
        )
    rejected = [c for c in expl.candidates if c.reason in REASON_PHRASES and c.location not in excluded]
    for cand in rejected[:limit]:
        parts.append({**REASON_PHRASES[cand.reason], "a": {"location": name(cand.location)}})
    if expl.no_stock:
        parts.append(
            nphrase("%(n)s other location had no stock", "%(n)s other locations had no stock", expl.no_stock)
        )
    if plan.unfilled:
        units = sum(q for _s, q in plan.unfilled)
        skus = ", ".join(s for s, _q in plan.unfilled)
        if excluded:
            parts.append(
                nphrase(
                    "%(n)s unit backordered (%(skus)s): no location can supply in time (rather than sent"
                    " back where they were reported missing)",
                    "%(n)s units backordered (%(skus)s): no location can supply in time (rather than sent"
                    " back where they were reported missing)",
                    units,
                    skus=skus,
                )
            )
        else:
            parts.append(
                nphrase(
                    "%(n)s unit backordered (%(skus)s): no location can supply in time",
                    "%(n)s units backordered (%(skus)s): no location can supply in time",
                    units,
                    skus=skus,
                )
            )
    return sentence(parts)
