"""Reads of routing data. Scoping follows the order: callers pass an order from orders.selectors.order_get."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import QuerySet

from inventory.models import Location
from orders.models import Order

from .engine.geo import EPS, haversine_km
from .models import CarrierService, RoutingDecision
from .services.snapshot import engine_kind


def decision_list(*, order: Order) -> QuerySet[RoutingDecision]:
    """The routing decisions of an order the caller may see, newest first, with their policy."""
    return RoutingDecision.objects.filter(order=order).select_related("policy").order_by("-created_at", "-id")


def carrier_services_from(location: Location, to: tuple[float, float] | None = None) -> list[tuple[str, str]]:
    """(code, name) of the active services of active carriers `location` may ship with, by name: those
    routing may plan there (its kind among the service's `from_kinds`, by the engine's rule that a dark store
    ships like a store) and, with `to` (latitude, longitude), that reach it (within the service's `max_km`,
    measured as live routing measures it). One query."""
    kind = engine_kind(location.kind)
    km = haversine_km(location.lat, location.lon, *to) if to is not None else None
    rows = (
        CarrierService.objects.filter(active=True, carrier__active=True)
        .order_by("name", "code")
        .values_list("code", "name", "from_kinds", "max_km")
    )
    return [
        (code, name)
        for code, name, kinds, max_km in rows
        if kind in {engine_kind(k) for k in kinds or ()}
        and (km is None or max_km is None or km <= max_km + EPS)
    ]


def carrier_service_names(codes: Collection[str]) -> dict[str, str]:
    """Code → name of those of `codes` that are carrier services, active or not. One query."""
    return dict(CarrierService.objects.filter(code__in=list(codes)).values_list("code", "name"))
