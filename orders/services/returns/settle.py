"""Settling a return's money: what is due is its balance less its entries (`money.return_due`). A return owed
money by the customer and one owing the customer money on the same order settle each other first (an
offset: a unit sent back later pays for the replacement that went out ahead of it); the status then says
who must act: awaiting a refund, the customer owes, refunded, or closed.

The callers hold the order row locked: every verb on a return locks its order first, so the order's returns
cannot move meanwhile."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.audit import audit_record
from oms.phrases import Phrase, money_arg, phrase

from ...models import EntryKind, Order, Return, ReturnEntry, ReturnStatus
from ..lifecycle import _actor
from .money import ZERO, return_due, standing

# the statuses of a return whose goods are in: its money may still move (refunds, payments, offsets)
GOODS_IN = (ReturnStatus.RECEIVED, ReturnStatus.OWED, ReturnStatus.CLOSED, ReturnStatus.REFUNDED)


def due_of(ret: Return) -> Decimal:
    """What is still due on `ret`, read afresh (positive: to refund; negative: the customer owes)."""
    return return_due(ret, ret.lines.select_related("order_line"), ret.entries.all())


def status_for(ret: Return, due: Decimal) -> str:
    """The status of a return whose goods are in, for what is still `due` on it: a refund to make, a payment
    to collect, or nothing left (refunded when some money went back, else closed). A return awaiting the
    goods or cancelled keeps its status."""
    if ret.status not in GOODS_IN:
        return ret.status
    if due > 0:
        return ReturnStatus.RECEIVED
    if due < 0:
        return ReturnStatus.OWED
    refunded = ret.entries.filter(kind=EntryKind.REFUND, reversal__isnull=True).exists()
    return ReturnStatus.REFUNDED if refunded else ReturnStatus.CLOSED


def restatus(ret: Return, due: Decimal) -> None:
    status = status_for(ret, due)
    if status != ret.status:
        ret.status = status
        ret.save(update_fields=["status"])


def offset(order: Order, ret: Return, due: Decimal, *, by: Any) -> tuple[Decimal, list[Phrase]]:
    """Settle what is `due` on `ret` against the order's other returns that are due the other way, oldest
    first: one pair of offset entries each. Returns what is still due on `ret` and what the timeline says."""
    text: list[Phrase] = []
    if not due:
        return due, text
    others = (
        Return.objects.filter(order=order)
        .exclude(pk=ret.pk)
        .exclude(status=ReturnStatus.REQUESTED)
        .select_related("exchange_order")
        .prefetch_related("lines__order_line", "entries")
        .order_by("created_at", "pk")
    )
    for other in others:
        other_due = return_due(other, other.lines.all(), other.entries.all())
        if not other_due or (other_due > 0) == (due > 0):
            continue
        amount = min(abs(due), abs(other_due))
        sign = 1 if due > 0 else -1
        actor = _actor(by)
        ReturnEntry.objects.bulk_create(
            [
                ReturnEntry(ret=one, kind=EntryKind.OFFSET, amount=part, other=two, created_by=actor)
                for one, two, part in ((ret, other, sign * amount), (other, ret, -sign * amount))
            ]
        )
        due -= sign * amount
        restatus(other, other_due + sign * amount)
        # the other return moved too: its own audit row, beside the caller's for `ret`
        audit_record(
            actor=by, action="return.offset", obj=other, summary=f"{other.number} ↔ {ret.number}: {amount}"
        )
        owed, owing = (ret, other) if sign > 0 else (other, ret)
        text.append(
            phrase(
                "%(amount)s due to the customer on return %(owed)s pays what they owed on return %(owing)s.",
                amount=money_arg(amount, order.currency),
                owed=owed.number,
                owing=owing.number,
            )
        )
        if not due:
            break
    return due, text


def settle(order: Order, ret: Return, *, by: Any) -> tuple[Decimal, list[Phrase]]:
    """Offset what is due on `ret` (goods in) with the order's other returns, then set its status. Returns
    what is still due on it and what the timeline says."""
    due, text = offset(order, ret, due_of(ret), by=by)
    restatus(ret, due)
    return due, text


def restate_refunds(ret: Return) -> None:
    """The refunds' summary on the return (`refund_amount`, the latest refund's reference, moment and author),
    read again from the refund entries that stand: after a refund, or a correction of one."""
    refunds = [e for e in standing(ret.entries.all()) if e.kind == EntryKind.REFUND]
    latest = refunds[-1] if refunds else None
    ret.refund_amount = sum((e.amount for e in refunds), ZERO) if refunds else None
    ret.refund_reference = latest.reference if latest else ""
    ret.refunded_at = latest.created_at if latest else None
    ret.refunded_by_id = latest.created_by_id if latest else None
    ret.save(update_fields=["refund_amount", "refund_reference", "refunded_at", "refunded_by"])


def entry_add(ret: Return, kind: str, amount: Decimal, *, reference: str = "", by: Any) -> ReturnEntry:
    return ReturnEntry.objects.create(
        ret=ret, kind=kind, amount=amount, reference=reference, created_by=_actor(by)
    )


__all__ = [
    "GOODS_IN",
    "ZERO",
    "due_of",
    "entry_add",
    "offset",
    "restate_refunds",
    "restatus",
    "settle",
    "status_for",
]
