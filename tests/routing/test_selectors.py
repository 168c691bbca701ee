"""Routing's reads: the carrier services a location kind may ship with (what it registers for orders)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders import carriers
from routing.models import Carrier, CarrierService
from routing.selectors import carrier_service_names, carrier_services_from
from tests.factories import DCFactory, LocationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_services(routing_defaults):
    """Only two services: one from stores only, one from DCs only (the defaults switched off)."""
    CarrierService.objects.update(active=False)
    carrier = Carrier.objects.create(code="rapido", name="Rápido")
    for code, name, kinds in (("r-store", "Rápido loja", ["store"]), ("r-dc", "Rápido CD", ["dc"])):
        CarrierService.objects.create(
            carrier=carrier, code=code, name=name, kind="express", from_kinds=kinds, base=Decimal("1")
        )


def test_a_kind_gets_the_active_services_that_leave_from_it(own_services):
    assert carrier_services_from(LocationFactory(code="LJ-SP-01")) == [("r-store", "Rápido loja")]
    assert carrier_services_from(DCFactory(code="CD-SP-01")) == [("r-dc", "Rápido CD")]
    # The engine routes a dark store as a store: what it may plan there is what the form offers there.
    dark = LocationFactory(code="DS-SP-01", kind="dark_store")
    assert carrier_services_from(dark) == [("r-store", "Rápido loja")]


def test_a_customer_beyond_a_services_reach_is_not_offered_it(own_services):
    CarrierService.objects.filter(code="r-store").update(max_km=25)
    store = LocationFactory(code="LJ-SP-01")  # Av. Paulista, São Paulo
    assert carrier_services_from(store, (-23.60, -46.70)) == [("r-store", "Rápido loja")]  # about 8 km
    assert carrier_services_from(store, (-21.18, -47.81)) == []  # Ribeirão Preto, about 270 km
    assert carrier_services_from(store) == [("r-store", "Rápido loja")]  # no address on the map: anywhere


def test_names_of_services_active_or_not_and_nothing_else(own_services):
    assert carrier_service_names(["r-dc", "express", "Loggi"]) == {
        "r-dc": "Rápido CD",
        "express": "Expresso nacional",
    }


def test_routing_registers_its_services_with_orders():
    assert carriers._source is not None
    assert carriers._source.offered is carrier_services_from
    assert carriers._source.names is carrier_service_names
