"""Periodic routing work: retry backorders, re-optimise orders not yet released to picking."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from django.db import DatabaseError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from inventory.exceptions import InsufficientStock
from inventory.models import Reservation
from inventory.services import stock_release
from orders.models import Fulfilment, FulfilmentStatus, LineStatus, Order, OrderLine, OrderStatus
from orders.services import lock_order

from ..models import DecisionTrigger, RoutingDecision
from .demand import live_pricer
from .live import (
    ROUTABLE,
    CapacityTaken,
    capacity_give_back,
    engine_deadline,
    engine_order,
    excluding,
    order_route,
    persist_plan,
    short_reporters,
)
from .plans import plan_order
from .snapshot import destination_point, snapshot_build

logger = logging.getLogger(__name__)
SAVING_MIN = 0.50  # BRL: smaller savings are not worth moving work between locations


def backorders_retry(*, limit: int = 200) -> int:
    """Route again the orders with backordered lines, oldest change first (bounded). Returns how many got
    units allocated."""
    backordered = OrderLine.objects.filter(order=OuterRef("pk"), status=LineStatus.BACKORDERED)
    ids = list(
        Order.objects.filter(Exists(backordered), status__in=ROUTABLE)
        .order_by("updated_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    routed = 0
    for order_id in ids:
        try:
            if order_route(order_id=order_id, trigger=DecisionTrigger.BACKORDER_RETRY) is not None:
                routed += 1
        except (InsufficientStock, CapacityTaken, DatabaseError):
            logger.warning(
                "backorder retry of order %s failed; next run tries again", order_id, exc_info=True
            )
    return routed


def unreleased_reoptimise(*, limit: int = 200) -> int:
    """Re-decide allocated orders whose fulfilments are all still assigned (not released to picking),
    newest first; swap only when cheaper. Returns the number of swaps."""
    released = Fulfilment.objects.filter(order=OuterRef("pk")).exclude(
        status__in=[FulfilmentStatus.ASSIGNED, FulfilmentStatus.CANCELLED]
    )
    ids = list(
        Order.objects.filter(status=OrderStatus.ALLOCATED)
        .exclude(Exists(released))
        .order_by("-placed_at", "-pk")
        .values_list("pk", flat=True)[:limit]
    )
    swaps = 0
    for order_id in ids:
        try:
            if order_reoptimise(order_id=order_id) is not None:
                swaps += 1
        except (InsufficientStock, CapacityTaken, DatabaseError):
            logger.warning("re-optimising order %s failed; it keeps its plan", order_id, exc_info=True)
    return swaps


@transaction.atomic
def order_reoptimise(*, order_id: int, by: Any = None) -> RoutingDecision | None:
    """Route an allocated, unreleased order again as if it held nothing; if the new plan costs less than
    the current one (and leaves nothing unfilled), cancel the old fulfilments, release their reservations
    and reserve the new plan, all in this transaction. Returns the new decision, or None (kept)."""
    try:
        order = lock_order(Order(pk=order_id))  # the order's fulfilments and reservations change together
    except Order.DoesNotExist:
        return None
    if order.status != OrderStatus.ALLOCATED:
        return None
    active = list(
        Fulfilment.objects.filter(order=order)
        .exclude(status=FulfilmentStatus.CANCELLED)
        .prefetch_related("lines")
    )
    if not active or any(f.status != FulfilmentStatus.ASSIGNED for f in active):
        return None
    last = order.routing_decisions.order_by("-created_at", "-id").first()
    if last is None:
        return None
    planned = {p.get("fulfilment") for p in last.plan.get("packages", [])}
    if planned != {f.pk for f in active} or last.units_backordered:
        return None  # fulfilments from several decisions: no single current cost to compare with
    refs = [f"fl:{fl.pk}" for f in active for fl in f.lines.all()]
    held: dict[tuple[int, int], int] = defaultdict(int)
    for loc_pk, prod_pk, qty in Reservation.objects.filter(ref__in=refs, qty__gt=0).values_list(
        "stock__location_id", "stock__product_id", "qty"
    ):
        held[(loc_pk, prod_pk)] += qty
    now = timezone.now()
    same_day = timezone.localtime(last.created_at).date() == timezone.localtime(now).date()
    cap_back: dict[int, int] = defaultdict(int)
    for f in active:
        cap_back[f.location_id] += sum(fl.qty for fl in f.lines.all())
    lines = list(
        order.lines.exclude(status=LineStatus.CANCELLED).select_related("product").order_by("line_no")
    )
    need = [(line, line.qty) for line in lines]
    products = list({line.product_id: line.product for line in lines}.values())
    units: dict[int, int] = defaultdict(int)
    for line in lines:
        units[line.product_id] += line.qty
    pickup = order.pickup_location.code if order.pickup_location_id and order.pickup_location else None
    snap = snapshot_build(
        products=products,
        channel_id=order.channel_id,
        dest_cep=order.ship_cep if pickup is None else "",
        pickup_code=pickup,
        now=now,
        extra_stock=dict(held),
        extra_capacity=dict(cap_back) if same_day else None,
        units=dict(units),
    )
    point = destination_point(order) if pickup is None else None
    if pickup is None and point is None:
        return None
    excluded = short_reporters([order.pk], snap.static).get(order.pk, frozenset())
    plan = plan_order(
        snap.network,
        engine_order(order, need, engine_deadline(order, snap.start), point),
        excluding(snap.engine_policy, excluded),
        # the same prices as the live path: it keeps what they kept
        prices=live_pricer(snap.network, [p.sku for p in products], snap.static, snap.engine_policy),
    )
    if plan.unfilled or plan.total_cost > float(last.total_cost) - SAVING_MIN:
        return None
    old_by_loc = {(f.location_id, f.kind, f.carrier_service) for f in active}
    new_by_loc = {(snap.static.locations[p.location].pk, p.service) for p in plan.packages}
    if {(a, c or None) for a, _k, c in old_by_loc} == new_by_loc:
        return None
    Fulfilment.objects.filter(pk__in=[f.pk for f in active]).update(
        status=FulfilmentStatus.CANCELLED, updated_at=now
    )
    for ref in refs:
        stock_release(ref=ref, reason=f"order {order.number} re-optimised", by=by)
    if same_day:
        for loc_pk, qty in cap_back.items():
            capacity_give_back(location_id=loc_pk, units=qty, day=timezone.localtime(now).date())
    return persist_plan(
        order=order, need=need, plan=plan, snap=snap, trigger=DecisionTrigger.REOPTIMISE, by=by, now=now,
        excluded=excluded,
    )  # fmt: skip
