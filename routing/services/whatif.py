"""What-if: replay the last N days of real orders under a draft policy beside the live one.

`whatif_run_start` records a run and queues the task "routing.whatif_run", which calls `whatif_run_execute`.
The replay never writes stock, reservations, fulfilments or decisions: it routes every order of the window
in `placed_at` order twice, through the same engine and business rules as the live path (`plan_order`), each
policy on its own copy of the simulated state, and stores the figures of both on the run.

What the replay starts from (the page's footnote says the same):
- locations, carrier services (with rate cards and cut-off hours) and transfer terms as they are *now*;
- stock as it was when the window opened: today's available units (on hand - reserved - safety stock)
  rewound through the stock ledger (every movement since then taken back). Receipts, counts, adjustments
  and short picks of the window are replayed at the time they happened; reservations, releases and
  shipments are not (the replayed plans take stock instead), so units that orders from before the window
  took or gave back during it count as available from the start;
- capacity: each day starts with every location's full daily capacity; work of channels outside the
  replay is not counted against it;
- a policy that weighs future demand (`use_forecast`) prices stock and capacity as the live path does, from
  the picture of recent demand as it is *now* (`demand.live_pricer`), capacity at each order's time of day.
The scope is the user's: `orders.selectors.order_list(user=run.created_by)` chooses the orders.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import TRANSFER_PREFIX, MovementKind, Product, StockLevel, StockMovement
from inventory.selectors import location_list
from oms.audit import audit_record
from oms.exceptions import DomainError, NotFoundInScope, NotPermitted
from oms.queue import enqueue_on_commit
from oms.roles import Role, is_manager_or_admin, user_roles
from orders.models import Channel, DeliveryMode, LineStatus, Order, OrderLine
from orders.selectors import OrderFilters, channel_list, order_list

from ..engine import DC, STORE, Network, Plan, Policy, UnfilledPenalty
from ..models import LOCATION_KINDS, RoutingPolicy, WhatIfRun, WhatIfStatus
from .demand import live_pricer
from .live import engine_deadline, engine_order
from .plans import plan_order
from .snapshot import (
    BUILTIN_POLICY,
    DEFAULT_KINDS,
    PolicyInfo,
    ServiceInfo,
    StaticNetwork,
    destination_point,
    engine_kind,
    engine_locations,
    policy_info,
    services_for,
    start_day,
    static_network,
)

logger = logging.getLogger(__name__)

MAX_DAYS = 90
MAX_ORDERS = 20_000  # a run replays at most this many orders (the oldest of the window first)
PROGRESS_STEP = 5  # per cent between two progress writes
MAX_PACKAGES_LIMIT = 20
# Ledger movements that are not an order taking or giving back units: replayed when they happened. Those of
# stock transfers too (their reservations at the source, what they bring to the destination), by reference.
EXOGENOUS = (
    MovementKind.COUNT,
    MovementKind.ADJUST,
    MovementKind.RECEIVE,
    MovementKind.SHORT_PICK,
    MovementKind.TRANSFER_OUT,
    MovementKind.TRANSFER_IN,
)
EXOGENOUS_MOVES = Q(kind__in=EXOGENOUS) | Q(ref__startswith=TRANSFER_PREFIX)
DRAFT_FIELDS = (
    "max_packages",
    "allowed_kinds",
    "ship_from_store",
    "store_walkin_share",
    "speed_value",
    "paused_locations",
    "split_penalty",
    "backorder_per_unit",
    "backorder_price_share",
    "use_forecast",
)


class WhatIfInvalid(DomainError):
    status_code = 400
    code = "whatif_invalid"


class WhatIfForbidden(NotPermitted):
    """Only managers and admins run what-ifs."""


def can_run_whatif(user: Any) -> bool:
    """Managers and admins (and superusers) may run what-ifs."""
    return is_manager_or_admin(user)


def _sees_every_run(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False) or Role.ADMIN in user_roles(user))


# ------------------------------------------------------------------------------------------ reads
def whatif_run_list(*, user: Any) -> QuerySet[WhatIfRun]:
    """The runs a user may see, newest first: admins every run, managers their own, others none."""
    runs = WhatIfRun.objects.select_related("channel", "created_by").order_by("-created_at", "-id")
    if _sees_every_run(user):
        return runs
    if not can_run_whatif(user):
        return runs.none()
    return runs.filter(created_by=user)


def whatif_run_get(*, user: Any, pk: int) -> WhatIfRun:
    """One run the user may see; `WhatIfRun.DoesNotExist` otherwise."""
    return whatif_run_list(user=user).get(pk=pk)


def live_policy(channel: Channel | None) -> RoutingPolicy | None:
    """The policy that routes `channel` now (its own, else the default); None: the built-in rules."""
    policies = RoutingPolicy.objects.prefetch_related("paused_locations")
    if channel is not None:
        own = policies.filter(channel=channel).first()
        if own is not None:
            return own
    return policies.filter(channel__isnull=True).first()


def draft_initial(policy: RoutingPolicy | None) -> dict[str, Any]:
    """Draft values that start as a copy of `policy` (the model's defaults without one)."""
    pol = policy or RoutingPolicy()
    return {
        "max_packages": pol.max_packages,
        "allowed_kinds": sorted(pol.allowed_kinds or LOCATION_KINDS),
        "ship_from_store": pol.ship_from_store,
        "store_walkin_share": pol.store_walkin_share,
        "speed_value": pol.speed_value,
        "paused_locations": sorted(loc.code for loc in pol.paused_locations.all()) if pol.pk else [],
        "split_penalty": pol.split_penalty,
        "backorder_per_unit": pol.backorder_per_unit,
        "backorder_price_share": pol.backorder_price_share,
        "use_forecast": pol.use_forecast,
    }


# ------------------------------------------------------------------------------------------ draft policy
def _decimal(values: dict[str, Any], name: str, *, high: Decimal | None = None, places: str = "0.01") -> str:
    try:
        value = Decimal(str(values[name]))
    except (InvalidOperation, ValueError, TypeError):
        raise WhatIfInvalid(_("%(field)s: not a number.") % {"field": name}, field=name) from None
    if not value.is_finite() or value < 0 or (high is not None and value > high):
        message = (
            _("%(field)s: must be between 0 and %(high)s.") % {"field": name, "high": high}
            if high is not None
            else _("%(field)s: must be 0 or more.") % {"field": name}
        )
        raise WhatIfInvalid(message, field=name)
    return str(value.quantize(Decimal(places)))


def draft_clean(values: dict[str, Any], *, user: Any) -> dict[str, Any]:
    """The draft policy as JSON-ready values; fields left out take the policy model's defaults.

    Paused locations are codes of locations the user works with. Raises WhatIfInvalid (400)."""
    unknown = set(values) - set(DRAFT_FIELDS)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise WhatIfInvalid(
            _("Unknown draft fields: %(names)s.") % {"names": names}, field=sorted(unknown)[0]
        )
    merged = {**draft_initial(None), **values}
    max_packages = merged["max_packages"]
    if max_packages in ("", None):
        max_packages = None
    else:
        try:
            max_packages = int(max_packages)
        except (TypeError, ValueError):
            raise WhatIfInvalid(_("max_packages: not a whole number."), field="max_packages") from None
        if not 1 <= max_packages <= MAX_PACKAGES_LIMIT:
            raise WhatIfInvalid(
                _("max_packages: must be between 1 and %(high)s.") % {"high": MAX_PACKAGES_LIMIT},
                field="max_packages",
            )
    kinds = sorted(set(merged["allowed_kinds"] or []))
    if not kinds or set(kinds) - set(LOCATION_KINDS):
        raise WhatIfInvalid(
            _("Allowed location kinds must be some of %(kinds)s.") % {"kinds": ", ".join(LOCATION_KINDS)},
            field="allowed_kinds",
        )
    codes = sorted({str(c).strip() for c in merged["paused_locations"] or [] if str(c).strip()})
    if codes:
        known = set(location_list(user=user).filter(code__in=codes).values_list("code", flat=True))
        missing = [c for c in codes if c not in known]
        if missing:
            message = _("Unknown locations: %(codes)s.") % {"codes": ", ".join(missing)}
            raise WhatIfInvalid(message, field="paused_locations")
    return {
        "max_packages": max_packages,
        "allowed_kinds": kinds,
        "ship_from_store": bool(merged["ship_from_store"]),
        "store_walkin_share": _decimal(merged, "store_walkin_share", high=Decimal(1), places="0.001"),
        "speed_value": _decimal(merged, "speed_value"),
        "paused_locations": codes,
        "split_penalty": _decimal(merged, "split_penalty"),
        "backorder_per_unit": _decimal(merged, "backorder_per_unit"),
        "backorder_price_share": _decimal(merged, "backorder_price_share", places="0.001"),
        "use_forecast": bool(merged["use_forecast"]),
    }


def draft_policy_info(draft: dict[str, Any], *, name: str = "draft") -> PolicyInfo:
    """The engine's view of draft values (as `draft_clean` returns them); nothing is saved."""
    allowed = frozenset(draft["allowed_kinds"]) & DEFAULT_KINDS
    engine_allowed = frozenset(engine_kind(k) for k in allowed)
    paused = frozenset(draft["paused_locations"])
    return PolicyInfo(
        pk=None,
        name=name,
        channel_id=None,
        version=0,
        allowed_kinds=allowed,
        paused=paused,
        engine=Policy(
            max_packages=draft["max_packages"],
            allowed_kinds=None if engine_allowed == {DC, STORE} else engine_allowed,
            ship_from_store=draft["ship_from_store"],
            speed_weight=float(draft["speed_value"]),
            paused_locations=paused,
            store_walkin_share=float(draft["store_walkin_share"]),
            use_opportunity_costs=bool(draft.get("use_forecast", True)),  # runs from before it: the default
        ),
        split_penalty=float(draft["split_penalty"]),
        unfilled=UnfilledPenalty(
            per_unit=float(draft["backorder_per_unit"]), price_fraction=float(draft["backorder_price_share"])
        ),
    )


# ------------------------------------------------------------------------------------------ start
@transaction.atomic
def whatif_run_start(
    *, by: Any, channel: Channel | None, days: int, draft_values: dict[str, Any]
) -> WhatIfRun:
    """Record a what-if run (queued) and queue "routing.whatif_run" once the transaction commits.

    `channel` None replays the channels the default policy governs. Raises WhatIfForbidden (403) for users
    who are neither managers nor admins, NotFoundInScope (404) for a channel outside the user's scope and
    WhatIfInvalid (400) for bad days or draft values."""
    if not can_run_whatif(by):
        raise WhatIfForbidden(_("Only managers and admins run what-ifs."))
    if channel is not None and not channel_list(user=by).filter(pk=channel.pk).exists():
        raise NotFoundInScope(_("No such channel."), field="channel")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise WhatIfInvalid(_("days: must be between 1 and %(high)s.") % {"high": MAX_DAYS}, field="days")
    draft = draft_clean(draft_values, user=by)
    run = WhatIfRun.objects.create(created_by=by, channel=channel, days=days, draft=draft)
    audit_record(
        actor=by,
        action="routing.whatif_start",
        obj=run,
        summary=f"what-if {run.pk}: {channel.code if channel else 'default policy'}, {days} days",
        after={"channel": channel.code if channel else None, "days": days, "draft": draft},
    )
    enqueue_on_commit("routing.whatif_run", run.pk)
    return run


# ------------------------------------------------------------------------------------------ replay
@dataclass(slots=True)
class _Figures:
    orders: int = 0
    packages: int = 0
    split_orders: int = 0
    on_time: int = 0
    units_sent: int = 0
    units_from_stores: int = 0
    units_backordered: int = 0
    cost: float = 0.0  # what the plans spend: carrier, handling, picking, transfers
    split_penalty: float = 0.0
    backorder_penalty: float = 0.0
    breakdown: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def as_dict(self, info: PolicyInfo) -> dict[str, Any]:
        n = self.orders or 1
        units = self.units_sent or 1
        return {
            "policy": info.name,
            "version": info.version,
            "orders": self.orders,
            "total_cost": round(self.cost, 2),
            "cost_per_order": round(self.cost / n, 2),
            "packages_per_order": round(self.packages / n, 3),
            "split_rate": round(self.split_orders / n, 4),
            "on_time_rate": round(self.on_time / n, 4),
            "store_share": round(self.units_from_stores / units, 4) if self.units_sent else 0.0,
            "units_sent": self.units_sent,
            "backordered_units": self.units_backordered,
            "split_penalty": round(self.split_penalty, 2),
            "backorder_penalty": round(self.backorder_penalty, 2),
            "breakdown": {k: round(v, 2) for k, v in self.breakdown.items()},
        }


@dataclass(slots=True)
class _World:
    """One policy's copy of the simulated state: units available by sku and location, capacity used today."""

    info: PolicyInfo
    stock: dict[str, dict[str, int]]
    day: dt.date | None = None
    used: dict[str, int] = field(default_factory=dict)
    figures: _Figures = field(default_factory=_Figures)

    def add(self, sku: str, code: str, units: int) -> None:
        per_loc = self.stock.setdefault(sku, {})
        per_loc[code] = per_loc.get(code, 0) + units

    def network(
        self,
        static: StaticNetwork,
        services: dict[str, ServiceInfo],
        skus: dict[str, float],
        pickup_code: str | None,
    ) -> Network:
        """The engine network for one order, as `snapshot_build` makes it for the live path."""
        pol = self.info
        locations = engine_locations(static, pol, pickup_code, lambda info: self.used.get(info.code, 0))
        stock = {
            (code, sku): units
            for sku in skus
            for code, units in self.stock.get(sku, {}).items()
            if units > 0 and code in locations
        }
        return Network(
            locations=locations,
            services=tuple(s.engine for s in services.values()),
            transfer=static.transfer,
            split_penalty=pol.split_penalty,
            unfilled=pol.unfilled,
            stock=stock,
            sku_weight=skus,
        )

    def take(self, plan: Plan | None, static: StaticNetwork, units: int, deadline: int) -> None:
        """Commit a plan to this world's state and count it."""
        fig = self.figures
        fig.orders += 1
        if plan is None:  # no coordinates for the address: everything backordered, as the live path does
            fig.units_backordered += units
            return
        for pkg in plan.packages:
            store = static.locations[pkg.location].kind != "dc"
            for sku, qty in pkg.lines:
                self.stock[sku][pkg.location] -= qty
                self.used[pkg.location] = self.used.get(pkg.location, 0) + qty
                fig.units_sent += qty
                if store:
                    fig.units_from_stores += qty
        fig.packages += len(plan.packages)
        fig.split_orders += len(plan.packages) > 1
        days = plan.delivery_days
        fig.on_time += not plan.unfilled and days is not None and days <= deadline
        fig.units_backordered += plan.unfilled_units
        fig.cost += sum(p.cost for p in plan.packages) + plan.pickup_handling
        fig.split_penalty += plan.split_penalty
        fig.backorder_penalty += plan.unfilled_cost
        for key, value in plan.cost_breakdown().items():
            if key not in ("split_penalty", "unfilled_penalty"):
                fig.breakdown[key] += value


def _window_orders(run: WhatIfRun, since: dt.datetime, until: dt.datetime) -> QuerySet[Order]:
    filters = OrderFilters(
        channel=run.channel.code if run.channel else "", placed_after=since, placed_before=until
    )
    orders = order_list(user=run.created_by, filters=filters)
    if run.channel is None:
        orders = orders.filter(channel__routing_policy__isnull=True)  # the channels the default governs
    lines = (
        OrderLine.objects.exclude(status=LineStatus.CANCELLED).select_related("product").order_by("line_no")
    )
    return orders.prefetch_related(Prefetch("lines", queryset=lines)).order_by("placed_at", "pk")


def _start_stock(
    product_ids: QuerySet[Any], since: dt.datetime, static: StaticNetwork
) -> tuple[dict[str, dict[str, int]], list[tuple[dt.datetime, str, str, int]]]:
    """Units available when the window opened (by sku, by location code) and the exogenous changes of the
    window in time order (at, sku, location code, change of available units)."""
    by_pk = static.by_pk
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    for loc_pk, sku, avail in (
        StockLevel.objects.filter(product_id__in=product_ids)
        .annotate(avail=F("on_hand") - F("reserved") - F("safety_stock"))
        .values_list("location_id", "product__sku", "avail")
    ):
        if loc_pk in by_pk:
            stock[sku][by_pk[loc_pk].code] = avail
    moves = StockMovement.objects.filter(at__gte=since, stock__product_id__in=product_ids)
    for loc_pk, sku, delta in (
        moves.values("stock__location_id", "stock__product__sku")
        .annotate(delta=Sum(F("on_hand_delta") - F("reserved_delta")))
        .values_list("stock__location_id", "stock__product__sku", "delta")
    ):
        if loc_pk in by_pk and delta:
            code = by_pk[loc_pk].code
            stock[sku][code] = stock[sku].get(code, 0) - delta
    events = [
        (at, sku, by_pk[loc_pk].code, delta)
        for at, loc_pk, sku, delta in moves.filter(EXOGENOUS_MOVES)
        .annotate(delta=F("on_hand_delta") - F("reserved_delta"))
        .exclude(delta=0)
        .order_by("at", "pk")
        .values_list("at", "stock__location_id", "stock__product__sku", "delta")
        if loc_pk in by_pk
    ]
    return stock, events


def _progress(run: WhatIfRun, pct: int) -> None:
    WhatIfRun.objects.filter(pk=run.pk).update(progress=pct)


def _replay(run: WhatIfRun) -> dict[str, Any]:
    t0 = time.perf_counter()
    until = run.created_at
    since = until - dt.timedelta(days=run.days)
    static = static_network()
    live_row = live_policy(run.channel)
    live_info = policy_info(live_row) if live_row is not None else BUILTIN_POLICY
    draft_info = draft_policy_info(run.draft, name=f"draft ({run.pk})")
    orders = _window_orders(run, since, until)
    total = orders.count()
    truncated = total > MAX_ORDERS
    total = min(total, MAX_ORDERS)
    product_ids = OrderLine.objects.filter(order__in=orders.values("pk")).values("product_id")
    stock, events = _start_stock(product_ids, since, static)
    worlds = [
        _World(info=live_info, stock={sku: dict(per) for sku, per in stock.items()}),
        _World(info=draft_info, stock={sku: dict(per) for sku, per in stock.items()}),
    ]
    next_event = 0
    shown = 0
    for done, order in enumerate(orders[:MAX_ORDERS].iterator(chunk_size=500), start=1):
        while next_event < len(events) and events[next_event][0] <= order.placed_at:
            _at, sku, code, delta = events[next_event]
            for world in worlds:
                world.add(sku, code, delta)
            next_event += 1
        _route_everywhere(worlds, static, order)
        pct = done * 100 // total
        if pct - shown >= PROGRESS_STEP and pct < 100:
            shown = pct - pct % PROGRESS_STEP
            _progress(run, shown)
    return {
        "live": worlds[0].figures.as_dict(live_info),
        "draft": worlds[1].figures.as_dict(draft_info),
        "window": {"from": since.isoformat(), "to": until.isoformat()},
        "orders": total,
        "truncated": truncated,
        "stock_events": len(events),
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }


def _route_everywhere(worlds: list[_World], static: StaticNetwork, order: Order) -> None:
    """Route one order in every world (the same order, each world's own state and policy)."""
    lines = list(order.lines.all())
    if not lines:
        return
    need = [(line, line.qty) for line in lines]
    products: dict[int, Product] = {}
    units: dict[int, int] = defaultdict(int)
    for line in lines:
        products.setdefault(line.product_id, line.product)
        units[line.product_id] += line.qty
    day = timezone.localtime(order.placed_at).date()
    start = start_day(order.placed_at)
    home = order.delivery_mode == DeliveryMode.HOME
    dest = order.ship_cep if home else ""
    services, _priced = services_for(static, list(products.values()), dict(units), dest, order.placed_at)
    skus = {p.sku: p.weight_g / 1000.0 for p in products.values()}
    deadline = engine_deadline(order, start)
    point = destination_point(order) if home else None
    engine = None if home and point is None else engine_order(order, need, deadline, point)
    pickup_code = order.pickup_location.code if order.pickup_location else None
    for world in worlds:
        if world.day != day:  # a new day: every location's capacity is whole again
            world.day, world.used = day, {}
        plan = None
        if engine is not None:
            net = world.network(static, services, skus, pickup_code)
            pol = world.info.engine
            prices = live_pricer(net, list(skus), static, pol, at=order.placed_at)
            plan = plan_order(net, engine, pol, explain=False, prices=prices)
        world.take(plan, static, sum(units.values()), deadline)


def whatif_run_execute(*, run_id: int) -> WhatIfRun | None:
    """Replay a run and store both policies' figures (status done, progress 100). A finished run is left
    alone; a run found running (a worker died) starts again. Any error is stored on the run (status failed,
    its message), never raised. Locks the run row only while claiming it."""
    with transaction.atomic():
        run = (
            WhatIfRun.objects.select_for_update(of=("self",))
            .select_related("channel")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.finished:
            return run
        run.status, run.progress, run.started_at, run.error = WhatIfStatus.RUNNING, 0, timezone.now(), ""
        run.save(update_fields=["status", "progress", "started_at", "error"])
    try:
        if run.created_by_id is None:
            raise WhatIfInvalid("The user who started this run no longer exists.")
        result = _replay(run)
    except Exception as exc:
        logger.exception("what-if run %s failed", run.pk)
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        run.status, run.error, run.finished_at = WhatIfStatus.FAILED, message[:2000], timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    run.status, run.progress, run.result = WhatIfStatus.DONE, 100, result
    run.orders_count, run.finished_at = result["orders"], timezone.now()
    run.save(update_fields=["status", "progress", "result", "orders_count", "finished_at"])
    return run
