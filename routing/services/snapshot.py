"""Building the engine's `Network` from the database.

The static part (locations, carrier services, transfer terms, policies) changes rarely: each process keeps
it in memory under a version token held in Django's cache (Redis in production). Any change to those rows
calls `network_changed()`, which writes a new token, so every process rebuilds on its next decision; a
short TTL covers bulk updates that bypass signals. The moving part (stock of the order's SKUs, capacity
used today, rate-card rows for the destination CEP) is read per decision, one query each.

Rate cards: a service with rate rows for the destination CEP is handed to the engine as an equivalent
linear service for this one destination: its price is interpolated between the band of the lightest
possible package (one unit of the lightest SKU) and the band of the whole order in one package, so both
ends are exact; transit days are the slower of the two bands. Without rows for the CEP (or beyond the
heaviest band) the service keeps its own linear model.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from inventory.models import Location as LocationRow
from inventory.models import Product, StockLevel
from oms.calendar import add_business_days, is_business_day
from oms.cep import cep_to_point
from oms.db import now_and_on_commit
from orders.models import Order

from ..engine import DC, STORE, Location, Network, Policy, Service, TransferTerms, UnfilledPenalty
from ..models import CarrierService, LocationDayCapacity, RateCard, RoutingPolicy
from ..models import TransferTerms as TransferTermsRow

VERSION_KEY = "routing:network-version"
STATIC_TTL = 60.0  # seconds a process trusts its copy even when the version token did not change


def engine_kind(kind: str) -> str:
    """Dark stores route like stores (the engine knows DCs and stores)."""
    return DC if kind == "dc" else STORE


@dataclass(frozen=True, slots=True)
class LocationInfo:
    pk: int
    code: str
    name: str
    kind: str
    lat: float
    lon: float
    ships: bool
    pickup: bool
    processing_days: int
    handling_cost: float
    pick_cost: float
    daily_capacity: int
    active: bool
    city: str


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    pk: int
    code: str
    name: str
    carrier: str
    kind: str
    cutoff_hour: int
    engine: Service
    has_rates: bool


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    pk: int | None
    name: str
    channel_id: int | None
    version: int
    allowed_kinds: frozenset[str]
    paused: frozenset[str]  # location codes
    engine: Policy
    split_penalty: float
    unfilled: UnfilledPenalty


DEFAULT_KINDS = frozenset({"dc", "store", "dark_store"})
BUILTIN_POLICY = PolicyInfo(
    pk=None,
    name="built-in",
    channel_id=None,
    version=0,
    allowed_kinds=DEFAULT_KINDS,
    paused=frozenset(),
    engine=Policy(use_opportunity_costs=False),
    split_penalty=5.0,
    unfilled=UnfilledPenalty(per_unit=40.0, price_fraction=0.5),
)


@dataclass(slots=True)
class StaticNetwork:
    token: str
    built_at: float
    locations: dict[str, LocationInfo]  # by code, in code order (the engine's tie-break)
    by_pk: dict[int, LocationInfo]
    services: tuple[ServiceInfo, ...]
    transfer: TransferTerms
    policies: dict[int | None, PolicyInfo]  # by channel id; None = default

    def policy_for(self, channel_id: int | None) -> PolicyInfo:
        return self.policies.get(channel_id) or self.policies.get(None) or BUILTIN_POLICY


_local = threading.local()


def network_changed() -> None:
    """Tell every process that locations, services, terms or policies changed (now and after commit)."""
    now_and_on_commit(lambda: cache.set(VERSION_KEY, uuid.uuid4().hex, None))


def static_network() -> StaticNetwork:
    """The static part of the network, rebuilt when the version token changed or the copy is old."""
    token = cache.get(VERSION_KEY)
    if token is None:
        token = uuid.uuid4().hex
        cache.add(VERSION_KEY, token, None)
        token = cache.get(VERSION_KEY) or token
    current: StaticNetwork | None = getattr(_local, "static", None)
    if current is not None and current.token == token and time.monotonic() - current.built_at < STATIC_TTL:
        return current
    built = _build_static(token)
    _local.static = built
    return built


def _f(value: Any) -> float:
    return float(value)


def _build_static(token: str) -> StaticNetwork:
    locations: dict[str, LocationInfo] = {}
    for row in LocationRow.objects.order_by("code").values(
        "pk", "code", "name", "kind", "lat", "lon", "ships", "offers_pickup", "processing_days",
        "handling_cost", "pick_cost", "daily_capacity", "active", "city",
    ):  # fmt: skip
        locations[row["code"]] = LocationInfo(
            pk=row["pk"],
            code=row["code"],
            name=row["name"],
            kind=row["kind"],
            lat=row["lat"],
            lon=row["lon"],
            ships=row["ships"],
            pickup=row["offers_pickup"],
            processing_days=row["processing_days"],
            handling_cost=_f(row["handling_cost"]),
            pick_cost=_f(row["pick_cost"]),
            daily_capacity=row["daily_capacity"],
            active=row["active"],
            city=row["city"],
        )
    with_rates = set(RateCard.objects.values_list("service_id", flat=True).distinct())
    services = []
    for sv in CarrierService.objects.filter(active=True, carrier__active=True).select_related("carrier"):
        services.append(
            ServiceInfo(
                pk=sv.pk,
                code=sv.code,
                name=sv.name,
                carrier=sv.carrier.name,
                kind=sv.kind,
                cutoff_hour=sv.cutoff_hour,
                has_rates=sv.pk in with_rates,
                engine=Service(
                    id=sv.code,
                    base=_f(sv.base),
                    per_km=_f(sv.per_km),
                    per_kg=_f(sv.per_kg),
                    days_base=sv.days_base,
                    km_per_day=sv.km_per_day or None,
                    max_km=sv.max_km,
                    from_kinds=frozenset(engine_kind(k) for k in (sv.from_kinds or [])),
                    carrier=sv.carrier.name,
                ),
            )
        )
    terms_row = TransferTermsRow.objects.filter(pk=1).first() or TransferTermsRow()
    transfer = TransferTerms(
        base=_f(terms_row.base),
        per_km=_f(terms_row.per_km),
        per_kg=_f(terms_row.per_kg),
        days_base=terms_row.days_base,
        km_per_day=terms_row.km_per_day or None,
    )
    policies: dict[int | None, PolicyInfo] = {}
    for pol in RoutingPolicy.objects.prefetch_related("paused_locations"):
        policies[pol.channel_id] = policy_info(pol)
    return StaticNetwork(
        token=token,
        built_at=time.monotonic(),
        locations=locations,
        by_pk={loc.pk: loc for loc in locations.values()},
        services=tuple(services),
        transfer=transfer,
        policies=policies,
    )


def policy_info(pol: RoutingPolicy) -> PolicyInfo:
    """The engine's view of a policy row (paused locations must be prefetched or are queried)."""
    allowed = frozenset(pol.allowed_kinds or DEFAULT_KINDS) & DEFAULT_KINDS
    engine_allowed = frozenset(engine_kind(k) for k in allowed)
    paused = frozenset(loc.code for loc in pol.paused_locations.all())
    return PolicyInfo(
        pk=pol.pk,
        name=pol.name,
        channel_id=pol.channel_id,
        version=pol.version,
        allowed_kinds=allowed,
        paused=paused,
        engine=Policy(
            max_packages=pol.max_packages,
            allowed_kinds=None if engine_allowed == {DC, STORE} else engine_allowed,
            ship_from_store=pol.ship_from_store,
            speed_weight=_f(pol.speed_value),
            paused_locations=paused,
            store_walkin_share=_f(pol.store_walkin_share),
            use_opportunity_costs=pol.use_forecast,
        ),
        split_penalty=_f(pol.split_penalty),
        unfilled=UnfilledPenalty(
            per_unit=_f(pol.backorder_per_unit), price_fraction=_f(pol.backorder_price_share)
        ),
    )


def destination_point(order: Order) -> tuple[float, float] | None:
    """A home order's customer coordinates: the order's own, or the centre of its CEP's city."""
    if order.ship_lat is not None and order.ship_lon is not None:
        return order.ship_lat, order.ship_lon
    if order.ship_cep:
        return cep_to_point(order.ship_cep)
    return None


# ------------------------------------------------------------------------------------------ dates
def start_day(now: dt.datetime) -> dt.date:
    """The business day work starts on: today, or the next business day."""
    return add_business_days(timezone.localtime(now).date(), 0)


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Business days from `start` (a business day) until `end`; negative when `end` is before `start`."""
    if end < start:
        return -1
    days = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            days += 1
    return days


def after_cutoff(now: dt.datetime, cutoff_hour: int) -> bool:
    local = timezone.localtime(now)
    return is_business_day(local.date()) and local.hour >= cutoff_hour


# ------------------------------------------------------------------------------------------ snapshot
@dataclass(slots=True)
class Snapshot:
    """One decision's network plus what persisting the decision needs to map engine ids back to rows."""

    network: Network
    static: StaticNetwork
    policy: PolicyInfo
    engine_policy: Policy
    start: dt.date
    services: dict[str, ServiceInfo]
    rate_priced: set[str] = field(default_factory=set)
    stock_ids: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(slots=True)
class Moving:
    """The moving part of the network for some products, read once (`moving_read`) and shared by the
    decisions of one routing transaction: each decision's snapshot is cut from it, and what a decision plans
    is taken off (`take`) before the next one is cut, as the reservations will take it on commit."""

    stock: dict[int, dict[int, int]]  # product pk -> location pk -> available units (> 0 when read)
    stock_ids: dict[tuple[int, int], int]  # (location pk, product pk) -> stock row pk
    used: dict[int, int]  # location pk -> capacity used today

    def take(self, location_pk: int, product_pk: int, units: int) -> None:
        at = self.stock.setdefault(product_pk, {})
        at[location_pk] = at.get(location_pk, 0) - units

    def use(self, location_pk: int, units: int) -> None:
        self.used[location_pk] = self.used.get(location_pk, 0) + units


def moving_read(product_pks: Sequence[int], day: dt.date, *, lock_stock: bool = False) -> Moving:
    """The available units of these products everywhere and the capacity used on `day`, in one round trip.
    With `lock_stock` their stock rows are locked first (pk order), so the figures cannot go stale before
    the reservations."""
    pids = sorted(set(product_pks))
    if lock_stock:
        # the rows are re-read below under the lock: nobody can take these units before we reserve them
        list(
            StockLevel.objects.select_for_update(of=("self",))
            .filter(product_id__in=pids)
            .order_by("pk")
            .values_list("pk")
        )
    moving = Moving(stock={}, stock_ids={}, used={})
    with connection.cursor() as cursor:
        ids = ", ".join(["%s"] * len(pids)) or "NULL"
        cursor.execute(
            _moving_sql(connection).replace("{ids}", ids), [*pids, connection.ops.adapt_datefield_value(day)]
        )
        for kind, row_pk, loc_pk, prod_pk, qty in cursor.fetchall():
            if kind:
                moving.used[loc_pk] = qty
                continue
            moving.stock_ids[(loc_pk, prod_pk)] = row_pk
            moving.stock.setdefault(prod_pk, {})[loc_pk] = qty
    return moving


def snapshot_build(
    *,
    products: Sequence[Product],
    policy: PolicyInfo | None = None,
    channel_id: int | None = None,
    dest_cep: str = "",
    pickup_code: str | None = None,
    now: dt.datetime | None = None,
    extra_stock: dict[tuple[int, int], int] | None = None,
    extra_capacity: dict[int, int] | None = None,
    lock_stock: bool = False,
    units: dict[int, int] | None = None,
    static: StaticNetwork | None = None,
    moving: Moving | None = None,
) -> Snapshot:
    """The network for a decision about `products` (their stock only) going to `dest_cep` or `pickup_code`.

    `extra_stock` / `extra_capacity` add back what the order itself holds (re-optimisation). With
    `lock_stock` the stock rows of these products are locked (in pk order) before they are read, so the
    snapshot cannot go stale before the reservation (the last retry of the live path). `units` maps product
    pk to the units ordered (for rate-card weight bands). `static` is the caller's `static_network()`, when it
    has just read it. `Snapshot.stock_ids` maps (location pk, product pk) to the stock row's pk. `moving` is
    the caller's `moving_read` of (at least) these products, when it routes several orders on one read;
    without it the moving part is read here (`lock_stock` applies to that read).
    """
    now = now or timezone.now()
    static = static or static_network()
    pol = policy or static.policy_for(channel_id)
    today = timezone.localtime(now).date()
    if moving is None:
        moving = moving_read([p.pk for p in products], today, lock_stock=lock_stock)
    stock: dict[tuple[str, str], int] = {}
    by_pk = static.by_pk
    used = moving.used
    for product in products:
        for loc_pk, qty in moving.stock.get(product.pk, {}).items():
            loc = by_pk.get(loc_pk)
            if loc is not None and qty > 0:
                stock[(loc.code, product.sku)] = qty
    sku_of = {p.pk: p.sku for p in products}
    for (loc_pk, prod_pk), qty in (extra_stock or {}).items():
        loc = by_pk.get(loc_pk)
        if loc is not None and qty > 0:
            key = (loc.code, sku_of[prod_pk])
            stock[key] = stock.get(key, 0) + qty
    if extra_capacity:
        used = dict(used)
        for loc_pk, qty in extra_capacity.items():
            used[loc_pk] = used.get(loc_pk, 0) - qty
    locations = engine_locations(static, pol, pickup_code, lambda info: used.get(info.pk, 0))
    stock = {k: v for k, v in stock.items() if k[0] in locations}
    start = start_day(now)
    services, rate_priced = services_for(static, products, units or {}, dest_cep, now)
    network = Network(
        locations=locations,
        services=tuple(s.engine for s in services.values()),
        transfer=static.transfer,
        split_penalty=pol.split_penalty,
        unfilled=pol.unfilled,
        stock=stock,
        sku_weight={p.sku: p.weight_g / 1000.0 for p in products},
    )
    return Snapshot(
        network=network,
        static=static,
        policy=pol,
        engine_policy=pol.engine,
        start=start,
        services=services,
        rate_priced=rate_priced,
        stock_ids=moving.stock_ids,
    )


def engine_locations(
    static: StaticNetwork,
    pol: PolicyInfo,
    pickup_code: str | None,
    used_of: Callable[[LocationInfo], int],
) -> dict[str, Location]:
    """The engine's locations under `pol`, by code: active ones of the kinds it allows, plus the pickup
    location whatever its state; `used_of` gives the capacity a location has already used today."""
    engine_allowed = pol.engine.allowed_kinds or frozenset({DC, STORE})
    locations: dict[str, Location] = {}
    for code, info in static.locations.items():
        if code != pickup_code:
            if not info.active:
                continue
            if info.kind not in pol.allowed_kinds and engine_kind(info.kind) in engine_allowed:
                # a dark store (or store) the policy excludes while it allows the other store kind
                continue
        locations[code] = Location(
            id=code,
            kind=engine_kind(info.kind),
            lat=info.lat,
            lon=info.lon,
            ships=info.ships,
            pickup=info.pickup,
            processing_days=info.processing_days,
            handling_cost=info.handling_cost,
            pick_cost=info.pick_cost,
            capacity_left=max(0, info.daily_capacity - used_of(info)),
            capacity_total=info.daily_capacity,
            paused=not info.active,
        )
    return locations


_MOVING_SQL: dict[str, str] = {}


def _moving_sql(conn: Any) -> str:
    """Stock (kind 0: row pk, location, product, available > 0) of the products given as the first
    parameters, then capacity used (kind 1: 0, location, 0, units) on the day given as the last one. `{ids}`
    is expanded per call to one placeholder per product."""
    key = conn.vendor
    if key not in _MOVING_SQL:
        qn = conn.ops.quote_name
        stock = qn(StockLevel._meta.db_table)
        cap = qn(LocationDayCapacity._meta.db_table)
        # table names are the models'; every value is a parameter
        _MOVING_SQL[key] = (
            f"SELECT 0, id, location_id, product_id, on_hand - reserved - safety_stock FROM {stock} "  # noqa: S608
            "WHERE product_id IN ({ids}) AND on_hand - reserved - safety_stock > 0 "
            f'UNION ALL SELECT 1, 0, location_id, 0, units_used FROM {cap} WHERE "day" = %s'
        )
    return _MOVING_SQL[key]


def services_for(
    static: StaticNetwork,
    products: Sequence[Product],
    units: dict[int, int],
    dest_cep: str,
    now: dt.datetime,
) -> tuple[dict[str, ServiceInfo], set[str]]:
    """The services as they apply to this destination now: cut-off shift and rate-card prices."""
    rated: dict[int, list[tuple[int, int, float, int]]] = {}
    rate_ids = [s.pk for s in static.services if s.has_rates]
    if dest_cep and rate_ids:
        for sid, w_from, w_to, price, days in RateCard.objects.filter(
            service_id__in=rate_ids, cep_from__lte=dest_cep, cep_to__gte=dest_cep
        ).values_list("service_id", "weight_from_g", "weight_to_g", "price", "transit_days"):
            rated.setdefault(sid, []).append((w_from, w_to, float(price), days))
    weights = [p.weight_g for p in products] or [0]
    lightest = min(weights)
    total_g = sum(p.weight_g * units.get(p.pk, 1) for p in products)
    out: dict[str, ServiceInfo] = {}
    priced: set[str] = set()
    for info in static.services:
        engine = info.engine
        bands = rated.get(info.pk)
        if bands:
            low = _band(bands, lightest)
            high = _band(bands, total_g)
            if low is not None and high is not None:
                span_kg = (total_g - lightest) / 1000.0
                per_kg = max(0.0, (high[0] - low[0]) / span_kg) if span_kg > 0 else 0.0
                base = low[0] - per_kg * lightest / 1000.0
                engine = replace(
                    engine,
                    base=base,
                    per_km=0.0,
                    per_kg=per_kg,
                    days_base=max(low[1], high[1]),
                    km_per_day=None,
                )
                priced.add(info.code)
        if after_cutoff(now, info.cutoff_hour):
            engine = replace(engine, days_base=engine.days_base + 1)
        out[info.code] = replace(info, engine=engine) if engine is not info.engine else info
    return out, priced


def _band(bands: list[tuple[int, int, float, int]], grams: int) -> tuple[float, int] | None:
    for w_from, w_to, price, days in bands:
        if w_from <= grams <= w_to:
            return price, days
    return None
