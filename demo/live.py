"""Today's orders, taken in and routed the way production does it.

The demo's history is planned: its orders carry fulfilments and a timeline, but no routing decision. So that
customer service finds "why these locations" on the demo too, a few customers of the history order again in
the last minutes: each order goes through `order_create` (as the API takes it) and the live routing
(`order_route`), which reserves stock, takes capacity, creates the fulfilments and records the decision with
its candidates. Deterministic for a seed, and idempotent: the same references are taken only once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import re
from collections.abc import Callable

from django.utils import timezone

from oms.exceptions import DomainError
from orders.models import DeliveryMode, Order, OrderStatus
from orders.services import AddressData, CustomerData, LineData, order_create
from routing.services.live import order_route

LIVE_ORDERS = 40
REF_OFFSET = 900_000  # added to a past order's reference number: far above every reference of the history
WITHIN = dt.timedelta(minutes=15)  # placed over the last minutes, taken in now (an integration's lag)


def seed_live_orders(count: Callable[[str, int], None], *, seed: int, orders: int = LIVE_ORDERS) -> None:
    """`orders` repeat purchases of delivered or collected orders, placed in the last minutes, routed live."""
    rng = random.Random(f"oms-demo/live/{seed}")
    past = list(
        Order.objects.filter(status__in=[OrderStatus.DELIVERED, OrderStatus.COLLECTED])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not past:
        return
    chosen = sorted(rng.sample(past, min(orders, len(past))))
    sources = (
        Order.objects.filter(pk__in=chosen)
        .select_related("channel", "customer", "pickup_location")
        .prefetch_related("lines__product")
        .order_by("pk")
    )
    now = timezone.now().replace(microsecond=0)
    offsets = sorted((rng.uniform(1, WITHIN.total_seconds()) for _ in chosen), reverse=True)
    taken = routed = 0
    for source, ago in zip(sources, offsets, strict=True):
        result = order_create(
            channel=source.channel,
            external_ref=_again(source.external_ref),
            placed_at=now - dt.timedelta(seconds=round(ago)),
            customer=CustomerData(
                name=source.customer.name,
                email=source.customer.email,
                document=source.customer.document,
                phone=source.customer.phone,
            ),
            delivery_mode=source.delivery_mode,
            deadline_days=source.deadline_days,
            lines=[LineData(line.product, line.qty, line.unit_price) for line in source.lines.all()],
            address=_address(source),
            pickup_location=source.pickup_location,
            shipping_price=source.shipping_price,
        )
        if not result.created:
            continue
        taken += 1
        # stock or capacity taken meanwhile: the order waits for the next drain, as in production
        with contextlib.suppress(DomainError):
            routed += order_route(order_id=result.order.pk) is not None
    count("orders taken today and routed live", routed)
    if taken > routed:
        count("orders taken today, awaiting routing", taken - routed)


def _again(reference: str) -> str:
    """A new reference of the same channel's pattern: the past one's number plus REF_OFFSET."""
    digits = re.search(r"\d+$", reference)
    assert digits is not None, reference  # every demo channel's references end in a number
    number = str(int(digits.group()) + REF_OFFSET).zfill(len(digits.group()))
    return reference[: digits.start()] + number


def _address(order: Order) -> AddressData | None:
    if order.delivery_mode != DeliveryMode.HOME:
        return None
    return AddressData(
        street=order.ship_street,
        number=order.ship_number,
        district=order.ship_district,
        city=order.ship_city,
        state=order.ship_state,
        cep=order.ship_cep,
        complement=order.ship_complement,
        lat=order.ship_lat,
        lon=order.ship_lon,
    )
