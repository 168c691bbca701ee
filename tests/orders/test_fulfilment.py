"""Fulfilment services: every move allowed and refused, and the exact stock after each of them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone, translation

from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from oms.models import WebhookDelivery, WebhookSubscription
from orders.models import (
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    OrderEvent,
    OrderStatus,
    Package,
)
from orders.services import LineData, order_cancel, order_hold
from orders.services.fulfilment import (
    FULFILMENT_TRANSITIONS,
    MAX_PACKAGE_WEIGHT_G,
    FulfilmentNotActionable,
    InvalidPickQuantity,
    InvalidShipment,
    PickupCodeMismatch,
    WrongItem,
    can_move_fulfilment,
    fulfilment_confirm_pick,
    fulfilment_dispatch,
    fulfilment_hand_over,
    fulfilment_mark_delivered,
    fulfilment_pack,
    fulfilment_receive,
    fulfilment_reject,
    fulfilment_ship,
    fulfilment_short_pick,
    fulfilment_start_picking,
    ship_services_for,
    tracking_link_for,
)
from orders.tasks import expire_uncollected_pickups
from tests.factories import (
    DCFactory,
    LocationFactory,
    ProductFactory,
    StockFactory,
    fulfilment_with_reservations,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Messages are asserted in English (the default language is pt-BR)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


FS = FulfilmentStatus


def stock(location, product) -> StockLevel:
    return StockLevel.objects.get(location=location, product=product)


@pytest.fixture
def queued(monkeypatch):
    """Tasks queued on commit, by name (nothing is sent)."""
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr("oms.queue.send_task_now", lambda name, *args, **kw: sent.append((name, args)))
    return sent


@pytest.fixture
def store():
    return LocationFactory(code="LJ-SP-01")


@pytest.fixture
def product():
    return ProductFactory(sku="CAM-0001-P", ean="7890000000017")


@pytest.fixture
def shop(make_order, store, product):
    """A home-delivery order of 3 units fulfilled by the store, which holds 10."""
    StockFactory(location=store, product=product, on_hand=10)
    order = make_order(lines=[LineData(product=product, qty=3, unit_price=Decimal("50"))])
    fulfilment = fulfilment_with_reservations(order=order, location=store)
    return order, fulfilment


def picked(fulfilment, user):
    for line in fulfilment.lines.select_related("order_line"):
        fulfilment_confirm_pick(fulfilment=fulfilment, code=line.order_line.sku, qty=line.qty_active, by=user)
    fulfilment.refresh_from_db()
    return fulfilment


# --- the transition table -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k for k, _ in FulfilmentKind.choices])
def test_transition_table_allows_exactly_its_entries(kind):
    for current, _label in FS.choices:
        for target, _label2 in FS.choices:
            expected = target in FULFILMENT_TRANSITIONS[kind].get(current, frozenset())
            assert can_move_fulfilment(kind, current, target) is expected
    # Terminal statuses go nowhere; shipping is for ship fulfilments only.
    for terminal in (FS.CANCELLED, FS.COLLECTED, FS.RECEIVED, FS.DELIVERED):
        assert not FULFILMENT_TRANSITIONS[kind].get(terminal)
    assert can_move_fulfilment(FulfilmentKind.SHIP, FS.PACKED, FS.SHIPPED)
    assert not can_move_fulfilment(FulfilmentKind.PICKUP, FS.PACKED, FS.SHIPPED)
    assert not can_move_fulfilment(FulfilmentKind.TRANSFER, FS.PACKED, FS.SHIPPED)


# --- picking ------------------------------------------------------------------------------------------------


def test_start_picking_moves_fulfilment_line_and_order_and_writes_who(shop, store_user):
    order, fulfilment = shop
    fulfilment_start_picking(fulfilment=fulfilment, by=store_user)
    fulfilment.refresh_from_db()
    order.refresh_from_db()
    assert fulfilment.status == FS.PICKING
    assert order.lines.get().status == LineStatus.IN_FULFILMENT
    assert order.status == OrderStatus.IN_FULFILMENT
    event = OrderEvent.objects.filter(order=order, message__contains="picking started").get()
    assert event.actor == store_user and "LJ-SP-01" in event.message
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_start_picking(fulfilment=fulfilment, by=store_user)


def test_start_picking_refuses_a_fulfilment_with_nothing_to_pick(make_order, store, product, store_user):
    StockFactory(location=store, product=product, on_hand=10)
    order = make_order(lines=[LineData(product=product, qty=1, unit_price=Decimal("50"))])
    empty = fulfilment_with_reservations(order=order, location=store, lines=[])
    events = order.events.count()
    with pytest.raises(FulfilmentNotActionable, match="has no items to pick"):
        fulfilment_start_picking(fulfilment=empty, by=store_user)
    empty.refresh_from_db()
    assert empty.status == FS.ASSIGNED and order.events.count() == events


def test_confirm_by_ean_and_sku_until_picked(shop, store_user, product):
    _order, fulfilment = shop
    fulfilment_confirm_pick(fulfilment=fulfilment, code=product.ean, qty=1, by=store_user)
    line = FulfilmentLine.objects.get(fulfilment=fulfilment)
    assert line.qty_picked == 1
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.PICKING  # started implicitly by the first scan
    fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku.lower(), qty=2, by=store_user)
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.PICKED and fulfilment.picked_at is not None
    # Picking moves no stock: the units stay reserved until they leave.
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (10, 3)


@pytest.mark.parametrize(
    ("code", "qty", "error"),
    [
        ("OTHER-SKU", 1, WrongItem),
        ("", 1, WrongItem),
        ("CAM-0001-P", 4, InvalidPickQuantity),
        ("CAM-0001-P", 0, InvalidPickQuantity),
    ],
)
def test_confirm_refuses_bad_input_and_changes_nothing(shop, store_user, code, qty, error):
    order, fulfilment = shop
    fulfilment_confirm_pick(fulfilment=fulfilment, code="CAM-0001-P", qty=1, by=store_user)
    events = OrderEvent.objects.filter(order=order).count()
    with pytest.raises(error):
        fulfilment_confirm_pick(fulfilment=fulfilment, code=code, qty=qty, by=store_user)
    assert FulfilmentLine.objects.get(fulfilment=fulfilment).qty_picked == 1
    assert OrderEvent.objects.filter(order=order).count() == events


def test_confirming_twice_is_refused(shop, store_user):
    _order, fulfilment = shop
    fulfilment_confirm_pick(fulfilment=fulfilment, code="CAM-0001-P", qty=3, by=store_user)
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_confirm_pick(fulfilment=fulfilment, code="CAM-0001-P", qty=1, by=store_user)
    assert FulfilmentLine.objects.get(fulfilment=fulfilment).qty_picked == 3


def test_a_line_already_confirmed_is_refused_while_others_are_open(make_order, store, product, store_user):
    other = ProductFactory(sku="CAL-0002-M")
    StockFactory(location=store, product=product, on_hand=5)
    StockFactory(location=store, product=other, on_hand=5)
    order = make_order(
        lines=[
            LineData(product=product, qty=1, unit_price=Decimal("1")),
            LineData(product=other, qty=1, unit_price=Decimal("1")),
        ]
    )
    fulfilment = fulfilment_with_reservations(order=order, location=store)
    fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku, qty=1, by=store_user)
    with pytest.raises(InvalidPickQuantity, match="already fully picked"):
        fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku, qty=1, by=store_user)


# --- short pick and reject ----------------------------------------------------------------------------------


def test_short_pick_removes_units_and_sends_them_back_to_routing(
    shop, store_user, product, queued, django_capture_on_commit_callbacks
):
    order, fulfilment = shop
    line = fulfilment.lines.get()
    fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku, qty=1, by=store_user)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_short_pick(
            fulfilment=fulfilment, line_id=line.pk, missing=2, reason="damaged", by=store_user
        )
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (8, 1)
    move = StockMovement.objects.get(stock=level, kind=MovementKind.SHORT_PICK)
    assert (move.on_hand_delta, move.reserved_delta, move.ref) == (-2, -2, line.reservation_ref)
    assert Reservation.objects.get(ref=line.reservation_ref).qty == 1
    line.refresh_from_db()
    assert (line.qty_short, line.qty_picked, line.qty_active) == (2, 1, 1)
    fulfilment.refresh_from_db()
    order.refresh_from_db()
    assert fulfilment.status == FS.PICKED  # the one unit left is picked
    assert order.lines.get().status == LineStatus.PENDING
    assert order.status == OrderStatus.AWAITING_ROUTING
    assert queued == [("routing.route_order", (order.pk,))]
    kinds = list(order.events.values_list("kind", flat=True))
    assert "short_pick" in kinds and "reroute" in kinds


@pytest.mark.parametrize(("missing", "reason"), [(0, "damaged"), (4, "not_found"), (1, "bored")])
def test_short_pick_refuses_bad_input(shop, store_user, product, missing, reason):
    _order, fulfilment = shop
    line = fulfilment.lines.get()
    with pytest.raises((InvalidPickQuantity, WrongItem)):
        fulfilment_short_pick(
            fulfilment=fulfilment, line_id=line.pk, missing=missing, reason=reason, by=store_user
        )
    line.refresh_from_db()
    assert line.qty_short == 0
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (10, 3)


def test_short_pick_of_everything_closes_the_fulfilment(shop, store_user, product, queued):
    _order, fulfilment = shop
    line = fulfilment.lines.get()
    fulfilment_short_pick(
        fulfilment=fulfilment, line_id=line.pk, missing=3, reason="not_found", by=store_user
    )
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.CANCELLED
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (7, 0)


def test_short_pick_refused_after_picking(shop, store_user):
    _order, fulfilment = shop
    picked(fulfilment, store_user)
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_short_pick(
            fulfilment=fulfilment,
            line_id=fulfilment.lines.get().pk,
            missing=1,
            reason="damaged",
            by=store_user,
        )


def test_reject_sends_every_unit_back_to_routing(
    shop, store_user, product, queued, django_capture_on_commit_callbacks
):
    order, fulfilment = shop
    fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku, qty=1, by=store_user)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_reject(fulfilment=fulfilment, reason="not_found", by=store_user)
    fulfilment.refresh_from_db()
    line = fulfilment.lines.get()
    assert fulfilment.status == FS.CANCELLED
    assert (line.qty_short, line.qty_picked) == (3, 0)
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (7, 0)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_ROUTING
    assert queued == [("routing.route_order", (order.pk,))]
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_reject(fulfilment=fulfilment, reason="not_found", by=store_user)


def test_reject_refused_once_picked(shop, store_user):
    _order, fulfilment = shop
    picked(fulfilment, store_user)
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_reject(fulfilment=fulfilment, reason="damaged", by=store_user)


# --- pack, ship, deliver ------------------------------------------------------------------------------------


def test_pack_refused_before_picked_and_without_weight(shop, store_user):
    _order, fulfilment = shop
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_pack(fulfilment=fulfilment, weights_g=[500], by=store_user)
    picked(fulfilment, store_user)
    for weights in ([], [0], [300, -1]):
        with pytest.raises(InvalidShipment):
            fulfilment_pack(fulfilment=fulfilment, weights_g=weights, by=store_user)
    assert not Package.objects.exists()
    fulfilment_pack(fulfilment=fulfilment, weights_g=[500, 250], by=store_user)
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.PACKED
    assert list(fulfilment.packages.values_list("weight_g", flat=True)) == [500, 250]
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_pack(fulfilment=fulfilment, weights_g=[1], by=store_user)


def test_pack_refuses_a_weight_no_parcel_has_and_writes_nothing(shop, store_user):
    fulfilment = picked(shop[1], store_user)
    events = fulfilment.order.events.count()
    for weights in ([99999999999999999999], [500, MAX_PACKAGE_WEIGHT_G + 1]):
        with pytest.raises(InvalidShipment, match="at most 100000 g") as refused:
            fulfilment_pack(fulfilment=fulfilment, weights_g=weights, by=store_user)
        assert refused.value.field == "weight"
    assert not Package.objects.exists() and fulfilment.order.events.count() == events
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.PICKED
    fulfilment_pack(fulfilment=fulfilment, weights_g=[MAX_PACKAGE_WEIGHT_G], by=store_user)
    assert list(fulfilment.packages.values_list("weight_g", flat=True)) == [MAX_PACKAGE_WEIGHT_G]


def test_ship_takes_only_the_carrier_services_the_form_offers(shop, store_user, product, routing_defaults):
    order, fulfilment = shop
    picked(fulfilment, store_user)
    fulfilment_pack(fulfilment=fulfilment, weights_g=[800], by=store_user)
    # A store ships with the default services that leave from stores (by name), not with the DCs' ones.
    assert ship_services_for(fulfilment) == ("economy", "express", "moto-courier")
    events = order.events.count()
    for forged in ("Bogus", "metro-van", "Correios SEDEX"):
        with pytest.raises(InvalidShipment, match=f"does not ship with {forged}") as refused:
            fulfilment_ship(fulfilment=fulfilment, carrier_service=forged, tracking_code="X1", by=store_user)
        assert refused.value.field == "carrier_service"
    fulfilment.refresh_from_db()
    assert (fulfilment.status, fulfilment.carrier_service, fulfilment.tracking_code) == (FS.PACKED, "", "")
    assert list(fulfilment.packages.values_list("tracking_code", flat=True)) == [""]
    assert order.events.count() == events
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (10, 3)
    fulfilment.location.ships = False  # a location that does not ship to homes has no carrier service
    assert ship_services_for(fulfilment) == ()
    fulfilment.location.ships = True
    # A customer 250 km away: the 25 km courier does not reach them, so it is neither offered nor taken.
    type(order).objects.filter(pk=order.pk).update(ship_lat=-21.18, ship_lon=-47.81)  # Ribeirão Preto
    fulfilment.order.refresh_from_db()
    assert ship_services_for(fulfilment) == ("economy", "express")
    with pytest.raises(InvalidShipment, match="does not ship with moto-courier"):
        fulfilment_ship(
            fulfilment=fulfilment, carrier_service="moto-courier", tracking_code="X1", by=store_user
        )
    type(order).objects.filter(pk=order.pk).update(ship_lat=-23.56, ship_lon=-46.66)  # back in São Paulo
    fulfilment.order.refresh_from_db()
    fulfilment_ship(
        fulfilment=fulfilment, carrier_service=" moto-courier ", tracking_code="x1", by=store_user
    )
    fulfilment.refresh_from_db()
    assert (fulfilment.status, fulfilment.carrier_service) == (FS.SHIPPED, "moto-courier")


def test_ship_commits_stock_and_emits_webhook(
    shop, store_user, product, django_capture_on_commit_callbacks, queued, routing_defaults
):
    WebhookSubscription.objects.create(name="ERP", url="https://erp.example/hook", secret="s")
    order, fulfilment = shop
    picked(fulfilment, store_user)
    with pytest.raises(FulfilmentNotActionable):  # shipping an unpacked fulfilment
        fulfilment_ship(fulfilment=fulfilment, carrier_service="express", tracking_code="X1", by=store_user)
    fulfilment_pack(fulfilment=fulfilment, weights_g=[800, 200], by=store_user)
    with pytest.raises(InvalidShipment):
        fulfilment_ship(fulfilment=fulfilment, carrier_service="", tracking_code="X1", by=store_user)
    with pytest.raises(InvalidShipment):
        fulfilment_ship(fulfilment=fulfilment, carrier_service="express", tracking_code="", by=store_user)
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (10, 3)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_ship(fulfilment=fulfilment, carrier_service="express", generate=True, by=store_user)
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.SHIPPED and fulfilment.shipped_at is not None
    assert fulfilment.tracking_code.startswith("OMS") and fulfilment.carrier_service == "express"
    codes = list(fulfilment.packages.values_list("tracking_code", flat=True))
    assert codes == [fulfilment.tracking_code, f"{fulfilment.tracking_code}-2"]
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (7, 0)
    commit = StockMovement.objects.get(stock=level, kind=MovementKind.COMMIT)
    assert (commit.on_hand_delta, commit.reserved_delta) == (-3, -3)
    order.refresh_from_db()
    assert order.lines.get().status == LineStatus.SHIPPED and order.status == OrderStatus.SHIPPED
    delivery = WebhookDelivery.objects.get(event_type="fulfilment.shipped")
    assert delivery.payload["data"]["tracking_code"] == fulfilment.tracking_code
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_ship(fulfilment=fulfilment, carrier_service="express", tracking_code="X", by=store_user)
    fulfilment_mark_delivered(fulfilment=fulfilment, by=None)
    order.refresh_from_db()
    assert order.status == OrderStatus.DELIVERED and order.lines.get().status == LineStatus.DELIVERED
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_mark_delivered(fulfilment=fulfilment, by=None)


def test_deliver_refused_before_shipping(shop):
    _order, fulfilment = shop
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_mark_delivered(fulfilment=fulfilment, by=None)


def test_a_line_split_over_two_locations_is_shipped_when_both_ship(
    make_order, store, product, store_user, routing_defaults
):
    dc = DCFactory(code="CD-SP")
    StockFactory(location=store, product=product, on_hand=1)
    StockFactory(location=dc, product=product, on_hand=5)
    order = make_order(lines=[LineData(product=product, qty=3, unit_price=Decimal("1"))])
    line = order.lines.get()
    at_store = fulfilment_with_reservations(order=order, location=store, lines=[(line, 1)])
    at_dc = fulfilment_with_reservations(order=order, location=dc, lines=[(line, 2)])
    for f in (at_store, at_dc):
        picked(f, store_user)
        fulfilment_pack(fulfilment=f, weights_g=[100], by=store_user)
    fulfilment_ship(fulfilment=at_store, carrier_service="economy", tracking_code="aa1", by=store_user)
    line.refresh_from_db()
    assert line.status == LineStatus.IN_FULFILMENT
    fulfilment_ship(fulfilment=at_dc, carrier_service="economy", tracking_code="bb2", by=store_user)
    line.refresh_from_db()
    assert line.status == LineStatus.SHIPPED
    assert (stock(store, product).on_hand, stock(dc, product).on_hand) == (0, 3)


# --- cancel, hold ------------------------------------------------------------------------------------------


def test_cancel_during_picking_releases_and_closes(shop, store_user, cs_user, product):
    order, fulfilment = shop
    fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku, qty=2, by=store_user)
    order_cancel(order=order, by=cs_user, reason="customer asked")
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (10, 0)
    assert not Reservation.objects.filter(qty__gt=0).exists()
    fulfilment.refresh_from_db()
    assert fulfilment.status == FS.CANCELLED
    for action in (
        lambda: fulfilment_confirm_pick(fulfilment=fulfilment, code=product.sku, qty=1, by=store_user),
        lambda: fulfilment_short_pick(
            fulfilment=fulfilment,
            line_id=fulfilment.lines.get().pk,
            missing=1,
            reason="damaged",
            by=store_user,
        ),
        lambda: fulfilment_reject(fulfilment=fulfilment, reason="damaged", by=store_user),
        lambda: fulfilment_pack(fulfilment=fulfilment, weights_g=[1], by=store_user),
    ):
        with pytest.raises(FulfilmentNotActionable, match="cancelled"):
            action()
    level = stock(fulfilment.location, product)
    assert (level.on_hand, level.reserved) == (10, 0)


def test_order_on_hold_cannot_be_picked(make_order, store, product, store_user, cs_user):
    StockFactory(location=store, product=product, on_hand=10)
    order = make_order(lines=[LineData(product=product, qty=1, unit_price=Decimal("1"))])
    fulfilment = fulfilment_with_reservations(order=order, location=store)
    order_hold(order=order, by=cs_user, reason="fraud check")
    with pytest.raises(FulfilmentNotActionable, match="hold"):
        fulfilment_start_picking(fulfilment=fulfilment, by=store_user)


# --- pickup and transfers -----------------------------------------------------------------------------------


@pytest.fixture
def pickup_order(make_order, store, product):
    """A pickup order of 3 units at the store: 1 from its own shelf, 2 by transfer from the DC."""
    dc = DCFactory(code="CD-SP")
    StockFactory(location=store, product=product, on_hand=4)
    StockFactory(location=dc, product=product, on_hand=10)
    order = make_order(
        mode="pickup",
        pickup_location=store,
        lines=[LineData(product=product, qty=3, unit_price=Decimal("9"))],
    )
    line = order.lines.get()
    own = fulfilment_with_reservations(order=order, location=store, kind="pickup", lines=[(line, 1)])
    transfer = fulfilment_with_reservations(order=order, location=dc, kind="transfer", lines=[(line, 2)])
    return order, own, transfer, dc


def test_pickup_with_transfer_end_to_end_stock_is_exact(
    pickup_order, store, product, store_user, warehouse_user, django_capture_on_commit_callbacks
):
    order, own, transfer, dc = pickup_order
    picked(own, store_user)
    own.refresh_from_db()
    assert own.status == FS.PICKED  # still waiting for the transfer
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)  # not picked yet
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_receive(fulfilment=transfer, by=store_user)  # not dispatched yet
    picked(transfer, warehouse_user)
    fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)
    assert (stock(dc, product).on_hand, stock(dc, product).reserved) == (8, 0)
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_receive(fulfilment=transfer, by=store_user)
    level = stock(store, product)
    assert (level.on_hand, level.reserved) == (6, 3)
    assert StockMovement.objects.filter(stock=level, kind=MovementKind.RECEIVE, on_hand_delta=2).exists()
    own.refresh_from_db()
    order.refresh_from_db()
    assert own.status == FS.READY_FOR_PICKUP and len(own.pickup_code) == 6
    assert order.status == OrderStatus.READY_FOR_PICKUP
    assert order.lines.get().status == LineStatus.READY_FOR_PICKUP
    assert len(mail.outbox) == 1 and own.pickup_code in mail.outbox[0].body
    assert mail.outbox[0].to == ["ana@example.com"]
    with pytest.raises(PickupCodeMismatch):
        fulfilment_hand_over(fulfilment=own, code="WRONG1", by=store_user)
    assert (stock(store, product).on_hand, stock(store, product).reserved) == (6, 3)
    fulfilment_hand_over(fulfilment=own, code=own.pickup_code.lower(), by=store_user)
    own.refresh_from_db()
    order.refresh_from_db()
    assert own.status == FS.COLLECTED and own.collected_by == store_user and own.collected_at
    assert order.status == OrderStatus.COLLECTED
    level = stock(store, product)
    assert (level.on_hand, level.reserved) == (3, 0)
    assert not Reservation.objects.filter(qty__gt=0).exists()
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_hand_over(fulfilment=own, code=own.pickup_code, by=store_user)


def test_hand_over_by_cpf(make_order, store, product, store_user):
    StockFactory(location=store, product=product, on_hand=2)
    order = make_order(
        mode="pickup",
        pickup_location=store,
        lines=[LineData(product=product, qty=1, unit_price=Decimal("9"))],
    )
    own = fulfilment_with_reservations(order=order, location=store, kind="pickup")
    with pytest.raises(FulfilmentNotActionable):
        fulfilment_hand_over(fulfilment=own, code="529.982.247-25", by=store_user)  # not ready yet
    picked(own, store_user)
    assert own.status == FS.READY_FOR_PICKUP
    with pytest.raises(PickupCodeMismatch):
        fulfilment_hand_over(fulfilment=own, code="111.444.777-35", by=store_user)
    fulfilment_hand_over(fulfilment=own, code="529.982.247-25", by=store_user)
    own.refresh_from_db()
    assert own.status == FS.COLLECTED
    assert (stock(store, product).on_hand, stock(store, product).reserved) == (1, 0)
    assert order.events.filter(kind="collected", data__checked_by="cpf").exists()


def test_short_receipt_sends_missing_units_back_to_routing(
    pickup_order, store, product, store_user, warehouse_user, queued, django_capture_on_commit_callbacks
):
    order, own, transfer, _dc = pickup_order
    picked(own, store_user)
    picked(transfer, warehouse_user)
    fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)
    tline = transfer.lines.get()
    with pytest.raises(InvalidPickQuantity):
        fulfilment_receive(fulfilment=transfer, received={tline.pk: 3}, by=store_user)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_receive(fulfilment=transfer, received={tline.pk: 1}, by=store_user)
    tline.refresh_from_db()
    assert (tline.qty_picked, tline.qty_short) == (1, 1)
    level = stock(store, product)
    assert (level.on_hand, level.reserved) == (5, 2)
    own.refresh_from_db()
    order.refresh_from_db()
    assert own.status == FS.PICKED  # one unit still missing
    assert order.lines.get().status == LineStatus.PENDING
    assert queued == [("routing.route_order", (order.pk,))]


def test_transfer_only_pickup_creates_the_pickup_fulfilment_on_receipt(
    make_order, store, product, store_user, warehouse_user
):
    dc = DCFactory(code="CD-SP")
    StockFactory(location=dc, product=product, on_hand=5)
    order = make_order(
        mode="pickup",
        pickup_location=store,
        lines=[LineData(product=product, qty=2, unit_price=Decimal("9"))],
    )
    transfer = fulfilment_with_reservations(order=order, location=dc, kind="transfer")
    picked(transfer, warehouse_user)
    fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)
    fulfilment_receive(fulfilment=transfer, by=store_user)
    pickup = Fulfilment.objects.get(order=order, kind="pickup")
    assert pickup.location == store and pickup.status == FS.READY_FOR_PICKUP
    fulfilment_hand_over(fulfilment=pickup, code=pickup.pickup_code, by=store_user)
    level = stock(store, product)
    assert (level.on_hand, level.reserved) == (0, 0)
    assert (stock(dc, product).on_hand, stock(dc, product).reserved) == (3, 0)
    transfer.refresh_from_db()
    assert transfer.status == FS.RECEIVED


def test_uncollected_pickup_goes_back_to_stock(pickup_order, store, product, store_user, warehouse_user):
    order, own, transfer, _dc = pickup_order
    picked(own, store_user)
    picked(transfer, warehouse_user)
    fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)
    fulfilment_receive(fulfilment=transfer, by=store_user)
    own.refresh_from_db()
    assert own.status == FS.READY_FOR_PICKUP
    assert expire_uncollected_pickups() == 0  # not due yet
    Fulfilment.objects.filter(pk=own.pk).update(ready_at=timezone.now() - dt.timedelta(days=7, minutes=1))
    assert expire_uncollected_pickups() == 1
    assert expire_uncollected_pickups() == 0  # idempotent
    own.refresh_from_db()
    order.refresh_from_db()
    assert own.status == FS.CANCELLED
    assert order.status == OrderStatus.CANCELLED
    assert order.lines.get().status == LineStatus.CANCELLED
    level = stock(store, product)
    assert (level.on_hand, level.reserved) == (6, 0)  # its 4 + the 2 received, all free again
    assert StockMovement.objects.filter(stock=level, kind=MovementKind.RELEASE).count() == 2
    assert order.events.filter(kind="pickup_expired").count() == 1
    transfer.refresh_from_db()
    assert transfer.status == FS.RECEIVED


def test_pickup_hold_days_is_per_fulfilment(make_order, store, product, store_user):
    StockFactory(location=store, product=product, on_hand=2)
    order = make_order(
        mode="pickup",
        pickup_location=store,
        lines=[LineData(product=product, qty=1, unit_price=Decimal("9"))],
    )
    own = fulfilment_with_reservations(order=order, location=store, kind="pickup")
    picked(own, store_user)
    Fulfilment.objects.filter(pk=own.pk).update(
        pickup_hold_days=10, ready_at=timezone.now() - dt.timedelta(days=8)
    )
    assert expire_uncollected_pickups() == 0


def test_tracking_link_is_created_once(shop):
    order, _f = shop
    first = tracking_link_for(order)
    assert len(first.token) >= 32
    assert tracking_link_for(order).pk == first.pk
