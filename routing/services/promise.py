"""The delivery promise: for a cart and a destination, the options the OMS can keep right now.

Same snapshot and engine as the live path, nothing reserved or written. Home: one plan per active carrier
service (the engine restricted to that service), the whole cart within the promise horizon; pickup: the
nearest pickup stores, each with the date the whole cart would be ready there (own stock first, the rest
by transfer).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from inventory.models import Product
from oms.calendar import add_business_days

from ..engine import HOME, PICKUP, TRANSFER, Network
from ..engine import Order as EngineOrder
from ..engine import OrderLine as EngineLine
from ..engine.geo import haversine_km
from .plans import plan_order
from .snapshot import snapshot_build

HORIZON_DAYS = 15  # business days: options slower than this are not offered
PICKUP_STORES = 5
PICKUP_RADIUS_KM = 100.0


@dataclass(frozen=True)
class HomeOption:
    service: str
    service_name: str
    carrier: str
    price: Decimal
    delivery_date: dt.date
    business_days: int
    packages: int
    ships_from: list[str]


@dataclass(frozen=True)
class PickupOption:
    location: str
    name: str
    city: str
    distance_km: float
    ready_date: dt.date
    business_days: int
    price: Decimal
    transfer: bool


@dataclass
class Promise:
    home: list[HomeOption] = field(default_factory=list)
    pickup: list[PickupOption] = field(default_factory=list)
    computed_ms: float = 0.0


def _money(x: float) -> Decimal:
    return Decimal(str(round(x, 2))).quantize(Decimal("0.01"))


def delivery_promise(
    *,
    lines: Sequence[tuple[Product, int]],
    cep: str,
    lat: float,
    lon: float,
    channel_id: int | None = None,
    now: dt.datetime | None = None,
) -> Promise:
    """Home and pickup options for `lines` (product, qty) delivered to `cep` at (lat, lon). Reads only."""
    t0 = time.perf_counter()
    now = now or timezone.now()
    merged: dict[int, tuple[Product, int]] = {}
    for product, qty in lines:
        prev = merged.get(product.pk)
        merged[product.pk] = (product, qty + (prev[1] if prev else 0))
    products = [p for p, _q in merged.values()]
    snap = snapshot_build(
        products=products,
        channel_id=channel_id,
        dest_cep=cep,
        now=now,
        units={pk: q for pk, (_p, q) in merged.items()},
    )
    eng_lines = tuple(EngineLine(p.sku, q, float(p.price)) for p, q in merged.values())
    out = Promise()
    net = snap.network
    order = EngineOrder(
        id="promise", mode=HOME, lines=eng_lines, deadline_days=HORIZON_DAYS, lat=lat, lon=lon
    )
    for code, svc in snap.services.items():
        one = Network(
            locations=net.locations,
            services=(svc.engine,),
            transfer=net.transfer,
            road_factor=net.road_factor,
            split_penalty=net.split_penalty,
            unfilled=net.unfilled,
            stock=net.stock,
            sku_weight=net.sku_weight,
        )
        plan = plan_order(one, order, snap.engine_policy, explain=False)
        if plan.unfilled or not plan.packages:
            continue
        days = plan.delivery_days or 0
        out.home.append(
            HomeOption(
                service=code,
                service_name=svc.name,
                carrier=svc.carrier,
                price=_money(plan.total_cost),
                delivery_date=add_business_days(snap.start, days),
                business_days=days,
                packages=len(plan.packages),
                ships_from=[p.location for p in plan.packages],
            )
        )
    out.home.sort(key=lambda o: (o.business_days, o.price))
    stores = sorted(
        (
            (haversine_km(lat, lon, info.lat, info.lon), info)
            for info in snap.static.locations.values()
            if info.pickup
            and info.active
            and info.code in net.locations
            and info.code not in snap.policy.paused
        ),
        key=lambda pair: pair[0],
    )
    for km, info in stores[:PICKUP_STORES]:
        if km > PICKUP_RADIUS_KM:
            break
        pickup = EngineOrder(
            id="promise", mode=PICKUP, lines=eng_lines, deadline_days=HORIZON_DAYS, pickup_location=info.code
        )
        plan = plan_order(net, pickup, snap.engine_policy, explain=False)
        if plan.unfilled or not plan.packages:
            continue
        days = plan.delivery_days or 0
        out.pickup.append(
            PickupOption(
                location=info.code,
                name=info.name,
                city=info.city,
                distance_km=round(km, 1),
                ready_date=add_business_days(snap.start, days),
                business_days=days,
                price=_money(plan.total_cost),
                transfer=any(p.service == TRANSFER for p in plan.packages),
            )
        )
    out.computed_ms = (time.perf_counter() - t0) * 1000.0
    return out
