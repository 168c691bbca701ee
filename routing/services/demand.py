"""The demand the live path prices stock with: recent orders standing in for the forecast.

The engine's `OpportunityPricer` charges a decision for the stock it takes by what later orders would lose
without it (a customer nearby who will want the store's last unit tomorrow). It needs a forecast, the units
of each SKU expected over a horizon, and a picture of where and how urgently demand comes from. In
production both come from recent demand ("the engine may use forecasts: in production from recent demand"):

- units per SKU: what the orders of the last ROUTING_DEMAND_HISTORY_DAYS days asked for (cancelled lines
  and orders left out), scaled to ROUTING_DEMAND_HORIZON_DAYS, the time until stock is replenished, within
  which a unit taken now is not replaced;
- where demand comes from: the destinations, deadlines and line counts of the latest `SAMPLE_SIZE` orders;
- planned demand events for every location (Black Friday, a national promotion): the units scaled by how much
  busier the horizon's days are than the history's (`inventory.services.events`).

`demand_refresh` builds this picture (the beat's "routing.refresh_demand"), ranks each sampled destination's
possible sources once, and keeps it in the cache for every process. `live_pricer` reads it (a process keeps
its copy while the cache's version is unchanged) and gives one decision its pricer; a SKU's estimate from the
samples is reused by the process's decisions for about a minute.
A picture older than ROUTING_DEMAND_MAX_AGE is rebuilt on the decision path, so prices never rest on stale
demand when the beat is not running (tasks inline). With fewer than ROUTING_DEMAND_MIN_ORDERS orders in the
history, demand is too thin to say what later orders will need, and decisions go on real costs alone.
Routing policies turn pricing off with `use_forecast`; so does the built-in policy (no policy row).

Capacity is priced too, over its own horizon: a location's daily capacity comes back every day, so what
later orders will need of it is the rest of today's work there. The picture keeps the units each location
was given on an average working day of the history (`LocationDayCapacity`), per day of the week (a store's
Saturday is not its Tuesday; a weekday without working days in the history falls back to the average of
all), and how a day's orders spread over its hours; a decision at 10:00 on a Monday expects each location to
be given the share of a Monday's units still to come after 10:00, and prices its capacity left against that
(`DemandPicture.capacity_demand`).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from inventory.models import Product
from inventory.services.events import EventCalendar
from orders.models import DeliveryMode, LineStatus, Order, OrderLine, OrderStatus

from ..engine import HOME, PICKUP, Forecast, Network, OpportunityPricer, Policy
from ..engine import Order as EngineOrder
from ..engine import OrderLine as EngineLine
from ..engine.pricing import SAMPLE_SIZE, Destination, SharesCache, destination
from ..models import LocationDayCapacity
from .snapshot import BUILTIN_POLICY, StaticNetwork, destination_point, engine_locations, static_network

# The picture's format, raised with every change of DemandPicture's fields: a process of a new release never
# reads a picture an older release published (unpickled, it would lack the new fields), nor the other way
# round; while both run, each builds and reads its own.
PICTURE_FORMAT = 4
DEMAND_KEY = f"routing:demand-picture:{PICTURE_FORMAT}"
VERSION_KEY = f"routing:demand-version:{PICTURE_FORMAT}"  # read on every decision: small, unlike the picture

# A SKU's estimate (who its holders serve best and what they would lose) is reused by the process's later
# decisions for 2-3 epochs of this many seconds, while its holders stay about the same; at most SHARES_KEPT
# SKUs are kept.
SHARES_EPOCH_SECONDS = 20
SHARES_KEPT = 20_000

# (home?, lat, lon, pickup location pk, deadline days, lines)
_Point = tuple[bool, float | None, float | None, int | None, int, int]


@dataclass(frozen=True, slots=True)
class DemandPicture:
    """Recent demand, as the cache keeps it: plain data only."""

    version: str
    built_at: float  # time.time() when built
    span_days: float  # the history the figures cover (shorter than the window on a young system)
    orders: int  # orders placed in that history
    units: dict[str, float]  # sku -> units ordered in that history
    points: tuple[_Point, ...]  # the latest orders, newest first
    # the points ranked against the network of version `static_token` (done once, where the picture is built)
    static_token: str = ""
    ranked: tuple[Destination | None, ...] = ()
    # location code -> units it was given on an average working day of the history (today left out) ...
    capacity_units: dict[str, float] = field(default_factory=dict)
    # ... and on an average working day of each day of the week (0 Monday - 6 Sunday) that had any
    weekday_units: dict[int, dict[str, float]] = field(default_factory=dict)
    # the share of a day's orders placed in each hour 0-23, local time
    hourly: tuple[float, ...] = ()
    # demand events for every location: a day of the horizon against one of the history, on average, for
    # every SKU (`event_scale`) but those some event names (`sku_event_scale`)
    event_scale: float = 1.0
    sku_event_scale: dict[str, float] = field(default_factory=dict)

    def forecast(self, skus: Sequence[str], horizon_days: float) -> Forecast:
        """The forecast over the horizon for these SKUs (the only ones a decision prices)."""
        scale = horizon_days / self.span_days
        units = {
            s: self.units[s] * scale * self.sku_event_scale.get(s, self.event_scale)
            for s in skus
            if s in self.units
        }
        return Forecast(orders=self.orders * scale * self.event_scale, sku_units=units)

    def capacity_demand(self, at: dt.datetime) -> dict[str, float]:
        """Units later orders are expected to need from each location before its capacity comes back: what
        it is given on a working day of `at`'s day of the week (or any working day, if the history has none of
        that day), times the share of a day's orders still to come at `at`'s time."""
        if not self.capacity_units or not self.hourly:
            return {}
        local = timezone.localtime(at)
        units = self.weekday_units.get(local.weekday(), self.capacity_units)
        hour = local.hour
        gone = (local.minute * 60 + local.second) / 3600.0
        rest = sum(self.hourly[hour + 1 :]) + self.hourly[hour] * (1.0 - gone)
        return {code: day * rest for code, day in units.items()}


def demand_refresh(*, now: dt.datetime | None = None) -> DemandPicture:
    """Build the picture of recent demand and publish it to every process (the cache). Returns it."""
    now = now or timezone.now()
    since = now - dt.timedelta(days=settings.ROUTING_DEMAND_HISTORY_DAYS)
    today = timezone.localtime(now).date()
    window = Order.objects.filter(placed_at__gte=since, placed_at__lte=now).exclude(
        status=OrderStatus.CANCELLED
    )
    seen = window.aggregate(orders=Count("pk"), first=Min("placed_at"))
    orders, first = seen["orders"], seen["first"]
    units = {
        sku: float(total)
        for sku, total in OrderLine.objects.filter(order__placed_at__gte=since, order__placed_at__lte=now)
        .exclude(order__status=OrderStatus.CANCELLED)
        .exclude(status=LineStatus.CANCELLED)
        .values("product__sku")
        .annotate(total=Sum("qty"))
        .values_list("product__sku", "total")
    }
    span = (now - first).total_seconds() / 86400.0 if first is not None else 0.0
    by_hour = dict(
        window.annotate(hour=ExtractHour("placed_at"))
        .values("hour")
        .annotate(n=Count("pk"))
        .values_list("hour", "n")
    )
    capacity_units, weekday_units = _working_days(since, today)
    event_scale, sku_event_scale = _event_scales(
        first or now, now, settings.ROUTING_DEMAND_HORIZON_DAYS, set(units)
    )
    latest = (
        window.order_by("-placed_at", "-pk")
        .only("delivery_mode", "ship_lat", "ship_lon", "ship_cep", "pickup_location_id", "deadline_days")
        .annotate(n_lines=Count("lines", filter=~Q(lines__status=LineStatus.CANCELLED)))[:SAMPLE_SIZE]
    )
    points: list[_Point] = []
    for order in latest:
        n_lines = order.n_lines
        if not n_lines:
            continue
        if order.delivery_mode == DeliveryMode.PICKUP:
            if order.pickup_location_id is not None:
                points.append((False, None, None, order.pickup_location_id, order.deadline_days, n_lines))
        elif (point := destination_point(order)) is not None:
            points.append((True, point[0], point[1], None, order.deadline_days, n_lines))
    static = static_network()
    picture = DemandPicture(
        version=uuid.uuid4().hex,
        built_at=time.time(),
        span_days=max(1.0, span),
        orders=orders,
        units=units,
        points=tuple(points),
        static_token=static.token,
        ranked=_ranked(static, points),
        capacity_units=capacity_units,
        weekday_units=weekday_units,
        hourly=tuple(by_hour.get(h, 0) / orders for h in range(24)) if orders else (),
        event_scale=event_scale,
        sku_event_scale=sku_event_scale,
    )
    cache.set_many({DEMAND_KEY: picture, VERSION_KEY: picture.version}, None)
    return picture


def _event_scales(
    first: dt.datetime, now: dt.datetime, horizon_days: float, skus: set[str]
) -> tuple[float, dict[str, float]]:
    """How much busier a day of the horizon is than a day of the history (from `first` to `now`), from the
    demand events for every location: for every SKU, and for each of `skus` that an event names. A store's
    own event is left to its forecast: it changes little of a SKU's demand across the network."""
    today = timezone.localdate(now)
    history = [
        timezone.localdate(first) + dt.timedelta(days=k)
        for k in range((today - timezone.localdate(first)).days + 1)
    ]
    ahead = [today + dt.timedelta(days=k) for k in range(max(1, math.ceil(horizon_days)))]
    events = EventCalendar.load(history[0], ahead[-1])
    if not events:
        return 1.0, {}

    def scale(product_id: int | None) -> float:
        before = sum(events.network_factor(product_id, day) for day in history) / len(history)
        return sum(events.network_factor(product_id, day) for day in ahead) / len(ahead) / before

    named = events.network_named()
    # the named products only: a filter on every SKU sold would pass one parameter each
    by_sku = dict(Product.objects.filter(pk__in=named).values_list("sku", "pk")) if named else {}
    return scale(None), {sku: scale(pk) for sku, pk in by_sku.items() if sku in skus}


def _working_days(since: dt.datetime, today: dt.date) -> tuple[dict[str, float], dict[int, dict[str, float]]]:
    """Each location's units on an average working day before today (the days anything was routed anywhere),
    over all of them and per day of the week: DemandPicture.capacity_units and .weekday_units."""
    days = LocationDayCapacity.objects.filter(
        day__gte=timezone.localtime(since).date(), day__lt=today, units_used__gt=0
    ).annotate(weekday=ExtractIsoWeekDay("day"))
    worked = dict(days.values("weekday").annotate(n=Count("day", distinct=True)).values_list("weekday", "n"))
    totals = (
        days.values("weekday", "location__code")
        .annotate(total=Sum("units_used"))
        .values_list("weekday", "location__code", "total")
    )
    overall: dict[str, float] = defaultdict(float)
    weekday_units: dict[int, dict[str, float]] = defaultdict(dict)
    for weekday, code, total in totals:
        overall[code] += total
        weekday_units[weekday - 1][code] = total / worked[weekday]
    all_days = sum(worked.values())
    return {code: total / all_days for code, total in overall.items()}, dict(weekday_units)


_local = threading.local()


def demand_picture() -> DemandPicture:
    """The current picture of recent demand: this process's copy while the cache's version is unchanged,
    else the cache's, else (none yet, or older than ROUTING_DEMAND_MAX_AGE) a fresh one."""
    max_age = settings.ROUTING_DEMAND_MAX_AGE
    version = cache.get(VERSION_KEY)
    mine: DemandPicture | None = getattr(_local, "picture", None)
    if mine is not None and mine.version == version and time.time() - mine.built_at < max_age:
        return mine
    shared: DemandPicture | None = cache.get(DEMAND_KEY) if version is not None else None
    if shared is None or shared.version != version or time.time() - shared.built_at >= max_age:
        shared = demand_refresh()
    _local.picture = shared
    return shared


def demand_forget() -> None:
    """Drop the published picture (and this process's copy): the next decision builds a new one."""
    cache.delete_many([DEMAND_KEY, VERSION_KEY])
    _local.__dict__.clear()


def _samples(
    static: StaticNetwork, picture: DemandPicture
) -> tuple[list[Destination], dict[Policy, SharesCache]]:
    """The picture's destinations ranked against every active location with the services' own tariffs
    (rate cards are per destination: a ranking of where customers are served best does not need them):
    as the picture came, or ranked here when the network changed since; and the per-SKU estimates the
    decisions of this process made on them, per policy (its locations decide who holds what):
    `OpportunityPricer(shares=...)`."""
    key = (static.token, picture.version)
    memo: tuple[tuple[str, str], list[Destination], dict[Policy, SharesCache]] | None = getattr(
        _local, "samples", None
    )
    if memo is not None and memo[0] == key:
        if sum(len(kept) for kept in memo[2].values()) > SHARES_KEPT:
            memo[2].clear()
        return memo[1], memo[2]
    if picture.static_token == static.token and len(picture.ranked) == len(picture.points):
        ranked = picture.ranked  # ranked where the picture was built
    else:  # the network changed since
        ranked = _ranked(static, picture.points)
    samples = [d for d in ranked if d is not None]
    shares: dict[Policy, SharesCache] = {}
    _local.samples = (key, samples, shares)
    return samples, shares


def _ranked(static: StaticNetwork, points: Sequence[_Point]) -> tuple[Destination | None, ...]:
    """Each point's possible sources, cheapest first, among every active location with the services' own
    tariffs (None: nobody can serve it, or its pickup store is gone)."""
    net = Network(
        locations=engine_locations(static, BUILTIN_POLICY, None, lambda _info: 0),
        services=tuple(s.engine for s in static.services),
        transfer=static.transfer,
    )
    return tuple(_rank(net, static, point) for point in points)


def _rank(net: Network, static: StaticNetwork, point: _Point) -> Destination | None:
    home, lat, lon, pickup_pk, deadline, n_lines = point
    lines = tuple(EngineLine(f"line{i}", 1, 0.0) for i in range(n_lines))
    if home:
        return destination(net, EngineOrder("sample", HOME, lines, deadline, lat=lat, lon=lon))
    info = static.by_pk.get(pickup_pk) if pickup_pk is not None else None
    if info is None:
        return None
    return destination(net, EngineOrder("sample", PICKUP, lines, deadline, pickup_location=info.code))


def demand_warm() -> None:
    """Read the picture of recent demand and its ranked destinations (a worker process starting up)."""
    _samples(static_network(), demand_picture())


def live_pricer(
    network: Network,
    skus: Sequence[str],
    static: StaticNetwork,
    policy: Policy,
    *,
    at: dt.datetime | None = None,
) -> OpportunityPricer | None:
    """The pricer for one live decision about `skus` on `network` under `policy`, made at `at` (default now:
    the time of day says how much of today's capacity later orders will still want). None: the policy routes
    on real costs alone, or recent demand is too thin to say what later orders will need."""
    if not policy.use_opportunity_costs:
        return None
    picture = demand_picture()
    if picture.orders < settings.ROUTING_DEMAND_MIN_ORDERS:
        return None  # too little history to say what later orders will need: real costs alone
    forecast = picture.forecast(skus, settings.ROUTING_DEMAND_HORIZON_DAYS)
    capacity = picture.capacity_demand(at or timezone.now())
    if not forecast.sku_units and not capacity:
        return None
    samples, shares = _samples(static, picture)
    if not samples:
        return None
    epoch = int(time.time() // SHARES_EPOCH_SECONDS)
    kept = shares.setdefault(policy, {})
    return OpportunityPricer(
        network,
        forecast,
        samples=samples,
        one_decision=True,
        shares=kept,
        epoch=epoch,
        capacity_demand=capacity,
    )
