"""Order lifecycle services: create (idempotent), cancel, hold and release, address change, notes."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import StockLevel
from inventory.services import stock_reserve
from oms.exceptions import InvalidTransition
from oms.models import WebhookDelivery, WebhookSubscription
from oms.webhooks import active_subscriptions
from orders.exceptions import IdempotencyKeyReused, OrderNotCancellable, OrderNotChangeable, PickupNotOffered
from orders.models import (
    Customer,
    Fulfilment,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.selectors import channels_by_code
from orders.services import (
    AddressData,
    CustomerData,
    LineData,
    order_add_note,
    order_cancel,
    order_change_address,
    order_hold,
    order_refresh_status,
    order_release_hold,
)
from orders.status import ORDER_TRANSITIONS, can_move, derive_order_status
from routing.services.live import order_route
from tests.factories import LocationFactory, ProductFactory

from .conftest import ADDRESS


@pytest.fixture
def queued_tasks(monkeypatch):
    """Tasks queued on commit, by name and arguments (nothing is sent)."""
    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr("oms.queue.send_task_now", lambda name, *args, **kw: sent.append((name, args)))
    return sent


RIO = AddressData(
    street="Av. Atlântica", number="1702", district="Copacabana", city="Rio de Janeiro", state="RJ",
    cep="22021001", lat=-22.9711, lon=-43.1822,
)  # fmt: skip

pytestmark = pytest.mark.django_db


def test_create_persists_order_lines_customer_and_timeline(make_order):
    order = make_order()
    assert order.number == f"{order.pk:08d}"
    assert order.status == OrderStatus.AWAITING_ROUTING
    assert order.subtotal == Decimal("119.80") and order.total == Decimal("119.80")
    assert order.customer.email == "ana@example.com"
    assert order.promised_date is not None
    assert list(order.events.values_list("kind", flat=True)) == ["created", "status"]
    assert order.lines.get().status == LineStatus.PENDING


def test_create_is_idempotent_on_channel_and_reference(make_order):
    first = make_order(ref="WEB-1")
    again = make_order(ref="WEB-1")
    assert first.pk == again.pk
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1


def test_create_is_idempotent_on_idempotency_key(make_order):
    first = make_order(ref="WEB-1", idempotency_key="k-123")
    again = make_order(ref="WEB-1", idempotency_key="k-123")
    assert first.pk == again.pk
    with pytest.raises(IdempotencyKeyReused) as caught:  # the key with another order: the client's bug
        make_order(ref="WEB-2", idempotency_key="k-123")
    assert caught.value.field == "idempotency_key" and caught.value.data["order"] == first.number
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_outside_a_transaction_is_one_statement_and_all_or_nothing(make_order):
    """No transaction around it: the customer lookup with the new ids, then one INSERT that is its own
    transaction.
    A repeat (same channel and reference) from a new customer is refused by that statement as a whole: it
    answers the first order and leaves no customer behind."""
    lines = [LineData(product=ProductFactory(), qty=2, unit_price=Decimal("59.90"))]
    active_subscriptions()  # the webhook subscribers are read from the cache (none here)
    with CaptureQueriesContext(connection) as ctx:
        first = make_order(ref="WEB-AC-1", lines=lines)
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["SELECT", "WITH"]
    assert first.lines.count() == 1 and first.events.count() == 2 and first.customer.orders.get() == first
    customers = Customer.objects.count()
    newcomer = CustomerData(name="Outra Pessoa", email="outra@example.com", document="11144477735", phone="")
    again = make_order(ref="WEB-AC-1", customer=newcomer, lines=lines)
    assert again.pk == first.pk
    assert Customer.objects.count() == customers and not Customer.objects.filter(document="11144477735")


@pytest.mark.django_db(transaction=True)
def test_create_writes_its_webhook_deliveries_with_the_order_and_none_for_a_repeat(make_order):
    """With a subscriber the create is a transaction: the order and its `order.created` delivery together; a
    repeat refused by the unique keys writes neither."""
    WebhookSubscription.objects.create(name="ERP", url="https://erp.example/hook", secret="s",
                                       event_types=["order.created"])  # fmt: skip
    WebhookSubscription.objects.create(name="Other", url="https://other.example/hook", secret="s",
                                       event_types=["order.cancelled"])  # fmt: skip
    lines = [LineData(product=ProductFactory(), qty=1, unit_price=Decimal("9.90"))]
    order = make_order(ref="WEB-WH-1", lines=lines)
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.event_type, delivery.subscription.name) == ("order.created", "ERP")
    assert delivery.payload["data"] == {"order": order.number, "channel": order.channel.code,
                                        "external_ref": "WEB-WH-1"}  # fmt: skip
    assert make_order(ref="WEB-WH-1", lines=lines).pk == order.pk
    assert WebhookDelivery.objects.count() == 1


def test_pickup_needs_a_location_that_offers_pickup(make_order):
    dc = LocationFactory(code="CD-SP", kind="dc", offers_pickup=False)
    with pytest.raises(PickupNotOffered):
        make_order(mode="pickup", pickup_location=dc)
    assert Order.objects.count() == 0
    store = LocationFactory(code="LJ-SP-01")
    assert make_order(mode="pickup", pickup_location=store).pickup_location == store


def test_customer_is_reused_by_document(make_order):
    a, b = make_order(ref="A"), make_order(ref="B")
    assert a.customer_id == b.customer_id


def test_cancel_releases_every_reservation(make_order, stocked_product, cs_user):
    order = make_order(lines=[LineData(product=stocked_product.product, qty=3, unit_price=Decimal("10"))])
    line = order.lines.get()
    stock_reserve(
        location=stocked_product.location,
        product=stocked_product.product,
        qty=3,
        ref=line.reservation_ref,
        group=order.number,
    )
    assert StockLevel.objects.get(pk=stocked_product.pk).reserved == 3
    order_cancel(order=order, by=cs_user, reason="customer asked")
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert StockLevel.objects.get(pk=stocked_product.pk).reserved == 0
    assert order.lines.get().status == LineStatus.CANCELLED
    event = order.events.get(kind="cancelled")
    assert event.actor == cs_user and event.data["released_units"] == 3
    with pytest.raises(OrderNotCancellable):
        order_cancel(order=order, by=cs_user)


def test_shipped_order_cannot_be_cancelled(make_order, cs_user):
    order = make_order()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED)
    with pytest.raises(OrderNotCancellable):
        order_cancel(order=order, by=cs_user)
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED


def test_hold_and_release(make_order, cs_user):
    order = make_order()
    order_hold(order=order, by=cs_user, reason="fraud check")
    order.refresh_from_db()
    assert (order.status, order.status_before_hold) == (OrderStatus.ON_HOLD, OrderStatus.AWAITING_ROUTING)
    with pytest.raises(InvalidTransition):
        order_hold(order=order, by=cs_user, reason="again")
    order_release_hold(order=order, by=cs_user)
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_ROUTING
    assert list(order.events.filter(kind__in=["hold", "release"]).values_list("kind", flat=True)) == [
        "hold",
        "release",
    ]
    with pytest.raises(InvalidTransition):
        order_release_hold(order=order, by=cs_user)


def test_change_address_before_release_and_refused_after(make_order, cs_user):
    order = make_order()
    new = ADDRESS.__class__(
        **{**ADDRESS.__dict__, "street": "Rua Augusta", "number": "10", "cep": "01305000"}
    )
    order_change_address(order=order, address=new, by=cs_user)
    order.refresh_from_db()
    assert (order.ship_street, order.ship_cep) == ("Rua Augusta", "01305000")
    assert order.events.filter(kind="address").exists()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.IN_FULFILMENT)
    with pytest.raises(OrderNotChangeable):
        order_change_address(order=order, address=ADDRESS, by=cs_user)


def test_an_address_changed_on_hold_is_routed_again_when_the_hold_is_released(
    routing_world, cs_user, queued_tasks, django_capture_on_commit_callbacks
):
    w = routing_world
    w.stock(w.paulista, w.shirt, 5)
    w.stock(w.rio, w.shirt, 5)
    order = w.make_order([(w.shirt, 1)])  # to Av. Paulista
    order_route(order_id=order.pk)
    first = Fulfilment.objects.get(order=order)
    assert first.location == w.paulista
    order_hold(order=order, by=cs_user, reason="customer is moving")
    order_change_address(order=order, address=RIO, by=cs_user)
    order.refresh_from_db()
    first.refresh_from_db()
    assert (order.status, first.status) == (OrderStatus.ON_HOLD, FulfilmentStatus.ASSIGNED)  # nothing moves
    address = order.events.get(kind="address")
    assert address.message.endswith("It is routed again for it when the hold is released.")
    with django_capture_on_commit_callbacks(execute=True):
        order_release_hold(order=order, by=cs_user)
    assert queued_tasks == [("routing.route_order", (order.pk,))]
    order.refresh_from_db()
    first.refresh_from_db()
    assert (order.status, first.status) == (OrderStatus.AWAITING_ROUTING, FulfilmentStatus.CANCELLED)
    assert set(order.lines.values_list("status", flat=True)) == {LineStatus.PENDING}
    assert StockLevel.objects.get(location=w.paulista, product=w.shirt).reserved == 0
    release = order.events.get(kind="release")
    assert "routed again" in release.message and "1 reserved unit released at LJ-SP-01." in release.message
    assert release.data["rerouted"] and release.data["released_at"] == ["LJ-SP-01"]
    order_route(order_id=order.pk)  # what the queued task does
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED
    assert Fulfilment.objects.exclude(status=FulfilmentStatus.CANCELLED).get(order=order).location == w.rio
    assert StockLevel.objects.get(location=w.rio, product=w.shirt).reserved == 1


def test_a_hold_released_without_an_address_change_keeps_the_allocation(
    routing_world, cs_user, queued_tasks, django_capture_on_commit_callbacks
):
    w = routing_world
    w.stock(w.paulista, w.shirt, 5)
    order = w.make_order([(w.shirt, 1)])
    order_route(order_id=order.pk)
    order_change_address(order=order, address=RIO, by=cs_user)  # before the hold: routed again at once
    order_route(order_id=order.pk)
    order_hold(order=order, by=cs_user, reason="fraud check")
    with django_capture_on_commit_callbacks(execute=True):
        order_release_hold(order=order, by=cs_user)
    order.refresh_from_db()
    assert order.status == OrderStatus.ALLOCATED and queued_tasks[-1:] != [
        ("routing.route_order", (order.pk,))
    ]
    assert Fulfilment.objects.exclude(status=FulfilmentStatus.CANCELLED).get(order=order).status == "assigned"
    assert order.events.get(kind="release").message == "Hold released."


def test_notes(make_order, cs_user):
    order = make_order()
    order_add_note(order=order, text="Cliente pediu entrega após 18h", by=cs_user)
    assert OrderEvent.objects.get(order=order, kind="note").actor == cs_user
    with pytest.raises(OrderNotChangeable):
        order_add_note(order=order, text="   ", by=cs_user)


def test_domain_errors_speak_the_language_of_the_request(make_order, cs_user):
    from django.utils import translation

    order = make_order()
    with translation.override("pt-br"):
        with pytest.raises(OrderNotChangeable, match="Uma nota não pode ficar vazia"):
            order_add_note(order=order, text="", by=cs_user)
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED)
        with pytest.raises(OrderNotCancellable, match="não pode mais ser cancelado"):
            order_cancel(order=order, by=cs_user)
    with translation.override("en"), pytest.raises(OrderNotChangeable, match="A note cannot be empty"):
        order_add_note(order=order, text="", by=cs_user)


def test_refresh_status_follows_lines(make_order):
    order = make_order()
    order.lines.update(status=LineStatus.ALLOCATED)
    assert order_refresh_status(order=order).status == OrderStatus.ALLOCATED
    order.lines.update(status=LineStatus.IN_FULFILMENT)
    assert order_refresh_status(order=order).status == OrderStatus.IN_FULFILMENT
    order.lines.update(status=LineStatus.SHIPPED)
    assert order_refresh_status(order=order).status == OrderStatus.SHIPPED
    order.lines.update(status=LineStatus.PENDING)
    with pytest.raises(InvalidTransition):  # shipped → awaiting routing is not in the table
        order_refresh_status(order=order)


L = LineStatus


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([L.PENDING], OrderStatus.AWAITING_ROUTING),
        ([L.ALLOCATED, L.ALLOCATED], OrderStatus.ALLOCATED),
        ([L.ALLOCATED, L.BACKORDERED], OrderStatus.BACKORDERED),
        ([L.ALLOCATED, L.IN_FULFILMENT], OrderStatus.IN_FULFILMENT),
        ([L.SHIPPED, L.IN_FULFILMENT], OrderStatus.PARTLY_SHIPPED),
        ([L.SHIPPED, L.DELIVERED], OrderStatus.SHIPPED),
        ([L.DELIVERED, L.CANCELLED], OrderStatus.DELIVERED),
        ([L.READY_FOR_PICKUP, L.READY_FOR_PICKUP], OrderStatus.READY_FOR_PICKUP),
        ([L.COLLECTED], OrderStatus.COLLECTED),
        ([L.CANCELLED, L.CANCELLED], OrderStatus.CANCELLED),
    ],
)
def test_derived_status(lines, expected):
    assert derive_order_status(lines) == expected


def test_transition_table_is_closed_and_terminal_states_are_final():
    statuses = set(OrderStatus.values)
    assert set(ORDER_TRANSITIONS) == statuses
    for targets in ORDER_TRANSITIONS.values():
        assert targets <= statuses
    for final in (OrderStatus.DELIVERED, OrderStatus.COLLECTED, OrderStatus.CANCELLED):
        assert not any(can_move(final, other) for other in statuses - {final})
    allowed = sum(1 for a, b in itertools.product(statuses, statuses) if a != b and can_move(a, b))
    assert allowed == sum(len(t) for t in ORDER_TRANSITIONS.values())


def _inputs(channel, n, *, start=0, **overrides):
    from django.utils import timezone

    from orders.services import CustomerData, OrderInput
    from tests.factories import ProductFactory

    product = ProductFactory(sku="BULK-0001")
    return [
        OrderInput(
            channel=channel,
            external_ref=f"ML-{start + i:06d}",
            placed_at=timezone.now(),
            customer=CustomerData(name=f"Cliente {i}", email=f"c{i}@example.com"),
            delivery_mode="home",
            deadline_days=3,
            address=ADDRESS,
            lines=[LineData(product=product, qty=1 + i % 3, unit_price=Decimal("10.00"))],
            **overrides,
        )
        for i in range(n)
    ]


def test_create_many_writes_every_order_with_lines_timeline_and_numbers(channel):
    from orders.services import order_create_many

    results = order_create_many(inputs=_inputs(channel, 20))
    assert all(r.created for r in results)
    orders = Order.objects.order_by("pk")
    assert orders.count() == 20 and OrderLine.objects.count() == 20
    assert all(o.number == f"{o.pk:08d}" for o in orders)
    assert OrderEvent.objects.filter(kind="created").count() == 20
    assert {o.subtotal for o in orders} == {Decimal("10.00"), Decimal("20.00"), Decimal("30.00")}


def test_create_many_answers_existing_twins_and_refusals_each_on_its_own(channel):
    from orders.services import order_create_many

    order_create_many(inputs=_inputs(channel, 2))
    batch = _inputs(channel, 4)  # refs 0 and 1 exist already
    batch.append(batch[3])  # the same order twice in one batch
    results = order_create_many(inputs=batch)
    assert [r.created for r in results] == [False, False, True, True, False]
    assert results[4].order.pk == results[3].order.pk
    assert Order.objects.count() == 4


def test_create_many_refuses_a_pickup_where_none_is_offered(channel):
    from dataclasses import replace

    from orders.services import order_create_many

    dc = LocationFactory(code="CD-X", kind="dc", offers_pickup=False)
    good, bad = _inputs(channel, 2)
    bad = replace(bad, delivery_mode="pickup", address=None, pickup_location=dc)
    results = order_create_many(inputs=[good, bad])
    assert results[0].created is True
    assert isinstance(results[1], PickupNotOffered)
    assert Order.objects.count() == 1


def test_create_many_runs_the_same_number_of_queries_for_5_and_50_orders(channel):
    from orders.services import order_create_many

    active_subscriptions()  # the first reads of the subscribers and the channels fill the cache
    channels_by_code()
    counts = []
    for start, n in ((0, 5), (1000, 50)):
        batch = _inputs(channel, n, start=start)
        with CaptureQueriesContext(connection) as ctx:
            order_create_many(inputs=batch)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 12
