"""factory_boy factories for the whole suite."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth import get_user_model


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = "Test"
    password = factory.django.Password("correct-horse-battery")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "inventory.Region"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"region-{n}")
    name = factory.LazyAttribute(lambda r: r.code.title())


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "inventory.Location"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"LJ-SP-{n:02d}")
    name = factory.LazyAttribute(lambda o: f"Loja {o.code}")
    kind = "store"
    city = "São Paulo"
    state = "SP"
    cep = "01310200"
    lat = -23.5614
    lon = -46.6559
    ships = True
    offers_pickup = True
    processing_days = 0
    handling_cost = Decimal("5.00")
    pick_cost = Decimal("1.50")
    daily_capacity = 500


class DCFactory(LocationFactory):
    code = factory.Sequence(lambda n: f"CD-{n:02d}")
    name = factory.LazyAttribute(lambda o: f"CD {o.code}")
    kind = "dc"
    city = "Cajamar"
    cep = "07776000"
    lat = -23.3417
    lon = -46.8918
    offers_pickup = False
    processing_days = 1
    handling_cost = Decimal("2.30")
    pick_cost = Decimal("0.60")
    daily_capacity = 5000


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "inventory.Product"
        django_get_or_create = ("sku",)

    sku = factory.Sequence(lambda n: f"CAM-{n:04d}-P")
    ean = factory.Sequence(lambda n: f"789{n:010d}")
    name = factory.Sequence(lambda n: f"Camiseta básica {n}")
    weight_g = 250
    price = Decimal("59.90")


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "inventory.StockLevel"
        django_get_or_create = ("location", "product")

    location = factory.SubFactory(LocationFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = 10


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orders.Channel"
        django_get_or_create = ("code",)

    code = "web"
    name = "Site"
    kind = "site"


def fulfilment_with_reservations(
    *, order, location, kind="ship", lines=None, ship_by=None, status="assigned"
):
    """A fulfilment of `order` at `location` with one line per (order_line, qty) — all the order's lines by
    default — and each line's units reserved there under ref f"fl:{pk}", group=order.number (as routing does).
    Stock rows must already hold the units. Order lines become ALLOCATED."""
    from inventory.services import stock_reserve
    from orders.models import Fulfilment, FulfilmentLine, LineStatus
    from orders.services import order_refresh_status

    fulfilment = Fulfilment.objects.create(
        order=order, location=location, kind=kind, ship_by=ship_by, status=status
    )
    pairs = lines if lines is not None else [(line, line.qty) for line in order.lines.all()]
    for order_line, qty in pairs:
        fl = FulfilmentLine.objects.create(fulfilment=fulfilment, order_line=order_line, qty=qty)
        stock_reserve(
            location=location, product=order_line.product, qty=qty, ref=fl.reservation_ref, group=order.number
        )
        if order_line.status == LineStatus.PENDING:
            order_line.status = LineStatus.ALLOCATED
            order_line.save(update_fields=["status"])
    order_refresh_status(order=order)
    return fulfilment


def stock_row(location: Any, product: Any) -> Any:
    """The stock row of `product` at `location`, as it is in the database now."""
    from inventory.models import StockLevel

    return StockLevel.objects.get(location=location, product=product)


def shipped_daily(row: Any, per_day: Any, *, days: int = 70) -> None:
    """Shipments of stock row `row` on each of the `days` days before today: `per_day(day)` units that day, as
    ledger rows dated in the past (what the forecast job reads)."""
    import datetime as dt

    from django.utils import timezone

    from inventory.models import MovementKind, StockMovement
    from oms.calendar import start_of_day

    today = timezone.localdate()
    sold = [
        (day, units)
        for age in range(1, days + 1)
        if (units := per_day(day := today - dt.timedelta(days=age)))
    ]
    movements = StockMovement.objects.bulk_create(
        StockMovement(
            stock=row, kind=MovementKind.COMMIT, on_hand_delta=-units, reserved_delta=-units,
            on_hand_after=row.on_hand, reserved_after=0, reason="shipped",
        )
        for _day, units in sold
    )  # fmt: skip
    for movement, (day, _units) in zip(movements, sold, strict=True):
        # `at` is auto_now_add: dated afterwards, at the day's last minute, so a window of the last N days
        # read at any hour today takes each of those days whole (at 15:00, the oldest fell out after 15:00)
        movement.at = start_of_day(day) + dt.timedelta(hours=23, minutes=59)
    StockMovement.objects.bulk_update(movements, ["at"])
