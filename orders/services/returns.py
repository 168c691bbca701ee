"""Returns and refunds: customer service authorises a return of delivered units, the location the goods come
back to receives them (resellable units go back to its stock), and customer service records the refund.

Each verb is one transaction: it locks the order row first (`lock_order`), then the return, checks the locked
return's status, writes the order timeline naming who did it, and records an audit row. Receiving announces
`return.received` to webhook subscribers (API.md). A refused verb raises a `DomainError` and changes nothing.

What may be returned is what reached the customer: units shipped or delivered by a home fulfilment, or handed
over at the pickup store (its own units and those its transfers brought), less what other returns already
cover (asked for while awaiting the goods, received once received).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Location
from inventory.selectors import location_list
from inventory.services import stock_receive
from oms.audit import audit_record
from oms.exceptions import InvalidTransition
from oms.phrases import choice_arg, money_arg, nphrase, phrase
from oms.webhooks import emit_event

from ..exceptions import ReturnInvalid
from ..models import (
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    ReturnReason,
    ReturnStatus,
)
from .fulfilment import handover_lines
from .lifecycle import _actor, lock_order, order_event

FK, FS = FulfilmentKind, FulfilmentStatus
REFUND_MAX = Decimal("9999999999.99")


def delivered_units(order: Order) -> dict[int, int]:
    """Units of each order line (by pk) that reached the customer: what its home packages shipped, and what
    its collected pickup handed over (`handover_lines`: the store's own lines and its received transfers')."""
    lines = FulfilmentLine.objects.filter(
        fulfilment__order=order, fulfilment__kind=FK.SHIP, fulfilment__status__in=(FS.SHIPPED, FS.DELIVERED)
    )
    pickup = Fulfilment.objects.filter(order=order, kind=FK.PICKUP, status=FS.COLLECTED).first()
    if pickup is not None:
        lines = lines | handover_lines(pickup)
    units: dict[int, int] = defaultdict(int)
    for line_id, picked in lines.values_list("order_line_id", "qty_picked"):
        units[line_id] += picked
    return dict(units)


def returnable_units(order: Order) -> dict[int, int]:
    """Units of each order line (by pk) that may still be returned."""
    units = delivered_units(order)
    taken = ReturnLine.objects.filter(ret__order=order).exclude(ret__status=ReturnStatus.CANCELLED)
    for line_id, qty, received, status in taken.values_list(
        "order_line_id", "qty", "qty_received", "ret__status"
    ):
        units[line_id] = units.get(line_id, 0) - (qty if status == ReturnStatus.REQUESTED else received)
    return {line_id: n for line_id, n in units.items() if n > 0}


def return_locations(user: Any) -> Any:
    """Where `user` may have goods come back: their active stores and distribution centres, by code."""
    return location_list(user=user).filter(active=True).order_by("code")


@transaction.atomic
def return_create(
    *, order: Order, lines: Mapping[int, int], reason: str, location: Location, note: str = "", by: Any
) -> Return:
    """Authorise the return of `lines` (order line pk → units) of a delivered order, to `location`."""
    order = lock_order(order)
    if reason not in ReturnReason.values:
        raise ReturnInvalid(_("Choose a reason for the return."), field="reason")
    if not location.active:
        raise ReturnInvalid(_("%(code)s does not take returns.") % {"code": location.code}, field="location")
    if len(note) > 200:
        raise ReturnInvalid(_("The note is over 200 characters."), field="note")
    asked = {line_id: qty for line_id, qty in lines.items() if qty}
    if not asked:
        raise ReturnInvalid(_("Choose at least one unit to return."), field="lines")
    order_lines = {line.pk: line for line in OrderLine.objects.filter(order=order, pk__in=asked)}
    open_units = returnable_units(order)
    for line_id, qty in asked.items():
        line = order_lines.get(line_id)
        if line is None:
            raise ReturnInvalid(_("That line is not on order %(n)s.") % {"n": order.number}, field="lines")
        most = open_units.get(line_id, 0)
        if not 1 <= qty <= most:
            raise ReturnInvalid(
                _("Line %(no)s (%(sku)s): %(most)s unit(s) can be returned, not %(qty)s.")
                % {"no": line.line_no, "sku": line.sku, "most": most, "qty": qty},
                field="lines",
            )
    number = f"{order.number}-D{Return.objects.filter(order=order).count() + 1}"
    ret = Return.objects.create(
        number=number,
        order=order,
        location=location,
        reason=reason,
        note=note,
        created_by=_actor(by),
    )
    ReturnLine.objects.bulk_create(
        [ReturnLine(ret=ret, order_line_id=line_id, qty=qty) for line_id, qty in sorted(asked.items())]
    )
    total = sum(asked.values())
    order_event(
        order=order,
        kind="return",
        text=[
            nphrase(
                "Return %(number)s authorised: %(n)s unit (%(reason)s), to come back to %(location)s.",
                "Return %(number)s authorised: %(n)s units (%(reason)s), to come back to %(location)s.",
                total,
                number=number,
                reason=choice_arg(Return, "reason", reason, lower=True),
                location=location.code,
            )
        ],
        by=by,
        data={"return": number, "units": total, "location": location.code, "reason": reason},
    )
    audit_record(actor=by, action="return.create", obj=ret, summary=number)
    return ret


def _lock(ret: Return) -> tuple[Order, Return]:
    order = lock_order(ret.order)
    locked = Return.objects.select_for_update(of=("self",)).select_related("location").get(pk=ret.pk)
    return order, locked


def _refuse_unless(ret: Return, status: str, message: str) -> None:
    if ret.status != status:
        raise InvalidTransition(message % {"n": ret.number, "status": ret.get_status_display()})


@transaction.atomic
def return_receive(*, ret: Return, received: Mapping[int, tuple[int, int]], by: Any) -> Return:
    """The goods arrived: `received` gives each return line (pk) the units that came back and, of those, the
    resellable ones, which go back to the location's stock. Lines not named came back empty."""
    order, ret = _lock(ret)
    _refuse_unless(ret, ReturnStatus.REQUESTED, _("Return %(n)s is %(status)s: nothing to receive."))
    lines = list(ret.lines.select_related("order_line__product").select_for_update(of=("self",)))
    known = {line.pk for line in lines}
    if set(received) - known:
        raise ReturnInvalid(_("That line is not on return %(n)s.") % {"n": ret.number}, field="lines")
    for line in lines:
        got, restock = received.get(line.pk, (0, 0))
        if not 0 <= got <= line.qty:
            raise ReturnInvalid(
                _("%(sku)s: between 0 and %(qty)s units can be received.")
                % {"sku": line.order_line.sku, "qty": line.qty},
                field="lines",
            )
        if not 0 <= restock <= got:
            raise ReturnInvalid(
                _("%(sku)s: units back in stock cannot be more than those received.")
                % {"sku": line.order_line.sku},
                field="lines",
            )
        line.qty_received, line.qty_restocked = got, restock
    total = sum(line.qty_received for line in lines)
    if not total:
        raise ReturnInvalid(
            _("No unit was received; cancel the return if the goods will not come back."), field="lines"
        )
    ReturnLine.objects.bulk_update(lines, ["qty_received", "qty_restocked"])
    items = [(line.order_line.product, line.qty_restocked) for line in lines if line.qty_restocked]
    if items:
        stock_receive(
            location=ret.location, items=items, reason=f"return {ret.number}", ref=ret.number, by=by
        )
    ret.status = ReturnStatus.RECEIVED
    ret.received_at = timezone.now()
    ret.received_by = _actor(by)
    ret.save(update_fields=["status", "received_at", "received_by"])
    restocked = sum(line.qty_restocked for line in lines)
    value = refund_due(lines)
    order_event(
        order=order,
        kind="return_received",
        text=[
            nphrase(
                "Return %(number)s received at %(location)s: %(n)s unit, %(restocked)s back in stock; "
                "%(value)s to refund.",
                "Return %(number)s received at %(location)s: %(n)s units, %(restocked)s back in stock; "
                "%(value)s to refund.",
                total,
                number=ret.number,
                location=ret.location.code,
                restocked=restocked,
                value=money_arg(value, order.currency),
            )
        ],
        by=by,
        data={"return": ret.number, "received": total, "restocked": restocked, "value": str(value)},
    )
    emit_event(
        "return.received",
        {
            "return": ret.number,
            "order": order.number,
            "location": ret.location.code,
            "lines": [
                {"sku": line.order_line.sku, "qty": line.qty, "received": line.qty_received,
                 "restocked": line.qty_restocked}
                for line in lines
            ],
            "refund_due": str(value),
        },
    )  # fmt: skip
    audit_record(actor=by, action="return.receive", obj=ret, summary=f"{ret.number}: {total} received")
    return ret


def refund_due(lines: Iterable[ReturnLine]) -> Decimal:
    """What the received units of a return's `lines` (with their order lines) were paid."""
    return sum((line.value for line in lines), Decimal("0.00"))


@transaction.atomic
def return_refund(*, ret: Return, amount: Decimal, reference: str = "", by: Any) -> Return:
    """Record the refund of a received return: at most what its received units were paid (less, for a
    restocking fee or a partial refund agreed with the customer)."""
    order, ret = _lock(ret)
    _refuse_unless(ret, ReturnStatus.RECEIVED, _("Return %(n)s is %(status)s: it cannot be refunded."))
    due = refund_due(ret.lines.select_related("order_line"))
    if not Decimal("0.01") <= amount <= due:
        raise ReturnInvalid(
            _("The refund must be between 0.01 and %(due)s, what the received units were paid.")
            % {"due": due},
            field="amount",
        )
    if len(reference) > 64:
        raise ReturnInvalid(_("The reference is over 64 characters."), field="reference")
    ret.status = ReturnStatus.REFUNDED
    ret.refund_amount = amount
    ret.refund_reference = reference
    ret.refunded_at = timezone.now()
    ret.refunded_by = _actor(by)
    ret.save(update_fields=["status", "refund_amount", "refund_reference", "refunded_at", "refunded_by"])
    order_event(
        order=order,
        kind="refund",
        text=[
            phrase(
                "Refund of %(amount)s recorded for return %(number)s (reference %(reference)s).",
                amount=money_arg(amount, order.currency),
                number=ret.number,
                reference=reference,
            )
            if reference
            else phrase(
                "Refund of %(amount)s recorded for return %(number)s.",
                amount=money_arg(amount, order.currency),
                number=ret.number,
            )
        ],
        by=by,
        data={"return": ret.number, "amount": str(amount), "reference": reference},
    )
    audit_record(actor=by, action="return.refund", obj=ret, summary=f"{ret.number}: {amount}")
    return ret


@transaction.atomic
def return_cancel(*, ret: Return, reason: str, by: Any) -> Return:
    """The goods will not come back: a return awaiting them is cancelled (its units may be returned again)."""
    order, ret = _lock(ret)
    _refuse_unless(ret, ReturnStatus.REQUESTED, _("Return %(n)s is %(status)s: it cannot be cancelled."))
    if not reason.strip() or len(reason) > 200:
        raise ReturnInvalid(_("Say why the return is cancelled (at most 200 characters)."), field="reason")
    ret.status = ReturnStatus.CANCELLED
    ret.save(update_fields=["status"])
    order_event(
        order=order,
        kind="return_cancelled",
        text=[phrase("Return %(number)s cancelled: %(reason)s", number=ret.number, reason=reason.strip())],
        by=by,
        data={"return": ret.number},
    )
    audit_record(actor=by, action="return.cancel", obj=ret, summary=ret.number)
    return ret


__all__ = [
    "delivered_units",
    "refund_due",
    "return_cancel",
    "return_create",
    "return_locations",
    "return_receive",
    "return_refund",
    "returnable_units",
]
