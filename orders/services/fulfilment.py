"""Fulfilment verbs: pick, confirm, short-pick, reject, pack, ship, deliver, pickup, hand over, transfers.

Each public function is one transaction. It locks the order row first (`lock_order`), then the fulfilment
row, re-reads them, checks the *locked* fulfilment's status against `FULFILMENT_TRANSITIONS`, moves stock
through the inventory services (same reservation ref `fl:<fulfilment line pk>` routing used), writes the
order timeline naming who did it, and queues side effects (re-routing, webhooks, e-mail) on commit.
A refused move raises a `DomainError` subclass and changes nothing.

Pickup orders and transfers: a `pickup` fulfilment at the pickup store holds its own units (reserved there
under its own lines' refs); `transfer` fulfilments at other locations send units to the pickup store. When
a transfer is dispatched its units leave the sending location (`stock_commit`). When the pickup store
confirms receipt the units that arrived are added to its on-hand and reserved in one step
(`stock_receive_held`) under the *transfer line's* ref, so the transfer line keeps standing for those
units; units missing on receipt are recorded short and sent back to routing. The pickup fulfilment becomes
READY_FOR_PICKUP once every unit of the order is at the pickup store (its own lines picked, every transfer
received); the hand-over then commits both its own lines and the received transfer lines at the store.
A pickup fulfilment is created at the pickup store (without lines) when routing sent everything by transfer.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.exceptions import InsufficientStock
from inventory.services import (
    stock_commit,
    stock_receive_held,
    stock_release_group,
    stock_short_pick,
)
from oms.audit import audit_record
from oms.brazil import digits
from oms.exceptions import DomainError, InvalidTransition
from oms.phrases import Phrase, datetime_arg, english, nphrase, number_arg, phrase, pphrase
from oms.queue import enqueue_on_commit
from oms.webhooks import emit_event

from ..carriers import carrier_service_name, fulfilment_ship_services
from ..models import (
    TO_SEND_STATUSES,
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderLine,
    OrderStatus,
    Package,
)
from .lifecycle import ROUTE_TASK, lock_order, order_event, order_refresh_status
from .notifications import notify_ready_for_pickup, notify_shipped
from .notifications import tracking_link_for as tracking_link_for  # where callers found it

FS = FulfilmentStatus
FK = FulfilmentKind

# The fulfilment pipeline as data, per kind: status → statuses it may move to.
FULFILMENT_TRANSITIONS: dict[str, dict[str, frozenset[str]]] = {
    FK.SHIP: {
        FS.ASSIGNED: frozenset({FS.PICKING, FS.CANCELLED}),
        FS.PICKING: frozenset({FS.PICKED, FS.CANCELLED}),
        FS.PICKED: frozenset({FS.PACKED, FS.CANCELLED}),
        FS.PACKED: frozenset({FS.SHIPPED, FS.CANCELLED}),
        FS.SHIPPED: frozenset({FS.DELIVERED}),
    },
    FK.PICKUP: {
        FS.ASSIGNED: frozenset({FS.PICKING, FS.READY_FOR_PICKUP, FS.CANCELLED}),
        FS.PICKING: frozenset({FS.PICKED, FS.CANCELLED}),
        FS.PICKED: frozenset({FS.READY_FOR_PICKUP, FS.CANCELLED}),
        FS.READY_FOR_PICKUP: frozenset({FS.COLLECTED, FS.CANCELLED}),
    },
    FK.TRANSFER: {
        FS.ASSIGNED: frozenset({FS.PICKING, FS.CANCELLED}),
        FS.PICKING: frozenset({FS.PICKED, FS.CANCELLED}),
        FS.PICKED: frozenset({FS.PACKED, FS.DISPATCHED, FS.CANCELLED}),
        FS.PACKED: frozenset({FS.DISPATCHED, FS.CANCELLED}),
        FS.DISPATCHED: frozenset({FS.RECEIVED}),
    },
}

OPEN_STATUSES = frozenset({FS.ASSIGNED, FS.PICKING, FS.PICKED, FS.PACKED, FS.READY_FOR_PICKUP, FS.DISPATCHED})


# The heaviest parcel the ship form's carriers take, in grams: more is a typing slip, not a package.
MAX_PACKAGE_WEIGHT_G = 100_000


def ship_services_for(fulfilment: Fulfilment) -> tuple[str, ...]:
    """The codes of the carrier services `fulfilment`'s location may ship it with to its customer
    (`orders.carriers`): the ship form offers these and `fulfilment_ship` takes no other; none at a location
    that does not ship."""
    return tuple(code for code, _name in fulfilment_ship_services(fulfilment))


class ShortReason:
    NOT_FOUND = "not_found"
    DAMAGED = "damaged"
    LESS_THAN_RESERVED = "less_than_reserved"


SHORT_REASONS: dict[str, Phrase] = {
    ShortReason.NOT_FOUND: pphrase("units short", "not found"),
    ShortReason.DAMAGED: pphrase("units short", "damaged"),
    ShortReason.LESS_THAN_RESERVED: pphrase("units short", "less than reserved"),
}


class FulfilmentError(DomainError):
    code = "fulfilment_refused"


class FulfilmentNotActionable(InvalidTransition):
    code = "fulfilment_invalid_transition"


class WrongItem(DomainError):
    status_code = 400
    code = "wrong_item"


class InvalidPickQuantity(DomainError):
    status_code = 400
    code = "invalid_quantity"


class PickupCodeMismatch(DomainError):
    status_code = 400
    code = "pickup_code_mismatch"


class InvalidShipment(DomainError):
    status_code = 400
    code = "invalid_shipment"


def can_move_fulfilment(kind: str, current: str, target: str) -> bool:
    return target in FULFILMENT_TRANSITIONS.get(kind, {}).get(current, frozenset())


# --- locking and small helpers ------------------------------------------------------------------------------


def _lock(fulfilment: Fulfilment) -> tuple[Order, Fulfilment]:
    """Lock the order, then the fulfilment (the order's lock serialises every change to its fulfilments)."""
    order = lock_order(fulfilment.order)
    locked = (
        Fulfilment.objects.select_for_update(of=("self",))
        .select_related("location", "order__customer", "order__pickup_location")
        .get(pk=fulfilment.pk)
    )
    return order, locked


def _lines(fulfilment: Fulfilment) -> list[FulfilmentLine]:
    """The fulfilment's lines, locked, with their order line and product."""
    return list(
        FulfilmentLine.objects.select_for_update(of=("self",))
        .select_related("order_line__product")
        .filter(fulfilment=fulfilment)
        .order_by("pk")
    )


def _refuse_if_order_closed(order: Order, fulfilment: Fulfilment) -> None:
    if order.status == OrderStatus.CANCELLED or fulfilment.status == FS.CANCELLED:
        raise FulfilmentNotActionable(
            _("Order %(order)s is cancelled: nothing to do for this fulfilment.") % {"order": order.number},
            current=fulfilment.status,
        )
    if order.status == OrderStatus.ON_HOLD:
        raise FulfilmentNotActionable(
            _("Order %(order)s is on hold: wait until it is released.") % {"order": order.number},
            current=fulfilment.status,
        )


def _check_move(fulfilment: Fulfilment, target: str) -> None:
    if not can_move_fulfilment(fulfilment.kind, fulfilment.status, target):
        raise FulfilmentNotActionable(
            _("Fulfilment %(pk)s is %(current)s and cannot become %(target)s.")
            % {
                "pk": fulfilment.pk,
                "current": str(FS(fulfilment.status).label).lower(),
                "target": str(FS(target).label).lower(),
            },
            current=fulfilment.status,
            target=target,
        )


def _who(by: Any) -> str | Phrase:
    return by.get_username() if by is not None and hasattr(by, "get_username") else pphrase("actor", "system")


def _set_status(
    fulfilment: Fulfilment, target: str, *, stamp: str | None = None, extra: Sequence[str] = ()
) -> None:
    """Save a *locked* fulfilment's new status (the caller checked the move)."""
    fulfilment.status = target
    fields = ["status", "updated_at", *extra]
    if stamp:
        setattr(fulfilment, stamp, timezone.now())
        fields.append(stamp)
    fulfilment.save(update_fields=fields)


def _event(order: Order, fulfilment: Fulfilment, *, kind: str, text: Phrase, by: Any, **data: Any) -> None:
    order_event(
        order=order,
        kind=kind,
        by=by,
        text=[
            phrase(
                "%(location)s: %(what)s (%(who)s)", location=fulfilment.location.code, what=text, who=_who(by)
            )
        ],
        data={"fulfilment": fulfilment.pk, "location": fulfilment.location.code, **data},
    )


_STAGE: dict[str, dict[str, str]] = {
    FK.SHIP: {FS.ASSIGNED: "allocated", FS.SHIPPED: "shipped", FS.DELIVERED: "delivered"},
    FK.PICKUP: {FS.ASSIGNED: "allocated", FS.READY_FOR_PICKUP: "ready", FS.COLLECTED: "collected"},
    FK.TRANSFER: {FS.ASSIGNED: "allocated"},
}
_LINE_FOR_STAGES: list[tuple[frozenset[str], str]] = [
    (frozenset({"delivered"}), LineStatus.DELIVERED),
    (frozenset({"shipped", "delivered"}), LineStatus.SHIPPED),
    (frozenset({"collected"}), LineStatus.COLLECTED),
    (frozenset({"ready"}), LineStatus.READY_FOR_PICKUP),
    (frozenset({"allocated"}), LineStatus.ALLOCATED),
]


def _sync_order_lines(order: Order, *, by: Any, text: Sequence[Phrase] = ()) -> None:
    """Set each open order line's status from the units its fulfilment lines stand for, then the order's.

    A line with units not covered by an active fulfilment line goes back to PENDING (routing owns them;
    a backordered line stays backordered); a covered line follows the stage of its units. Received transfer
    units follow the pickup fulfilment once it is ready or collected.
    """
    rows = list(
        FulfilmentLine.objects.filter(order_line__order=order, qty__gt=F("qty_short"))
        .exclude(fulfilment__status=FS.CANCELLED)
        .values_list("fulfilment__status", "fulfilment__kind", "order_line_id", "qty", "qty_short")
    )
    pickup_stage = next(
        (
            _STAGE[FK.PICKUP][status]
            for status, kind, *_rest in rows
            if kind == FK.PICKUP and status in {FS.READY_FOR_PICKUP, FS.COLLECTED}
        ),
        None,
    )
    if pickup_stage is None and order.is_pickup:
        pickup_stage = (
            Fulfilment.objects.filter(
                order=order, kind=FK.PICKUP, status__in=[FS.READY_FOR_PICKUP, FS.COLLECTED]
            )
            .values_list("status", flat=True)
            .first()
        )
        pickup_stage = _STAGE[FK.PICKUP][pickup_stage] if pickup_stage else None
    covered: dict[int, int] = defaultdict(int)
    stages: dict[int, set[str]] = defaultdict(set)
    for status, kind, line_id, qty, qty_short in rows:
        covered[line_id] += qty - qty_short
        stage = _STAGE[kind].get(status, "in_fulfilment")
        if kind == FK.TRANSFER and status == FS.RECEIVED and pickup_stage:
            stage = pickup_stage
        stages[line_id].add(stage)
    for line in OrderLine.objects.filter(order=order).exclude(status=LineStatus.CANCELLED).order_by("pk"):
        if covered[line.pk] < line.qty:
            target = line.status if line.status == LineStatus.BACKORDERED else LineStatus.PENDING
        else:
            target = next(
                (status for allowed, status in _LINE_FOR_STAGES if stages[line.pk] <= allowed),
                LineStatus.IN_FULFILMENT,
            )
        if target != line.status:
            line.status = target
            line.save(update_fields=["status"])
    order_refresh_status(order=order, by=by, text=text)


def _reroute(
    order: Order, fulfilment: Fulfilment, *, missing: dict[str, int], reason: Phrase, by: Any
) -> None:
    """Record that units go back to routing and queue it once this transaction commits."""
    text = [
        phrase(
            "%(units)s sent back to routing from %(location)s: %(reason)s.",
            units=_units(missing),
            location=fulfilment.location.code,
            reason=reason,
        )
    ]
    order_event(
        order=order,
        kind="reroute",
        by=by,
        text=text,
        data={"fulfilment": fulfilment.pk, "missing": missing, "reason": english([reason])},
    )
    enqueue_on_commit(ROUTE_TASK, order.pk)


def _units(missing: dict[str, int]) -> str:
    return ", ".join(f"{qty} × {sku}" for sku, qty in missing.items())


def _find_line(lines: Iterable[FulfilmentLine], line_id: int) -> FulfilmentLine:
    for line in lines:
        if line.pk == line_id:
            return line
    raise WrongItem(_("That line is not part of this fulfilment."), field="line")


def _after_pick_progress(
    order: Order, fulfilment: Fulfilment, lines: list[FulfilmentLine], *, by: Any
) -> None:
    """Close picking when every active unit is picked (or cancel the fulfilment when none is left), then
    bring the order lines and the order up to date, once."""
    if not any(line.qty_left > 0 for line in lines):
        if sum(line.qty_active for line in lines) == 0:
            _set_status(fulfilment, FS.CANCELLED)
            closed = phrase("nothing left to pick; fulfilment closed")
            _event(order, fulfilment, kind="fulfilment", text=closed, by=by)
        else:
            _set_status(fulfilment, FS.PICKED, stamp="picked_at")
            _event(order, fulfilment, kind="fulfilment", text=phrase("picking complete"), by=by)
            if fulfilment.kind == FK.PICKUP and _maybe_ready_for_pickup(order, by=by) is not None:
                return  # making it ready brought the order up to date
    _sync_order_lines(order, by=by)


# --- picking ------------------------------------------------------------------------------------------------


def _start(order: Order, fulfilment: Fulfilment, *, by: Any) -> None:
    _check_move(fulfilment, FS.PICKING)
    _set_status(fulfilment, FS.PICKING)
    _event(order, fulfilment, kind="fulfilment", text=phrase("picking started"), by=by)


@transaction.atomic
def fulfilment_start_picking(*, fulfilment: Fulfilment, by: Any) -> Fulfilment:
    """ASSIGNED → PICKING. Locks order then fulfilment. Refuses a fulfilment with no unit to pick (a pickup
    whose units all come by transfer has none of its own), changing nothing."""
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    _check_move(fulfilment, FS.PICKING)
    if not FulfilmentLine.objects.filter(fulfilment=fulfilment, qty__gt=F("qty_short")).exists():
        raise FulfilmentNotActionable(
            _("Fulfilment %(pk)s has no items to pick.") % {"pk": fulfilment.pk}, current=fulfilment.status
        )
    _start(order, fulfilment, by=by)
    _sync_order_lines(order, by=by)
    return fulfilment


@dataclass(frozen=True)
class PickResult:
    fulfilment: Fulfilment
    line: FulfilmentLine
    qty: int


@transaction.atomic
def fulfilment_confirm_pick(*, fulfilment: Fulfilment, code: str, qty: int, by: Any) -> PickResult:
    """Confirm `qty` units of the item scanned (EAN or SKU) as picked; starts picking if needed.

    Refuses (nothing changed) an item not on the fulfilment, a quantity below 1 or above what is still
    to pick, and a line already fully confirmed. Moves to PICKED when every active unit is picked.
    """
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    code = (code or "").strip()
    if not code:
        raise WrongItem(_("Scan or type the item's EAN or SKU."), field="code")
    if qty < 1:
        raise InvalidPickQuantity(_("The quantity must be at least 1."), field="qty")
    if fulfilment.status == FS.ASSIGNED:
        _start(order, fulfilment, by=by)
    elif fulfilment.status != FS.PICKING:
        raise FulfilmentNotActionable(
            _("Fulfilment %(pk)s is %(status)s: nothing to pick.")
            % {"pk": fulfilment.pk, "status": str(FS(fulfilment.status).label).lower()},
            current=fulfilment.status,
        )
    lines = _lines(fulfilment)
    matching = [
        line
        for line in lines
        if code.upper() in {line.order_line.product.sku.upper(), (line.order_line.product.ean or "").upper()}
    ]
    if not matching:
        raise WrongItem(_("%(code)s is not on this fulfilment.") % {"code": code}, field="code")
    open_lines = [line for line in matching if line.qty_left > 0]
    if not open_lines:
        raise InvalidPickQuantity(
            _("%(sku)s is already fully picked.") % {"sku": matching[0].order_line.sku}, field="code"
        )
    line = open_lines[0]
    if qty > line.qty_left:
        raise InvalidPickQuantity(
            _("Only %(left)s × %(sku)s left to pick, not %(qty)s.")
            % {"left": line.qty_left, "sku": line.order_line.sku, "qty": qty},
            field="qty",
        )
    line.qty_picked += qty
    line.save(update_fields=["qty_picked"])
    _event(
        order,
        fulfilment,
        kind="pick",
        text=phrase("picked %(qty)s × %(sku)s", qty=qty, sku=line.order_line.sku),
        by=by,
        line=line.pk,
        qty=qty,
    )
    _after_pick_progress(order, fulfilment, lines, by=by)
    return PickResult(fulfilment=fulfilment, line=line, qty=qty)


def _short(
    order: Order, fulfilment: Fulfilment, line: FulfilmentLine, *, missing: int, reason: str, by: Any
) -> None:
    stock_short_pick(
        ref=line.reservation_ref,
        location=fulfilment.location,
        product=line.order_line.product,
        missing=missing,
        reason=f"short pick for order {order.number}: {reason}",
        by=by,
    )
    line.qty_short += missing
    line.save(update_fields=["qty_short"])


def _check_reason(reason: str) -> Phrase:
    if reason not in SHORT_REASONS:
        raise InvalidPickQuantity(_("Choose why the units are missing."), field="reason")
    return SHORT_REASONS[reason]


@transaction.atomic
def fulfilment_short_pick(
    *, fulfilment: Fulfilment, line_id: int, missing: int, reason: str, by: Any
) -> Fulfilment:
    """Report `missing` units of one line as not there (not found, damaged, less than reserved).

    The units leave the location's on-hand and reserved (`stock_short_pick`), the line's `qty_short` grows,
    its order line goes back to PENDING, and routing is queued on commit to find them elsewhere or backorder
    them. Refuses a quantity above what is still to pick.
    """
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    label = _check_reason(reason)
    if fulfilment.status == FS.ASSIGNED:
        _start(order, fulfilment, by=by)
    elif fulfilment.status != FS.PICKING:
        raise FulfilmentNotActionable(
            _("A short pick is only possible while picking."), current=fulfilment.status
        )
    lines = _lines(fulfilment)
    line = _find_line(lines, line_id)
    if missing < 1 or missing > line.qty_left:
        raise InvalidPickQuantity(
            _("Between 1 and %(left)s units of %(sku)s can be reported short.")
            % {"left": line.qty_left, "sku": line.order_line.sku},
            field="missing",
        )
    _short(order, fulfilment, line, missing=missing, reason=english([label]), by=by)
    _event(
        order,
        fulfilment,
        kind="short_pick",
        text=phrase(
            "short pick: %(qty)s × %(sku)s, %(reason)s", qty=missing, sku=line.order_line.sku, reason=label
        ),
        by=by,
        line=line.pk,
        missing=missing,
        reason=reason,
    )
    why = phrase("short pick, %(reason)s", reason=label)
    _reroute(order, fulfilment, missing={line.order_line.sku: missing}, reason=why, by=by)
    _after_pick_progress(order, fulfilment, lines, by=by)
    return fulfilment


@transaction.atomic
def fulfilment_reject(*, fulfilment: Fulfilment, reason: str, by: Any) -> Fulfilment:
    """The location cannot fulfil any of it: every active unit is reported short and goes back to routing.

    Units already picked are reported short too (the whole fulfilment is given up), so the location's stock
    is corrected and routing does not send the units back here. Only before picking is complete.
    """
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    label = _check_reason(reason)
    if fulfilment.status not in {FS.ASSIGNED, FS.PICKING}:
        raise FulfilmentNotActionable(
            _("Only a fulfilment not yet picked can be rejected."), current=fulfilment.status
        )
    missing: dict[str, int] = {}
    for line in _lines(fulfilment):
        units = line.qty_active
        if units <= 0:
            continue
        line.qty_picked = 0
        line.save(update_fields=["qty_picked"])
        _short(order, fulfilment, line, missing=units, reason=f"rejected, {english([label])}", by=by)
        missing[line.order_line.sku] = missing.get(line.order_line.sku, 0) + units
    _set_status(fulfilment, FS.CANCELLED)
    rejected = phrase("fulfilment rejected: %(reason)s", reason=label)
    _event(order, fulfilment, kind="reject", text=rejected, by=by, reason=reason)
    if missing:
        _reroute(
            order,
            fulfilment,
            missing=missing,
            reason=phrase("fulfilment rejected, %(reason)s", reason=label),
            by=by,
        )
    _sync_order_lines(order, by=by)
    audit_record(actor=by, action="fulfilment.reject", obj=fulfilment, summary=english([label]))
    return fulfilment


# --- pack, ship, deliver ------------------------------------------------------------------------------------


@transaction.atomic
def fulfilment_pack(*, fulfilment: Fulfilment, weights_g: Sequence[int], by: Any) -> list[Package]:
    """PICKED → PACKED with one package per weight (grams, each at least 1)."""
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    _check_move(fulfilment, FS.PACKED)
    weights = [int(w) for w in weights_g]
    if not weights or any(w < 1 for w in weights):
        raise InvalidShipment(_("Give the weight of each package in grams (at least 1 g)."), field="weight")
    if any(w > MAX_PACKAGE_WEIGHT_G for w in weights):
        raise InvalidShipment(
            _("A package weighs at most %(max)s g: check the weight.") % {"max": MAX_PACKAGE_WEIGHT_G},
            field="weight",
        )
    packages = Package.objects.bulk_create([Package(fulfilment=fulfilment, weight_g=w) for w in weights])
    _set_status(fulfilment, FS.PACKED, stamp="packed_at")
    _event(
        order,
        fulfilment,
        kind="pack",
        text=nphrase(
            "packed in %(n)s package, %(grams)s g",
            "packed in %(n)s packages, %(grams)s g",
            len(weights),
            grams=number_arg(sum(weights)),
        ),
        by=by,
        weights_g=weights,
    )
    return packages


def generate_tracking_code(fulfilment: Fulfilment) -> str:
    """A tracking code for carriers that let the shipper number parcels: OMS + 8 digits + 4 random + BR."""
    return f"OMS{fulfilment.pk:08d}{secrets.token_hex(2).upper()}BR"


def _commit_lines(
    order: Order, fulfilment: Fulfilment, lines: Iterable[FulfilmentLine], *, by: Any, why: str
):
    for line in lines:
        if line.qty_picked <= 0:
            continue
        try:
            stock_commit(
                ref=line.reservation_ref,
                location=fulfilment.location,
                product=line.order_line.product,
                qty=line.qty_picked,
                reason=f"order {order.number} {why}",
                by=by,
            )
        except InsufficientStock as exc:
            raise FulfilmentError(
                _("The reservation for %(sku)s at %(loc)s is gone; ask customer service.")
                % {"sku": line.order_line.sku, "loc": fulfilment.location.code}
            ) from exc


@transaction.atomic
def fulfilment_ship(
    *, fulfilment: Fulfilment, carrier_service: str, tracking_code: str = "", generate: bool = False, by: Any
) -> Fulfilment:
    """PACKED → SHIPPED: commits the reservations (on_hand and reserved go down), stamps the tracking code
    on the fulfilment and its packages, moves fully shipped order lines to SHIPPED, emits fulfilment.shipped.
    """
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    _check_move(fulfilment, FS.SHIPPED)
    carrier_service = (carrier_service or "").strip()
    tracking_code = (tracking_code or "").strip().upper()
    if not carrier_service:
        raise InvalidShipment(_("Choose the carrier service."), field="carrier_service")
    if carrier_service not in ship_services_for(fulfilment):
        raise InvalidShipment(
            _("Choose the carrier service from the list: %(location)s does not ship with %(service)s.")
            % {"location": fulfilment.location.code, "service": carrier_service[:40]},
            field="carrier_service",
        )
    if generate and not tracking_code:
        tracking_code = generate_tracking_code(fulfilment)
    if not tracking_code:
        raise InvalidShipment(_("Type the tracking code or generate one."), field="tracking_code")
    if len(tracking_code) > 64:
        raise InvalidShipment(_("The tracking code is too long."), field="tracking_code")
    _commit_lines(order, fulfilment, _lines(fulfilment), by=by, why="shipped")
    packages = list(Package.objects.filter(fulfilment=fulfilment).order_by("pk"))
    for n, package in enumerate(packages, start=1):
        package.tracking_code = tracking_code if n == 1 else f"{tracking_code}-{n}"
    Package.objects.bulk_update(packages, ["tracking_code"])
    fulfilment.carrier_service, fulfilment.tracking_code = carrier_service, tracking_code
    _set_status(fulfilment, FS.SHIPPED, stamp="shipped_at", extra=["carrier_service", "tracking_code"])
    _event(
        order,
        fulfilment,
        kind="ship",
        text=phrase(
            "shipped with %(service)s, tracking %(tracking)s",
            service=carrier_service_name(carrier_service),
            tracking=tracking_code,
        ),
        by=by,
        carrier_service=carrier_service,
        tracking_code=tracking_code,
    )
    _sync_order_lines(order, by=by)
    emit_event(
        "fulfilment.shipped",
        {
            "order": order.number,
            "fulfilment": fulfilment.pk,
            "location": fulfilment.location.code,
            "carrier_service": carrier_service,
            "tracking_code": tracking_code,
            "packages": [{"weight_g": p.weight_g, "tracking_code": p.tracking_code} for p in packages],
        },
    )
    notify_shipped(order=order, fulfilment=fulfilment)
    return fulfilment


@transaction.atomic
def fulfilment_mark_delivered(*, fulfilment: Fulfilment, by: Any) -> Fulfilment:
    """SHIPPED → DELIVERED (carrier confirmation); order lines follow when all their units are delivered."""
    order, fulfilment = _lock(fulfilment)
    _check_move(fulfilment, FS.DELIVERED)
    _set_status(fulfilment, FS.DELIVERED, stamp="delivered_at")
    _event(order, fulfilment, kind="delivered", text=phrase("delivered to the customer"), by=by)
    _sync_order_lines(order, by=by)
    emit_event("fulfilment.delivered", {"order": order.number, "fulfilment": fulfilment.pk})
    return fulfilment


# --- pickup -------------------------------------------------------------------------------------------------


def _new_pickup_code() -> str:
    # No 0/O/1/I: read aloud at a counter.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(6))


def _maybe_ready_for_pickup(order: Order, *, by: Any) -> Fulfilment | None:
    """If every unit of the (locked) pickup order is at the pickup store, make its pickup fulfilment ready.

    Own units count once picked, transferred units once received. Creates the pickup fulfilment (without
    lines) when routing sent everything by transfer. E-mails the customer the pickup code on commit.
    """
    if not order.is_pickup or order.pickup_location_id is None:
        return None
    fulfilments = list(
        Fulfilment.objects.select_for_update(of=("self",))
        .filter(order=order)
        .exclude(status=FS.CANCELLED)
        .order_by("pk")
    )
    if any(f.status == FS.READY_FOR_PICKUP or f.status == FS.COLLECTED for f in fulfilments):
        return None
    present: dict[int, int] = defaultdict(int)
    for line in FulfilmentLine.objects.filter(fulfilment__in=[f.pk for f in fulfilments]).select_related(
        "fulfilment"
    ):
        f = line.fulfilment
        here = (f.kind == FK.PICKUP and f.status == FS.PICKED) or (
            f.kind == FK.TRANSFER and f.status == FS.RECEIVED
        )
        if here:
            present[line.order_line_id] += line.qty_picked
    open_lines = list(OrderLine.objects.filter(order=order).exclude(status=LineStatus.CANCELLED))
    if not open_lines or any(present[line.pk] < line.qty for line in open_lines):
        return None
    pickup = next((f for f in fulfilments if f.kind == FK.PICKUP), None)
    if pickup is None and order.pickup_location is not None:
        pickup = Fulfilment.objects.create(
            order=order, location=order.pickup_location, kind=FK.PICKUP, status=FS.PICKED
        )
    if pickup is None:
        return None
    pickup = Fulfilment.objects.select_related("location").get(pk=pickup.pk)
    if pickup.status == FS.ASSIGNED:
        # Nothing of its own to pick (every unit came by transfer).
        pickup.status = FS.PICKED
    pickup.pickup_code = _new_pickup_code()
    _check_move(pickup, FS.READY_FOR_PICKUP)
    _set_status(pickup, FS.READY_FOR_PICKUP, stamp="ready_at", extra=["pickup_code"])
    _event(order, pickup, kind="ready_for_pickup", text=phrase("ready for pickup; customer notified"), by=by)
    _sync_order_lines(order, by=by, text=[phrase("Ready for pickup.")])
    notify_ready_for_pickup(order=order, pickup=pickup)
    emit_event("fulfilment.ready_for_pickup", {"order": order.number, "fulfilment": pickup.pk})
    return pickup


def handover_lines(pickup: Fulfilment) -> QuerySet[FulfilmentLine]:
    """Lines whose units sit reserved at the pickup store for `pickup`'s order: its own and the received
    transfers'. What the customer collects and `fulfilment_hand_over` commits; a plain read (no lock)."""
    return FulfilmentLine.objects.filter(
        Q(fulfilment=pickup)
        | Q(
            fulfilment__order_id=pickup.order_id, fulfilment__kind=FK.TRANSFER, fulfilment__status=FS.RECEIVED
        )
    )


def _handover_lines(order: Order, pickup: Fulfilment) -> list[FulfilmentLine]:
    """`handover_lines` of the (locked) order's pickup fulfilment, locked."""
    return list(
        handover_lines(pickup)
        .select_for_update(of=("self",))
        .select_related("order_line__product")
        .order_by("pk")
    )


@transaction.atomic
def fulfilment_hand_over(*, fulfilment: Fulfilment, code: str, by: Any) -> Fulfilment:
    """READY_FOR_PICKUP → COLLECTED when `code` is the pickup code or the customer's CPF.

    Commits every unit held at the pickup store for the order, records who handed it over. A wrong code is
    refused and changes nothing.
    """
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    _check_move(fulfilment, FS.COLLECTED)
    typed = (code or "").strip().upper().replace(" ", "")
    document = order.customer.document
    by_code = bool(typed) and secrets.compare_digest(typed, fulfilment.pickup_code.upper())
    by_cpf = bool(document) and len(digits(typed)) == len(document) and digits(typed) == document
    if not (by_code or by_cpf):
        raise PickupCodeMismatch(_("That is neither the pickup code nor the customer's CPF."), field="code")
    pickup_lines = _handover_lines(order, fulfilment)
    for line in pickup_lines:
        if line.qty_picked <= 0:
            continue
        stock_commit(
            ref=line.reservation_ref,
            location=fulfilment.location,
            product=line.order_line.product,
            qty=line.qty_picked,
            reason=f"order {order.number} handed over",
            by=by,
        )
    fulfilment.collected_by = by if getattr(by, "is_authenticated", False) else None
    _set_status(fulfilment, FS.COLLECTED, stamp="collected_at", extra=["collected_by"])
    _event(
        order,
        fulfilment,
        kind="collected",
        text=phrase("handed over to the customer (checked by the pickup code)")
        if by_code
        else phrase("handed over to the customer (checked by CPF)"),
        by=by,
        checked_by="code" if by_code else "cpf",
    )
    _sync_order_lines(order, by=by, text=[phrase("Collected by the customer.")])
    emit_event("fulfilment.collected", {"order": order.number, "fulfilment": fulfilment.pk})
    audit_record(actor=by, action="fulfilment.hand_over", obj=fulfilment, summary=order.number or "")
    return fulfilment


@transaction.atomic
def fulfilment_expire_pickup(*, fulfilment: Fulfilment, by: Any = None) -> bool:
    """A ready pickup nobody collected within its hold: its units go back to stock, its lines are cancelled.

    Idempotent: returns False (and changes nothing) when the fulfilment is no longer ready or not yet due.
    """
    order, fulfilment = _lock(fulfilment)
    if fulfilment.status != FS.READY_FOR_PICKUP or fulfilment.ready_at is None:
        return False
    if fulfilment.ready_at + dt.timedelta(days=fulfilment.pickup_hold_days) > timezone.now():
        return False
    released = stock_release_group(
        group=order.number or "", reason=f"order {order.number}: pickup not collected", by=by
    )
    _set_status(fulfilment, FS.CANCELLED)
    Fulfilment.objects.filter(order=order, status__in=list(OPEN_STATUSES)).update(
        status=FS.CANCELLED, updated_at=timezone.now()
    )
    OrderLine.objects.filter(order=order).exclude(status=LineStatus.CANCELLED).update(
        status=LineStatus.CANCELLED
    )
    _event(
        order,
        fulfilment,
        kind="pickup_expired",
        text=phrase(
            "not collected within %(days)s; %(units)s back to stock",
            days=nphrase("%(n)s day", "%(n)s days", fulfilment.pickup_hold_days),
            units=nphrase("%(n)s unit", "%(n)s units", released),
        ),
        by=by,
        released_units=released,
    )
    order_refresh_status(order=order, by=by, text=[phrase("Cancelled: pickup not collected.")])
    emit_event("fulfilment.pickup_expired", {"order": order.number, "fulfilment": fulfilment.pk})
    return True


def pickups_due_for_expiry() -> list[int]:
    """Ids of ready pickups whose hold has run out (the task re-checks each under its lock)."""
    now = timezone.now()
    candidates = Fulfilment.objects.filter(status=FS.READY_FOR_PICKUP, ready_at__isnull=False).values_list(
        "pk", "ready_at", "pickup_hold_days"
    )
    return [pk for pk, ready_at, days in candidates if ready_at and ready_at + dt.timedelta(days=days) <= now]


# --- SLA alerts ---------------------------------------------------------------------------------------------


# Only what became late this long ago at most is announced: after a deploy (every old row unannounced) or a
# stopped beat, a flood of stale alerts would bury the fresh ones (the KPIs count every late one).
LATE_LOOKBACK = dt.timedelta(days=1)


def fulfilments_late(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of fulfilments past their ship-by time (by at most LATE_LOOKBACK), still to be sent, not announced
    yet (oldest first)."""
    now = now or timezone.now()
    return list(
        Fulfilment.objects.filter(
            status__in=TO_SEND_STATUSES,
            ship_by__lt=now,
            ship_by__gte=now - LATE_LOOKBACK,
            late_alerted_at__isnull=True,
        )
        .order_by("ship_by", "pk")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def fulfilment_flag_late(*, fulfilment: Fulfilment, now: dt.datetime | None = None) -> bool:
    """Announce once that a fulfilment missed its ship-by time: a timeline entry on its order (customer
    service sees it) and the `fulfilment.late` webhook (for the carrier desk, a chat channel, the customer).
    Idempotent: False, with nothing written, if it was announced already, has left, or is not late."""
    now = now or timezone.now()
    order, fulfilment = _lock(fulfilment)
    if (
        fulfilment.late_alerted_at is not None
        or fulfilment.status not in TO_SEND_STATUSES
        or fulfilment.ship_by is None
        or fulfilment.ship_by >= now
    ):
        return False
    fulfilment.late_alerted_at = now
    fulfilment.save(update_fields=["late_alerted_at", "updated_at"])
    due = datetime_arg(fulfilment.ship_by)
    _event(
        order, fulfilment, kind="late", text=phrase("not sent by its ship-by time %(due)s", due=due), by=None
    )
    emit_event(
        "fulfilment.late",
        {"order": order.number, "fulfilment": fulfilment.pk, "location": fulfilment.location.code,
         "status": fulfilment.status, "ship_by": fulfilment.ship_by},
    )  # fmt: skip
    return True


# --- transfers ----------------------------------------------------------------------------------------------


@transaction.atomic
def fulfilment_dispatch(*, fulfilment: Fulfilment, by: Any) -> Fulfilment:
    """A picked (or packed) transfer leaves the sending location: its reserved units are committed there."""
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    if fulfilment.kind != FK.TRANSFER:
        raise FulfilmentNotActionable(_("Only a transfer is dispatched."), current=fulfilment.status)
    _check_move(fulfilment, FS.DISPATCHED)
    target = order.pickup_location.code if order.pickup_location else "?"
    _commit_lines(order, fulfilment, _lines(fulfilment), by=by, why=f"transferred to {target}")
    _set_status(fulfilment, FS.DISPATCHED, stamp="dispatched_at")
    dispatched = phrase("transfer dispatched to %(store)s", store=target)
    _event(order, fulfilment, kind="transfer_dispatched", text=dispatched, by=by)
    _sync_order_lines(order, by=by)
    return fulfilment


@transaction.atomic
def fulfilment_receive(
    *, fulfilment: Fulfilment, received: dict[int, int] | None = None, by: Any
) -> Fulfilment:
    """The pickup store confirms a dispatched transfer arrived.

    `received` maps fulfilment line id → units that arrived (default: all that were dispatched). Arrived
    units are added to the store's on-hand (kind "receive") and reserved there under the transfer line's
    ref; missing units are recorded short and sent back to routing. Then the pickup may become ready.
    """
    order, fulfilment = _lock(fulfilment)
    _refuse_if_order_closed(order, fulfilment)
    if fulfilment.kind != FK.TRANSFER:
        raise FulfilmentNotActionable(_("Only a transfer is received."), current=fulfilment.status)
    _check_move(fulfilment, FS.RECEIVED)
    store = order.pickup_location
    if store is None:
        raise FulfilmentError(_("This order has no pickup store."))
    lines = _lines(fulfilment)
    counts = received or {}
    unknown = set(counts) - {line.pk for line in lines}
    if unknown:
        raise WrongItem(_("That line is not part of this transfer."), field="received")
    missing: dict[str, int] = {}
    for line in lines:
        sent = line.qty_picked
        got = counts.get(line.pk, sent)
        if got < 0 or got > sent:
            raise InvalidPickQuantity(
                _("Between 0 and %(sent)s units of %(sku)s can be received.")
                % {"sent": sent, "sku": line.order_line.sku},
                field="received",
            )
        if got:
            stock_receive_held(
                location=store,
                product=line.order_line.product,
                qty=got,
                ref=line.reservation_ref,
                group=order.number or "",
                reason=f"transfer for order {order.number} from {fulfilment.location.code}, held for pickup",
                by=by,
            )
        if got < sent:
            # Lost in transit: the units are no longer anywhere; routing must find others.
            line.qty_picked = got
            line.qty_short += sent - got
            line.save(update_fields=["qty_picked", "qty_short"])
            missing[line.order_line.sku] = missing.get(line.order_line.sku, 0) + sent - got
    _set_status(fulfilment, FS.RECEIVED, stamp="received_at")
    said = (
        phrase("transfer received at %(store)s; short: %(units)s", store=store.code, units=_units(missing))
        if missing
        else phrase("transfer received at %(store)s", store=store.code)
    )
    _event(
        order,
        fulfilment,
        kind="transfer_received",
        text=said,
        by=by,
        missing=missing,
    )
    if missing:
        _reroute(order, fulfilment, missing=missing, reason=phrase("short transfer receipt"), by=by)
    if _maybe_ready_for_pickup(order, by=by) is None:  # which brings the order up to date when it does
        _sync_order_lines(order, by=by)
    return fulfilment
