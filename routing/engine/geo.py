"""Distances and transit days, exactly as the routing kit's referee computes them."""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0
EPS = 1e-9


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km between two points given in degrees."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2.0) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def road_km(road_factor: float, lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Road km = road_factor x great-circle km (no rounding)."""
    return road_factor * haversine_km(lat1, lon1, lat2, lon2)


def leg_days(km: float, km_per_day: float | None) -> int:
    """Whole transit days for `km`; 0 when the service's time does not depend on distance."""
    if km_per_day is None or km <= 0:
        return 0
    return math.ceil(km / km_per_day - EPS)
