from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.services import AddressData, CustomerData, LineData, order_create
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StockFactory

ADDRESS = AddressData(
    street="Av. Paulista",
    number="1578",
    district="Bela Vista",
    city="São Paulo",
    state="SP",
    cep="01310200",
    lat=-23.5614,
    lon=-46.6559,
)


@pytest.fixture
def channel(db):
    return ChannelFactory()


@pytest.fixture
def make_order(channel):
    counter = {"n": 0}

    def make(*, lines=None, ref=None, mode="home", pickup_location=None, **kwargs):
        counter["n"] += 1
        if lines is None:
            lines = [LineData(product=ProductFactory(), qty=2, unit_price=Decimal("59.90"))]
        result = order_create(
            channel=kwargs.pop("channel", channel),
            external_ref=ref or f"WEB-{counter['n']:05d}",
            placed_at=kwargs.pop("placed_at", timezone.now() - dt.timedelta(minutes=5)),
            customer=kwargs.pop(
                "customer",
                CustomerData(
                    name="Ana Souza", email="Ana@Example.com", document="52998224725", phone="+5511912345678"
                ),
            ),
            delivery_mode=mode,
            deadline_days=kwargs.pop("deadline_days", 2),
            lines=lines,
            address=ADDRESS if mode == "home" else None,
            pickup_location=pickup_location,
            **kwargs,
        )
        return result.order

    return make


@pytest.fixture
def stocked_product(db):
    stock = StockFactory(on_hand=20)
    return stock


@pytest.fixture
def store():
    """The store returns come back to (modules that need another store define their own)."""
    return LocationFactory(code="LJ-SP-01", name="Loja Paulista")


@pytest.fixture
def elsewhere():
    """A store in another region."""
    return LocationFactory(code="LJ-POA-01", name="Loja Moinhos", region="sul")
