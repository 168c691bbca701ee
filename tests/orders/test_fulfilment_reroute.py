"""A short pick end to end with the real Celery worker: the missing units are routed again, exactly once."""

from __future__ import annotations

import time

import pytest
from django.db import transaction
from django.db.models import Sum

from inventory.models import Reservation, StockLevel
from oms.queue import send_task_now
from orders.models import Fulfilment, FulfilmentStatus, LineStatus, OrderStatus
from orders.services.fulfilment import fulfilment_confirm_pick, fulfilment_short_pick
from tests.worker import wait_for


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("elsewhere", [True, False], ids=["new-fulfilment", "backorder"])
def test_short_pick_is_rerouted_by_the_worker_exactly_once(
    routing_world, needs_worker, store_user, elsewhere
):
    w = routing_world
    w.stock(w.paulista, w.shirt, 3)
    with transaction.atomic():
        order = w.make_order([(w.shirt, 3)])
    assert wait_for(lambda: Fulfilment.objects.filter(order=order).exists()), "the order was never routed"
    first = Fulfilment.objects.get(order=order)
    assert first.location == w.paulista
    if elsewhere:
        w.stock(w.dc, w.shirt, 10)

    line = first.lines.get()
    fulfilment_confirm_pick(fulfilment=first, code=w.shirt.sku, qty=1, by=store_user)
    fulfilment_short_pick(fulfilment=first, line_id=line.pk, missing=2, reason="not_found", by=store_user)
    # The service queued the re-route on commit; a duplicate delivery must change nothing.
    send_task_now("routing.route_order", order.pk)
    send_task_now("routing.route_order", order.pk)

    def settled():
        order.refresh_from_db()
        return order.status not in {OrderStatus.AWAITING_ROUTING}

    assert wait_for(settled), f"order still {order.status}"
    time.sleep(2)  # let the duplicate tasks run too
    order.refresh_from_db()
    paulista = StockLevel.objects.get(location=w.paulista, product=w.shirt)
    assert (paulista.on_hand, paulista.reserved) == (1, 1)  # 2 not found: gone from the shelf
    others = Fulfilment.objects.filter(order=order).exclude(pk=first.pk)
    if elsewhere:
        new = others.get()  # exactly one new fulfilment
        assert new.location == w.dc and new.status == FulfilmentStatus.ASSIGNED
        assert new.lines.aggregate(n=Sum("qty"))["n"] == 2
        dc = StockLevel.objects.get(location=w.dc, product=w.shirt)
        assert (dc.on_hand, dc.reserved) == (10, 2)
        assert order.lines.get().status in {LineStatus.ALLOCATED, LineStatus.IN_FULFILMENT}
    else:
        assert not others.exists()
        assert order.lines.get().status == LineStatus.BACKORDERED
        assert order.status == OrderStatus.BACKORDERED
    assert Reservation.objects.filter(group=order.number).aggregate(n=Sum("qty"))["n"] == (
        3 if elsewhere else 1
    )
    kinds = list(order.events.values_list("kind", flat=True))
    assert "short_pick" in kinds and "reroute" in kinds
