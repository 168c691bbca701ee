"""The demo's history: stock across the network, customers, and 90 days of orders in every status.

Planned first, in memory and deterministically for a seed (`plan_history`), then written with batched inserts
(`seed_history`) — the order services would take minutes for thousands of orders. The result keeps every
invariant the services keep:

- one ledger row "initial count" per stock row (the count 95 days ago), then a reserve row per allocated
  fulfilment line and a commit (shipped, collected) or release (cancelled) row when it ends; the on-hand and
  reserved deltas of a stock row add up to its `on_hand` and `reserved`;
- `reserved` on a stock row is the sum of its reservations (ref `fl:<fulfilment line>`, group = order number);
- every order has its timeline, its status follows from its lines, its total is its lines plus shipping.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import CharField, Value
from django.db.models.functions import Cast, LPad
from django.utils import timezone

from inventory.models import (
    Location,
    LocationKind,
    MovementKind,
    Product,
    Reservation,
    StockLevel,
    StockMovement,
)
from oms.calendar import add_business_days
from oms.cep import cep_to_point
from oms.phrases import Phrase, english, joined, nphrase, phrase
from orders.models import (
    Channel,
    Customer,
    DeliveryMode,
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.timeline import now_in
from routing.models import LocationDayCapacity
from routing.services.defaults import SERVICES as DEFAULT_SERVICES

from .bulk import historical_timestamps, insert, insert_values, update_values
from .data import catalogue, locations, people
from .data.channels import CHANNELS, ChannelSpec

S = OrderStatus
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)

# (share of the orders, age range in days): old orders are done, recent ones still open.
STATUS_MIX: dict[str, tuple[float, tuple[float, float]]] = {
    S.DELIVERED: (0.52, (4.0, 90.0)),
    S.COLLECTED: (0.10, (2.0, 90.0)),
    S.SHIPPED: (0.08, (0.8, 6.0)),
    S.PARTLY_SHIPPED: (0.02, (0.8, 4.0)),
    S.CANCELLED: (0.06, (0.0, 90.0)),
    S.IN_FULFILMENT: (0.05, (0.05, 1.5)),
    S.ALLOCATED: (0.06, (0.02, 1.2)),
    S.READY_FOR_PICKUP: (0.04, (0.3, 5.0)),
    S.AWAITING_ROUTING: (0.02, (0.0, 0.01)),
    S.BACKORDERED: (0.03, (0.2, 10.0)),
    S.ON_HOLD: (0.02, (0.05, 3.0)),
}
PICKUP_ONLY = {S.COLLECTED, S.READY_FOR_PICKUP}
HOME_ONLY = {S.DELIVERED, S.SHIPPED, S.PARTLY_SHIPPED, S.BACKORDERED}
MIN_PER_STATUS = 2


# DC depth relative to the main DC (Cajamar serves the whole country).
DC_DEPTH = {
    "CD-SP-CAJAMAR": 1.0,
    "CD-RJ-DUQUE": 0.6,
    "CD-MG-CONTAGEM": 0.45,
    "CD-PR-SJP": 0.45,
    "CD-PE-CABO": 0.4,
}
DC_UNITS = 260_000  # units across the catalogue at a DC of depth 1
STORE_ASSORTMENT = 500  # the most popular SKUs a store may carry
STORE_UNITS = 1_600
HOLD_REASONS = ("payment under review", "fraud check", "customer asked to wait", "address to confirm")
CANCEL_REASONS = ("customer request", "payment not approved", "duplicate order", "address not served")
# The default carrier services (`routing.services.defaults`, created with the database) the history ships
# with, and how often: each is chosen among those routing could plan for the parcel (leaving from the
# location's kind, within the service's reach).
SERVICE_SHARES = {
    "economy": 0.35,
    "express": 0.25,
    "regional-road": 0.2,
    "moto-courier": 0.12,
    "metro-van": 0.08,
}
SERVICES = [service for service in DEFAULT_SERVICES if service["code"] in SERVICE_SHARES]
SERVICE_BY_CODE = {service["code"]: service for service in SERVICES}


# --- the plan ----------------------------------------------------------------------------------------------


@dataclass
class StockPlan:
    location: Location
    product: Product
    on_hand: int  # now
    safety: int
    reserved: int = 0  # now
    committed: int = 0  # units shipped or handed over since the initial count
    row: StockLevel | None = None


@dataclass
class Move:
    """A ledger entry to write once the fulfilment line (its ref) has a primary key."""

    stock: StockPlan
    at: dt.datetime
    kind: str
    on_hand_delta: int
    reserved_delta: int
    reason: str
    fline: FulfilmentLine


@dataclass
class Hold:
    """A reservation to write: held from `at`; `qty` units since `until` (0 once shipped or released)."""

    stock: StockPlan
    fline: FulfilmentLine
    group_order: Order
    qty: int
    at: dt.datetime
    until: dt.datetime


class PlannedEvent(NamedTuple):
    """A timeline entry to write (a light tuple: there are tens of thousands)."""

    order: Order
    at: dt.datetime
    kind: str
    message: str
    data: dict[str, Any]
    actor_id: int | None


@dataclass(frozen=True)
class Nearby:
    store: Location
    pickup_store: Location
    ship_store: Location | None  # the nearest store that ships, when within 40 km
    dcs: list[Location]  # nearest first


@dataclass
class HistoryPlan:
    stock: list[StockPlan] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    lines: list[OrderLine] = field(default_factory=list)
    fulfilments: list[Fulfilment] = field(default_factory=list)
    flines: list[FulfilmentLine] = field(default_factory=list)
    events: list[PlannedEvent] = field(default_factory=list)
    moves: list[Move] = field(default_factory=list)
    holds: list[Hold] = field(default_factory=list)
    count_at: dt.datetime | None = None


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 12742 * math.asin(math.sqrt(h))


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _cpf_check_digits(base: str) -> str:
    """The two check digits of a CPF whose first nine digits are `base`."""
    digits = [int(d) for d in base]
    for weight in (10, 11):
        digits.append(sum(d * (weight - i) for i, d in enumerate(digits)) * 10 % 11 % 10)
    return f"{digits[-2]}{digits[-1]}"


def _correios_code(rng: random.Random) -> str:
    """A tracking code in the Correios format: two letters, eight digits, the check digit, BR."""
    body = f"{rng.randrange(10**8):08d}"
    total = sum(int(d) * w for d, w in zip(body, (8, 6, 4, 2, 3, 5, 9, 7), strict=True))
    rest = total % 11
    check = 5 if rest == 0 else 0 if rest == 1 else 11 - rest
    return f"{rng.choice(('QB', 'OV', 'NX', 'AD', 'LB'))}{body}{check}BR"


def _tracking(rng: random.Random, service: dict[str, Any]) -> str:
    """A tracking code in the style of the service's carrier."""
    carrier = service["carrier"]
    if carrier == "correios":
        return _correios_code(rng)
    if carrier == "expresso-nacional":
        return f"{rng.randrange(10**13, 10**14)}"
    if carrier == "moto-entregas":
        return "MOTO" + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(8))
    return f"{carrier[:2].upper()}{rng.randrange(10**10, 10**11)}"


def _service_for(rng: random.Random, location: Location, km: float) -> dict[str, Any]:
    """One of `SERVICES` routing could plan from `location` to a place `km` away, by `SERVICE_SHARES`."""
    fits = [
        service
        for service in SERVICES
        if location.kind in service["from_kinds"] and (service["max_km"] is None or km <= service["max_km"])
    ]
    return rng.choices(fits, weights=[SERVICE_SHARES[service["code"]] for service in fits])[0]


class _Clock:
    """The steps of one order's story, in time order and never in the future (squeezed just before now)."""

    def __init__(self, start: dt.datetime, now: dt.datetime) -> None:
        self.at, self.now = start, now

    def step(self, after: dt.timedelta) -> dt.datetime:
        at = self.at + max(after, dt.timedelta(seconds=1))
        if at >= self.now:
            at = self.at + (self.now - self.at) / 4
        self.at = at
        return at


class _Planner:
    def __init__(
        self,
        *,
        seed: int,
        n_orders: int,
        now: dt.datetime,
        sites: list[Location],
        products: list[Product],
        channels: dict[str, Channel],
        agent: Any,
    ) -> None:
        self.rng = random.Random(f"demo-history:{seed}")
        # Pickup codes from a generator of their own, so the rest of the history stays as it was for a seed.
        self.code_rng = random.Random(f"demo-history-pickup-codes:{seed}")
        # Carrier services and tracking codes too (a service is planned when a parcel is routed).
        self.service_rng = random.Random(f"demo-history-carrier-services:{seed}")
        self.n_orders = n_orders
        self.now = now
        self.dcs = [loc for loc in sites if loc.kind == LocationKind.DC]
        self.stores = [loc for loc in sites if loc.kind == LocationKind.STORE]
        self.products = products
        self.channels = channels
        self.agent = agent
        self.plan = HistoryPlan(count_at=(now - 95 * DAY).replace(hour=6, minute=0, second=0))
        self.stock: dict[tuple[str, str], StockPlan] = {}
        self.nearby: dict[tuple[float, float], Nearby] = {}

    # --- stock --------------------------------------------------------------------------------------------

    def plan_stock(self) -> None:
        rng = self.rng
        families = sorted({p.sku[:8] for p in self.products})
        rng.shuffle(families)
        family_weight = {f: 1 / (rank + 1) ** 0.9 for rank, f in enumerate(families)}
        weights = [family_weight[p.sku[:8]] * catalogue.SIZE_WEIGHT[p.sku[9:]] for p in self.products]
        total = sum(weights)
        self.popularity = [w / total for w in weights]
        self.cum_popularity = list(accumulate(self.popularity))
        by_rank = sorted(range(len(self.products)), key=lambda i: -self.popularity[i])
        # A few SKUs are sold out across the whole network: the backordered orders wait for them.
        middle = by_rank[len(by_rank) // 10 : len(by_rank) // 2]
        self.sold_out = set(rng.sample(middle, max(5, len(self.products) // 100)))
        for dc in self.dcs:
            depth = DC_DEPTH.get(dc.code, 0.4)
            for i, product in enumerate(self.products):
                if dc.code != "CD-SP-CAJAMAR" and rng.random() > 0.92:
                    continue  # the main DC carries every SKU; the others most
                units = self.popularity[i] * DC_UNITS * depth * rng.lognormvariate(0, 0.5)
                on_hand = 0 if i in self.sold_out or rng.random() < 0.03 else round(units) + rng.randint(0, 6)
                safety = rng.randint(2, 8) if on_hand and rng.random() < 0.15 else 0
                self._stock_row(dc, product, on_hand, safety)
        for store in self.stores:
            size = rng.uniform(0.6, 1.3)
            for i in by_rank[:STORE_ASSORTMENT]:
                if i in self.sold_out or rng.random() > 0.65:
                    continue
                units = self.popularity[i] * STORE_UNITS * size * rng.lognormvariate(0, 0.6)
                on_hand = min(14, max(0, round(units) + rng.randint(0, 3)))
                safety = 1 if on_hand > 2 and rng.random() < 0.25 else 0
                self._stock_row(store, self.products[i], on_hand, safety)

    def _stock_row(self, location: Location, product: Product, on_hand: int, safety: int) -> None:
        row = StockPlan(location=location, product=product, on_hand=on_hand, safety=safety)
        self.stock[location.code, product.sku] = row
        self.plan.stock.append(row)

    def _available(self, location: Location, product: Product) -> int:
        row = self.stock.get((location.code, product.sku))
        return 0 if row is None else row.on_hand - row.reserved - row.safety

    # --- customers ----------------------------------------------------------------------------------------

    def plan_customers(self) -> None:
        rng = self.rng
        n = max(30, int(self.n_orders * 0.72))
        city_cum = list(accumulate(c.weight for c in people.CITIES))
        documents: set[str] = set()
        self.addresses: list[dict[str, Any]] = []
        for _ in range(n):
            first = rng.choice(people.FIRST_NAMES)
            surnames = rng.sample(people.SURNAMES, 2 if rng.random() < 0.5 else 1)
            name = " ".join((first, *surnames))
            while True:
                base = f"{rng.randrange(10**8, 10**9):09d}"
                document = base + _cpf_check_digits(base)
                if document not in documents and len(set(base)) > 1:
                    documents.add(document)
                    break
            city = rng.choices(people.CITIES, cum_weights=city_cum)[0]
            district, street, prefix = rng.choice(city.streets)
            cep = f"{prefix}{rng.randrange(900):03d}"
            point = cep_to_point(cep)
            assert point is not None, cep  # every CEP prefix in demo.data.people is placed by oms.cep
            login = f"{_ascii(first)}.{_ascii(surnames[-1])}{rng.randint(1, 99)}"
            email = f"{login}@{rng.choice(people.EMAIL_DOMAINS)}"
            phone = f"+55{city.ddd}9{rng.randrange(10**7, 10**8)}"
            self.plan.customers.append(Customer(name=name, email=email, document=document, phone=phone))
            self.addresses.append(
                {
                    "ship_street": street,
                    "ship_number": str(rng.randint(10, 3999)),
                    "ship_complement": rng.choice(people.COMPLEMENTS),
                    "ship_district": district,
                    "ship_city": city.name,
                    "ship_state": city.state,
                    "ship_cep": cep,
                    "ship_lat": round(point[0] + rng.gauss(0, 0.02), 5),
                    "ship_lon": round(point[1] + rng.gauss(0, 0.02), 5),
                }
            )
        self.customer_cum = list(accumulate(1 / (k + 1) ** 0.35 for k in range(n)))
        self.customer_first_order: dict[int, dt.datetime] = {}

    # --- orders -------------------------------------------------------------------------------------------

    def _status_quota(self) -> list[str]:
        n = self.n_orders
        counts = {s: max(MIN_PER_STATUS, round(share * n)) for s, (share, _) in STATUS_MIX.items()}
        counts[S.DELIVERED] = max(1, n - sum(c for s, c in counts.items() if s != S.DELIVERED))
        statuses = [s for s, c in counts.items() for _ in range(c)]
        self.rng.shuffle(statuses)
        return statuses[:n]

    def _channel(self, status: str) -> tuple[ChannelSpec, str]:
        rng = self.rng
        if status in PICKUP_ONLY:
            weights = [c.share * c.pickup_share for c in CHANNELS]
        elif status in HOME_ONLY:
            weights = [c.share * (1 - c.pickup_share) for c in CHANNELS]
        else:
            weights = [c.share for c in CHANNELS]
        spec = rng.choices(CHANNELS, weights=weights)[0]
        if status in PICKUP_ONLY:
            mode = DeliveryMode.PICKUP
        elif status in HOME_ONLY:
            mode = DeliveryMode.HOME
        else:
            mode = DeliveryMode.PICKUP if rng.random() < spec.pickup_share else DeliveryMode.HOME
        return spec, mode

    def _sku_index(self) -> int:
        return bisect_left(self.cum_popularity, self.rng.random() * self.cum_popularity[-1])

    def _pick_lines(
        self, *, n_lines: int, pickup_at: Location | None, need_open: bool
    ) -> list[tuple[Product, int]]:
        """`n_lines` distinct SKUs by popularity; at a pickup store only what it stocks (and has, if open)."""
        rng = self.rng
        chosen: dict[str, tuple[Product, int]] = {}
        for _ in range(n_lines * 40):
            if len(chosen) == n_lines:
                break
            i = self._sku_index()
            product = self.products[i]
            if product.sku in chosen or (i in self.sold_out and pickup_at is None):
                continue
            qty = rng.choices((1, 2, 3), weights=(85, 12, 3))[0]
            if pickup_at is not None:
                row = self.stock.get((pickup_at.code, product.sku))
                if row is None or (need_open and self._available(pickup_at, product) < qty):
                    continue
            chosen[product.sku] = (product, qty)
        return list(chosen.values())

    def plan_orders(self) -> None:
        rng = self.rng
        statuses = self._status_quota()
        counters = {c.code: c.ref_start for c in CHANNELS}
        for status in statuses:
            spec, mode = self._channel(status)
            lo, hi = STATUS_MIX[status][1]
            placed_at = (self.now - dt.timedelta(days=rng.uniform(lo, hi))).replace(microsecond=0)
            placed_at = self._shop_hours(placed_at)
            c = bisect_left(self.customer_cum, rng.random() * self.customer_cum[-1])
            address = self.addresses[c]
            lat, lon = address["ship_lat"], address["ship_lon"]
            pickup_at = None
            if mode == DeliveryMode.PICKUP:
                pickup_at = self._nearby(lat, lon).pickup_store
            store_of_sale = pickup_at or self._nearby(lat, lon).store
            n_lines = rng.choices((1, 2, 3, 4), weights=(55, 28, 12, 5))[0]
            if status == S.PARTLY_SHIPPED:
                n_lines = max(2, n_lines)
            open_status = status not in {S.DELIVERED, S.COLLECTED, S.SHIPPED, S.CANCELLED, S.AWAITING_ROUTING}
            picked = self._pick_lines(n_lines=n_lines, pickup_at=pickup_at, need_open=open_status)
            if status == S.BACKORDERED:
                waiting = self.products[rng.choice(sorted(self.sold_out))]
                picked = [(waiting, 1), *[(p, q) for p, q in picked if p.sku != waiting.sku][: n_lines - 1]]
            if not picked:  # a pickup store with nothing left to sell: the customer takes it home
                pickup_at, mode = None, DeliveryMode.HOME
                picked = self._pick_lines(n_lines=n_lines, pickup_at=None, need_open=False)
                status = S.ALLOCATED if status in PICKUP_ONLY else status
            n = counters[spec.code]
            counters[spec.code] += rng.randint(1, 3)
            ref = spec.ref_format.format(n=n, store=store_of_sale.code)
            order = Order(
                channel=self.channels[spec.code],
                external_ref=ref,
                customer=self.plan.customers[c],
                customer_name=self.plan.customers[c].name,
                status=status,
                placed_at=placed_at,
                delivery_mode=mode,
                deadline_days=rng.randint(1, 2)
                if mode == DeliveryMode.PICKUP
                else rng.choice((2, 3, 3, 5, 7)),
                pickup_location=pickup_at,
                currency="BRL",
                created_at=placed_at,
                updated_at=placed_at,
            )
            order.promised_date = add_business_days(timezone.localtime(placed_at).date(), order.deadline_days)
            if mode == DeliveryMode.HOME:
                for name, value in address.items():
                    setattr(order, name, value)
            self.customer_first_order.setdefault(c, placed_at)
            self.customer_first_order[c] = min(self.customer_first_order[c], placed_at)
            lines = []
            for no, (product, qty) in enumerate(picked, start=1):
                price = product.price
                if rng.random() < 0.18:  # a promotion: 10 to 30 % off, still ending in ,90
                    price = (price * Decimal(rng.choice(("0.9", "0.8", "0.7")))).quantize(
                        Decimal("1")
                    ) - Decimal("0.10")
                lines.append(
                    OrderLine(
                        order=order, line_no=no, product=product, sku=product.sku, qty=qty, unit_price=price
                    )
                )
            order.subtotal = sum((line.unit_price * line.qty for line in lines), Decimal("0.00"))
            if mode == DeliveryMode.PICKUP or order.subtotal >= Decimal("299.00"):
                order.shipping_price = Decimal("0.00")
            else:
                order.shipping_price = Decimal(rng.choice(("14.90", "19.90", "24.90", "29.90", "34.90")))
            order.total = order.subtotal + order.shipping_price
            self.plan.orders.append(order)
            self.plan.lines.extend(lines)
            self._timeline(order, lines, spec)

    def _shop_hours(self, at: dt.datetime) -> dt.datetime:
        """People order between 7:00 and 23:59, mostly; keep the time of day plausible."""
        local = timezone.localtime(at)
        if local.hour < 7:
            local = local.replace(hour=7 + local.hour * 2)
        return min(local, self.now - MINUTE)

    # --- one order's story --------------------------------------------------------------------------------

    def _event(self, order: Order, at: dt.datetime, kind: str, text: list[Phrase], **data: Any) -> None:
        """A timeline entry as the services write them: its phrases, and their English as the message."""
        actor = self.agent.pk if kind in {"hold", "cancelled"} and self.agent else None
        self.plan.events.append(
            PlannedEvent(order, at, kind, english(text)[:500], {**data, "text": text}, actor)
        )

    def _nearby(self, lat: float, lon: float) -> Nearby:
        """The locations around an address (memoised per address: customers order again)."""
        found = self.nearby.get((lat, lon))
        if found is None:

            def km(loc: Location) -> float:
                return _km(lat, lon, loc.lat, loc.lon)

            stores = sorted(self.stores, key=km)
            ship = next((s for s in stores if s.ships), None)
            found = Nearby(
                store=stores[0],
                pickup_store=next((s for s in stores if s.offers_pickup), stores[0]),
                ship_store=ship if ship is not None and km(ship) < 40 else None,
                dcs=sorted(self.dcs, key=km),
            )
            self.nearby[lat, lon] = found
        return found

    def _status_event(
        self, order: Order, at: dt.datetime, previous: str, target: str, text: list[Phrase] | None = None
    ) -> None:
        self._event(order, at, "status", text or now_in(target), **{"from": previous, "to": target})

    def _sources(
        self, order: Order, lines: list[OrderLine], *, open_: bool
    ) -> list[tuple[Location, list[OrderLine]]]:
        """Where each line ships from, as routing would choose: one location for the whole order when one has
        everything (a nearby store sometimes, else the nearest DC), else the nearest DC line by line."""
        if order.pickup_location is not None:
            return [(order.pickup_location, lines)]
        lat, lon = order.ship_lat or 0.0, order.ship_lon or 0.0

        def serves(loc: Location, line: OrderLine) -> bool:
            if open_:
                return self._available(loc, line.product) >= line.qty
            return (loc.code, line.sku) in self.stock

        nearby = self._nearby(lat, lon)
        dcs = nearby.dcs
        ship_store = nearby.ship_store if self.rng.random() < 0.35 else None  # ship-from-store, sometimes
        candidates = ([ship_store] if ship_store else []) + dcs
        for loc in candidates:
            if all(serves(loc, line) for line in lines):
                return [(loc, lines)]
        split: dict[str, tuple[Location, list[OrderLine]]] = {}
        for line in lines:
            found = next((d for d in dcs if serves(d, line)), None)
            if found is None:
                if open_:
                    return []  # nothing can serve it now: the caller backorders
                # Served before today's stock picture: from a DC that carries it (the main DC carries all).
                found = next(d for d in dcs if (d.code, line.sku) in self.stock)
            split.setdefault(found.code, (found, []))[1].append(line)
        return list(split.values())

    def _timeline(self, order: Order, lines: list[OrderLine], spec: ChannelSpec) -> None:
        rng = self.rng
        status = order.status
        clock = _Clock(order.placed_at, self.now)
        step = clock.step
        self._event(
            order,
            order.placed_at,
            "created",
            [phrase("Order received from %(channel)s (%(ref)s).", channel=spec.name, ref=order.external_ref)],
            channel=spec.code,
            external_ref=order.external_ref,
            lines=len(lines),
            total=str(order.total),
        )
        queued = step(dt.timedelta(seconds=1))
        self._status_event(order, queued, S.RECEIVED, S.AWAITING_ROUTING, [phrase("Queued for routing.")])
        order.updated_at = queued

        def finish(line_status: str) -> None:
            for line in lines:
                line.status = line_status

        if status == S.AWAITING_ROUTING:
            finish(LineStatus.PENDING)
            return
        if status == S.ON_HOLD and rng.random() < 0.5:
            self._hold(order, step(dt.timedelta(minutes=rng.uniform(1, 20))), S.AWAITING_ROUTING)
            finish(LineStatus.PENDING)
            return
        if status == S.CANCELLED and rng.random() < 0.5:
            self._cancel(order, step(dt.timedelta(minutes=rng.uniform(5, 600))), S.AWAITING_ROUTING, 0)
            finish(LineStatus.CANCELLED)
            return

        # Routing: where each line goes.
        routed = step(dt.timedelta(minutes=rng.uniform(1, 15)))
        waiting = [line for line in lines if status == S.BACKORDERED and line.line_no == 1]
        to_route = [line for line in lines if line not in waiting]
        open_ = status in {S.ALLOCATED, S.IN_FULFILMENT, S.READY_FOR_PICKUP, S.ON_HOLD, S.BACKORDERED}
        sources = self._sources(order, to_route, open_=open_ or status == S.PARTLY_SHIPPED)
        # A location with nothing to send gets no fulfilment (every line waits for stock: none at all).
        sources = [(loc, served) for loc, served in sources if served]
        if not sources and to_route:
            # Nothing has it now: the whole order waits for stock.
            waiting, sources = lines, []
            if status not in {S.CANCELLED}:
                order.status = status = S.BACKORDERED
        if status == S.PARTLY_SHIPPED and len(sources) == 1 and len(sources[0][1]) > 1:
            loc, both = sources[0]
            sources = [(loc, both[:1]), (loc, both[1:])]  # two parcels from one place, one left first
        fulfilments: list[tuple[Fulfilment, list[FulfilmentLine]]] = []
        for loc, served in sources:
            kind = FulfilmentKind.PICKUP if order.pickup_location is not None else FulfilmentKind.SHIP
            ship_by = routed + (DAY if loc.processing_days else 6 * HOUR)
            km = _km(loc.lat, loc.lon, order.ship_lat or 0, order.ship_lon or 0)
            # As routing plans it: the carrier service a home parcel is to leave with.
            service = _service_for(self.service_rng, loc, km)["code"] if kind == FulfilmentKind.SHIP else ""
            fulfilment = Fulfilment(
                order=order,
                location=loc,
                kind=kind,
                carrier_service=service,
                status=FulfilmentStatus.ASSIGNED,
                ship_by=ship_by,
                created_at=routed,
                updated_at=routed,
            )
            flines = [FulfilmentLine(fulfilment=fulfilment, order_line=line, qty=line.qty) for line in served]
            for fline in flines:
                row = self.stock[loc.code, fline.order_line.sku]
                row.reserved += fline.qty
                hold = Hold(stock=row, fline=fline, group_order=order, qty=fline.qty, at=routed, until=routed)
                self.plan.holds.append(hold)
                self.plan.moves.append(
                    Move(
                        row,
                        routed,
                        MovementKind.RESERVE,
                        0,
                        fline.qty,
                        f"order {order.external_ref} routed",
                        fline,
                    )
                )
            fulfilments.append((fulfilment, flines))
            self.plan.fulfilments.append(fulfilment)
            self.plan.flines.extend(flines)
        for line in lines:
            line.status = LineStatus.BACKORDERED if line in waiting else LineStatus.ALLOCATED
        parts = [
            nphrase("%(n)s unit from %(location)s", "%(n)s units from %(location)s",
                    sum(fl.qty for fl in fls), location=f"{f.location.name} ({f.location.code})")
            for f, fls in fulfilments
        ]  # fmt: skip
        if waiting:
            parts.append(nphrase("%(n)s line waits for stock", "%(n)s lines wait for stock", len(waiting)))
        self._event(
            order,
            routed,
            "routed",
            [phrase("Routed: %(parts)s.", parts=joined(parts))],
            locations=[f.location.code for f, _ in fulfilments],
            backordered=[line.sku for line in waiting],
        )
        first_status = S.BACKORDERED if waiting else S.ALLOCATED
        self._status_event(order, routed, S.AWAITING_ROUTING, first_status)
        order.updated_at = routed
        if status in {S.ALLOCATED, S.BACKORDERED}:
            return
        if status == S.ON_HOLD:
            self._hold(order, step(dt.timedelta(minutes=rng.uniform(2, 90))), first_status)
            return
        if status == S.CANCELLED:
            at = step(dt.timedelta(hours=rng.uniform(0.2, 20)))
            released = 0
            for fulfilment, flines in fulfilments:
                fulfilment.status, fulfilment.updated_at = FulfilmentStatus.CANCELLED, at
                for fline in flines:
                    released += self._end_hold(
                        fline, at, MovementKind.RELEASE, f"order {order.external_ref} cancelled"
                    )
            self._cancel(order, at, first_status, released)
            finish(LineStatus.CANCELLED)
            return

        # Picking, then shipping (or handing over) each fulfilment; the last ones may still be on their way.
        previous = first_status
        pending_after_first = status == S.PARTLY_SHIPPED
        for k, (fulfilment, flines) in enumerate(fulfilments):
            loc = fulfilment.location
            if pending_after_first and k > 0:
                fulfilment.status = rng.choice((FulfilmentStatus.ASSIGNED, FulfilmentStatus.PICKING))
                line_status = (
                    LineStatus.ALLOCATED
                    if fulfilment.status == FulfilmentStatus.ASSIGNED
                    else LineStatus.IN_FULFILMENT
                )
                for fline in flines:
                    fline.order_line.status = line_status
                continue
            picking = step(dt.timedelta(hours=rng.uniform(0.3, 14 if loc.processing_days else 3)))
            fulfilment.status, fulfilment.updated_at = FulfilmentStatus.PICKING, picking
            for fline in flines:
                fline.order_line.status = LineStatus.IN_FULFILMENT
            self._event(
                order,
                picking,
                "fulfilment",
                [phrase("Picking started at %(location)s.", location=loc.name)],
                location=loc.code,
                fulfilment_status="picking",
            )
            if previous != S.IN_FULFILMENT and k == 0:
                self._status_event(order, picking, previous, S.IN_FULFILMENT)
                previous = S.IN_FULFILMENT
            if status == S.IN_FULFILMENT:
                fulfilment.status = rng.choice(
                    (FulfilmentStatus.PICKING, FulfilmentStatus.PICKED, FulfilmentStatus.PACKED)
                )
                for fline in flines:
                    fline.qty_picked = (
                        fline.qty
                        if fulfilment.status != FulfilmentStatus.PICKING
                        else rng.randint(0, fline.qty - 1)
                    )
                if fulfilment.status == FulfilmentStatus.PACKED:
                    self._event(
                        order,
                        step(dt.timedelta(minutes=rng.uniform(5, 60))),
                        "fulfilment",
                        [phrase("Packed at %(location)s.", location=loc.name)],
                        location=loc.code,
                        fulfilment_status="packed",
                    )
                continue
            for fline in flines:
                fline.qty_picked = fline.qty
            packed = step(dt.timedelta(minutes=rng.uniform(5, 90)))
            if order.pickup_location is not None:
                fulfilment.status, fulfilment.updated_at = FulfilmentStatus.READY_FOR_PICKUP, packed
                # As the service makes it ready: the code the customer shows at the counter, and when.
                fulfilment.ready_at, fulfilment.pickup_code = packed, self._pickup_code()
                for fline in flines:
                    fline.order_line.status = LineStatus.READY_FOR_PICKUP
                ready = [phrase("Ready for pickup at %(location)s.", location=loc.name)]
                self._event(order, packed, "ready_for_pickup", ready, location=loc.code)
                self._status_event(order, packed, previous, S.READY_FOR_PICKUP)
                previous = S.READY_FOR_PICKUP
                if status == S.COLLECTED:
                    collected = step(dt.timedelta(hours=rng.uniform(1, 80)))
                    fulfilment.status, fulfilment.updated_at, fulfilment.shipped_at = (
                        FulfilmentStatus.COLLECTED,
                        collected,
                        collected,
                    )
                    fulfilment.collected_at = collected
                    for fline in flines:
                        fline.order_line.status = LineStatus.COLLECTED
                        self._end_hold(
                            fline, collected, MovementKind.COMMIT, f"order {order.external_ref} collected"
                        )
                    self._event(
                        order,
                        collected,
                        "collected",
                        [phrase("Collected by the customer at %(location)s.", location=loc.name)],
                        location=loc.code,
                    )
                    self._status_event(order, collected, previous, S.COLLECTED)
                continue
            service = SERVICE_BY_CODE[fulfilment.carrier_service]  # shipped with the one routing planned
            shipped = step(dt.timedelta(hours=rng.uniform(1, 20 if loc.processing_days else 5)))
            fulfilment.tracking_code = _tracking(self.service_rng, service)
            fulfilment.status, fulfilment.shipped_at, fulfilment.updated_at = (
                FulfilmentStatus.SHIPPED,
                shipped,
                shipped,
            )
            for fline in flines:
                fline.order_line.status = LineStatus.SHIPPED
                self._end_hold(fline, shipped, MovementKind.COMMIT, f"order {order.external_ref} shipped")
            self._event(
                order,
                shipped,
                "ship",
                [
                    phrase(
                        "Shipped from %(location)s with %(service)s, tracking %(tracking)s.",
                        location=loc.name,
                        service=service["name"],
                        tracking=fulfilment.tracking_code,
                    )
                ],
                location=loc.code,
                carrier_service=service["code"],
                tracking_code=fulfilment.tracking_code,
            )
            last = k == len(fulfilments) - 1 and not pending_after_first
            target = S.SHIPPED if last else S.PARTLY_SHIPPED
            if target != previous:
                self._status_event(order, shipped, previous, target)
                previous = target
        if status == S.DELIVERED:
            for fulfilment, flines in fulfilments:
                km = _km(
                    fulfilment.location.lat, fulfilment.location.lon, order.ship_lat or 0, order.ship_lon or 0
                )
                delivered = step(dt.timedelta(days=min(8, 0.5 + km / 700 + rng.uniform(0, 1.5))))
                fulfilment.status, fulfilment.updated_at = FulfilmentStatus.DELIVERED, delivered
                for fline in flines:
                    fline.order_line.status = LineStatus.DELIVERED
                self._event(
                    order,
                    delivered,
                    "delivered",
                    [
                        phrase(
                            "Delivered (%(service)s).",
                            service=SERVICE_BY_CODE[fulfilment.carrier_service]["name"],
                        )
                    ],
                    location=fulfilment.location.code,
                )
            self._status_event(order, delivered, previous, S.DELIVERED)
        order.updated_at = clock.at

    def _pickup_code(self) -> str:
        # The alphabet of the service's codes (no 0/O/1/I: read aloud at a counter).
        return "".join(self.code_rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))

    def _end_hold(self, fline: FulfilmentLine, at: dt.datetime, kind: str, reason: str) -> int:
        hold = next(h for h in reversed(self.plan.holds) if h.fline is fline)
        qty, row = hold.qty, hold.stock
        hold.qty, hold.until = 0, at
        row.reserved -= qty
        consume = kind == MovementKind.COMMIT
        if consume:
            row.committed += qty
        self.plan.moves.append(Move(row, at, kind, -qty if consume else 0, -qty, reason, fline))
        return qty

    def _hold(self, order: Order, at: dt.datetime, previous: str) -> None:
        reason = self.rng.choice(HOLD_REASONS)
        order.status_before_hold = previous
        text = [phrase("Put on hold: %(reason)s", reason=reason)]
        self._event(order, at, "hold", text, reason=reason, **{"from": previous, "to": S.ON_HOLD})
        order.updated_at = at

    def _cancel(self, order: Order, at: dt.datetime, previous: str, released: int) -> None:
        reason = self.rng.choice(CANCEL_REASONS)
        self._event(
            order,
            at,
            "cancelled",
            [
                phrase("Order cancelled: %(reason)s.", reason=reason),
                nphrase("%(n)s reserved unit released.", "%(n)s reserved units released.", released),
            ],
            reason=reason,
            released_units=released,
            **{"from": previous, "to": S.CANCELLED},
        )
        order.updated_at = at


def plan_history(
    *,
    seed: int,
    orders: int,
    now: dt.datetime,
    sites: list[Location],
    products: list[Product],
    channels: dict[str, Channel],
    agent: Any = None,
) -> HistoryPlan:
    """The whole history, in memory (unsaved model instances). Deterministic for (seed, orders, inputs)."""
    planner = _Planner(
        seed=seed, n_orders=orders, now=now, sites=sites, products=products, channels=channels, agent=agent
    )
    planner.plan_stock()
    planner.plan_customers()
    planner.plan_orders()
    _balance(planner.plan)
    for c, customer in enumerate(planner.plan.customers):
        first = planner.customer_first_order.get(c, now - dt.timedelta(days=planner.rng.uniform(1, 90)))
        customer.created_at = first - dt.timedelta(minutes=planner.rng.randint(1, 60 * 24 * 30))
    return planner.plan


# --- writing it --------------------------------------------------------------------------------------------


def _demo_sites() -> list[Location]:
    codes = [p.code for p in (*locations.DCS, *locations.STORES)]
    return list(Location.objects.filter(code__in=codes).order_by("code"))


def seed_history(count: Callable[[str, int], None], *, seed: int, orders: int, skus: list[str]) -> None:
    """Stock, customers and orders for the demo SKUs `skus`, once: skipped when the demo locations already
    hold stock rows (the ledger starts with their count)."""
    sites = _demo_sites()
    if not sites or StockLevel.objects.filter(location__in=sites).exists():
        return
    products = list(Product.objects.filter(sku__in=skus).order_by("sku"))
    channels = {c.code: c for c in Channel.objects.filter(code__in=[c.code for c in CHANNELS])}
    agent = get_user_model().objects.filter(username="cs").first()
    now = timezone.now().replace(microsecond=0)
    plan = plan_history(
        seed=seed, orders=orders, now=now, sites=sites, products=products, channels=channels, agent=agent
    )
    write_history(plan, now=now)
    for what, rows in (
        ("stock rows", plan.stock),
        ("customers", plan.customers),
        ("orders", plan.orders),
        ("fulfilments", plan.fulfilments),
        ("timeline events", plan.events),
    ):
        count(what, len(rows))


LEDGER_COLUMNS = (
    "stock",
    "at",
    "kind",
    "on_hand_delta",
    "reserved_delta",
    "on_hand_after",
    "reserved_after",
    "reason",
    "ref",
    "actor",
)


def write_history(plan: HistoryPlan, *, now: dt.datetime) -> None:
    """Insert a planned history. Rows that need their primary key back go through bulk_create; the large
    append-only tables (ledger, timeline, reservations) through plain `executemany`."""
    with historical_timestamps(StockLevel, Customer, Order, Fulfilment):
        for row in plan.stock:
            row.row = StockLevel(
                location=row.location,
                product=row.product,
                on_hand=row.on_hand,
                reserved=row.reserved,
                safety_stock=row.safety,
                updated_at=now,
            )
        insert(StockLevel, [row.row for row in plan.stock if row.row is not None])
        insert(Customer, plan.customers)
        insert(Order, plan.orders)
        for order in plan.orders:
            order.number = f"{order.pk:08d}"  # as order_create numbers them
        _number_orders(plan.orders)
        insert(OrderLine, plan.lines)
        insert(Fulfilment, plan.fulfilments)
        insert(FulfilmentLine, plan.flines)
    insert_values(
        Reservation,
        ("stock", "ref", "group", "qty", "created_at", "updated_at"),
        (
            (
                hold.stock.row.pk if hold.stock.row else None,
                f"fl:{hold.fline.pk}",
                hold.group_order.number or "",
                hold.qty,
                hold.at,
                hold.until,
            )
            for hold in plan.holds
        ),
    )
    insert_values(StockMovement, LEDGER_COLUMNS, _ledger(plan))
    insert_values(LocationDayCapacity, ("location", "day", "units_used"), _capacity_used(plan))
    insert_values(
        OrderEvent,
        ("order", "at", "actor", "kind", "message", "data"),
        ((e.order.pk, e.at, e.actor_id, e.kind, e.message, e.data) for e in plan.events),
    )


def _capacity_used(plan: HistoryPlan) -> Iterator[tuple[int, dt.date, int]]:
    """Each location's units routed on each day, as the live path counts them when it routes (never past the
    location's daily capacity): the working days the routing prices tomorrow's capacity from."""
    used: dict[tuple[Location, dt.date], int] = defaultdict(int)
    for fline in plan.flines:
        fulfilment = fline.fulfilment
        used[fulfilment.location, timezone.localtime(fulfilment.created_at).date()] += fline.qty
    for (location, day), units in used.items():
        yield location.pk, day, min(units, location.daily_capacity)


def _number_orders(orders: list[Order]) -> None:
    """Number orders as order_create does (f"{pk:08d}"), in one UPDATE when every pk has at most 8 digits."""
    if not orders:
        return
    pks = [order.pk for order in orders]
    if max(pks) < 10**8:
        padded = LPad(Cast("pk", output_field=CharField()), 8, Value("0"))
        Order.objects.filter(pk__gte=min(pks), pk__lte=max(pks), number=None).update(number=padded)
    else:
        update_values(Order, "number", ((order.number, order.pk) for order in orders))


def _moves_by_row(plan: HistoryPlan) -> dict[int, list[Move]]:
    moves: dict[int, list[Move]] = defaultdict(list)
    for move in plan.moves:
        moves[id(move.stock)].append(move)
    for row_moves in moves.values():
        row_moves.sort(
            key=lambda m: (m.at, m.reserved_delta < 0)
        )  # a reserve before a release at one instant
    return moves


def _balance(plan: HistoryPlan) -> None:
    """Give a stock row the few extra units it needs so that no point of its history holds more than it had.

    Orders are planned out of time order, so an allocation later cancelled may have held units that, by
    today's count, were not there; a slightly higher count keeps `reserved <= on_hand` at every ledger row.
    """
    moves = _moves_by_row(plan)
    for row in plan.stock:
        on_hand, reserved, deficit = row.on_hand + row.committed, 0, 0
        for move in moves.get(id(row), ()):
            on_hand += move.on_hand_delta
            reserved += move.reserved_delta
            deficit = max(deficit, reserved - on_hand)
        row.on_hand += deficit


def _ledger(plan: HistoryPlan) -> Iterator[tuple[Any, ...]]:
    """Ledger rows (LEDGER_COLUMNS order) per stock row: the initial count, then its moves in time order."""
    assert plan.count_at is not None
    moves = _moves_by_row(plan)
    for row in plan.stock:
        assert row.row is not None
        on_hand = row.on_hand + row.committed  # the count came before the units shipped since
        reserved = 0
        yield (
            row.row.pk,
            plan.count_at,
            MovementKind.COUNT,
            on_hand,
            0,
            on_hand,
            0,
            "initial count",
            "",
            None,
        )
        for move in moves.get(id(row), ()):
            on_hand += move.on_hand_delta
            reserved += move.reserved_delta
            yield (
                row.row.pk,
                move.at,
                move.kind,
                move.on_hand_delta,
                move.reserved_delta,
                on_hand,
                reserved,
                move.reason,
                f"fl:{move.fline.pk}",
                None,
            )
        assert (on_hand, reserved) == (row.on_hand, row.reserved), row
