"""How a location can send a package to an order's destination, and what the package costs.

Cost model (routing kit README, section 3):
  home package      handling + pick x units + base + per_km x km + per_kg x kg   (service feasible)
  same-store pickup pick x units
  transfer          handling + pick x units + t.base + t.per_km x km + t.per_kg x kg
"""

from __future__ import annotations

from dataclasses import dataclass

from .geo import EPS, leg_days
from .network import Location, Service, TransferTerms
from .plan import NO_SHIPPING, OUT_OF_RANGE, TOO_SLOW, TRANSFER


@dataclass(frozen=True, slots=True)
class Option:
    """One way a location can send a package for one order. Its price for a package of `kg`
    is fixed + per_kg x kg (+ pick cost per unit); choice_fixed adds the policy's speed weight."""

    service: str | None
    fixed: float
    per_kg: float
    days: int
    km: float
    choice_fixed: float


def home_options(
    loc: Location, services: tuple[Service, ...], km: float, deadline: int, speed_weight: float = 0.0
) -> tuple[list[Option], str | None]:
    """Undominated services `loc` can use to reach a customer `km` away by `deadline`, or the reason
    it cannot (does not ship / out of service range / too slow)."""
    if not loc.ships:
        return [], NO_SHIPPING
    in_range = False
    found: list[Option] = []
    for sv in services:
        if loc.kind not in sv.from_kinds:
            continue
        if sv.max_km is not None and km > sv.max_km + EPS:
            continue
        in_range = True
        days = loc.processing_days + sv.days_base + leg_days(km, sv.km_per_day)
        if days > deadline:
            continue
        fixed = loc.handling_cost + sv.base + sv.per_km * km
        found.append(Option(sv.id, fixed, sv.per_kg, days, km, fixed + speed_weight * days))
    if not found:
        return [], (TOO_SLOW if in_range else OUT_OF_RANGE)
    return undominated(found), None


def transfer_option(
    loc: Location, terms: TransferTerms, km: float, deadline: int, speed_weight: float = 0.0
) -> tuple[Option | None, str | None]:
    """The transfer from `loc` to a pickup store `km` away, if it arrives by `deadline`."""
    if not loc.ships:
        return None, NO_SHIPPING
    days = loc.processing_days + terms.days_base + leg_days(km, terms.km_per_day)
    if days > deadline:
        return None, TOO_SLOW
    fixed = loc.handling_cost + terms.base + terms.per_km * km
    return Option(TRANSFER, fixed, terms.per_kg, days, km, fixed + speed_weight * days), None


def local_option(loc: Location, deadline: int, speed_weight: float = 0.0) -> tuple[Option | None, str | None]:
    """Picking at the pickup store itself for the customer to collect."""
    days = loc.processing_days
    if days > deadline:
        return None, TOO_SLOW
    return Option(None, 0.0, 0.0, days, 0.0, speed_weight * days), None


def undominated(options: list[Option]) -> list[Option]:
    """Drop options dearer in both fixed and per-kg price than another (they can never be best)."""
    options.sort(key=lambda o: (o.choice_fixed, o.per_kg))
    kept: list[Option] = []
    for o in options:
        if not kept or o.per_kg < kept[-1].per_kg:
            kept.append(o)
    return kept


def best_option(options: list[Option], kg: float) -> Option:
    """The option cheapest (by choice price) for a package weighing `kg`."""
    best = options[0]
    best_c = best.choice_fixed + best.per_kg * kg
    for o in options[1:]:
        c = o.choice_fixed + o.per_kg * kg
        if c < best_c - 1e-12:
            best, best_c = o, c
    return best
