"""The live routing path: route, reserve, create fulfilments, record and explain the decision."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone, translation

from inventory.models import Reservation, StockLevel
from inventory.services import stock_adjust
from oms.phrases import english, render
from orders.models import (
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderEvent,
    OrderStatus,
)
from routing.models import DecisionTrigger, LocationDayCapacity, RoutingDecision, RoutingPolicy
from routing.services import live
from routing.services.live import order_route
from routing.services.maintenance import backorders_retry, order_reoptimise
from tests.factories import ChannelFactory
from tests.worker import wait_for

pytestmark = pytest.mark.django_db


def held(order: Order) -> int:
    return Reservation.objects.filter(group=order.number).aggregate(n=Sum("qty"))["n"] or 0


def test_home_order_is_routed_reserved_and_explained(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.paulista, w.shirt, 5)
    order = w.make_order([(w.shirt, 2)])

    decision = order_route(order_id=order.pk)

    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert order.lines.get().status == LineStatus.ALLOCATED
    ful = Fulfilment.objects.get(order=order)
    assert ful.kind == FulfilmentKind.SHIP and ful.carrier_service and ful.ship_by is not None
    fl = ful.lines.get()
    assert fl.qty == 2
    res = Reservation.objects.get(ref=f"fl:{fl.pk}")
    assert res.qty == 2 and res.group == order.number and res.stock.location_id == ful.location_id
    assert decision is not None and decision.trigger == DecisionTrigger.NEW
    assert decision.total_cost > 0 and decision.units_routed == 2 and decision.units_backordered == 0
    reasons = {c["location"]: c["reason"] for c in decision.candidates["candidates"]}
    assert reasons[ful.location.code] == "chosen"
    other = "LJ-SP-01" if ful.location.code == "CD-SP-CAJAMAR" else "CD-SP-CAJAMAR"
    assert reasons[other] == "costlier"
    assert decision.plan["packages"][0]["fulfilment"] == ful.pk
    event = OrderEvent.objects.get(order=order, kind="routed")
    assert event.message.startswith(f"Ships from {ful.location.name} ({ful.location.code}) by ")
    assert other in event.message and "would cost more" in event.message
    # The timeline (read by customer service) says why without money; the decision (managers) has the costs.
    assert "R$" not in event.message
    assert decision.summary.startswith(f"Ships from {ful.location.name}") and "R$" in decision.summary


def test_running_twice_reserves_once(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    order = w.make_order([(w.shirt, 3)])
    assert order_route(order_id=order.pk) is not None
    assert order_route(order_id=order.pk) is None
    assert held(order) == 3
    assert RoutingDecision.objects.filter(order=order).count() == 1
    assert StockLevel.objects.get(location=w.dc, product=w.shirt).reserved == 3


@pytest.mark.parametrize("on_hand", [0, 1])  # nothing anywhere; one of the three units
def test_running_twice_retries_what_could_not_be_sent_without_a_new_decision(routing_world, on_hand):
    """A second run of a new order's routing (a task delivered twice) finds units that could not be sent: it
    tries them again as a backorder retry, which records nothing while there is still nothing to send, and
    never calls them a cancelled fulfilment."""
    w = routing_world
    if on_hand:
        w.stock(w.dc, w.shirt, on_hand)
    order = w.make_order([(w.shirt, 3)])
    first = order_route(order_id=order.pk)
    assert first is not None and first.trigger == DecisionTrigger.NEW
    assert first.units_backordered == 3 - on_hand
    assert order_route(order_id=order.pk) is None
    assert RoutingDecision.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, kind="routed").count() == 1
    stock_adjust(location=w.dc, product=w.shirt, delta=5, reason="receipt")
    again = order_route(order_id=order.pk)
    assert again is not None and again.trigger == DecisionTrigger.BACKORDER_RETRY
    assert held(order) == 3


def test_no_stock_anywhere_backorders(routing_world):
    w = routing_world
    order = w.make_order([(w.shirt, 2)])
    decision = order_route(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.BACKORDERED
    assert order.lines.get().status == LineStatus.BACKORDERED
    assert not Fulfilment.objects.filter(order=order).exists()
    assert decision is not None and decision.units_backordered == 2
    assert "backordered" in decision.summary


def test_partial_stock_allocates_what_exists_and_backorders_the_rest(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 1)
    order = w.make_order([(w.shirt, 3), (w.shoe, 1)])
    w.stock(w.dc, w.shoe, 4)
    order_route(order_id=order.pk)
    order.refresh_from_db()
    shirt_line, shoe_line = order.lines.order_by("line_no")
    assert shirt_line.status == LineStatus.BACKORDERED and shoe_line.status == LineStatus.ALLOCATED
    assert order.status == OrderStatus.BACKORDERED
    assert held(order) == 2


def test_pickup_order_takes_the_stores_own_stock_then_transfers_the_rest(routing_world):
    w = routing_world
    w.stock(w.paulista, w.shirt, 1)
    w.stock(w.dc, w.shirt, 10)
    order = w.make_order([(w.shirt, 3)], mode="pickup", pickup_location=w.paulista, deadline_days=4)
    order_route(order_id=order.pk)
    kinds = {f.kind: f for f in Fulfilment.objects.filter(order=order).prefetch_related("lines")}
    assert set(kinds) == {FulfilmentKind.PICKUP, FulfilmentKind.TRANSFER}
    assert kinds[FulfilmentKind.PICKUP].location == w.paulista
    assert sum(fl.qty for fl in kinds[FulfilmentKind.PICKUP].lines.all()) == 1
    assert kinds[FulfilmentKind.TRANSFER].location == w.dc
    assert sum(fl.qty for fl in kinds[FulfilmentKind.TRANSFER].lines.all()) == 2
    assert held(order) == 3


def test_marketplace_policy_allowing_only_dcs_never_uses_a_store(routing_world):
    w = routing_world
    marketplace = ChannelFactory(code="mercado-livre", name="Mercado Livre", kind="marketplace")
    RoutingPolicy.objects.create(name="Marketplace", channel=marketplace, allowed_kinds=["dc"])
    w.stock(w.paulista, w.shirt, 5)
    w.stock(w.morumbi, w.shirt, 5)
    w.stock(w.dc, w.shirt, 5)
    order = w.make_order([(w.shirt, 1)], channel=marketplace)
    decision = order_route(order_id=order.pk)
    assert list(Fulfilment.objects.filter(order=order).values_list("location__kind", flat=True)) == ["dc"]
    reasons = {c["location"]: c["reason"] for c in decision.candidates["candidates"]}
    assert reasons["LJ-SP-01"] == reasons["LJ-SP-02"] == "not allowed by policy"
    (detail,) = [c["detail"] for c in decision.candidates["candidates"] if c["location"] == "LJ-SP-01"]
    with translation.override("pt-br"):  # the kinds by name, in the reader's language, not as codes
        assert render(detail) == "a política permite apenas centro de distribuição"
    assert english([detail]) == "the policy allows only distribution centre"
    # with no DC stock the marketplace order is backordered rather than sent from a store
    order2 = w.make_order([(w.shirt, 6)], channel=marketplace)
    order_route(order_id=order2.pk)
    assert not Fulfilment.objects.filter(order=order2, location__kind="store").exists()


def test_a_paused_location_is_never_chosen(routing_world):
    w = routing_world
    policy = RoutingPolicy.objects.get(channel__isnull=True)
    policy.paused_locations.add(w.dc)
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.morumbi, w.shirt, 10)
    order = w.make_order([(w.shirt, 1)])
    decision = order_route(order_id=order.pk)
    assert Fulfilment.objects.get(order=order).location == w.morumbi
    reasons = {c["location"]: c["reason"] for c in decision.candidates["candidates"]}
    assert reasons["CD-SP-CAJAMAR"] == "paused"
    assert "is paused" in decision.summary


def test_capacity_is_consumed_and_respected(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 50)
    w.stock(w.morumbi, w.shirt, 50)
    order = w.make_order([(w.shirt, 4)])
    order_route(order_id=order.pk)
    first = Fulfilment.objects.get(order=order).location
    today = timezone.localdate()
    assert LocationDayCapacity.objects.get(location=first, day=today).units_used == 4
    # that location is now full for today: the next order goes elsewhere
    LocationDayCapacity.objects.filter(location=first, day=today).update(units_used=first.daily_capacity)
    order2 = w.make_order([(w.shirt, 1)])
    decision = order_route(order_id=order2.pk)
    assert Fulfilment.objects.get(order=order2).location != first
    reasons = {c["location"]: c["reason"] for c in decision.candidates["candidates"]}
    assert reasons[first.code] == "no capacity"


def test_stale_snapshot_is_retried_and_never_oversells(routing_world, monkeypatch):
    w = routing_world
    w.stock(w.dc, w.shirt, 2)
    w.stock(w.morumbi, w.shirt, 5)
    real = live.snapshot_build
    calls = {"n": 0}

    def stale(**kwargs):
        snap = real(**kwargs)
        calls["n"] += 1
        if calls["n"] == 1:  # the first snapshot believes the DC still has 10
            snap.network.set_stock("CD-SP-CAJAMAR", "CAM-0001-P", 10)
        return snap

    monkeypatch.setattr(live, "snapshot_build", stale)
    order = w.make_order([(w.shirt, 3)])
    decision = order_route(order_id=order.pk)
    assert calls["n"] == 2 and decision.attempts == 2
    assert held(order) == 3
    for stock in StockLevel.objects.filter(product=w.shirt):
        assert stock.reserved <= stock.on_hand


def test_backorders_are_retried_when_stock_arrives(routing_world):
    w = routing_world
    order = w.make_order([(w.shirt, 2)])
    order_route(order_id=order.pk)
    assert backorders_retry() == 0  # still nothing: no new decision
    assert RoutingDecision.objects.filter(order=order).count() == 1
    stock_adjust(location=w.dc, product=w.shirt, delta=5, reason="receipt")
    assert backorders_retry() == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and held(order) == 2
    assert RoutingDecision.objects.filter(order=order, trigger=DecisionTrigger.BACKORDER_RETRY).count() == 1


def test_short_pick_units_are_routed_again(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.morumbi, w.shirt, 10)
    order = w.make_order([(w.shirt, 2)])
    order_route(order_id=order.pk)
    fl = FulfilmentLine.objects.get(fulfilment__order=order)
    FulfilmentLine.objects.filter(pk=fl.pk).update(qty_short=1)
    decision = order_route(order_id=order.pk)  # the task queued by the short pick
    assert decision is not None and decision.units_routed == 1
    assert decision.trigger == DecisionTrigger.SHORT_PICK
    active = FulfilmentLine.objects.filter(fulfilment__order=order).exclude(
        fulfilment__status=FulfilmentStatus.CANCELLED
    )
    assert sum(x.qty - x.qty_short for x in active) == 2


def _short_picked(w, store_user, *, shirts: int = 2, missing: int = 1):
    """An order of `shirts` routed to the Paulista store, which picks the rest and reports `missing` short."""
    from orders.services.fulfilment import fulfilment_confirm_pick, fulfilment_short_pick

    order = w.make_order([(w.shirt, shirts)])
    order_route(order_id=order.pk)
    first = Fulfilment.objects.get(order=order)
    assert first.location == w.paulista
    if shirts > missing:
        fulfilment_confirm_pick(fulfilment=first, code=w.shirt.sku, qty=shirts - missing, by=store_user)
    line = first.lines.get()
    fulfilment_short_pick(
        fulfilment=first, line_id=line.pk, missing=missing, reason="not_found", by=store_user
    )
    return order, first


def test_a_short_pick_is_routed_elsewhere_not_back_to_the_location_that_reported_it(
    routing_world, store_user
):
    w = routing_world
    w.stock(w.paulista, w.shirt, 6)
    w.stock(w.morumbi, w.shirt, 6)
    order, first = _short_picked(w, store_user)
    paulista = StockLevel.objects.get(location=w.paulista, product=w.shirt)
    assert paulista.on_hand - paulista.reserved == 4  # it still shows units it could serve from
    decision = order_route(order_id=order.pk)  # the task queued by the short pick
    assert decision is not None and decision.trigger == DecisionTrigger.SHORT_PICK
    new = Fulfilment.objects.filter(order=order).exclude(pk=first.pk).get()
    assert new.location == w.morumbi and new.lines.get().qty == 1
    assert StockLevel.objects.get(location=w.paulista, product=w.shirt).reserved == 1  # the unit it picked
    reasons = {c["location"]: c["reason"] for c in decision.candidates["candidates"]}
    assert reasons["LJ-SP-01"] == "paused"
    assert "left out (reported units of this order missing): LJ-SP-01" in [
        english([note]) for note in decision.candidates["notes"]
    ]
    routed = order.events.filter(kind="routed").order_by("at", "pk").last()
    assert "Loja Paulista (LJ-SP-01) reported units of this order missing and is left out" in routed.message
    assert order_route(order_id=order.pk) is None  # nothing left to route


def test_a_short_pick_no_other_location_can_serve_is_backordered_not_sent_back(routing_world, store_user):
    w = routing_world
    w.stock(w.paulista, w.shirt, 6)
    order, first = _short_picked(w, store_user)
    decision = order_route(order_id=order.pk)
    assert decision is not None and decision.units_backordered == 1 and decision.units_routed == 0
    assert not Fulfilment.objects.filter(order=order).exclude(pk=first.pk).exists()
    order.refresh_from_db()
    assert order.lines.get().status == LineStatus.BACKORDERED
    routed = order.events.filter(kind="routed").order_by("at", "pk").last()
    assert "is left out of its routing" in routed.message
    assert "1 unit backordered (CAM-0001-P): no location can supply in time (rather than sent back" in (
        routed.message
    )
    assert backorders_retry() == 0  # the retries do not send it back there either
    assert not Fulfilment.objects.filter(order=order).exclude(pk=first.pk).exists()
    w.stock(w.morumbi, w.shirt, 3)  # another location gets stock: the backorder goes there
    assert backorders_retry() == 1
    assert Fulfilment.objects.filter(order=order).exclude(pk=first.pk).get().location == w.morumbi


def test_an_order_without_short_picks_is_routed_as_before(routing_world):
    w = routing_world
    w.stock(w.paulista, w.shirt, 6)
    w.stock(w.morumbi, w.shirt, 6)
    order = w.make_order([(w.shirt, 1)])
    decision = order_route(order_id=order.pk)
    assert Fulfilment.objects.get(order=order).location == w.paulista
    assert "left out" not in decision.summary and not any(
        "left out" in english([n]) for n in decision.candidates["notes"]
    )


def test_reoptimise_swaps_an_unreleased_order_to_a_cheaper_plan(routing_world):
    w = routing_world
    w.stock(w.rio, w.shirt, 5)
    order = w.make_order([(w.shirt, 1)], deadline_days=6)
    first = order_route(order_id=order.pk)
    old = Fulfilment.objects.get(order=order)
    assert old.location == w.rio
    w.stock(w.dc, w.shirt, 5)  # stock arrives much closer to the customer
    new = order_reoptimise(order_id=order.pk)
    assert new is not None and new.trigger == DecisionTrigger.REOPTIMISE
    assert new.total_cost < first.total_cost
    old.refresh_from_db()
    assert old.status == FulfilmentStatus.CANCELLED
    assert Fulfilment.objects.exclude(status=FulfilmentStatus.CANCELLED).get(order=order).location == w.dc
    assert held(order) == 1
    assert StockLevel.objects.get(location=w.rio, product=w.shirt).reserved == 0
    assert order_reoptimise(order_id=order.pk) is None  # already the best


def test_orders_on_hold_or_cancelled_are_left_alone(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    order = w.make_order([(w.shirt, 1)])
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.ON_HOLD)
    assert order_route(order_id=order.pk) is None
    assert held(order) == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_routes_a_committed_order(routing_world, needs_worker):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    with transaction.atomic():
        order = w.make_order([(w.shirt, 2)])

    def allocated() -> bool:
        order.refresh_from_db()
        return order.status == OrderStatus.ALLOCATED

    assert wait_for(allocated, timeout=20)
    assert Fulfilment.objects.filter(order=order).count() == 1
    assert held(order) == 2
    assert RoutingDecision.objects.filter(order=order, trigger=DecisionTrigger.NEW).count() == 1
    assert OrderEvent.objects.filter(order=order, kind="routed").exists()


@pytest.mark.django_db(transaction=True)
def test_the_worker_routes_a_bulk_intake_through_a_few_drains(routing_world, needs_worker):
    import datetime as dt

    from django.utils import timezone

    from orders.services import AddressData, CustomerData, LineData, OrderInput, order_create_many

    w = routing_world
    w.stock(w.dc, w.shirt, 500)
    address = AddressData(street="Av. Paulista", number="1000", district="Bela Vista", city="São Paulo",
                          state="SP", cep="01310200", lat=-23.5630, lon=-46.6543)  # fmt: skip
    placed_at = timezone.now() - dt.timedelta(minutes=1)
    customer = CustomerData(name="Ana Souza", email="ana@example.com")
    lines = [LineData(product=w.shirt, qty=1, unit_price=w.shirt.price)]
    inputs = [
        OrderInput(channel=w.channel, external_ref=f"BULK-{i:04d}", placed_at=placed_at, customer=customer,
                   delivery_mode="home", deadline_days=3, lines=lines, address=address)
        for i in range(120)
    ]  # fmt: skip
    with transaction.atomic():
        results = order_create_many(inputs=inputs)
    ids = [r.order.pk for r in results]
    assert [r.order.number for r in results] == [f"{pk:08d}" for pk in ids]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not Order.objects.filter(pk__in=ids).exclude(status=OrderStatus.ALLOCATED).exists():
            break
        time.sleep(0.2)
    assert Order.objects.filter(pk__in=ids, status=OrderStatus.ALLOCATED).count() == 120
    assert RoutingDecision.objects.filter(order__in=ids, trigger=DecisionTrigger.NEW).count() == 120


def test_tasks_are_registered_thin_and_scheduled(routing_world):
    from django.conf import settings

    from oms.celery import app
    from routing import tasks

    for name in ("routing.route_order", "routing.reroute_order", "routing.retry_backorders",
                 "routing.reoptimise_unreleased", "routing.refresh_demand"):  # fmt: skip
        assert name in app.tasks
    assert app.tasks["routing.route_order"].acks_late is True
    app.loader.import_default_modules()  # what the worker does at start-up
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks  # every scheduled task exists
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    order = w.make_order([(w.shirt, 1)])
    decision_id = tasks.route_order.apply(args=(order.pk,)).get()
    assert RoutingDecision.objects.get(pk=decision_id).order_id == order.pk
    assert tasks.route_order.apply(args=(order.pk,)).get() is None  # idempotent
    assert tasks.retry_backorders.apply().get() == 0
    assert tasks.reoptimise_unreleased.apply().get() == 0
    assert tasks.refresh_demand.apply().get() == 1  # the picture of recent demand: this test's one order


def test_route_pending_drains_every_awaiting_order_once(routing_world):
    from routing.services.live import orders_route_pending

    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    w.stock(w.dc, w.shoe, 20)
    orders = [w.make_order([(w.shirt, 1), (w.shoe, 2)]) for _ in range(3)]
    held_back = w.make_order([(w.shirt, 1)])
    Order.objects.filter(pk=held_back.pk).update(status=OrderStatus.ON_HOLD)
    assert all(o.status == OrderStatus.AWAITING_ROUTING for o in orders)

    assert orders_route_pending(limit=10) == 3
    assert orders_route_pending(limit=10) == 0  # nothing left: running it again reserves nothing
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED and held(order) == 3
        assert RoutingDecision.objects.filter(order=order).count() == 1
        events = list(OrderEvent.objects.filter(order=order).values_list("kind", "data__to"))
        assert events[-2:] == [("routed", None), ("status", "allocated")]
    assert held(held_back) == 0
    assert StockLevel.objects.get(location=w.dc, product=w.shirt).reserved == 3
    assert StockLevel.objects.get(location=w.dc, product=w.shoe).reserved == 6
    assert order_route(order_id=orders[0].pk) is None  # the per-order task afterwards is a no-op


def test_route_pending_honours_its_limit(routing_world):
    from routing.services.live import orders_route_pending

    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    first, second = w.make_order([(w.shirt, 1)]), w.make_order([(w.shirt, 1)])
    assert orders_route_pending(limit=1) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OrderStatus.ALLOCATED  # oldest first
    assert second.status == OrderStatus.AWAITING_ROUTING


def test_a_drain_batch_routes_on_one_read_each_order_seeing_what_the_earlier_ones_took(
    routing_world, django_assert_max_num_queries
):
    from inventory.models import StockMovement
    from routing.services.live import DRAIN_BATCH, orders_route_pending
    from routing.services.snapshot import static_network

    w = routing_world
    w.stock(w.dc, w.shirt, 5)
    w.stock(w.paulista, w.shirt, 4)
    w.stock(w.morumbi, w.shirt, 4)
    orders = [w.make_order([(w.shirt, 2)]) for _ in range(6)]  # 12 units wanted, 13 held in the network
    assert len(orders) <= DRAIN_BATCH
    static_network()  # cached per process: measure the per-batch statements
    from routing.services.demand import demand_picture

    demand_picture()  # so is the picture of recent demand (rebuilt by the beat)
    # one transaction for the six: commit mode, pick, lines, stock and capacity, keys, the reservations
    # (create-missing and lock the rows, keys, one write), capacity, one write of every row and status; then a
    # pick that finds nothing; the savepoints of the test's transaction
    with django_assert_max_num_queries(18):
        assert orders_route_pending(limit=10) == 6
    decisions = RoutingDecision.objects.filter(order__in=orders)
    # no order planned units an earlier one of the batch had taken: nothing had to be redone
    assert decisions.count() == 6 and {d.attempts for d in decisions} == {1}
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED and held(order) == 2
        assert order.lines.get().status == LineStatus.ALLOCATED
        assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True))[-2:] == [
            "routed",
            "status",
        ]
    for stock in StockLevel.objects.filter(product=w.shirt):
        assert 0 <= stock.reserved <= stock.on_hand
        # the ledger walks the row's reserved units item by item, ending where the row is
        walk = list(
            StockMovement.objects.filter(stock=stock)
            .order_by("pk")
            .values_list("reserved_delta", "reserved_after")
        )
        total = 0
        for delta, after in walk:
            total += delta
            assert after == total
        assert total == stock.reserved
    assert sum(s.reserved for s in StockLevel.objects.filter(product=w.shirt)) == 12


def test_a_drain_batch_that_cannot_reserve_routes_each_order_alone(routing_world, monkeypatch):
    from routing.services.live import orders_route_pending

    w = routing_world
    w.stock(w.dc, w.shirt, 2)
    w.stock(w.morumbi, w.shirt, 5)
    orders = [w.make_order([(w.shirt, 2)]) for _ in range(3)]
    real = live.snapshot_build
    calls = {"n": 0}

    def stale(**kwargs):
        snap = real(**kwargs)
        calls["n"] += 1
        if calls["n"] <= 3:  # the batch's snapshots believe the DC has 10 (another worker took it meanwhile)
            snap.network.set_stock("CD-SP-CAJAMAR", "CAM-0001-P", 10)
        return snap

    monkeypatch.setattr(live, "snapshot_build", stale)
    assert orders_route_pending(limit=10) == 3
    # the batch rolled back whole (nothing of it is left), then each order was routed alone on a fresh read
    assert {d.attempts for d in RoutingDecision.objects.filter(order__in=orders)} == {2}
    assert [held(order) for order in orders] == [2, 2, 2]
    for stock in StockLevel.objects.filter(product=w.shirt):
        assert stock.reserved <= stock.on_hand
    assert Fulfilment.objects.filter(order__in=orders).count() == 3


def test_routing_an_order_takes_a_bounded_number_of_statements(routing_world, django_assert_max_num_queries):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.dc, w.shoe, 10)
    order = w.make_order([(w.shirt, 1), (w.shoe, 1)])
    from routing.services.snapshot import static_network

    static_network()  # the static part is cached per process: measure the per-order statements
    from routing.services.demand import demand_picture

    demand_picture()  # so is the picture of recent demand (rebuilt by the beat)
    from django.db import connection

    # commit without waiting for the disk (PostgreSQL), lock, lines+coverage, stock+capacity, fulfilments,
    # lines, 2 reservations (3 each on PostgreSQL; the general path elsewhere), capacity, line statuses,
    # decision, order status, timeline, the test's savepoint pair (webhook subscribers come from the cache)
    with django_assert_max_num_queries(19 if connection.vendor == "postgresql" else 22):
        decision = order_route(order_id=order.pk)
    assert decision is not None and decision.units_routed == 2
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and held(order) == 2


@pytest.mark.django_db(transaction=True)
def test_route_pending_skips_an_order_another_transaction_holds(routing_world, monkeypatch):
    import threading

    from django.db import connection

    from oms import queue
    from routing.services.live import orders_route_pending

    monkeypatch.setattr(queue, "send_task_now", lambda *a, **k: None)  # the drain, not the worker, routes
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    busy = w.make_order([(w.shirt, 1)])
    free = w.make_order([(w.shirt, 1)])
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(Order.objects.select_for_update().filter(pk=busy.pk))
                locked.set()
                release.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert orders_route_pending(limit=10) == 1  # does not wait for the held order
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()
    busy.refresh_from_db()
    free.refresh_from_db()
    assert free.status == OrderStatus.ALLOCATED and held(free) == 1
    assert busy.status == OrderStatus.AWAITING_ROUTING and held(busy) == 0
    assert orders_route_pending(limit=10) == 1  # once released, the next drain routes it
    assert held(busy) == 1


def test_route_pending_task_is_registered_and_acknowledged_late(routing_world):
    from oms.celery import app
    from routing import tasks

    assert app.tasks["routing.route_pending"].acks_late is True
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    order = w.make_order([(w.shirt, 2)])
    assert tasks.route_pending.apply(kwargs={"limit": 5}).get() == 1
    assert tasks.route_pending.apply().get() == 0
    assert held(order) == 2


def test_the_drain_routes_the_backlog_pass_after_pass_and_hands_over(routing_world, monkeypatch):
    from django.core.cache import cache

    from oms import queue
    from oms.celery import app
    from orders.services.lifecycle import ROUTE_DRAIN_TASK
    from routing import tasks
    from routing.services import live

    assert ROUTE_DRAIN_TASK == live.DRAIN_TASK  # orders names the task it cannot import
    assert app.tasks[live.DRAIN_TASK].acks_late is True
    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    orders = [w.make_order([(w.shirt, 1)]) for _ in range(5)]
    sent: list[str] = []
    monkeypatch.setattr(live, "send_task_now", lambda name, *a, **k: sent.append(name))
    monkeypatch.setattr(live, "DRAIN_PASS", 2)
    monkeypatch.setattr(live, "DRAIN_PASSES", 2)
    cache.set(queue._request_key(live.DRAIN_TASK), 1, 60)  # as a commit leaves it
    assert live.orders_drain() == 4  # two passes of two, then a fresh run takes over
    assert sent == [live.DRAIN_TASK]
    assert cache.get(queue._request_key(live.DRAIN_TASK)) is None  # taken: the next commit asks again
    assert tasks.drain.apply().get() == 1  # the fresh run: the last one, then a pass that finds none
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED and held(order) == 1
    assert sent == [live.DRAIN_TASK]


def test_one_drain_runs_at_a_time_and_the_holder_queues_a_run_for_what_it_may_have_missed(
    routing_world, monkeypatch
):
    from django.core.cache import cache

    from oms import queue

    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    orders = [w.make_order([(w.shirt, 1)]) for _ in range(2)]
    sent: list[str] = []
    monkeypatch.setattr(live, "send_task_now", lambda name, *a, **k: sent.append(name))
    request = queue._request_key(live.DRAIN_TASK)

    assert queue.lease_take(live.DRAIN_TASK)  # another run is draining
    assert live.orders_drain() == 0  # so this one leaves at once
    assert {o.status for o in Order.objects.filter(pk__in=[o.pk for o in orders])} == {
        OrderStatus.AWAITING_ROUTING
    }
    cache.set(request, 1, 60)  # a commit asked for a run while the holder worked
    assert queue.lease_release(live.DRAIN_TASK) is True  # the holder must queue one
    cache.delete(request)  # (the run it queues clears the request at its first pass)

    assert live.orders_drain() == 2  # the lease is free: this run drains
    assert sent == []  # its last pass found nothing and nobody asked since: nothing to queue
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.ALLOCATED

    real = live.orders_route_pending

    def last_pass_meets_a_commit(**kwargs):
        done = real(**kwargs)
        if not done:
            cache.set(request, 1, 60)  # a commit lands while the last pass runs, unseen by it
        return done

    monkeypatch.setattr(live, "orders_route_pending", last_pass_meets_a_commit)
    w.make_order([(w.shirt, 1)])
    assert live.orders_drain() == 1
    assert sent == [live.DRAIN_TASK]  # released, then queued a run for that commit
    assert queue.lease_take(live.DRAIN_TASK)  # and the lease was given back
    queue.lease_release(live.DRAIN_TASK)


def test_a_new_order_asks_for_a_drain_or_inline_is_routed_alone(
    routing_world, monkeypatch, django_capture_on_commit_callbacks
):
    from oms import queue
    from oms.celery import app

    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    waiting = w.make_order([(w.shirt, 1)])  # committed earlier, still awaiting routing
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr(queue, "send_task_now", lambda name, *a, **k: sent.append((name, a)))
    with django_capture_on_commit_callbacks(execute=True):
        w.make_order([(w.shirt, 1)])
    assert sent == [("routing.drain", ())]  # with a worker: one drain for the queue, not a message per order

    monkeypatch.undo()
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # no worker: tasks run inline
    with django_capture_on_commit_callbacks(execute=True):
        mine = w.make_order([(w.shirt, 2)])
    mine.refresh_from_db()
    waiting.refresh_from_db()
    assert mine.status == OrderStatus.ALLOCATED and held(mine) == 2
    assert waiting.status == OrderStatus.AWAITING_ROUTING  # the request routes its own order only
