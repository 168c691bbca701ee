"""Every change to an order: create, cancel, hold, release, change address, note, status moves.

Each public function is one transaction, locks the order row first (then lines, then stock through the
inventory services), and writes the order timeline. Side effects (routing, webhooks) are queued on commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import CharField, Model, Value
from django.db.models.functions import Cast, LPad
from django.utils import timezone
from django.utils.translation import gettext as _

from inventory.models import Location, Product
from inventory.services import stock_release_group
from oms.audit import audit_record
from oms.calendar import add_business_days
from oms.cep import cep_to_point
from oms.db import assign_ids, build, fetch_in, fetch_in_drawing, save_new
from oms.phrases import Phrase, english, nphrase, phrase, pphrase
from oms.queue import enqueue_on_commit, request_on_commit, tasks_inline
from oms.webhooks import emit_event, emit_events, subscriptions_for

from ..exceptions import (
    DomainError,
    IdempotencyKeyReused,
    InvalidTransition,
    OrderNotCancellable,
    OrderNotChangeable,
    PickupNotOffered,
)
from ..models import (
    Channel,
    Customer,
    DeliveryMode,
    Fulfilment,
    FulfilmentStatus,
    LineStatus,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Return,
)
from ..selectors import channels_by_code
from ..status import ADDRESS_CHANGEABLE, CANCELLABLE, HOLDABLE, can_move, derive_order_status
from ..timeline import now_in

ROUTE_TASK = "routing.route_order"
# New orders ask for a drain of the orders awaiting routing (oms.queue.request_on_commit): one waiting run
# serves any number of commits. Its name is routing.services.live.DRAIN_TASK.
ROUTE_DRAIN_TASK = "routing.drain"
ROUTE_PENDING_TASK = "routing.route_pending"  # drains up to its argument's orders awaiting routing
ROUTE_BATCH = 50  # orders per drain queued for a batch
# a cancelled exchange order's value is due on its return again: settled by this task once the cancel commits
# (the return's verbs lock its order first, and the cancel holds the exchange order's lock)
EXCHANGE_CANCELLED_TASK = "orders.exchange_cancelled"


@dataclass(frozen=True)
class CustomerData:
    name: str
    email: str = ""
    document: str = ""
    phone: str = ""


@dataclass(frozen=True)
class AddressData:
    street: str
    number: str
    district: str
    city: str
    state: str
    cep: str
    complement: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class LineData:
    product: Product
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderCreateResult:
    order: Order
    created: bool


def _actor(by: Any) -> Any:
    return by if getattr(by, "is_authenticated", False) else None


def new_event(
    *,
    order: Order,
    kind: str,
    text: Sequence[Phrase] = (),
    message: str = "",
    by: Any = None,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """A timeline entry, not yet saved. `text` says what happened as phrases (`oms.phrases`): each reader
    reads it in their own language, and its English rendering is the stored message; `message` is free text
    someone wrote (a note), stored and shown as written."""
    data = dict(data or {})
    if text:
        data["text"] = list(text)
        message = english(text)
    return OrderEvent(order=order, kind=kind, message=message[:500], actor=_actor(by), data=data)


def order_event(
    *,
    order: Order,
    kind: str,
    text: Sequence[Phrase] = (),
    message: str = "",
    by: Any = None,
    data: dict[str, Any] | None = None,
) -> OrderEvent:
    """Append one entry to the order's timeline (`text` and `message` as for `new_event`)."""
    event = new_event(order=order, kind=kind, text=text, message=message, by=by, data=data)
    event.save(force_insert=True)
    return event


def lock_order(order: Order) -> Order:
    """Lock the order row and return it re-read: every order change starts here."""
    return Order.objects.select_for_update(of=("self",)).select_related("channel").get(pk=order.pk)


# The fields a status move changes (for a caller that writes the order row itself: `write=False` below).
STATUS_FIELDS = ("status", "status_before_hold", "updated_at")


def _apply(
    order: Order,
    target: str,
    *,
    write: bool = True,
    webhooks: list[tuple[str, dict[str, Any]]] | None = None,
    by: Any = None,
) -> str | None:
    """Move a *locked* order to `target` if the transition table allows it; returns the previous status
    (None when it was already there). With `write=False` only the instance changes (the caller writes its
    STATUS_FIELDS); with `webhooks` the "order.status_changed" event is added there for the caller to emit
    (`oms.webhooks.emit_all`) instead of being emitted now. A return's exchange order cancelled (by `by`, or
    by an uncollected pickup's expiry) has its return settled once this commits."""
    if order.status == target:
        return None
    if not can_move(order.status, target):
        raise InvalidTransition(
            _("Order %(number)s cannot go from %(current)s to %(target)s.")
            % {
                "number": order.number,
                "current": order.get_status_display(),
                "target": OrderStatus(target).label,
            },
            current=order.status,
            target=target,
        )
    previous = order.status
    order.status, order.updated_at = target, timezone.now()
    if write:
        # One plain UPDATE: the ORM's save() compiled one on every status move, most of this function's time.
        quote = connection.ops.quote_name
        assignments = ", ".join(f"{quote(name)} = %s" for name in STATUS_FIELDS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(Order._meta.db_table)} SET {assignments} WHERE id = %s",  # noqa: S608
                [*(getattr(order, name) for name in STATUS_FIELDS), order.pk],
            )
    if target == OrderStatus.CANCELLED:
        ret = Return.objects.filter(exchange_order=order).values_list("pk", flat=True).first()
        if ret is not None:
            enqueue_on_commit(EXCHANGE_CANCELLED_TASK, ret, getattr(by, "pk", None))
    event = ("order.status_changed", {"order": order.number, "from": previous, "to": target})
    if webhooks is not None:
        webhooks.append(event)
    else:
        emit_event(*event)
    return previous


def _move(
    order: Order,
    target: str,
    *,
    by: Any,
    text: Sequence[Phrase],
    data: dict[str, Any] | None = None,
    kind: str = "status",
) -> Order:
    """Move a *locked* order to `target` if the transition table allows it, and record it."""
    previous = _apply(order, target, by=by)
    if previous is not None:
        order_event(
            order=order,
            kind=kind,
            text=text,
            by=by,
            data={"from": previous, "to": target, **(data or {})},
        )
    return order


def order_status_from_lines(
    *,
    order: Order,
    line_statuses: Iterable[str],
    by: Any = None,
    events: Sequence[OrderEvent] = (),
    text: Sequence[Phrase] = (),
) -> Order:
    """Set the status of an order the caller holds *locked* from line statuses it already knows (no re-lock,
    no re-read), writing `events` and the status change in one insert. Holds and cancellations are kept."""
    OrderEvent.objects.bulk_create(
        order_status_events(order=order, line_statuses=line_statuses, by=by, events=events, text=text)
    )
    return order


def order_status_events(
    *,
    order: Order,
    line_statuses: Iterable[str],
    by: Any = None,
    events: Sequence[OrderEvent] = (),
    text: Sequence[Phrase] = (),
    write: bool = True,
    webhooks: list[tuple[str, dict[str, Any]]] | None = None,
) -> list[OrderEvent]:
    """`order_status_from_lines`, leaving the timeline to the caller: the order's status is set, and `events`
    with the status change are returned unwritten (for a caller that writes them with its own rows).
    `write` and `webhooks` as for `_apply` (a caller writing many orders' rows in one statement)."""
    pending = list(events)
    if order.status not in {OrderStatus.ON_HOLD, OrderStatus.CANCELLED}:
        target = derive_order_status(line_statuses)
        previous = _apply(order, target, write=write, webhooks=webhooks, by=by)
        if previous is not None:
            pending.append(new_event(order=order, kind="status", by=by, text=text or now_in(target),
                                     data={"from": previous, "to": target}))  # fmt: skip
    return pending


@dataclass
class _Customers:
    """The customer of each input, and which of them are new or have changed contact data (not yet saved)."""

    each: list[Customer]
    new: list[Customer]
    changed: list[Customer]
    # Keys drawn for the new rows in the same round trip (PostgreSQL; see _customers_for)
    drawn: dict[type[Model], list[int]]


def _customers_for(inputs: Sequence[OrderInput]) -> _Customers:
    """One customer per input: the one with this document (or, without one, this e-mail), updated with the
    newest contact, or a new one. Reads in at most two queries for the whole batch; writes nothing.

    The first query also draws the keys the write will need (`oms.db.fetch_in_drawing`): one per order and
    one per customer that may be new (those not needed are skipped numbers of the sequence)."""

    def key(data: CustomerData) -> tuple[str, str]:
        return ("document", data.document) if data.document else ("email", data.email.strip().lower())

    wanted = {key(i.customer): i.customer for i in inputs}
    documents = [value for kind, value in wanted if kind == "document"]
    emails = [value for kind, value in wanted if kind == "email" and value]
    counts: dict[type[Model], int] = {Customer: len(wanted), Order: len(inputs)}
    found: dict[tuple[str, str], Customer] = {}
    # The oldest wins. Plain lookups by key, without the ORM's compiler (oms.db).
    by_document, drawn = fetch_in_drawing(Customer, "document", documents, counts)
    for customer in sorted(by_document, key=lambda c: -c.pk):
        found[("document", customer.document)] = customer
    for customer in fetch_in(Customer, "email", emails, where="document = ''", order_by="id DESC"):
        found[("email", customer.email)] = customer
    new: list[Customer] = []
    changed: dict[int, Customer] = {}
    for customer_key, data in wanted.items():
        fields = {"name": data.name, "email": data.email.strip().lower(), "phone": data.phone}
        existing = found.get(customer_key)
        if existing is None:
            found[customer_key] = build(Customer, document=data.document, **fields)
            new.append(found[customer_key])
            continue
        for name, value in fields.items():
            if value and getattr(existing, name) != value:
                setattr(existing, name, value)
                changed[existing.pk] = existing
    return _Customers([found[key(i.customer)] for i in inputs], new, list(changed.values()), drawn)


def _existing(channel: Channel, external_ref: str, idempotency_key: str | None) -> Order | None:
    order = Order.objects.filter(channel=channel, external_ref=external_ref).first()
    if order is None and idempotency_key:
        order = Order.objects.filter(idempotency_key=idempotency_key).first()
        if order is not None:
            refuse_key_reuse(order, channel.pk, external_ref)
    return order


def refuse_key_reuse(order: Order, channel_id: int, external_ref: str) -> None:
    """`order`, found by the idempotency key of a request for (channel, external_ref), must be that order: a
    key sent again with another order is refused (422), never answered with the first one."""
    if order.channel_id != channel_id or order.external_ref != external_ref:
        raise IdempotencyKeyReused(
            _(
                "This idempotency key was used for order %(number)s (reference %(ref)s): send a new key with "
                "a different order."
            )
            % {"number": order.number, "ref": order.external_ref},
            field="idempotency_key",
            order=order.number,
        )


@dataclass(frozen=True)
class OrderInput:
    """Everything an order is created from (already validated for shape by the API or the caller)."""

    channel: Channel
    external_ref: str
    placed_at: dt.datetime
    customer: CustomerData
    delivery_mode: str
    deadline_days: int
    lines: Sequence[LineData]
    address: AddressData | None = None
    pickup_location: Location | None = None
    shipping_price: Decimal = Decimal("0.00")
    idempotency_key: str | None = None


def _check(data: OrderInput) -> None:
    if data.delivery_mode == DeliveryMode.PICKUP:
        location = data.pickup_location
        if location is None or not location.offers_pickup or not location.active:
            raise PickupNotOffered(
                _("%(location)s does not offer pickup.") % {"location": location.code}
                if location
                else _("That location does not offer pickup."),
                field="pickup_location",
            )
    elif data.address is None:
        raise OrderNotChangeable(_("A home delivery needs an address."), field="address")


def order_create(
    *,
    channel: Channel,
    external_ref: str,
    placed_at: dt.datetime,
    customer: CustomerData,
    delivery_mode: str,
    deadline_days: int,
    lines: Sequence[LineData],
    address: AddressData | None = None,
    pickup_location: Location | None = None,
    shipping_price: Decimal = Decimal("0.00"),
    idempotency_key: str | None = None,
    by: Any = None,
) -> OrderCreateResult:
    """Take an order in. Idempotent on (channel, external_ref) and on `idempotency_key`: sending the same
    order again, even concurrently, returns the first one and writes nothing. The order is queued for
    routing once the transaction commits."""
    data = OrderInput(
        channel=channel, external_ref=external_ref, placed_at=placed_at, customer=customer,
        delivery_mode=delivery_mode, deadline_days=deadline_days, lines=lines, address=address,
        pickup_location=pickup_location, shipping_price=shipping_price, idempotency_key=idempotency_key,
    )  # fmt: skip
    return _create_one(data, by=by)


def _create_one(data: OrderInput, *, by: Any) -> OrderCreateResult:
    try:
        _check(data)
    except DomainError:
        existing = _existing(data.channel, data.external_ref, data.idempotency_key)
        if existing is None:
            raise
        return OrderCreateResult(existing, False)  # taken when it was valid: the same answer as then
    # Optimistic: the unique keys on (channel, external_ref) and on the idempotency key refuse a second
    # insert, which is then answered with the first order (callers such as the API look it up beforehand).
    try:
        return OrderCreateResult(_write_orders([data], by=by)[0], True)
    except IntegrityError:
        # Already taken (maybe by a concurrent request a moment ago): answer with that order.
        existing = _existing(data.channel, data.external_ref, data.idempotency_key)
        if existing is None:
            raise
        return OrderCreateResult(existing, False)


def order_create_many(
    *, inputs: Sequence[OrderInput], by: Any = None
) -> list[OrderCreateResult | DomainError]:
    """Take many orders in with a few set-based statements (marketplace imports), each on its own.

    Answers, per input, its result or the domain error that refused it. Orders already taken (same channel
    and reference, or key — also twice within the batch) answer `created=False`. If a concurrent request
    takes one of them meanwhile, the batch falls back to `order_create` one by one.
    """
    results: list[OrderCreateResult | DomainError | None] = [None] * len(inputs)
    twins: dict[int, int] = {}  # index → index of the same order earlier in the batch
    # Plain lookups by key (oms.db.fetch_in): compiling `external_ref__in` over 500 references took the ORM
    # 10 ms. The orders found get their channel instances (their answers name the channel) from the inputs
    # or, for an order of another channel found by its idempotency key, from the cached channels.
    by_ref = fetch_in(Order, "external_ref", {i.external_ref for i in inputs})
    by_key = fetch_in(Order, "idempotency_key", {i.idempotency_key for i in inputs if i.idempotency_key})
    channels = {c.pk: c for c in channels_by_code().values()} | {i.channel.pk: i.channel for i in inputs}
    for order in (*by_ref, *by_key):
        if order.channel_id in channels:
            order.channel = channels[order.channel_id]
    taken = {(order.channel_id, order.external_ref): order for order in by_ref}
    taken_keys = {order.idempotency_key or "": order for order in by_key}  # (found by it: never empty)
    fresh: list[tuple[int, OrderInput]] = []
    seen: dict[tuple[int, str], int] = {}
    seen_keys: dict[str, int] = {}
    for index, data in enumerate(inputs):
        known = taken.get((data.channel.pk, data.external_ref))
        if known is None and (by_key_only := taken_keys.get(data.idempotency_key or "")) is not None:
            try:
                refuse_key_reuse(by_key_only, data.channel.pk, data.external_ref)
            except IdempotencyKeyReused as exc:
                results[index] = exc
                continue
            known = by_key_only
        if known is not None:
            results[index] = OrderCreateResult(known, False)
            continue
        try:
            _check(data)
        except DomainError as exc:
            results[index] = exc
            continue
        twin = seen.get((data.channel.pk, data.external_ref))
        if twin is None and data.idempotency_key:
            twin = seen_keys.get(data.idempotency_key)
        if twin is not None:
            twins[index] = twin
            continue
        seen[(data.channel.pk, data.external_ref)] = index
        if data.idempotency_key:
            seen_keys[data.idempotency_key] = index
        fresh.append((index, data))
    try:
        orders = _write_orders([data for _, data in fresh], by=by)
        for (index, _data), order in zip(fresh, orders, strict=True):
            results[index] = OrderCreateResult(order, True)
    except IntegrityError:
        for index, data in fresh:
            results[index] = _create_one(data, by=by)
    for index, twin in twins.items():
        first = results[twin]
        results[index] = (
            OrderCreateResult(first.order, False) if isinstance(first, OrderCreateResult) else first
        )
    return [result for result in results if result is not None]


def _write_orders(inputs: Sequence[OrderInput], *, by: Any) -> list[Order]:
    """Insert orders with their customers, lines and timeline, set-based and all or nothing; then ask for
    their routing and emit `order.created`, once committed.

    On PostgreSQL the ids are drawn first and everything is written by one statement (`oms.db.save_new`):
    outside a transaction that statement is the transaction, so a new order costs two round trips (the ids,
    the rows) instead of a BEGIN, six statements and a COMMIT. A transaction (a savepoint inside the
    caller's) is opened only when there is more to write: customers' changed contact data, webhook
    deliveries, or another database. An IntegrityError (the order is already taken) leaves nothing written.
    """
    if not inputs:
        return []
    customers = _customers_for(inputs)
    orders = []
    for data, customer in zip(inputs, customers.each, strict=True):
        subtotal = sum((line.unit_price * line.qty for line in data.lines), Decimal("0.00"))
        order = build(
            Order,
            channel=data.channel,
            external_ref=data.external_ref,
            idempotency_key=data.idempotency_key or None,
            customer=customer,
            customer_name=data.customer.name or customer.name,
            placed_at=data.placed_at,
            delivery_mode=data.delivery_mode,
            deadline_days=data.deadline_days,
            promised_date=add_business_days(timezone.localtime(data.placed_at).date(), data.deadline_days),
            pickup_location=data.pickup_location if data.delivery_mode == DeliveryMode.PICKUP else None,
            subtotal=subtotal,
            shipping_price=data.shipping_price,
            total=subtotal + data.shipping_price,
            status=OrderStatus.AWAITING_ROUTING,
        )
        if data.address is not None and data.delivery_mode == DeliveryMode.HOME:
            _apply_address(order, data.address)
        orders.append(order)
    # The order number is its id, zero-padded: with ids drawn first (PostgreSQL) each row goes in numbered.
    keyed = assign_ids([customers.new, orders], drawn=customers.drawn)
    for order in orders if keyed else ():
        order.number = f"{order.pk:08d}"
    webhooks = subscriptions_for("order.created")
    one_statement = keyed and not (customers.changed or webhooks or connection.in_atomic_block)
    with nullcontext() if one_statement else transaction.atomic():
        if not keyed:  # no sequences to draw from: the database numbers the rows, the lines need their ids
            save_new([customers.new, orders])
            Order.objects.filter(pk__in=[o.pk for o in orders]).update(
                number=LPad(Cast("id", output_field=CharField()), 8, Value("0"))
            )
            for order in orders:
                order.number = f"{order.pk:08d}"
        save_new([customers.new, orders], rows=_lines_and_timeline(orders, inputs, by=by))
        if customers.changed:
            Customer.objects.bulk_update(customers.changed, ["name", "email", "phone"])
        if webhooks:
            emit_events(
                "order.created",
                [{"order": o.number, "channel": d.channel.code, "external_ref": d.external_ref}
                 for o, d in zip(orders, inputs, strict=True)],
                subscriptions=webhooks,
            )  # fmt: skip
        # Registered after the rows are written: outside a transaction on_commit runs at once.
        if len(orders) > 1:
            # a batch: a few drains that share its orders (SKIP LOCKED) over the worker processes
            for _ in range(-(-len(orders) // ROUTE_BATCH)):
                enqueue_on_commit(ROUTE_PENDING_TASK, ROUTE_BATCH)
        elif tasks_inline():
            # no worker (the embedded default): route this order in the request, not every order waiting
            enqueue_on_commit(ROUTE_TASK, orders[0].pk)
        else:
            request_on_commit(ROUTE_DRAIN_TASK)
    return orders


def _lines_and_timeline(
    orders: Sequence[Order], inputs: Sequence[OrderInput], *, by: Any
) -> list[tuple[type[Model], list[dict[str, Any]]]]:
    """The orders' lines and first timeline entries, as plain rows for `oms.db.save_new`: for a batch of
    500 orders that is 2,500 rows, and building model instances for them was a third of the write."""
    lines: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    actor = _actor(by)
    actor_id = actor.pk if actor is not None else None
    queued_text = [phrase("Queued for routing.")]
    queued = {"from": OrderStatus.RECEIVED, "to": OrderStatus.AWAITING_ROUTING, "text": queued_text}
    queued_message = english(queued_text)
    for order, data in zip(orders, inputs, strict=True):
        lines += [
            {"order_id": order.pk, "line_no": no, "product_id": line.product.pk, "sku": line.product.sku,
             "qty": line.qty, "unit_price": line.unit_price}
            for no, line in enumerate(data.lines, start=1)
        ]  # fmt: skip
        received = [phrase("Order received from %(channel)s (%(ref)s).", channel=data.channel.name,
                           ref=data.external_ref)]  # fmt: skip
        events += [
            {"order_id": order.pk, "kind": "created", "actor_id": actor_id, "message": english(received),
             "data": {"channel": data.channel.code, "external_ref": data.external_ref,
                      "lines": len(data.lines), "total": str(order.total), "text": received}},
            {"order_id": order.pk, "kind": "status", "actor_id": actor_id, "message": queued_message,
             "data": queued},
        ]  # fmt: skip
    return [(OrderLine, lines), (OrderEvent, events)]


def _apply_address(order: Order, address: AddressData) -> None:
    """Copy the address onto the order; without coordinates it is placed from its CEP."""
    if address.lat is None or address.lon is None:
        point = cep_to_point(address.cep)
        if point is not None:
            address = replace(address, lat=point[0], lon=point[1])
    order.ship_street, order.ship_number, order.ship_complement = (
        address.street,
        address.number,
        address.complement,
    )
    order.ship_district, order.ship_city, order.ship_state = address.district, address.city, address.state
    order.ship_cep, order.ship_lat, order.ship_lon = address.cep, address.lat, address.lon


@transaction.atomic
def order_cancel(*, order: Order, by: Any, reason: str = "") -> Order:
    """Cancel an order whose units have not left: every reservation is released, open fulfilments closed."""
    order = lock_order(order)
    if order.status not in CANCELLABLE:
        raise OrderNotCancellable(
            _("Order %(number)s is %(status)s and can no longer be cancelled.")
            % {"number": order.number, "status": order.get_status_display().lower()},
            current=order.status,
        )
    released = stock_release_group(group=order.number or "", reason=f"order {order.number} cancelled", by=by)
    open_fulfilments = Fulfilment.objects.filter(order=order).exclude(
        status__in=[
            FulfilmentStatus.SHIPPED,
            FulfilmentStatus.DELIVERED,
            FulfilmentStatus.COLLECTED,
            FulfilmentStatus.CANCELLED,
        ]
    )
    open_fulfilments.update(status=FulfilmentStatus.CANCELLED, updated_at=timezone.now())
    order.lines.exclude(status=LineStatus.CANCELLED).update(status=LineStatus.CANCELLED)
    order.status_before_hold = ""
    _move(
        order,
        OrderStatus.CANCELLED,
        by=by,
        kind="cancelled",
        text=[
            phrase("Order cancelled: %(reason)s.", reason=reason) if reason else phrase("Order cancelled."),
            nphrase("%(n)s reserved unit released.", "%(n)s reserved units released.", released),
        ],
        data={"reason": reason, "released_units": released},
    )
    audit_record(actor=by, action="order.cancel", obj=order, summary=reason, after={"status": order.status})
    emit_event("order.cancelled", {"order": order.number, "reason": reason})
    return order


@transaction.atomic
def order_hold(*, order: Order, by: Any, reason: str) -> Order:
    """Stop an order before it is released to picking (fraud check, customer request…)."""
    order = lock_order(order)
    if order.status not in HOLDABLE:
        raise InvalidTransition(
            _("Order %(number)s cannot be put on hold while %(status)s.")
            % {"number": order.number, "status": order.get_status_display().lower()},
            current=order.status,
        )
    order.status_before_hold = order.status
    _move(
        order,
        OrderStatus.ON_HOLD,
        by=by,
        kind="hold",
        text=[phrase("Put on hold: %(reason)s", reason=reason)],
        data={"reason": reason},
    )
    audit_record(actor=by, action="order.hold", obj=order, summary=reason)
    return order


@transaction.atomic
def order_release_hold(*, order: Order, by: Any) -> Order:
    """Take an order off hold, back to where its lines say it is (and to routing if it never was). If its
    delivery address changed while it was on hold, what it holds for the old address is released and it is
    routed again for the new one."""
    order = lock_order(order)
    if order.status != OrderStatus.ON_HOLD:
        raise InvalidTransition(
            _("Order %(number)s is not on hold.") % {"number": order.number}, current=order.status
        )
    text, data = [phrase("Hold released.")], {}
    target: str
    if _address_changed_on_hold(order):
        released, at = _reopen(order, by=by, reason="address changed while on hold")
        target = OrderStatus.AWAITING_ROUTING
        # the delivery address changed while on hold: what the order holds for the old one is let go
        text = [
            phrase("Hold released; the delivery address changed on hold, so the order is routed again."),
            nphrase("%(n)s reserved unit released at %(at)s.", "%(n)s reserved units released at %(at)s.",
                    released, at=", ".join(at))
            if at
            else nphrase("%(n)s reserved unit released.", "%(n)s reserved units released.", released),
        ]  # fmt: skip
        data = {"rerouted": True, "released_units": released, "released_at": at}
    else:
        target = derive_order_status(order.lines.values_list("status", flat=True))
    order.status_before_hold = ""
    _move(order, target, by=by, kind="release", text=text, data=data)
    if target == OrderStatus.AWAITING_ROUTING:
        enqueue_on_commit(ROUTE_TASK, order.pk)
    audit_record(actor=by, action="order.release_hold", obj=order)
    return order


def _address_changed_on_hold(order: Order) -> bool:
    """Whether the (locked, on hold) home order's delivery address changed since it was put on hold: its
    timeline's last hold or address entry is an address change."""
    if order.delivery_mode != DeliveryMode.HOME:
        return False
    last = (
        OrderEvent.objects.filter(order=order, kind__in=("hold", "address"))
        .order_by("-at", "-pk")
        .values_list("kind", flat=True)
        .first()
    )
    return last == "address"


@transaction.atomic
def order_change_address(*, order: Order, address: AddressData, by: Any) -> Order:
    """Change the delivery address before the order is released to picking; it is routed again."""
    order = lock_order(order)
    if order.delivery_mode != DeliveryMode.HOME:
        raise OrderNotChangeable(_("A pickup order has no delivery address."), field="address")
    if order.status not in ADDRESS_CHANGEABLE:
        raise OrderNotChangeable(
            _("Order %(number)s is already %(status)s; its address can no longer change.")
            % {"number": order.number, "status": order.get_status_display().lower()},
            current=order.status,
        )
    before = {
        "cep": order.ship_cep,
        "street": order.ship_street,
        "number": order.ship_number,
        "city": order.ship_city,
    }
    _apply_address(order, address)
    order.save(
        update_fields=[
            "ship_street",
            "ship_number",
            "ship_complement",
            "ship_district",
            "ship_city",
            "ship_state",
            "ship_cep",
            "ship_lat",
            "ship_lon",
            "updated_at",
        ]
    )
    on_hold = order.status == OrderStatus.ON_HOLD
    order_event(
        order=order,
        kind="address",
        by=by,
        text=[
            phrase(
                "Delivery address changed to %(street)s, %(number)s — %(city)s/%(state)s.",
                street=address.street,
                number=address.number,
                city=address.city,
                state=address.state,
            ),
            *([phrase("It is routed again for it when the hold is released.")] if on_hold else []),
        ],
        data={"before": before},
    )
    audit_record(
        actor=by,
        action="order.change_address",
        obj=order,
        before=before,
        after={"cep": address.cep, "street": address.street, "number": address.number, "city": address.city},
    )
    if not on_hold:  # on hold: routed again when the hold is released (order_release_hold)
        _send_back_to_routing(order, by=by, reason="address changed")
    return order


def _reopen(order: Order, *, by: Any, reason: str) -> tuple[int, list[str]]:
    """Release what the (locked) order holds, cancel its fulfilments not yet started and reopen its lines;
    returns the units released and the codes of the locations whose fulfilments were cancelled."""
    released = stock_release_group(group=order.number or "", reason=f"order {order.number}: {reason}", by=by)
    assigned = Fulfilment.objects.filter(order=order, status=FulfilmentStatus.ASSIGNED)
    at = sorted(set(assigned.values_list("location__code", flat=True)))
    assigned.update(status=FulfilmentStatus.CANCELLED, updated_at=timezone.now())
    order.lines.exclude(status=LineStatus.CANCELLED).update(status=LineStatus.PENDING)
    return released, at


# why an order goes back to routing: the stock ledger's reason → the timeline's
SEND_BACK_REASONS = {"address changed": pphrase("sent back to routing", "address changed")}


def _send_back_to_routing(order: Order, *, by: Any, reason: str) -> None:
    """Release what the (locked) order holds, reopen its lines and queue it for routing again (`reason`: a
    key of SEND_BACK_REASONS)."""
    _reopen(order, by=by, reason=reason)
    text = [phrase("Sent back to routing: %(reason)s.", reason=SEND_BACK_REASONS[reason])]
    _move(order, OrderStatus.AWAITING_ROUTING, by=by, text=text)
    enqueue_on_commit(ROUTE_TASK, order.pk)


@transaction.atomic
def order_add_note(*, order: Order, text: str, by: Any) -> OrderEvent:
    """A customer-service note on the timeline."""
    text = text.strip()
    if not text:
        raise OrderNotChangeable(_("A note cannot be empty."), field="text")
    return order_event(order=order, kind="note", message=text, by=by)


@transaction.atomic
def order_refresh_status(*, order: Order, by: Any = None, text: Sequence[Phrase] = ()) -> Order:
    """Set the order status from its lines (after routing, picking, shipping…). Holds are kept. `text`: what
    the status change says, when more than the new status."""
    order = lock_order(order)
    statuses = order.lines.values_list("status", flat=True)
    return order_status_from_lines(order=order, line_statuses=statuses, by=by, text=text)
