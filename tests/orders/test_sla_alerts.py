"""SLA alerts: a fulfilment that misses its ship-by time is announced once (a timeline entry for customer
service and the `fulfilment.late` webhook); those that left or are not due yet are not; the beat's task runs
it on the worker."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from oms.models import WebhookDelivery, WebhookSubscription
from orders.models import Fulfilment, FulfilmentStatus, OrderEvent
from orders.services import LineData
from orders.services.fulfilment import fulfilment_flag_late, fulfilments_late
from orders.tasks import flag_late_fulfilments
from tests.factories import LocationFactory, ProductFactory, StockFactory, fulfilment_with_reservations
from tests.worker import wait_for

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def due(make_order):
    """Fulfilments at one store: due an hour ago, due in an hour, due an hour ago but shipped, and due two
    days ago (late for long: counted by the KPIs, not announced now)."""
    store = LocationFactory(code="LJ-SP-01")
    product = ProductFactory(sku="CAM-0001-P")
    StockFactory(location=store, product=product, on_hand=10)
    made = {}
    cases = (
        ("late", -1, "picking"),
        ("early", 1, "assigned"),
        ("gone", -1, "shipped"),
        ("stale", -49, "packed"),
    )
    for name, hours, status in cases:
        order = make_order(lines=[LineData(product=product, qty=1, unit_price=Decimal("50"))])
        fulfilment = fulfilment_with_reservations(order=order, location=store)
        Fulfilment.objects.filter(pk=fulfilment.pk).update(
            ship_by=NOW + dt.timedelta(hours=hours), status=status
        )
        made[name] = Fulfilment.objects.get(pk=fulfilment.pk)
    return made


def test_a_late_fulfilment_is_announced_once(due):
    WebhookSubscription.objects.create(name="Chat", url="https://chat.example.com/hook", secret="s" * 32)
    assert fulfilments_late(now=NOW) == [due["late"].pk]  # not the stale one
    assert fulfilment_flag_late(fulfilment=due["late"], now=NOW) is True
    assert fulfilment_flag_late(fulfilment=due["late"], now=NOW) is False  # once
    assert fulfilments_late(now=NOW) == []
    late = Fulfilment.objects.get(pk=due["late"].pk)
    assert late.late_alerted_at == NOW and late.status == FulfilmentStatus.PICKING  # nothing else changes
    event = OrderEvent.objects.get(order=late.order, kind="late")
    assert event.message.startswith("LJ-SP-01: not sent by its ship-by time")
    (delivery,) = WebhookDelivery.objects.filter(event_type="fulfilment.late")
    assert (
        delivery.payload["data"]["fulfilment"] == late.pk
        and delivery.payload["data"]["location"] == "LJ-SP-01"
    )


@pytest.mark.parametrize("name", ["early", "gone"])
def test_what_is_not_late_or_has_left_is_not_announced(due, name):
    assert fulfilment_flag_late(fulfilment=due[name], now=NOW) is False
    assert not OrderEvent.objects.filter(kind="late").exists()


def test_the_task_announces_every_late_one(due):
    assert flag_late_fulfilments.apply().get() == 1
    assert flag_late_fulfilments.apply().get() == 0


@pytest.mark.django_db(transaction=True)
def test_the_worker_announces_late_work(due, needs_worker):
    flag_late_fulfilments.delay()
    assert wait_for(lambda: Fulfilment.objects.filter(late_alerted_at__isnull=False).exists(), timeout=30)
