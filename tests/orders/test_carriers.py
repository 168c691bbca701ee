"""Carrier services as orders sees them: what a location ships with, and their names (from routing's
services through the registered source; a fixed list and the stored values without one)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import carriers
from orders.carriers import (
    FALLBACK_SERVICES,
    carrier_service_name,
    carrier_service_names,
    name_carrier_services,
    ship_services,
)
from orders.models import Fulfilment
from tests.factories import DCFactory, LocationFactory

pytestmark = pytest.mark.django_db

STORE_SERVICES = [
    ("economy", "Econômico (Correios)"),
    ("express", "Expresso nacional"),
    ("moto-courier", "Motoboy (até 25 km)"),
]
DC_SERVICES = [
    ("economy", "Econômico (Correios)"),
    ("express", "Expresso nacional"),
    ("regional-road", "Rodoviário regional (até 900 km)"),
    ("metro-van", "Van metropolitana (até 60 km)"),
]


def test_each_location_kind_is_offered_the_services_that_leave_from_it(routing_defaults):
    assert ship_services(LocationFactory(code="LJ-SP-01")) == STORE_SERVICES
    assert ship_services(LocationFactory(code="DS-SP-01", kind="dark_store")) == STORE_SERVICES
    assert ship_services(DCFactory(code="CD-SP-01")) == DC_SERVICES
    assert ship_services(LocationFactory(code="LJ-SP-02", ships=False)) == []


def test_an_inactive_service_or_carrier_is_not_offered_but_keeps_its_name(routing_defaults):
    from routing.models import Carrier, CarrierService

    CarrierService.objects.filter(code="moto-courier").update(active=False)
    Carrier.objects.filter(code="expresso-nacional").update(active=False)
    assert ship_services(LocationFactory(code="LJ-SP-01")) == [("economy", "Econômico (Correios)")]
    assert carrier_service_names(["moto-courier", "express"]) == {
        "moto-courier": "Motoboy (até 25 km)",
        "express": "Expresso nacional",
    }


def test_names_of_codes_and_of_older_free_text(routing_defaults):
    assert carrier_service_names(["express", "Correios SEDEX", "", "express"]) == {
        "express": "Expresso nacional",
        "Correios SEDEX": "Correios SEDEX",  # typed before services had codes: shown as it is
    }
    assert carrier_service_name("metro-van") == "Van metropolitana (até 60 km)"
    assert carrier_service_name("") == ""


def test_naming_fulfilments_takes_one_query_however_many_and_none_without_a_code(routing_defaults):
    store = LocationFactory(code="LJ-SP-01")
    codes = ["express", "economy", "moto-courier", "Loggi", "", "express"]
    fulfilments = [Fulfilment(location=store, kind="ship", carrier_service=code) for code in codes]
    with CaptureQueriesContext(connection) as ctx:
        name_carrier_services(fulfilments)
    assert len(ctx.captured_queries) == 1
    assert [f.carrier_service_name for f in fulfilments] == [
        "Expresso nacional", "Econômico (Correios)", "Motoboy (até 25 km)", "Loggi", "", "Expresso nacional",
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as ctx:
        name_carrier_services([Fulfilment(location=store, kind="pickup")])
    assert ctx.captured_queries == []


def test_without_routing_a_location_that_ships_is_offered_the_fallback_list(monkeypatch, routing_defaults):
    monkeypatch.setattr(carriers, "_source", None)
    assert ship_services(LocationFactory(code="LJ-SP-01")) == list(FALLBACK_SERVICES)
    assert ship_services(LocationFactory(code="LJ-SP-02", ships=False)) == []
    with CaptureQueriesContext(connection) as ctx:
        assert carrier_service_names(["express", "Loggi"]) == {"express": "express", "Loggi": "Loggi"}
    assert ctx.captured_queries == []
