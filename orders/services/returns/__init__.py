"""Returns and refunds: customer service authorises a return of delivered units (optionally an exchange:
replacement items instead of money), the location the goods come back to receives them (resellable units go
back to its stock), and customer service records the refund.

Each verb is one transaction: it locks the order row first (`lock_order`), then the return, checks the locked
return's status, writes the order timeline naming who did it, and records an audit row. Receiving announces
`return.received` to webhook subscribers (API.md). A refused verb raises a `DomainError` and changes nothing.

What may be returned is what reached the customer (`units`); what a return is worth, shipping included or not,
is `money`; the exchange order, `exchange`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Location
from inventory.services import stock_receive
from oms.audit import audit_record
from oms.brazil import format_brl
from oms.exceptions import DomainError, InvalidTransition
from oms.phrases import Phrase, choice_arg, english, money_arg, nphrase, phrase
from oms.webhooks import emit_event

from ...exceptions import IdempotencyKeyReused, ReturnInvalid
from ...models import (
    REVERSIBLE_ENTRIES,
    EntryKind,
    ExchangeWhen,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Return,
    ReturnEntry,
    ReturnLine,
    ReturnReason,
    ReturnStatus,
    ShippingDecision,
)
from ...status import CANCELLABLE
from ..lifecycle import _actor, lock_order, order_cancel, order_event
from .exchange import (
    exchange_items,
    exchange_on_receipt,
    exchange_resend_refusal,
    exchange_send,
    received_items,
)
from .money import (
    ZERO,
    customer_owes,
    received_value,
    refund_due,
    return_balance,
    return_due,
    shipping_decide,
    standing,
)
from .settle import GOODS_IN, due_of, entry_add, offset, restate_refunds, restatus, settle
from .units import delivered_units, return_locations, returnable_units

REFUND_MAX = Decimal("9999999999.99")


@transaction.atomic
def return_create(
    *,
    order: Order,
    lines: Mapping[int, int],
    reason: str,
    location: Location,
    note: str = "",
    exchange: Mapping[int, tuple[str, int]] | None = None,
    exchange_when: str = ExchangeWhen.RECEIVED,
    by: Any,
) -> Return:
    """Authorise the return of `lines` (order line pk → units) of a delivered order, to `location`.

    `exchange` asks for replacement items instead of money: returned order line pk → (SKU, units), at most as
    many units as come back of that line, of an active product. They go out as the exchange order once the
    goods are received, or at once with `exchange_when="now"` (an advance exchange). Locks the order row.
    Raises `ReturnInvalid` naming the field (nothing written)."""
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
    exchange = dict(exchange or {})
    order_lines = {
        line.pk: line for line in OrderLine.objects.filter(order=order, pk__in={*asked, *exchange})
    }
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
    replacements = exchange_items(order, order_lines, asked, exchange, exchange_when)
    number = f"{order.number}-D{Return.objects.filter(order=order).count() + 1}"
    ret = Return.objects.create(
        number=number,
        order=order,
        location=location,
        reason=reason,
        note=note,
        created_by=_actor(by),
        exchange_lines=replacements,
        exchange_when=exchange_when if replacements else "",
    )
    ReturnLine.objects.bulk_create(
        [ReturnLine(ret=ret, order_line_id=line_id, qty=qty) for line_id, qty in sorted(asked.items())]
    )
    total = sum(asked.values())
    text = [
        nphrase(
            "Return %(number)s authorised: %(n)s unit (%(reason)s), to come back to %(location)s.",
            "Return %(number)s authorised: %(n)s units (%(reason)s), to come back to %(location)s.",
            total,
            number=number,
            reason=choice_arg(Return, "reason", reason, lower=True),
            location=location.code,
        )
    ]
    swapped = sum(row["qty"] for row in replacements)
    if replacements and exchange_when == ExchangeWhen.NOW:
        text.append(
            nphrase(
                "Exchange: %(n)s replacement unit, sent now (advance exchange).",
                "Exchange: %(n)s replacement units, sent now (advance exchange).",
                swapped,
            )
        )
    elif replacements:
        text.append(
            nphrase(
                "Exchange: %(n)s replacement unit, sent once the goods are back.",
                "Exchange: %(n)s replacement units, sent once the goods are back.",
                swapped,
            )
        )
    order_event(
        order=order,
        kind="return",
        text=text,
        by=by,
        data={"return": number, "units": total, "location": location.code, "reason": reason,
              "exchange": [{"sku": row["sku"], "qty": row["qty"]} for row in replacements]},
    )  # fmt: skip
    audit_record(actor=by, action="return.create", obj=ret, summary=number)
    if replacements and exchange_when == ExchangeWhen.NOW:
        try:
            exchange_send(
                order=order,
                ret=ret,
                items=[(row["product"], row["qty"], Decimal(row["price"])) for row in replacements],
                by=by,
            )
        except DomainError as exc:  # e.g. the pickup store no longer offers pickup: nothing is written
            raise ReturnInvalid(exc.message, field="exchange") from exc
    return ret


@transaction.atomic
def return_create_once(*, idempotency_key: str, order: Order, **fields: Any) -> tuple[Return, bool]:
    """`return_create` for a request an integration may send again: the return already authorised with this
    `idempotency_key` for this order comes back (and False), else a new one (and True). The key sent with
    another order, or with other lines, reason, location, note or exchange, is refused
    (`IdempotencyKeyReused`, 422), never answered with a return it did not ask for. Locks the order row
    first, so the same request sent twice at once authorises one return."""
    order = lock_order(order)
    earlier = Return.objects.filter(idempotency_key=idempotency_key).select_related("order").first()
    if earlier is not None:
        asked = {line_id: qty for line_id, qty in fields.get("lines", {}).items() if qty}
        had = dict(earlier.lines.values_list("order_line_id", "qty"))
        location = fields.get("location")
        swaps = {
            line: (str(sku).strip().casefold(), qty or asked.get(line, 0))
            for line, (sku, qty) in (fields.get("exchange") or {}).items()
        }
        swapped = {row["line"]: (str(row["sku"]).casefold(), row["qty"]) for row in earlier.exchange_lines}
        same = (
            earlier.order_id == order.pk
            and asked == had
            and fields.get("reason") == earlier.reason
            and (location is None or location.pk == earlier.location_id)
            and fields.get("note", "") == earlier.note
            and swaps == swapped
            and (not swaps or fields.get("exchange_when", ExchangeWhen.RECEIVED) == earlier.exchange_when)
        )
        if not same:  # another return under a key already used: never answered with the earlier one
            raise IdempotencyKeyReused(
                _("This idempotency key was used for return %(number)s: send a new key with another return.")
                % {"number": earlier.number},
                field="idempotency_key",
            )
        return earlier, False
    ret = return_create(order=order, **fields)
    ret.idempotency_key = idempotency_key
    try:
        with transaction.atomic():
            ret.save(update_fields=["idempotency_key"])
    except IntegrityError:  # the same key for another order's return, committed meanwhile
        raise IdempotencyKeyReused(
            _("This idempotency key was used for another return: send a new key."), field="idempotency_key"
        ) from None
    return ret, True


def _lock(ret: Return) -> tuple[Order, Return]:
    order = lock_order(ret.order)
    locked = Return.objects.select_for_update(of=("self",)).select_related("location").get(pk=ret.pk)
    return order, locked


def _refuse_unless(ret: Return, status: str | tuple[str, ...], message: str) -> None:
    if ret.status not in ((status,) if isinstance(status, str) else status):
        raise InvalidTransition(message % {"n": ret.number, "status": ret.get_status_display()})


@transaction.atomic
def return_receive(*, ret: Return, received: Mapping[int, tuple[int, int]], by: Any) -> Return:
    """The goods arrived: `received` gives each return line (pk) the units that came back and, of those, the
    resellable ones, which go back to the location's stock. Lines not named came back empty.

    Decides whether the order's shipping is refunded with it (`shipping_decision`), and sends the exchange
    asked for once the goods are back (replacements for the units that came back). Locks the order, then the
    return and its lines."""
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
    ret.shipping_refund, ret.shipping_decision = shipping_decide(order, ret, lines)
    ret.save(update_fields=["status", "received_at", "received_by", "shipping_refund", "shipping_decision"])
    restocked = sum(line.qty_restocked for line in lines)
    sent: list[Phrase] = []
    if ret.exchange_lines and ret.exchange_when == ExchangeWhen.RECEIVED and ret.exchange_order_id is None:
        sent = exchange_on_receipt(order, ret, lines, by=by)
    balance = return_balance(ret, lines)
    args = {"number": ret.number, "location": ret.location.code, "restocked": restocked}
    text = [
        nphrase(
            "Return %(number)s received at %(location)s: %(n)s unit, %(restocked)s back in stock; "
            "%(value)s to refund.",
            "Return %(number)s received at %(location)s: %(n)s units, %(restocked)s back in stock; "
            "%(value)s to refund.",
            total,
            value=money_arg(balance, order.currency),
            **args,
        )
        if balance >= 0
        else nphrase(
            "Return %(number)s received at %(location)s: %(n)s unit, %(restocked)s back in stock; "
            "the customer owes %(value)s.",
            "Return %(number)s received at %(location)s: %(n)s units, %(restocked)s back in stock; "
            "the customer owes %(value)s.",
            total,
            value=money_arg(-balance, order.currency),
            **args,
        )
    ]
    due, offsets = settle(order, ret, by=by)
    text += offsets
    if ret.status == ReturnStatus.CLOSED:  # nothing to refund: no one's work is left on it
        text.append(phrase("Nothing to refund: the return is closed."))
    if ret.shipping_refund:
        text.append(
            phrase(
                "Shipping of %(amount)s refunded with it (%(why)s).",
                amount=money_arg(ret.shipping_refund, order.currency),
                why=phrase("the retailer's fault")
                if ret.shipping_decision == ShippingDecision.FAULT
                else phrase("right of regret"),
            )
        )
    text += sent
    order_event(
        order=order,
        kind="return_received",
        text=text,
        by=by,
        data={"return": ret.number, "received": total, "restocked": restocked, "value": str(balance),
              "shipping": str(ret.shipping_refund)},
    )  # fmt: skip
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
            "refund_due": str(max(due, ZERO)),
            "customer_owes": str(max(-due, ZERO)),
            "shipping_refund": str(ret.shipping_refund),
            "exchange_order": ret.exchange_order.number if ret.exchange_order else None,
        },
    )  # fmt: skip
    audit_record(actor=by, action="return.receive", obj=ret, summary=f"{ret.number}: {total} received")
    return ret


def _recorded(ret: Return, kind: str, amount: Decimal, reference: str, *, retry: bool) -> bool:
    """Whether a payment system's `reference` was recorded on `ret` already as an entry of `kind`: a retry
    (`retry`: an integration sending the same request again) has nothing more to record. Refused, naming the
    reference: the same reference with another `amount`, one whose entry was corrected since (a new payment
    needs a new reference), and a person recording it again (`retry` false: they are told, not answered as
    if it were recorded now)."""
    earlier = (
        ret.entries.filter(kind=kind, reference=reference).select_related("reversal").first()
        if reference
        else None
    )
    if earlier is None:
        return False
    values = {"reference": reference, "amount": format_brl(earlier.size)}
    if getattr(earlier, "reversal", None) is not None:
        raise InvalidTransition(
            _("Payment %(reference)s was corrected: record the new payment with its own reference.") % values
        )
    if earlier.amount != amount:
        raise ReturnInvalid(
            _("Payment %(reference)s was recorded with %(amount)s: send another reference.") % values,
            field="reference",
        )
    if not retry:
        raise ReturnInvalid(_("Payment %(reference)s was recorded already.") % values, field="reference")
    return True


@transaction.atomic
def return_refund(
    *,
    ret: Return,
    amount: Decimal,
    reference: str = "",
    keep_rest: bool = True,
    retry: bool = True,
    by: Any,
) -> Return:
    """Record the refund of a received return: at most what is still due (`refund_due`: the received units'
    value, the shipping refunded with them, less the exchange order, less what was refunded or settled
    before). Less than that keeps the rest (a restocking fee, a partial refund agreed with the customer), or
    with `keep_rest` false leaves it due for a later refund (paid in parts). A return refunded before is
    refunded again when something became due since (its exchange order was cancelled). A refund sent again
    with its `reference` (a payment system retrying) is recorded once: the return comes back as it is
    (`retry` false, a person typing it again: refused, see `_recorded`). Locks the order, then the return."""
    order, ret = _lock(ret)
    if _recorded(ret, EntryKind.REFUND, amount, reference, retry=retry):
        return ret
    # a cancelled return may be owed money too: a payment for its exchange order, which was cancelled since
    _refuse_unless(
        ret, (*GOODS_IN, ReturnStatus.CANCELLED), _("Return %(n)s is %(status)s: it cannot be refunded.")
    )
    due = refund_due(ret, ret.lines.select_related("order_line"), ret.entries.all())
    if not due and ret.status == ReturnStatus.REFUNDED:
        raise InvalidTransition(_("Return %(n)s is refunded: nothing more is due.") % {"n": ret.number})
    if not due:
        raise ReturnInvalid(
            _("Nothing is due for return %(n)s: it is settled, or its exchange is worth what came back.")
            % {"n": ret.number},
            field="amount",
        )
    if not Decimal("0.01") <= amount <= due:
        raise ReturnInvalid(
            _("The refund must be between %(least)s and %(due)s, what is due for this return.")
            % {"least": format_brl(Decimal("0.01")), "due": format_brl(due)},
            field="amount",
        )
    if len(reference) > 64:
        raise ReturnInvalid(_("The reference is over 64 characters."), field="reference")
    entry_add(ret, EntryKind.REFUND, amount, reference=reference, by=by)
    kept = due - amount if keep_rest else ZERO
    if kept:
        entry_add(ret, EntryKind.KEPT, kept, by=by)
    restate_refunds(ret)
    restatus(ret, due - amount - kept)  # refunded, or still awaiting the rest
    refund = money_arg(amount, order.currency)
    text = [
        phrase(
            "Refund of %(amount)s recorded for return %(number)s (reference %(reference)s).",
            amount=refund,
            number=ret.number,
            reference=reference,
        )
        if reference
        else phrase("Refund of %(amount)s recorded for return %(number)s.", amount=refund, number=ret.number)
    ]
    if kept:
        text.append(phrase("%(amount)s of what was due is kept.", amount=money_arg(kept, order.currency)))
    elif amount < due:
        rest = money_arg(due - amount, order.currency)
        text.append(phrase("%(amount)s is still to refund.", amount=rest))
    order_event(
        order=order,
        kind="refund",
        text=text,
        by=by,
        data={"return": ret.number, "amount": str(amount), "reference": reference, "kept": str(kept)},
    )
    audit_record(actor=by, action="return.refund", obj=ret, summary=f"{ret.number}: {amount}")
    return ret


@transaction.atomic
def return_collect(
    *,
    ret: Return,
    amount: Decimal,
    reference: str = "",
    waive_rest: bool = False,
    retry: bool = True,
    by: Any,
) -> Return:
    """Record what the customer paid of what they owe on `ret` (an exchange order worth more than what came
    back, or sent ahead for goods that never did): `amount`, at most what is owed, with the payment system's
    `reference`; `waive_rest` lets them off the rest. The OMS charges no card itself. Once nothing is owed,
    a received return is closed. A payment sent again with its `reference` (a payment system retrying) is
    recorded once: the return comes back as it is (`retry` false, a person typing it again: refused, see
    `_recorded`). Locks the order, then the return."""
    order, ret = _lock(ret)
    if _recorded(ret, EntryKind.CHARGE, -amount, reference, retry=retry):
        return ret
    _refuse_unless(  # a cancelled return owes what its exchange order that went out is worth
        ret,
        (*GOODS_IN, ReturnStatus.CANCELLED),
        _("Return %(n)s is %(status)s: the customer owes nothing on it yet."),
    )
    owed = customer_owes(ret, ret.lines.select_related("order_line"), ret.entries.all())
    if not owed:
        raise InvalidTransition(_("The customer owes nothing on return %(n)s.") % {"n": ret.number})
    if not (ZERO if waive_rest else Decimal("0.01")) <= amount <= owed:
        raise ReturnInvalid(
            _("The payment must be between %(least)s and %(owed)s, what the customer owes on this return.")
            % {"least": format_brl(ZERO if waive_rest else Decimal("0.01")), "owed": format_brl(owed)},
            field="amount",
        )
    if len(reference) > 64:
        raise ReturnInvalid(_("The reference is over 64 characters."), field="reference")
    text: list[Phrase] = []
    if amount:
        entry_add(ret, EntryKind.CHARGE, -amount, reference=reference, by=by)
        paid = money_arg(amount, order.currency)
        text.append(
            phrase(
                "Payment of %(amount)s from the customer recorded for return %(number)s (reference "
                "%(reference)s).",
                amount=paid,
                number=ret.number,
                reference=reference,
            )
            if reference
            else phrase(
                "Payment of %(amount)s from the customer recorded for return %(number)s.",
                amount=paid,
                number=ret.number,
            )
        )
    waived = owed - amount if waive_rest else ZERO
    if waived:
        entry_add(ret, EntryKind.WAIVED, -waived, by=by)
        text.append(
            phrase(
                "%(amount)s the customer owed on return %(number)s waived.",
                amount=money_arg(waived, order.currency),
                number=ret.number,
            )
        )
    restatus(ret, -(owed - amount - waived))
    order_event(
        order=order,
        kind="return_payment",
        text=text,
        by=by,
        data={"return": ret.number, "amount": str(amount), "waived": str(waived), "reference": reference},
    )
    audit_record(actor=by, action="return.collect", obj=ret, summary=f"{ret.number}: {amount} (+{waived})")
    return ret


@transaction.atomic
def return_entry_reverse(*, ret: Return, entry: int, reason: str, by: Any) -> Return:
    """Correct an entry of `ret` recorded by mistake (a refund that bounced, a payment charged back, a
    deduction or a waiver given back): a correction of the opposite amount says why, and neither counts any
    more; what is due, and the return's status, follow. Entries are never changed or deleted. An offset, the
    system's pairing of two returns, is not reversed. Locks the order, then the return."""
    order, ret = _lock(ret)
    target = ret.entries.filter(pk=entry).select_related("reversal").first()
    if target is None or target.kind not in REVERSIBLE_ENTRIES:
        raise ReturnInvalid(
            _("Return %(n)s has no such refund, payment, deduction or waiver.") % {"n": ret.number},
            field="entry",
        )
    if getattr(target, "reversal", None) is not None:
        raise InvalidTransition(_("That entry of return %(n)s is corrected already.") % {"n": ret.number})
    reason = reason.strip()
    if not reason or len(reason) > 200:
        raise ReturnInvalid(_("Say why the entry is corrected (at most 200 characters)."), field="reason")
    ReturnEntry.objects.create(
        ret=ret,
        kind=EntryKind.REVERSAL,
        amount=-target.amount,
        reverses=target,
        note=reason,
        created_by=_actor(by),
    )
    if target.kind == EntryKind.REFUND:
        restate_refunds(ret)
    # what is due moved: settled with the order's other returns first, as at receipt
    due, settled = settle(order, ret, by=by)
    args = {
        "amount": money_arg(target.size, order.currency),
        "number": ret.number,
        "reason": reason.rstrip("."),
    }
    text = [
        {
            EntryKind.REFUND: phrase(
                "The refund of %(amount)s on return %(number)s is corrected: %(reason)s.", **args
            ),
            EntryKind.CHARGE: phrase(
                "The customer's payment of %(amount)s on return %(number)s is corrected: %(reason)s.", **args
            ),
            EntryKind.KEPT: phrase(
                "The %(amount)s kept on return %(number)s is corrected: %(reason)s.", **args
            ),
            EntryKind.WAIVED: phrase(
                "The %(amount)s waived on return %(number)s is corrected: %(reason)s.", **args
            ),
        }[EntryKind(target.kind)]
    ]
    text += settled
    if due > 0:
        text.append(phrase("%(amount)s is still to refund.", amount=money_arg(due, order.currency)))
    elif due < 0:
        text.append(phrase("The customer owes %(amount)s.", amount=money_arg(-due, order.currency)))
    order_event(
        order=order,
        kind="return_correction",
        text=text,
        by=by,
        data={"return": ret.number, "entry": target.pk, "kind": target.kind, "amount": str(target.amount)},
    )
    audit_record(
        actor=by, action="return.correct", obj=ret, summary=f"{ret.number}: {target.kind} {target.amount}"
    )
    return ret


@transaction.atomic
def return_exchange_cancelled(*, ret: Return, by: Any) -> Return:
    """`ret`'s exchange order was cancelled: what it was worth is due to the customer again (or no longer
    owed). Settles it with the order's other returns and restates who must act. Idempotent: run again, it
    changes nothing. Locks the order, then the return."""
    order, ret = _lock(ret)
    if ret.status == ReturnStatus.REQUESTED or ret.exchange_counts:
        return ret
    # a cancelled return matters only where money moved on it (the customer paid for the exchange order that
    # had gone out): that money is due back now
    if ret.status == ReturnStatus.CANCELLED and not standing(ret.entries.all()):
        return ret
    assert ret.exchange_order is not None
    marker = {"return": ret.number, "exchange_cancelled": ret.exchange_order.number}
    # key lookups, not `contains`: SQLite (`make run`) has no JSON containment
    seen = OrderEvent.objects.filter(
        order=order, kind="return_payment", **{f"data__{k}": v for k, v in marker.items()}
    )
    if seen.exists():
        return ret  # settled when it was cancelled: run again, nothing changes
    due, text = settle(order, ret, by=by)
    if due > 0:
        text.append(
            phrase(
                "Exchange order %(exchange)s cancelled: %(amount)s is due to the customer for return "
                "%(number)s.",
                exchange=ret.exchange_order.number,
                amount=money_arg(due, order.currency),
                number=ret.number,
            )
        )
    elif due < 0:
        text.append(
            phrase(
                "Exchange order %(exchange)s cancelled: the customer owes %(amount)s on return %(number)s.",
                exchange=ret.exchange_order.number,
                amount=money_arg(-due, order.currency),
                number=ret.number,
            )
        )
    else:
        text.append(
            phrase(
                "Exchange order %(exchange)s cancelled: nothing is due on return %(number)s.",
                exchange=ret.exchange_order.number,
                number=ret.number,
            )
        )
    order_event(order=order, kind="return_payment", text=text, by=by, data=marker)
    audit_record(actor=by, action="return.exchange_cancelled", obj=ret, summary=f"{ret.number}: {due}")
    return ret


SETTLE_SWEEP_DAYS = 7  # the sweep looks at exchange orders cancelled this recently


def exchanges_cancelled_unsettled(*, days: int = SETTLE_SWEEP_DAYS) -> list[int]:
    """Returns whose goods are in (or cancelled ones on which money moved), whose exchange order was cancelled
    after they were received (or made, in the last `days`), and that carry no settling of it: the on-commit
    task that settles them (`orders.exchange_cancelled`) was lost (a worker killed before it ran, a broker
    restarted). Their pks, for the beat's sweep."""
    since = timezone.now() - timedelta(days=days)
    cancelled = OrderEvent.objects.filter(
        order=OuterRef("exchange_order"),
        data__to=OrderStatus.CANCELLED,
        at__gte=since,
        at__gt=Coalesce(OuterRef("received_at"), OuterRef("created_at")),
    )
    settled = (
        OrderEvent.objects.filter(order=OuterRef("order"), kind="return_payment")
        .annotate(ret=KT("data__return"), exchange=KT("data__exchange_cancelled"))
        .filter(ret=OuterRef("number"), exchange=OuterRef("exchange_order__number"))
    )
    return list(
        Return.objects.filter(exchange_order__status=OrderStatus.CANCELLED)
        .filter(
            Q(status__in=GOODS_IN)
            | Q(status=ReturnStatus.CANCELLED) & Exists(ReturnEntry.objects.filter(ret=OuterRef("pk")))
        )
        .filter(Exists(cancelled))
        .exclude(Exists(settled))
        .values_list("pk", flat=True)
    )


@transaction.atomic
def return_exchange_send(*, ret: Return, by: Any) -> Return:
    """Send the exchange order of a received return once more, when it could not be created at receipt (the
    pickup store had stopped offering pickup…): a replacement for each unit that came back. Refused once
    money went back to the customer for it. Locks the order, then the return."""
    order, ret = _lock(ret)
    lines = list(ret.lines.all())
    refusal = exchange_resend_refusal(ret, lines, ret.entries.all())
    if refusal is not None:
        raise refusal
    items = received_items(ret, lines)
    try:
        exchange_send(order=order, ret=ret, items=items, by=by)
    except DomainError as exc:
        raise ReturnInvalid(exc.message, field="exchange") from exc
    text = settle(order, ret, by=by)[1]
    if text:
        order_event(order=order, kind="return_payment", text=text, by=by, data={"return": ret.number})
    return ret


@transaction.atomic
def return_cancel(*, ret: Return, reason: str, by: Any) -> Return:
    """The goods will not come back: a return awaiting them is cancelled (its units may be returned again).
    Its exchange order sent in advance is cancelled too while an order can be (until it ships or is ready
    for pickup); past that the customer owes it."""
    order, ret = _lock(ret)
    _refuse_unless(ret, ReturnStatus.REQUESTED, _("Return %(n)s is %(status)s: it cannot be cancelled."))
    if not reason.strip() or len(reason) > 200:
        raise ReturnInvalid(_("Say why the return is cancelled (at most 200 characters)."), field="reason")
    ret.status = ReturnStatus.CANCELLED
    ret.save(update_fields=["status"])
    text = [
        phrase(
            "Return %(number)s cancelled: %(reason)s.", number=ret.number, reason=reason.strip().rstrip(".")
        )
    ]
    exchange = ret.exchange_order
    if exchange is not None and exchange.status in CANCELLABLE:
        order_cancel(
            order=exchange, by=by, reason=english([phrase("return %(number)s cancelled", number=ret.number)])
        )
        text.append(phrase("Its exchange order %(exchange)s is cancelled with it.", exchange=exchange.number))
    elif ret.exchange_counts:
        assert exchange is not None
        text.append(
            phrase(
                "Its exchange order %(exchange)s has already gone out: the customer owes %(value)s.",
                exchange=exchange.number,
                value=money_arg(exchange.total, order.currency),
            )
        )
        text += offset(order, ret, due_of(ret), by=by)[1]
    order_event(order=order, kind="return_cancelled", text=text, by=by, data={"return": ret.number})
    audit_record(actor=by, action="return.cancel", obj=ret, summary=ret.number)
    return ret


__all__ = [
    "GOODS_IN",
    "customer_owes",
    "delivered_units",
    "due_of",
    "exchange_resend_refusal",
    "exchanges_cancelled_unsettled",
    "received_items",
    "received_value",
    "refund_due",
    "return_balance",
    "return_cancel",
    "return_collect",
    "return_create",
    "return_create_once",
    "return_due",
    "return_entry_reverse",
    "return_exchange_cancelled",
    "return_exchange_send",
    "return_locations",
    "return_receive",
    "return_refund",
    "returnable_units",
    "standing",
]
