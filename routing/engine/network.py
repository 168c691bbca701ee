"""The network snapshot the engine decides on: locations, carrier services, stock and capacity left.

A `Network` is plain data plus two indexes (sku -> locations holding it, location-pair km cache).
It is mutated only by `apply_plan` / `release_plan`, so a caller decides whether a plan is committed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .geo import road_km

if TYPE_CHECKING:
    from .plan import Plan

DC = "dc"
STORE = "store"


@dataclass(slots=True)
class Location:
    """A DC or store. `capacity_left` is the units it can still pick in the current period."""

    id: str
    kind: str  # DC | STORE
    lat: float
    lon: float
    ships: bool = True
    pickup: bool = False
    processing_days: int = 0
    handling_cost: float = 0.0
    pick_cost: float = 0.0
    capacity_left: int = 0
    capacity_total: int | None = None  # the period's full capacity; defaults to capacity_left
    paused: bool = False

    def __post_init__(self) -> None:
        if self.kind not in (DC, STORE):
            raise ValueError(f"location {self.id}: kind must be 'dc' or 'store', not {self.kind!r}")
        if self.capacity_total is None:
            self.capacity_total = self.capacity_left


@dataclass(frozen=True, slots=True)
class Service:
    """A carrier service for home delivery; cost = base + per_km*km + per_kg*kg per package."""

    id: str
    base: float
    per_km: float
    per_kg: float
    days_base: int = 0
    km_per_day: float | None = None  # None: transit time does not depend on distance
    max_km: float | None = None  # None: no distance limit
    from_kinds: frozenset[str] = frozenset({DC, STORE})
    carrier: str = ""

    def __post_init__(self) -> None:
        if self.id == "transfer":
            raise ValueError("'transfer' is reserved for inter-location transfers")


@dataclass(frozen=True, slots=True)
class TransferTerms:
    """Price and speed of moving units from any shipping location to a pickup store."""

    base: float = 0.0
    per_km: float = 0.0
    per_kg: float = 0.0
    days_base: int = 0
    km_per_day: float | None = None


@dataclass(frozen=True, slots=True)
class UnfilledPenalty:
    """What one unit left unfilled (backordered) costs: per_unit + price_fraction x unit price."""

    per_unit: float = 0.0
    price_fraction: float = 0.0

    def unit_cost(self, price: float) -> float:
        return self.per_unit + self.price_fraction * price


class InsufficientStock(Exception):
    """A plan asks for more stock or capacity than the network has left; `shortages` lists each one."""

    def __init__(self, shortages: list[str]) -> None:
        super().__init__("; ".join(shortages))
        self.shortages = shortages


@dataclass(slots=True)
class Network:
    """Snapshot of everything a routing decision needs; `stock[(location_id, sku)]` = units available."""

    locations: dict[str, Location]
    services: tuple[Service, ...]
    transfer: TransferTerms = TransferTerms()
    road_factor: float = 1.0
    split_penalty: float = 0.0
    unfilled: UnfilledPenalty = UnfilledPenalty()
    stock: dict[tuple[str, str], int] = field(default_factory=dict)
    sku_weight: dict[str, float] = field(default_factory=dict)
    _holders: dict[str, set[str]] = field(init=False, repr=False)
    _pair_km: dict[tuple[str, str], float] = field(init=False, repr=False)
    _rank: dict[str, int] = field(init=False, repr=False)
    _total: dict[str, int] = field(init=False, repr=False)
    _service_by_id: dict[str, Service] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._holders = {}
        self._pair_km = {}
        self._rank = {lid: i for i, lid in enumerate(self.locations)}
        self._service_by_id = {s.id: s for s in self.services}
        self._total = {}
        for (lid, sku), units in self.stock.items():
            if lid not in self.locations:
                raise ValueError(f"stock names unknown location {lid!r}")
            if units > 0:
                self._holders.setdefault(sku, set()).add(lid)
                self._total[sku] = self._total.get(sku, 0) + units

    # ---------------------------------------------------------------- reads
    def available(self, location_id: str, sku: str) -> int:
        return self.stock.get((location_id, sku), 0)

    def holders(self, sku: str) -> set[str]:
        """Ids of locations with at least one unit of `sku` (the live set: do not mutate)."""
        return self._holders.get(sku, _EMPTY)

    def rank(self, location_id: str) -> int:
        """Position of a location in the snapshot: the engine's deterministic tie-break."""
        return self._rank[location_id]

    def service(self, service_id: str) -> Service:
        return self._service_by_id[service_id]

    def weight(self, sku: str) -> float:
        return self.sku_weight.get(sku, 0.0)

    def km_between(self, a: str, b: str) -> float:
        """Road km between two locations, cached (locations do not move within a snapshot)."""
        key = (a, b) if a <= b else (b, a)
        km = self._pair_km.get(key)
        if km is None:
            la, lb = self.locations[a], self.locations[b]
            km = road_km(self.road_factor, la.lat, la.lon, lb.lat, lb.lon)
            self._pair_km[key] = km
        return km

    def total_stock(self, sku: str) -> int:
        """Units of `sku` left across the whole network."""
        return self._total.get(sku, 0)

    def nearest(self, lat: float, lon: float, ids: Iterable[str], limit: int) -> list[str]:
        """Every DC among `ids` plus the stores nearest (lat, lon), `limit` in all, in snapshot order.

        Ranked by a flat-earth distance: cheap, and monotone enough for choosing whom to price."""
        k = math.cos(math.radians(lat))
        keep: list[str] = []
        stores: list[tuple[float, int, str]] = []
        for lid in ids:
            loc = self.locations[lid]
            if loc.kind == DC:
                keep.append(lid)
            else:
                dx = (loc.lon - lon) * k
                dy = loc.lat - lat
                stores.append((dx * dx + dy * dy, self._rank[lid], lid))
        if len(keep) + len(stores) > limit:
            stores.sort()
            del stores[max(0, limit - len(keep)) :]
        keep += [lid for _, _, lid in stores]
        return sorted(keep, key=self._rank.__getitem__)

    # ---------------------------------------------------------------- writes
    def set_stock(self, location_id: str, sku: str, units: int) -> None:
        """Overwrite one stock figure (e.g. from a stock-level change event)."""
        before = self.stock.get((location_id, sku), 0)
        self.stock[(location_id, sku)] = units
        self._total[sku] = self._total.get(sku, 0) + max(units, 0) - max(before, 0)
        if units > 0:
            self._holders.setdefault(sku, set()).add(location_id)
        else:
            self._holders.get(sku, set()).discard(location_id)

    def apply_plan(self, plan: Plan) -> None:
        """Take the plan's units out of stock and capacity; raises InsufficientStock and changes
        nothing if any location lacks the stock or capacity the plan uses."""
        need_stock, need_cap = _usage(plan)
        short = [
            f"{lid}/{sku}: need {q}, have {self.available(lid, sku)}"
            for (lid, sku), q in need_stock.items()
            if q > self.available(lid, sku)
        ]
        short += [
            f"{lid}: need capacity {q}, have {self.locations[lid].capacity_left}"
            for lid, q in need_cap.items()
            if q > self.locations[lid].capacity_left
        ]
        if short:
            raise InsufficientStock(short)
        for (lid, sku), q in need_stock.items():
            self.set_stock(lid, sku, self.stock[(lid, sku)] - q)
        for lid, q in need_cap.items():
            self.locations[lid].capacity_left -= q

    def release_plan(self, plan: Plan) -> None:
        """Give back what `apply_plan(plan)` took (a cancelled or revised decision)."""
        need_stock, need_cap = _usage(plan)
        for (lid, sku), q in need_stock.items():
            self.set_stock(lid, sku, self.stock.get((lid, sku), 0) + q)
        for lid, q in need_cap.items():
            self.locations[lid].capacity_left += q

    def copy(self) -> Network:
        """An independent snapshot (locations and stock copied; immutable parts shared)."""
        locs = {
            lid: Location(
                id=loc.id,
                kind=loc.kind,
                lat=loc.lat,
                lon=loc.lon,
                ships=loc.ships,
                pickup=loc.pickup,
                processing_days=loc.processing_days,
                handling_cost=loc.handling_cost,
                pick_cost=loc.pick_cost,
                capacity_left=loc.capacity_left,
                capacity_total=loc.capacity_total,
                paused=loc.paused,
            )
            for lid, loc in self.locations.items()
        }
        net = Network(
            locations=locs,
            services=self.services,
            transfer=self.transfer,
            road_factor=self.road_factor,
            split_penalty=self.split_penalty,
            unfilled=self.unfilled,
            stock=dict(self.stock),
            sku_weight=self.sku_weight,
        )
        net._pair_km = self._pair_km
        return net


_EMPTY: set[str] = set()


def _usage(plan: Plan) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    stock: dict[tuple[str, str], int] = {}
    cap: dict[str, int] = {}
    for pkg in plan.packages:
        for sku, q in pkg.lines:
            stock[(pkg.location, sku)] = stock.get((pkg.location, sku), 0) + q
            cap[pkg.location] = cap.get(pkg.location, 0) + q
    return stock, cap


def reserved_for_walkins(loc: Location, share: float) -> int:
    """Units of a store's period capacity held back for walk-in customers under a policy share."""
    if loc.kind != STORE or share <= 0:
        return 0
    return math.ceil(share * (loc.capacity_total or 0))


def build_locations(items: Iterable[Location]) -> dict[str, Location]:
    """Index locations by id, keeping their given order (ties in the solver break by that order)."""
    out: dict[str, Location] = {}
    for loc in items:
        if loc.id in out:
            raise ValueError(f"duplicate location id {loc.id!r}")
        out[loc.id] = loc
    return out
