"""The carriers, services, transfer terms and default policy a fresh installation starts with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction

CARRIERS: list[dict[str, Any]] = [
    {"code": "correios", "name": "Correios"},
    {"code": "expresso-nacional", "name": "Expresso Nacional"},
    {"code": "moto-entregas", "name": "Moto Entregas"},
    {"code": "rodo-regional", "name": "Rodo Regional"},
    {"code": "van-metropolitana", "name": "Van Metropolitana"},
]

# The engine's linear model per service: base + per_km x km + per_kg x kg, days_base + km / km_per_day.
SERVICES: list[dict[str, Any]] = [
    {
        "code": "express",
        "carrier": "expresso-nacional",
        "name": "Expresso nacional",
        "kind": "express",
        "from_kinds": ["dc", "store", "dark_store"],
        "max_km": None,
        "km_per_day": 900.0,
        "days_base": 1,
        "base": Decimal("19.90"),
        "per_km": Decimal("0.0120"),
        "per_kg": Decimal("2.5000"),
        "cutoff_hour": 15,
    },
    {
        "code": "economy",
        "carrier": "correios",
        "name": "Econômico (Correios)",
        "kind": "economy",
        "from_kinds": ["dc", "store", "dark_store"],
        "max_km": None,
        "km_per_day": 350.0,
        "days_base": 3,
        "base": Decimal("12.50"),
        "per_km": Decimal("0.0060"),
        "per_kg": Decimal("1.2000"),
        "cutoff_hour": 16,
    },
    {
        "code": "moto-courier",
        "carrier": "moto-entregas",
        "name": "Motoboy (até 25 km)",
        "kind": "courier",
        "from_kinds": ["store", "dark_store"],
        "max_km": 25.0,
        "km_per_day": None,
        "days_base": 0,
        "base": Decimal("9.90"),
        "per_km": Decimal("0.6000"),
        "per_kg": Decimal("0.5000"),
        "cutoff_hour": 17,
    },
    {
        "code": "regional-road",
        "carrier": "rodo-regional",
        "name": "Rodoviário regional (até 900 km)",
        "kind": "regional",
        "from_kinds": ["dc"],
        "max_km": 900.0,
        "km_per_day": 450.0,
        "days_base": 1,
        "base": Decimal("9.50"),
        "per_km": Decimal("0.0100"),
        "per_kg": Decimal("0.9000"),
        "cutoff_hour": 14,
    },
    {
        "code": "metro-van",
        "carrier": "van-metropolitana",
        "name": "Van metropolitana (até 60 km)",
        "kind": "metro",
        "from_kinds": ["dc"],
        "max_km": 60.0,
        "km_per_day": None,
        "days_base": 0,
        "base": Decimal("7.90"),
        "per_km": Decimal("0.1200"),
        "per_kg": Decimal("0.4000"),
        "cutoff_hour": 12,
    },
]

DEFAULT_POLICY_NAME = "Default"


def setup_defaults(*, carrier_model: Any, service_model: Any, terms_model: Any, policy_model: Any) -> int:
    """Create the default carriers, services, transfer terms and default policy where missing (never
    overwrites what an admin changed). Takes the model classes so a data migration can call it with its
    historical models. Returns the number of rows created."""
    created = 0
    carriers = {}
    for row in CARRIERS:
        carrier, made = carrier_model.objects.get_or_create(code=row["code"], defaults={"name": row["name"]})
        carriers[row["code"]] = carrier
        created += made
    for row in SERVICES:
        fields = {k: v for k, v in row.items() if k not in ("code", "carrier")}
        _service, made = service_model.objects.get_or_create(
            code=row["code"], defaults={"carrier": carriers[row["carrier"]], **fields}
        )
        created += made
    _terms, made = terms_model.objects.get_or_create(pk=1)
    created += made
    if not policy_model.objects.filter(channel__isnull=True).exists():
        policy_model.objects.create(name=DEFAULT_POLICY_NAME, channel=None)
        created += 1
    return created


@transaction.atomic
def routing_defaults_setup() -> int:
    """Idempotent: the default carriers, services, transfer terms and policy (see `setup_defaults`)."""
    from ..models import Carrier, CarrierService, RoutingPolicy, TransferTerms
    from .snapshot import network_changed

    created = setup_defaults(
        carrier_model=Carrier,
        service_model=CarrierService,
        terms_model=TransferTerms,
        policy_model=RoutingPolicy,
    )
    if created:
        network_changed()
    return created
