"""Reading the routing kit's `oms-routing-scenario/1` documents and writing `oms-routing-plan/1`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .network import Location, Network, Service, TransferTerms, UnfilledPenalty, build_locations
from .order import Order, OrderLine
from .plan import Plan

SCENARIO_FORMAT = "oms-routing-scenario/1"
PLAN_FORMAT = "oms-routing-plan/1"


@dataclass(frozen=True, slots=True)
class Forecast:
    """What the demand forecast knows before the period starts (the only allowed view of the future)."""

    orders: float = 0.0
    sku_units: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Scenario:
    name: str
    network: Network
    orders: list[Order]
    forecast: Forecast | None


def load_scenario(doc: dict[str, Any]) -> Scenario:
    """Build a fresh Network and the order list from a scenario document; raises ValueError if malformed."""
    if doc.get("format") != SCENARIO_FORMAT:
        raise ValueError(f"scenario format must be {SCENARIO_FORMAT!r}")
    locations = build_locations(
        Location(
            id=loc["id"],
            kind=loc["kind"],
            lat=float(loc["lat"]),
            lon=float(loc["lon"]),
            ships=bool(loc["ships"]),
            pickup=bool(loc["pickup"]),
            processing_days=int(loc["processing_days"]),
            handling_cost=float(loc["handling_cost"]),
            pick_cost=float(loc["pick_cost"]),
            capacity_left=int(loc["capacity_units"]),
        )
        for loc in doc["locations"]
    )
    services = tuple(
        Service(
            id=sv["id"],
            base=float(sv["base"]),
            per_km=float(sv["per_km"]),
            per_kg=float(sv["per_kg"]),
            days_base=int(sv["days_base"]),
            km_per_day=_opt_float(sv.get("km_per_day")),
            max_km=_opt_float(sv.get("max_km")),
            from_kinds=frozenset(sv["from_kinds"]),
            carrier=sv.get("carrier", ""),
        )
        for sv in doc["services"]
    )
    tr = doc["transfer"]
    transfer = TransferTerms(
        base=float(tr["base"]),
        per_km=float(tr["per_km"]),
        per_kg=float(tr["per_kg"]),
        days_base=int(tr["days_base"]),
        km_per_day=_opt_float(tr.get("km_per_day")),
    )
    up = doc["unfilled_penalty"]
    stock: dict[tuple[str, str], int] = {}
    for lid, sku, units in doc.get("stock", []):
        if units > 0:
            stock[(lid, sku)] = int(units)
    network = Network(
        locations=locations,
        services=services,
        transfer=transfer,
        road_factor=float(doc["road_factor"]),
        split_penalty=float(doc["split_penalty"]),
        unfilled=UnfilledPenalty(float(up["per_unit"]), float(up["price_fraction"])),
        stock=stock,
        sku_weight={s["id"]: float(s["weight_kg"]) for s in doc.get("skus", [])},
    )
    orders = [order_from_dict(o) for o in doc.get("orders", [])]
    fc = doc.get("forecast")
    forecast = None
    if isinstance(fc, dict):
        forecast = Forecast(
            orders=float(fc.get("orders") or 0.0),
            sku_units={sku: float(u) for sku, u in fc.get("sku_units", [])},
        )
    return Scenario(name=doc.get("name") or "", network=network, orders=orders, forecast=forecast)


def order_from_dict(o: dict[str, Any]) -> Order:
    """An Order from a scenario order object."""
    return Order(
        id=o["id"],
        mode=o["mode"],
        deadline_days=int(o["deadline_days"]),
        lines=tuple(OrderLine(ln["sku"], int(ln["qty"]), float(ln["price"])) for ln in o["lines"]),
        lat=_opt_float(o.get("lat")),
        lon=_opt_float(o.get("lon")),
        pickup_location=o.get("pickup_location"),
        wave=o.get("wave"),
    )


def plan_document(scenario_name: str, plans: Iterable[Plan], router: str) -> dict[str, Any]:
    """An `oms-routing-plan/1` document for score.py."""
    return {
        "format": PLAN_FORMAT,
        "scenario": scenario_name or None,
        "router": router,
        "orders": [p.to_entry() for p in plans],
    }


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)
