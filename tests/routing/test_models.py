"""Routing tables: seeded defaults (idempotent), database constraints."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from routing.models import (
    Carrier,
    CarrierService,
    LocationDayCapacity,
    RateCard,
    RoutingPolicy,
    TransferTerms,
)
from routing.services.defaults import SERVICES

pytestmark = pytest.mark.django_db


def test_defaults_are_seeded_once(capsys):
    call_command("setup_routing_defaults")
    call_command("setup_routing_defaults")
    assert capsys.readouterr().out.strip().endswith("0 rows created")
    assert CarrierService.objects.count() == len(SERVICES)
    courier = CarrierService.objects.get(code="moto-courier")
    assert courier.max_km == 25 and set(courier.from_kinds) == {"store", "dark_store"}
    assert CarrierService.objects.get(code="regional-road").from_kinds == ["dc"]
    assert (
        TransferTerms.objects.count() == 1 and RoutingPolicy.objects.filter(channel__isnull=True).count() == 1
    )


def test_only_one_default_policy(routing_defaults):
    with pytest.raises(IntegrityError), transaction.atomic():
        RoutingPolicy.objects.create(name="Another default")


def test_rate_card_ranges_must_be_ordered(routing_defaults):
    service = CarrierService.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        RateCard.objects.create(
            service=service, cep_from="02000000", cep_to="01000000", weight_from_g=0, weight_to_g=1,
            price=1, transit_days=1,
        )  # fmt: skip


def test_capacity_used_cannot_go_negative(routing_world):
    with pytest.raises(IntegrityError), transaction.atomic():
        LocationDayCapacity.objects.create(location=routing_world.dc, day="2026-01-02", units_used=-1)


def test_carrier_names(routing_defaults):
    assert str(Carrier.objects.get(code="correios")) == "Correios"
