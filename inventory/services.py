"""Every change of stock: counts, adjustments, reservations, releases, commits. One transaction each.

Each function writes one ledger row (`StockMovement`) per stock row it changes, naming the actor, the
reason and the reference (order line, fulfilment, transfer). Stock rows are locked through `locks.py`,
in primary-key order, so concurrent callers queue instead of deadlocking; the database CHECK constraints
are the last line of defence against overselling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Sum

from .exceptions import InsufficientStock, InvalidQuantity, StockBelowReserved
from .locks import lock_stock_row, lock_stock_rows
from .models import Location, MovementKind, Product, Reservation, StockLevel, StockMovement


def _actor(by: Any) -> Any:
    return by if getattr(by, "is_authenticated", False) else None


def _movement(
    stock: StockLevel,
    *,
    kind: str,
    on_hand_delta: int = 0,
    reserved_delta: int = 0,
    reason: str = "",
    ref: str = "",
    by: Any = None,
) -> StockMovement:
    return StockMovement(
        stock=stock,
        kind=kind,
        on_hand_delta=on_hand_delta,
        reserved_delta=reserved_delta,
        on_hand_after=stock.on_hand,
        reserved_after=stock.reserved,
        reason=reason[:200],
        ref=ref,
        actor=_actor(by),
    )


@transaction.atomic
def stock_set_count(
    *, location: Location, product: Product, on_hand: int, reason: str, by: Any = None, ref: str = ""
) -> StockLevel:
    """Set on-hand to a physical count (from a WMS or POS). Refuses a count below what is reserved."""
    if on_hand < 0:
        raise InvalidQuantity("A count cannot be negative.", field="on_hand")
    stock = lock_stock_row(location=location, product=product)  # the count replaces what others may change
    if on_hand < stock.reserved:
        raise StockBelowReserved(
            f"Count {on_hand} for {product.sku} at {location.code} is below the {stock.reserved} units "
            "already reserved for orders; cancel or move those reservations first.",
            field="on_hand",
            reserved=stock.reserved,
        )
    delta = on_hand - stock.on_hand
    stock.on_hand = on_hand
    stock.save(update_fields=["on_hand", "updated_at"])
    _movement(stock, kind=MovementKind.COUNT, on_hand_delta=delta, reason=reason, ref=ref, by=by).save()
    return stock


@transaction.atomic
def stock_adjust(
    *,
    location: Location,
    product: Product,
    delta: int,
    reason: str,
    by: Any = None,
    ref: str = "",
    kind: str = MovementKind.ADJUST,
) -> StockLevel:
    """Add (or remove, with a negative delta) on-hand units. Refuses to go below what is reserved."""
    if delta == 0:
        raise InvalidQuantity("An adjustment must change the quantity.", field="delta")
    stock = lock_stock_row(location=location, product=product)  # read-modify-write of on_hand
    if stock.on_hand + delta < stock.reserved:
        raise StockBelowReserved(
            f"Adjusting {product.sku} at {location.code} by {delta} would leave {stock.on_hand + delta} "
            f"on hand, below the {stock.reserved} units reserved.",
            field="delta",
            reserved=stock.reserved,
        )
    stock.on_hand += delta
    stock.save(update_fields=["on_hand", "updated_at"])
    _movement(stock, kind=kind, on_hand_delta=delta, reason=reason, ref=ref, by=by).save()
    return stock


@dataclass(frozen=True)
class ReserveItem:
    location: Location
    product: Product
    qty: int
    ref: str


@transaction.atomic
def stock_reserve_many(
    *,
    items: Sequence[ReserveItem],
    group: str = "",
    reason: str = "",
    by: Any = None,
    allow_partial: bool = False,
) -> list[Reservation]:
    """Hold units for each item, all or nothing (or, with `allow_partial`, as many as are available).

    Idempotent per (ref, location, product): an item whose ref already holds units there is left as it is,
    so a retried task never reserves twice. Locks the stock rows in pk order. Raises `InsufficientStock`
    listing every shortage at once (unless `allow_partial`).
    """
    for item in items:
        if item.qty < 1:
            raise InvalidQuantity(f"Quantity for {item.product.sku} must be at least 1.", field="qty")
    rows = lock_stock_rows((i.location.pk, i.product.pk) for i in items)
    existing = {
        (r.ref, r.stock_id): r
        for r in Reservation.objects.select_for_update().filter(
            stock__in=rows.values(), ref__in={i.ref for i in items}
        )
    }
    shortages: list[tuple[str, str, int, int]] = []
    plan: list[tuple[ReserveItem, StockLevel, int]] = []
    for item in items:
        stock = rows[(item.location.pk, item.product.pk)]
        held = existing.get((item.ref, stock.pk))
        if held is not None and held.qty > 0:
            continue
        qty = item.qty
        if stock.available < qty:
            if not allow_partial:
                shortages.append((item.location.code, item.product.sku, qty, stock.available))
                continue
            qty = stock.available
        if qty > 0:
            stock.reserved += qty
            plan.append((item, stock, qty))
    if shortages:
        raise InsufficientStock(shortages)
    created: list[Reservation] = []
    reused: list[Reservation] = []
    movements = []
    for item, stock, qty in plan:
        stock.save(update_fields=["reserved", "updated_at"])
        held = existing.get((item.ref, stock.pk))
        if held is None:
            created.append(Reservation(stock=stock, ref=item.ref, group=group, qty=qty))
        else:
            held.qty = qty
            reused.append(held)
        movements.append(
            _movement(
                stock,
                kind=MovementKind.RESERVE,
                reserved_delta=qty,
                reason=reason or "reserved",
                ref=item.ref,
                by=by,
            )
        )
    Reservation.objects.bulk_create(created)
    for held in reused:
        held.save(update_fields=["qty", "updated_at"])
    StockMovement.objects.bulk_create(movements)
    return created + reused


def stock_reserve(
    *,
    location: Location,
    product: Product,
    qty: int,
    ref: str,
    group: str = "",
    reason: str = "",
    by: Any = None,
) -> Reservation:
    """Hold `qty` units of one product at one location for `ref` (see `stock_reserve_many`)."""
    item = ReserveItem(location=location, product=product, qty=qty, ref=ref)
    done = stock_reserve_many(items=[item], group=group, reason=reason, by=by)
    if done:
        return done[0]
    return Reservation.objects.get(ref=ref, stock__location=location, stock__product=product)


def _release(
    reservations: Iterable[Reservation],
    *,
    qty: int | None,
    reason: str,
    by: Any,
    kind: str = MovementKind.RELEASE,
    consume: bool = False,
) -> int:
    """Give back (or, with `consume`, ship) units held by locked reservations. Returns units affected."""
    reservations = [r for r in reservations if r.qty > 0]
    rows = lock_stock_rows((r.stock.location_id, r.stock.product_id) for r in reservations)
    total = 0
    movements = []
    for held in reservations:
        stock = rows[(held.stock.location_id, held.stock.product_id)]
        take = held.qty if qty is None else min(qty, held.qty)
        if take <= 0:
            continue
        held.qty -= take
        held.save(update_fields=["qty", "updated_at"])
        stock.reserved -= take
        if consume:
            stock.on_hand -= take
        stock.save(update_fields=["on_hand", "reserved", "updated_at"])
        movements.append(
            _movement(
                stock,
                kind=kind,
                on_hand_delta=-take if consume else 0,
                reserved_delta=-take,
                reason=reason,
                ref=held.ref,
                by=by,
            )
        )
        total += take
    StockMovement.objects.bulk_create(movements)
    return total


def _held(**filters: Any) -> list[Reservation]:
    # Lock the reservations first (their stock rows are locked next, in pk order, by _release).
    return list(
        Reservation.objects.select_for_update(of=("self",))
        .select_related("stock")
        .filter(qty__gt=0, **filters)
        .order_by("stock_id")
    )


@transaction.atomic
def stock_release(
    *,
    ref: str,
    location: Location | None = None,
    product: Product | None = None,
    qty: int | None = None,
    reason: str,
    by: Any = None,
) -> int:
    """Release units held for `ref` (all of them, or at most `qty` per stock row). Returns units released."""
    filters: dict[str, Any] = {"ref": ref}
    if location is not None:
        filters["stock__location"] = location
    if product is not None:
        filters["stock__product"] = product
    return _release(_held(**filters), qty=qty, reason=reason, by=by)


@transaction.atomic
def stock_release_group(*, group: str, reason: str, by: Any = None) -> int:
    """Release everything held for a group (an order): used on cancel. Returns units released."""
    return _release(_held(group=group), qty=None, reason=reason, by=by)


@transaction.atomic
def stock_commit(
    *, ref: str, location: Location, product: Product, qty: int, reason: str, by: Any = None
) -> int:
    """Units held for `ref` leave the building (shipped or handed over): on_hand and reserved both go down."""
    held = _held(ref=ref, stock__location=location, stock__product=product)
    if sum(r.qty for r in held) < qty:
        raise InsufficientStock([(location.code, product.sku, qty, sum(r.qty for r in held))])
    return _release(held, qty=qty, reason=reason, by=by, kind=MovementKind.COMMIT, consume=True)


@transaction.atomic
def stock_short_pick(
    *, ref: str, location: Location, product: Product, missing: int, reason: str, by: Any = None
) -> int:
    """Units held for `ref` were not found on the shelf: they leave both reserved and on hand."""
    held = _held(ref=ref, stock__location=location, stock__product=product)
    return _release(held, qty=missing, reason=reason, by=by, kind=MovementKind.SHORT_PICK, consume=True)


def stock_held_total(*, group: str) -> int:
    """Units currently held for a group (an order)."""
    return Reservation.objects.filter(group=group).aggregate(total=Sum("qty"))["total"] or 0
