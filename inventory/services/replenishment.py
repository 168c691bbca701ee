"""Replenishment and rebalancing proposals: made by a job from each location's recent demand, decided by
managers. An approved proposal with a source becomes a stock transfer (`transfers.transfer_create`); one
without (a supplier) is announced by webhook to the buyer's system.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.audit import audit_record
from oms.db import insert_many, model_row
from oms.exceptions import DomainError
from oms.webhooks import emit_events

from ..models import (
    TRANSFER_LINE_ON_WAY,
    Location,
    LocationKind,
    MovementKind,
    Product,
    ProposalStatus,
    ReplenishmentProposal,
    StockLevel,
    StockMovement,
    StockTransferLine,
    TransferOrigin,
    TransferStatus,
)
from . import _actor
from .events import EventCalendar
from .forecast import FLAT_WEEK, planning_forecast
from .transfers import transfer_create

DEMAND_DAYS = 28  # a location's demand: what it shipped or handed over in these last days, a day on average
LEAD_DAYS = 3  # days until replenished units arrive: the stock must last this long (the reorder point)
COVER_DAYS = 14  # ... and a replenishment brings it up to this many days more (the target)
# A store gives units to another (rebalancing) only beyond this many days of its own demand (and its target):
# what it would not sell for months is worth more where it sells.
KEEP_DAYS = 60
REJECTED_REST = dt.timedelta(days=1)  # a rejected proposal is not made again for this long
# what a run sets on a proposal (and updates on an open one)
PLAN_FIELDS = ["source_id", "qty", "daily_demand", "available", "incoming", "reorder_point", "target"]


@dataclass
class _Need:
    row: StockLevel
    daily: Decimal
    free: int
    reorder_point: int
    target: int
    incoming: int = 0
    rush: Decimal = Decimal(
        1
    )  # the lead time's demand with its events against without: > 1 when they lift it

    @property
    def position(self) -> int:
        """Free units and those on their way."""
        return self.free + self.incoming

    @property
    def urgency(self) -> Decimal:
        """Days its position lasts at the lead time's pace (sooner first); 0 with no demand."""
        return self.position / (self.daily * self.rush) if self.daily else Decimal(0)


def _days(extra: float) -> Decimal:
    """Normal days added (or taken away) by demand events, as a Decimal (rounded: a float sum's last bits must
    not lift a reorder point by a unit)."""
    return Decimal(str(round(extra, 9)))


def _need(
    row: StockLevel,
    daily: Decimal,
    week: list[float],
    *,
    days: list[dt.date],
    lead_days: int,
    events: EventCalendar,
) -> _Need:
    """The row's reorder point (the demand of the lead time's days, from today, each as its weekday and its
    demand events bring, and its safety stock) and target (that and the rest of `days` at the daily rate,
    times their events)."""
    lead_week = tuple(week[day.weekday()] for day in days[:lead_days])
    lead = sum(daily * Decimal(str(factor)) for factor in lead_week)
    cover = daily * (len(days) - lead_days)
    rush = Decimal(1)
    if events:
        extra = _days(events.extra_days(row.location_id, row.product_id, days[:lead_days], lead_week))
        lead += daily * extra
        cover += daily * _days(events.extra_days(row.location_id, row.product_id, days[lead_days:]))
        plain = Decimal(str(sum(lead_week)))  # the lead time's normal days (each weekday's share: > 0)
        rush += extra / plain if plain else 0
    return _Need(
        row=row,
        daily=daily.quantize(Decimal("0.01")),
        free=row.on_hand - row.reserved,
        reorder_point=math.ceil(lead) + row.safety_stock,
        target=math.ceil(lead + cover) + row.safety_stock,
        rush=rush,
    )


def _incoming(now: dt.datetime, lead_days: int) -> dict[tuple[int, int], int]:
    """Units on their way per (location, product): on transfers not received yet (reserved at their source or
    dispatched), and approved from a supplier lately (counted until twice the lead time has passed)."""
    moving = (
        StockTransferLine.objects.filter(
            transfer__status__in=[TransferStatus.OPEN, TransferStatus.DISPATCHED]
        )
        .values_list("transfer__destination", "product")
        .annotate(units=Sum(TRANSFER_LINE_ON_WAY))
        .order_by()
    )
    incoming = {(lid, pid): units for lid, pid, units in moving}
    bought = ReplenishmentProposal.objects.filter(
        status=ProposalStatus.APPROVED,
        source=None,
        decided_at__gte=now - dt.timedelta(days=2 * lead_days),
    ).values_list("location", "product", "qty")
    for lid, pid, qty in bought:
        incoming[(lid, pid)] = incoming.get((lid, pid), 0) + qty
    return incoming


def _spare(
    short: list[_Need],
    needs: dict[int, _Need],
    *,
    daily: dict[int, Decimal],
    events: EventCalendar,
    today: dt.date,
) -> dict[int, tuple[dict[int, int], dict[int, int]]]:
    """What each location can give of the products that are short somewhere, by product: (DCs, stores), each
    by location. A DC gives its free units beyond its own target; a store those beyond its target and
    KEEP_DAYS of its own demand, with its demand events (rows with no free units beyond their safety stock are
    not read)."""
    ahead = [today + dt.timedelta(days=k) for k in range(KEEP_DAYS)]
    spare: dict[int, tuple[dict[int, int], dict[int, int]]] = {}
    rows = StockLevel.objects.filter(
        product__in={n.row.product_id for n in short},
        location__active=True,
        on_hand__gt=F("reserved") + F("safety_stock"),
    ).values_list("pk", "location_id", "product_id", "on_hand", "reserved", "safety_stock", "location__kind")
    for pk, lid, pid, on_hand, reserved, safety, kind in rows:
        own = needs.get(pk)
        keep = own.target if own else safety
        if kind != LocationKind.DC:
            days = KEEP_DAYS + (_days(events.extra_days(lid, pid, ahead)) if events else 0)
            keep = max(keep, math.ceil(daily.get(pk, 0) * days) + safety)
        if on_hand - reserved - keep > 0:
            spare.setdefault(pid, ({}, {}))[kind != LocationKind.DC][lid] = on_hand - reserved - keep
    return spare


def _giver(
    spare: tuple[dict[int, int], dict[int, int]], here: int, regions: dict[int, str]
) -> tuple[int, dict[int, int]] | None:
    """The location to ask, and the spare units of its kind: the DC with the most to spare; with none, the
    store of the same region with the most, then any store."""
    dcs, stores = spare
    best = max(
        (lid for lid, left in dcs.items() if left > 0 and lid != here),
        key=lambda lid: (dcs[lid], lid),
        default=None,
    )
    if best is not None:
        return best, dcs
    region = regions.get(here) or None
    best = max(
        (lid for lid, left in stores.items() if left > 0 and lid != here),
        key=lambda lid: (regions.get(lid) == region, stores[lid], lid),
        default=None,
    )
    return (best, stores) if best is not None else None


def daily_demand(
    rows: Sequence[tuple[int, int, int]],
    *,
    forecast: Mapping[int, Decimal],
    shipped: Mapping[int, int],
    past: list[dt.date],
    events: EventCalendar,
) -> dict[int, Decimal]:
    """Units a day of each stock row (stock id, location id, product id) as planners plan with them: the
    forecast job's rate when it is fresh (`forecast`, from `planning_forecast`), else the average of what
    the row shipped or handed over on the days `past` (`shipped`: the ledger's COMMIT units of those days,
    negative as it writes them), a day of a demand event with factor f counting as f days. Rows with neither
    are left out (no demand)."""
    return {
        pk: forecast[pk]
        if pk in forecast
        else Decimal(-shipped[pk])
        / (len(past) + (_days(events.extra_days(location_id, product_id, past)) if events else 0))
        for pk, location_id, product_id in rows
        if pk in forecast or pk in shipped
    }


def replenishment_propose(
    *,
    now: dt.datetime | None = None,
    demand_days: int = DEMAND_DAYS,
    lead_days: int = LEAD_DAYS,
    cover_days: int = COVER_DAYS,
) -> dict[str, int]:
    """Propose to replenish every stock row whose free units (on hand less reserved) and units on their way
    will not last the lead time at its demand (the forecast job's, else the average of the last
    `demand_days`; both times the planned demand events of those days): bring it to `cover_days` more of
    demand, most urgent rows first, from the DC with the most to spare; when no DC can spare any, from a store
    of the same region (then any) holding far more than it sells (rebalancing); else from a supplier.

    A proposal rejected lately is not made again for a day. One open proposal per location and product: a new
    run updates it, and closes (superseded) the ones no longer needed, so running it again on the same stock
    changes nothing. A new proposal is announced as `stock.low` by webhook. Returns counts (created, updated,
    superseded). It reads the commits of the ledger's last `demand_days` (no index on the ledger's time,
    which every reservation writes: a scan every 6 hours instead of an index entry per movement).
    """
    now = now or timezone.now()
    shipped = dict(
        StockMovement.objects.filter(kind=MovementKind.COMMIT, at__gte=now - dt.timedelta(days=demand_days))
        .values("stock")
        .annotate(units=Sum("on_hand_delta"))
        .order_by()
        .values_list("stock", "units")
    )
    forecast, weeks = planning_forecast(now=now)
    today = timezone.localdate(now)
    days = [today + dt.timedelta(days=k) for k in range(lead_days + cover_days)]
    # the days `shipped` covers, but today's few hours (its factor would weigh a whole day against them)
    past = [today - dt.timedelta(days=k) for k in range(1, demand_days + 1)]
    events = EventCalendar.load(past[-1], today + dt.timedelta(days=max(lead_days + cover_days, KEEP_DAYS)))
    rows = list(StockLevel.objects.filter(pk__in=list(shipped), location__active=True, product__active=True))
    daily = daily_demand(
        [(r.pk, r.location_id, r.product_id) for r in rows],
        forecast=forecast,
        shipped=shipped,
        past=past,
        events=events,
    )
    needs = {
        r.pk: _need(
            r, daily[r.pk], weeks.get(r.location_id, FLAT_WEEK), days=days, lead_days=lead_days, events=events
        )
        for r in rows
    }
    incoming = _incoming(now, lead_days)
    resting = set(
        ReplenishmentProposal.objects.filter(
            status=ProposalStatus.REJECTED, decided_at__gte=now - REJECTED_REST
        ).values_list("location", "product")
    )
    for n in needs.values():
        n.incoming = incoming.get((n.row.location_id, n.row.product_id), 0)
    short = sorted(
        (
            n
            for n in needs.values()
            if n.position < n.reorder_point and (n.row.location_id, n.row.product_id) not in resting
        ),
        key=lambda n: (n.urgency, n.row.pk),
    )
    spare = _spare(short, needs, daily=forecast | daily, events=events, today=today)
    regions = dict(Location.objects.filter(active=True).values_list("pk", "region"))
    plans: dict[tuple[int, int], dict[str, Any]] = {}
    nothing: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for n in short:
        qty = n.target - n.position
        here = n.row.location_id
        source = None
        if giver := _giver(spare.get(n.row.product_id, nothing), here, regions):
            source, left = giver
            qty = min(qty, left[source])
            left[source] -= qty
        plans[(here, n.row.product_id)] = {
            "source_id": source, "qty": qty, "daily_demand": n.daily, "available": n.free,
            "incoming": n.incoming, "reorder_point": n.reorder_point, "target": n.target,
        }  # fmt: skip
    counts = {"created": 0, "updated": 0, "superseded": 0}
    with transaction.atomic():
        open_ = {
            (p.location_id, p.product_id): p
            for p in ReplenishmentProposal.objects.select_for_update()
            .filter(status=ProposalStatus.PROPOSED)
            .order_by("pk")  # the order every decision locks them in
        }
        changed = []
        for key, p in open_.items():
            plan = plans.pop(key, None)
            if plan is None:
                p.status = ProposalStatus.SUPERSEDED
                counts["superseded"] += 1
                changed.append(p)
            elif any(getattr(p, f) != v for f, v in plan.items()):
                for f, v in plan.items():
                    setattr(p, f, v)
                counts["updated"] += 1
                changed.append(p)
        # One statement on PostgreSQL for both, the rows as one JSON parameter each (oms.db.insert_many):
        # Django's bulk_update builds a CASE per field and row in Python (7,750 proposals: 12 s, and past
        # 65,535 parameters in one batch), its bulk_create adapts every value (7,750: 1.3 s).
        insert_many(
            [(ReplenishmentProposal, [
                {"location_id": lid, "product_id": pid, "status": ProposalStatus.PROPOSED, "note": "", **plan}
                for (lid, pid), plan in plans.items()
            ])],
            updates=[(ReplenishmentProposal, ["status", *PLAN_FIELDS], [model_row(p) for p in changed])],
        )  # fmt: skip
        counts["created"] = len(plans)
        _announce_low(plans)
    return counts


def _announce_low(plans: dict[tuple[int, int], dict[str, Any]]) -> None:
    """`stock.low` for each newly short stock row (API.md's webhook), with what the proposal says of it."""
    if not plans:
        return
    places = {lid for lid, _pid in plans} | {plan["source_id"] for plan in plans.values()}
    codes = dict(Location.objects.filter(pk__in=places - {None}).values_list("pk", "code"))
    skus = dict(Product.objects.filter(pk__in={pid for _lid, pid in plans}).values_list("pk", "sku"))
    emit_events(
        "stock.low",
        [
            {"location": codes[lid], "sku": skus[pid], "available": plan["available"],
             "incoming": plan["incoming"], "reorder_point": plan["reorder_point"],
             "daily_demand": str(plan["daily_demand"]), "proposed_qty": plan["qty"],
             "source": codes.get(plan["source_id"]) if plan["source_id"] else None}
            for (lid, pid), plan in sorted(plans.items())
        ],
    )  # fmt: skip


def replenishment_decide_many(
    *, proposals: Sequence[ReplenishmentProposal], approve: bool, by: Any, note: str = ""
) -> tuple[list[ReplenishmentProposal], list[tuple[ReplenishmentProposal, DomainError]]]:
    """Approve or reject open proposals, each with its audit row. Approved proposals from the same source to
    the same location become one stock transfer of what the source still has free (each proposal then
    approved for the units reserved), in one transaction with their decisions; every approval is announced by
    webhook (`replenishment.approved`). Refused, with the error and nothing of it changed: a proposal decided,
    superseded or given another source meanwhile, or one whose source has nothing of it free any more.
    Returns (decided, refused)."""
    groups: dict[tuple[int | None, int], list[ReplenishmentProposal]] = {}
    for p in proposals:
        groups.setdefault((p.source_id, p.location_id), []).append(p)
    decided: list[ReplenishmentProposal] = []
    refused: list[tuple[ReplenishmentProposal, DomainError]] = []
    for (source_id, _location_id), group in groups.items():
        try:
            done, stale = _decide_group(group, source_id=source_id, approve=approve, by=by, note=note)
        except DomainError as exc:
            refused += [(p, exc) for p in group]
            continue
        decided += done
        refused += stale
    return decided, refused


def _origin(source: Location) -> str:
    """What a transfer from this source is: a DC replenishes, a store gives to another (rebalances)."""
    return TransferOrigin.REPLENISHMENT if source.kind == LocationKind.DC else TransferOrigin.REBALANCING


def _decided_already(p: ReplenishmentProposal) -> str:
    """Why a proposal decided meanwhile (a double click, another manager) is refused: its status and who."""
    if p.decided_by is None:
        message = _("This proposal is %(status)s already: nothing was changed.")
        return message % {"status": p.get_status_display()}
    message = _("This proposal was %(status)s by %(user)s already: nothing was changed.")
    who = p.decided_by.get_full_name() or p.decided_by.get_username()
    return message % {"status": p.get_status_display().lower(), "user": who}


def _decide_group(
    group: list[ReplenishmentProposal], *, source_id: int | None, approve: bool, by: Any, note: str
) -> tuple[list[ReplenishmentProposal], list[tuple[ReplenishmentProposal, DomainError]]]:
    """Decide proposals for one location and one source (`source_id`, as the caller saw them) in one
    transaction; see `replenishment_decide_many`."""
    with transaction.atomic():
        locked = list(
            ReplenishmentProposal.objects.select_for_update(of=("self",))
            .select_related("location", "product", "source")
            .filter(pk__in=[p.pk for p in group])
            .order_by("pk")
        )
        stale: list[tuple[ReplenishmentProposal, DomainError]] = []
        todo = []
        for p in locked:
            if p.status != ProposalStatus.PROPOSED:
                stale.append((p, DomainError(_decided_already(p), field="status")))
            elif p.source_id != source_id:  # the job found a better source meanwhile: look again
                message = _("The proposal changed meanwhile (its source): look at it again.")
                stale.append((p, DomainError(message, field="source")))
            else:
                todo.append(p)
        if not todo:
            return [], stale
        source = todo[0].source
        transfer, reserved = None, {p.product_id: p.qty for p in todo}
        if approve and source is not None:
            transfer = transfer_create(
                source=source,
                destination=todo[0].location,
                lines=[(p.product, p.qty) for p in todo],
                by=by,
                origin=_origin(source),
                note=note,
                allow_partial=True,
            )
            reserved = dict(transfer.lines.values_list("product_id", "qty"))
            message = _("Nothing of it is free at %(code)s any more: nothing was changed.")
            stale += [
                (p, DomainError(message % {"code": source.code}, field="qty"))
                for p in todo
                if p.product_id not in reserved
            ]
            todo = [p for p in todo if p.product_id in reserved]
        now = timezone.now()
        origin = source.code if source else "a supplier"
        for p in todo:
            p.status = ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
            p.decided_at, p.decided_by, p.note, p.transfer = now, _actor(by), note[:200], transfer
            audit_record(
                actor=by,
                action=f"replenishment.{p.status}",
                obj=p,
                summary=f"{p.qty} x {p.product.sku} to {p.location.code} from {origin}"
                + (f" ({transfer.number}: {reserved[p.product_id]} reserved)" if transfer else ""),
            )
        ReplenishmentProposal.objects.bulk_update(
            todo, ["status", "decided_at", "decided_by", "note", "transfer"]
        )
        if approve:
            emit_events(
                "replenishment.approved",
                [
                    {"proposal": p.pk, "location": p.location.code, "sku": p.product.sku,
                     "qty": reserved[p.product_id], "proposed_qty": p.qty,
                     "source": source.code if source else None,
                     "transfer": transfer.number if transfer else None, "note": p.note}
                    for p in todo
                ],
            )  # fmt: skip
    return todo, stale


def replenishment_decide(
    *, proposal: ReplenishmentProposal, approve: bool, by: Any, note: str = ""
) -> ReplenishmentProposal:
    """Approve or reject one open proposal (`replenishment_decide_many`); a refusal raises its error."""
    decided, refused = replenishment_decide_many(proposals=[proposal], approve=approve, by=by, note=note)
    if refused:
        raise refused[0][1]
    return decided[0]
