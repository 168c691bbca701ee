"""Exchanges: replacement items asked for instead of money when a return is authorised, sent as an exchange
order (a new order of the same channel, customer and delivery, created by `order_create`, so routed, reserved
and fulfilled like any other) at once or once the goods are back."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Product
from oms.audit import audit_record
from oms.exceptions import DomainError, InvalidTransition
from oms.phrases import Phrase, money_arg, nphrase, phrase

from ...exceptions import ReturnInvalid
from ...models import EntryKind, ExchangeWhen, Order, OrderLine, Return, ReturnEntry, ReturnLine
from ..lifecycle import AddressData, CustomerData, LineData, order_create, order_event
from .money import standing
from .settle import GOODS_IN


def sku_family(sku: str) -> str:
    """The SKU's product without its size: "CAM-0001-P" → "CAM-0001-" (its other sizes share it)."""
    stem, dash, _size = sku.rpartition("-")
    return f"{stem}{dash}" if stem else sku


def products_typed(skus: Iterable[str]) -> dict[str, Product]:
    """The products of SKUs as typed, by their casefolded SKU: a typed SKU matches whatever its case and
    surrounding spaces (" cam-0001-m " is CAM-0001-M). One query."""
    wanted = {sku.strip().casefold() for sku in skus} - {""}
    if not wanted:
        return {}
    found = Product.objects.filter(reduce(or_, (Q(sku__iexact=sku) for sku in wanted)))
    return {p.sku.casefold(): p for p in found}


def exchange_items(
    order: Order,
    order_lines: Mapping[int, OrderLine],
    asked: Mapping[int, int],
    exchange: Mapping[int, tuple[str, int]],
    when: str,
) -> list[dict[str, Any]]:
    """The replacement items asked for, checked (field "exchange"), as stored on the return. The same model
    in another size or colour is an even swap, at the price paid for the unit it replaces (a discount is
    kept, a price rise not charged); another product costs its price now."""
    if not exchange:
        return []
    if when not in ExchangeWhen.values:
        raise ReturnInvalid(_("Choose when the replacement items are sent."), field="exchange_when")
    products = products_typed([sku for sku, _qty in exchange.values()])
    rows = []
    for line_id, (sku, qty) in exchange.items():
        line = order_lines.get(line_id)
        if line is None:
            raise ReturnInvalid(_("That line is not on order %(n)s.") % {"n": order.number}, field="exchange")
        if line_id not in asked:
            raise ReturnInvalid(
                _("Line %(no)s is not being returned: only a returned line can be exchanged.")
                % {"no": line.line_no},
                field="exchange",
            )
        product = products.get(sku.strip().casefold())
        if product is None:
            raise ReturnInvalid(
                _("Line %(no)s: there is no product %(sku)s.") % {"no": line.line_no, "sku": sku.strip()},
                field="exchange",
            )
        if not product.active:
            raise ReturnInvalid(
                _("Line %(no)s: %(sku)s is not active and cannot be sent.")
                % {"no": line.line_no, "sku": product.sku},
                field="exchange",
            )
        if not 1 <= qty <= asked[line_id]:
            raise ReturnInvalid(
                _(
                    "Line %(no)s: between 1 and %(most)s replacement units (as many as come back), "
                    "not %(qty)s."
                )
                % {"no": line.line_no, "most": asked[line_id], "qty": qty},
                field="exchange",
            )
        price = line.unit_price if sku_family(product.sku) == sku_family(line.sku) else product.price
        rows.append(
            {"line": line.pk, "line_no": line.line_no, "sku": product.sku, "product": product.pk,
             "name": product.name, "qty": qty, "price": str(price)}
        )  # fmt: skip
    return sorted(rows, key=lambda row: row["line_no"])


def exchange_send(*, order: Order, ret: Return, items: Sequence[tuple[int, int, Decimal]], by: Any) -> Order:
    """Create `ret`'s exchange order (`items`: product pk, units, unit price as `exchange_items` set it)
    through `order_create`: the order's channel, customer and delivery, reference "<order number>-T<n>". The
    caller holds the order and the return locked. Raises a `DomainError` when it cannot be created."""
    products = Product.objects.in_bulk({pk for pk, _qty, _price in items})
    units: dict[tuple[int, Decimal], int] = defaultdict(int)
    for pk, qty, price in items:
        units[pk, price] += qty
    customer = order.customer
    taken = Order.objects.filter(channel=order.channel, external_ref__startswith=f"{order.number}-T").count()
    ref = f"{order.number}-T{taken + 1}"
    address = None
    if not order.is_pickup:
        address = AddressData(
            street=order.ship_street, number=order.ship_number, complement=order.ship_complement,
            district=order.ship_district, city=order.ship_city, state=order.ship_state, cep=order.ship_cep,
            lat=order.ship_lat, lon=order.ship_lon,
        )  # fmt: skip
    result = order_create(
        channel=order.channel,
        external_ref=ref,
        placed_at=timezone.now(),
        customer=CustomerData(
            name=order.customer_name or customer.name,
            email=customer.email,
            document=customer.document,
            phone=customer.phone,
        ),
        delivery_mode=order.delivery_mode,
        deadline_days=order.deadline_days,
        lines=[
            LineData(product=products[pk], qty=qty, unit_price=price) for (pk, price), qty in units.items()
        ],
        address=address,
        pickup_location=order.pickup_location,
        by=by,
    )
    if not result.created:
        raise ReturnInvalid(
            _(
                "Channel %(channel)s already has an order %(ref)s: the exchange order cannot take that "
                "reference."
            )
            % {"channel": order.channel.code, "ref": ref},
            field="exchange",
        )
    exchange = result.order
    if exchange.customer_id != order.customer_id:  # a customer without document or e-mail: the same one
        Order.objects.filter(pk=exchange.pk).update(customer_id=order.customer_id)
        exchange.customer_id = order.customer_id
    ret.exchange_order = exchange
    ret.save(update_fields=["exchange_order"])
    n = sum(units.values())  # "created", not "sent": it is routed and fulfilled like any order
    order_event(
        order=order,
        kind="exchange",
        text=[
            nphrase(
                "Exchange order %(exchange)s created for return %(number)s: %(n)s unit, %(value)s.",
                "Exchange order %(exchange)s created for return %(number)s: %(n)s units, %(value)s.",
                n,
                exchange=exchange.number,
                number=ret.number,
                value=money_arg(exchange.total, exchange.currency),
            )
        ],
        by=by,
        data={"return": ret.number, "exchange_order": exchange.number},
    )
    order_event(
        order=exchange,
        kind="exchange",
        text=[
            phrase(
                "Exchange order for return %(number)s of order %(order)s.",
                number=ret.number,
                order=order.number,
            )
        ],
        by=by,
        data={"return": ret.number, "order": order.number},
    )
    audit_record(actor=by, action="return.exchange", obj=ret, summary=f"{ret.number} → {exchange.number}")
    return exchange


def received_items(ret: Return, lines: Sequence[ReturnLine]) -> list[tuple[int, int, Decimal]]:
    """The replacements due for what came back: per exchanged line, as many as were asked for and received
    (product pk, units, unit price)."""
    got = {line.order_line_id: line.qty_received for line in lines}
    items = [
        (row["product"], min(row["qty"], got.get(row["line"], 0)), Decimal(row["price"]))
        for row in ret.exchange_lines
    ]
    return [(pk, qty, price) for pk, qty, price in items if qty > 0]


def exchange_resend_refusal(
    ret: Return, lines: Sequence[ReturnLine], entries: Iterable[ReturnEntry]
) -> DomainError | None:
    """Why `ret`'s exchange order may not be sent again now (`return_exchange_send`), or None when it may:
    the goods are in, the exchange asked for could not be created at receipt, no money went back for it,
    and some of the units to exchange came back."""
    if ret.status not in GOODS_IN:
        return InvalidTransition(
            _("Return %(n)s is %(status)s: its exchange cannot be sent now.")
            % {"n": ret.number, "status": ret.get_status_display()}
        )
    if not ret.exchange_lines or ret.exchange_order_id is not None:
        return InvalidTransition(_("Return %(n)s has no exchange waiting to be sent.") % {"n": ret.number})
    if any(entry.kind == EntryKind.REFUND for entry in standing(entries)):
        return ReturnInvalid(
            _("Return %(n)s was refunded: open a new order for the customer instead.") % {"n": ret.number},
            field="exchange",
        )
    if not received_items(ret, lines):
        return ReturnInvalid(_("None of the units to exchange came back."), field="exchange")
    return None


def exchange_on_receipt(order: Order, ret: Return, lines: Sequence[ReturnLine], *, by: Any) -> list[Phrase]:
    """Send the exchange asked for: a replacement for each unit that came back (at most what was asked).
    A refusal (the pickup store stopped offering pickup…) leaves the receipt standing and says so; the
    return's page can send it again (`return_exchange_send`)."""
    items = received_items(ret, lines)
    if not items:
        return [phrase("No replacement sent: none of the units to exchange came back.")]
    try:
        with transaction.atomic():
            exchange_send(order=order, ret=ret, items=items, by=by)
    except DomainError as exc:
        ret.exchange_order = None
        return [phrase("The exchange order could not be created (%(why)s).", why=exc.message)]
    return []
