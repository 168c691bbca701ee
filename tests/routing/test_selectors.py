"""Routing's reads: the carrier services a location kind may ship with (what it registers for orders)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders import carriers
from routing.models import Carrier, CarrierService
from routing.selectors import carrier_service_names, carrier_services_from

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
    assert carrier_services_from("store") == [("r-store", "Rápido loja")]
    assert carrier_services_from("dc") == [("r-dc", "Rápido CD")]
    # The engine routes a dark store as a store: what it may plan there is what the form offers there.
    assert carrier_services_from("dark_store") == [("r-store", "Rápido loja")]


def test_names_of_services_active_or_not_and_nothing_else(own_services):
    assert carrier_service_names(["r-dc", "express", "Loggi"]) == {
        "r-dc": "Rápido CD",
        "express": "Expresso nacional",
    }


def test_routing_registers_its_services_with_orders():
    assert carriers._source is not None
    assert carriers._source.offered is carrier_services_from
    assert carriers._source.names is carrier_service_names
