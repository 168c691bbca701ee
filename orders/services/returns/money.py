"""What a return is worth: the received units' value, the order's shipping when it is refunded with them
(once per order: every unit back, and the retailer's fault or the right of regret), less its exchange
order; and what is still due of it once its entries (refunds, payments, offsets) are counted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from django.utils import timezone

from ...models import (
    ChannelKind,
    EntryKind,
    Fulfilment,
    FulfilmentKind,
    FulfilmentStatus,
    Order,
    Return,
    ReturnEntry,
    ReturnLine,
    ReturnReason,
    ReturnStatus,
    ShippingDecision,
)
from .units import delivered_units

FK, FS = FulfilmentKind, FulfilmentStatus
ZERO = Decimal("0.00")
# Reasons that are the retailer's fault: with every unit back, the customer gets the shipping back too.
FAULT_REASONS = frozenset({ReturnReason.DEFECTIVE, ReturnReason.WRONG_ITEM, ReturnReason.NOT_AS_DESCRIBED})
REGRET_DAYS = 7  # the right of regret of an order bought online (CDC art. 49), from its delivery


def shipping_decide(order: Order, ret: Return, lines: Sequence[ReturnLine]) -> tuple[Decimal, str]:
    """Whether the order's shipping price is refunded with `ret` (received now, its `lines` counted), and why:
    once per order, when with it every unit that reached the customer is back, and either the reason is the
    retailer's fault or an order bought online comes back within 7 days of its delivery (CDC art. 49; counted
    to the day the return was authorised, when the customer asked). The caller holds the order locked."""
    if order.shipping_price <= 0:
        return ZERO, ShippingDecision.FREE
    if Return.objects.filter(order=order, shipping_refund__gt=0).exclude(pk=ret.pk).exists():
        return ZERO, ShippingDecision.ALREADY
    back: dict[int, int] = defaultdict(int)
    earlier = (
        ReturnLine.objects.filter(ret__order=order)
        .exclude(ret__status__in=(ReturnStatus.REQUESTED, ReturnStatus.CANCELLED))
        .exclude(ret=ret)
    )
    for line_id, got in [*earlier.values_list("order_line_id", "qty_received"),
                         *((line.order_line_id, line.qty_received) for line in lines)]:  # fmt: skip
        back[line_id] += got
    if any(back.get(line_id, 0) < units for line_id, units in delivered_units(order).items()):
        return ZERO, ShippingDecision.PARTIAL
    if ret.reason in FAULT_REASONS:
        return order.shipping_price, ShippingDecision.FAULT
    if order.channel.kind == ChannelKind.STORE:
        return ZERO, ShippingDecision.IN_STORE
    if within_regret(order, ret):
        return order.shipping_price, ShippingDecision.REGRET
    return ZERO, ShippingDecision.LATE


def within_regret(order: Order, ret: Return) -> bool:
    """Whether `ret` was asked for within 7 days of the order reaching the customer (its last delivery or
    handover; a parcel not yet recorded as delivered has not started the 7 days)."""
    reached = Fulfilment.objects.filter(
        order=order, kind__in=(FK.SHIP, FK.PICKUP), status__in=(FS.SHIPPED, FS.DELIVERED, FS.COLLECTED)
    ).values_list("status", "delivered_at", "collected_at")
    moments = []
    for status, delivered_at, collected_at in reached:
        at = collected_at if status == FS.COLLECTED else delivered_at
        if at is None:
            return True
        moments.append(at)
    if not moments:
        return True
    delivered_on = timezone.localtime(max(moments)).date()
    return (timezone.localtime(ret.created_at).date() - delivered_on).days <= REGRET_DAYS


def received_value(lines: Iterable[ReturnLine]) -> Decimal:
    """What the received units of a return's `lines` (with their order lines) were paid."""
    return sum((line.value for line in lines), ZERO)


def return_balance(ret: Return, lines: Iterable[ReturnLine]) -> Decimal:
    """What the customer is owed for `ret` (its `lines` with their order lines; negative: what they owe):
    the received units' value, plus the shipping refunded with it, less its exchange order's value (unless
    that order was cancelled). Nothing while the goods are awaited."""
    if ret.status == ReturnStatus.REQUESTED:
        return ZERO
    balance = received_value(lines) + ret.shipping_refund
    if ret.exchange_counts:
        assert ret.exchange_order is not None
        balance -= ret.exchange_order.total
    return balance


def standing(entries: Iterable[ReturnEntry]) -> list[ReturnEntry]:
    """Of a return's `entries` (all of them), those that count: not corrections, nor corrected by one."""
    entries = list(entries)
    corrected = {e.reverses_id for e in entries if e.kind == EntryKind.REVERSAL}
    return [e for e in entries if e.kind != EntryKind.REVERSAL and e.pk not in corrected]


def return_due(ret: Return, lines: Iterable[ReturnLine], entries: Iterable[ReturnEntry]) -> Decimal:
    """What is still due on `ret`: its balance less what its standing `entries` (all of them given) settled.
    Positive: to refund to the customer; negative: what the customer still owes. A waiver only lets the
    customer off a debt, and a debt comes from the exchange order: once that is cancelled every waiver lapses
    (it never becomes money to refund, nor covers what a later correction makes owed)."""
    waived = ZERO
    due = return_balance(ret, lines)
    for entry in standing(entries):
        if entry.kind == EntryKind.WAIVED:
            waived -= entry.amount
        else:
            due -= entry.amount
    if due >= 0 or not ret.exchange_counts:
        return due
    return min(ZERO, due + waived)


def refund_due(ret: Return, lines: Iterable[ReturnLine], entries: Iterable[ReturnEntry]) -> Decimal:
    """What may still be refunded for `ret`: what is due when the customer is owed money, else nothing."""
    return max(return_due(ret, lines, entries), ZERO)


def customer_owes(ret: Return, lines: Iterable[ReturnLine], entries: Iterable[ReturnEntry]) -> Decimal:
    """What the customer still owes on `ret` (an exchange order worth more than what came back, or sent
    ahead for goods that never did), else nothing."""
    return max(-return_due(ret, lines, entries), ZERO)
