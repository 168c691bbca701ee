"""Every change of stock: counts, adjustments, safety stock, reservations, releases, commits, receipts; one
transaction each.

Transfers between locations are in `transfers`, replenishment proposals in `replenishment`.

Each function writes one ledger row (`StockMovement`) per stock row it changes, naming the actor, the
reason and the reference (order line, fulfilment, transfer). Stock rows are locked through `locks.py`,
in primary-key order, so concurrent callers queue instead of deadlocking; the database CHECK constraints
are the last line of defence against overselling.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from oms.db import ASYNC_COMMIT_EXPR, assign_ids, commit_async, model_row, save_new

from ..exceptions import InsufficientStock, InvalidQuantity, StockBelowReserved
from ..locks import lock_stock_row, lock_stock_rows
from ..models import (
    MAX_QTY,
    Location,
    MovementKind,
    Product,
    Reservation,
    StockLevel,
    StockMovement,
)


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
        raise InvalidQuantity(_("A count cannot be negative."), field="on_hand")
    stock = lock_stock_row(location=location, product=product)  # the count replaces what others may change
    if on_hand < stock.reserved:
        raise StockBelowReserved(
            _(
                "Count %(count)s for %(sku)s at %(location)s is below the %(reserved)s units already "
                "reserved for orders; cancel or move those reservations first."
            )
            % {"count": on_hand, "sku": product.sku, "location": location.code, "reserved": stock.reserved},
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
        raise InvalidQuantity(_("An adjustment must change the quantity."), field="delta")
    stock = lock_stock_row(location=location, product=product)  # read-modify-write of on_hand
    if stock.on_hand + delta < stock.reserved:
        raise StockBelowReserved(
            ngettext(
                "Adjusting %(sku)s at %(location)s by %(delta)s would leave %(left)s on hand, below the "
                "%(reserved)s unit reserved.",
                "Adjusting %(sku)s at %(location)s by %(delta)s would leave %(left)s on hand, below the "
                "%(reserved)s units reserved.",
                stock.reserved,
            )
            % {
                "sku": product.sku,
                "location": location.code,
                "delta": delta,
                "left": stock.on_hand + delta,
                "reserved": stock.reserved,
            },
            field="delta",
            reserved=stock.reserved,
        )
    stock.on_hand += delta
    stock.save(update_fields=["on_hand", "updated_at"])
    _movement(stock, kind=kind, on_hand_delta=delta, reason=reason, ref=ref, by=by).save()
    return stock


def _check_safety(safety_stock: int) -> None:
    if not 0 <= safety_stock <= MAX_QTY:
        raise InvalidQuantity(
            _("Safety stock must be between 0 and %(most)s units.") % {"most": MAX_QTY}, field="safety_stock"
        )


def _set_safety(
    stock: StockLevel, safety_stock: int, *, reason: str, by: Any, ref: str
) -> StockMovement | None:
    """The rule of a change of safety stock, on a stock row the caller has locked: the level is checked
    (`InvalidQuantity`), the same level again is no change (None), else the row takes it (not saved) and the
    ledger row to write is returned (not saved either)."""
    _check_safety(safety_stock)
    if stock.safety_stock == safety_stock:
        return None
    stock.safety_stock = safety_stock
    move = _movement(stock, kind=MovementKind.SAFETY, reason=reason, ref=ref, by=by)
    move.safety_after = safety_stock
    return move


@transaction.atomic
def stock_set_safety(
    *, location: Location, product: Product, safety_stock: int, reason: str, by: Any = None, ref: str = ""
) -> StockLevel:
    """Keep `safety_stock` units of a stock row back from orders (a store's display, walk-in customers, a
    buffer before a promotion): routing, promises and reservations see on hand - reserved - safety stock,
    replenishment reorders above it. Units already reserved stay reserved. Setting the level it has writes
    nothing."""
    _check_safety(safety_stock)  # before the row is locked (or made)
    stock = lock_stock_row(location=location, product=product)
    move = _set_safety(stock, safety_stock, reason=reason, by=by, ref=ref)
    if move is not None:
        stock.save(update_fields=["safety_stock", "updated_at"])
        move.save()
    return stock


def stock_set_safety_many(
    *,
    stock_ids: Collection[int],
    level: Callable[[StockLevel], int],
    reason: str,
    by: Any = None,
    ref: str = "",
) -> list[StockLevel]:
    """Set the safety stock of many existing stock rows at once, each to `level(row)` of the row as locked (a
    planner's rule: its on hand may cap it), by the rule of `stock_set_safety`: a level out of range refuses
    the whole call (`InvalidQuantity`, nothing written), a row already at its level is skipped, every changed
    row gets its ledger row (kind SAFETY, `reason`, `ref`, the actor). Returns the changed rows.

    One transaction (the caller's, if any). Locks the rows in pk order, then writes them and their ledger rows
    in one statement on PostgreSQL: three round trips for any number of rows. Ids of rows that no longer
    exist are ignored.
    """
    with transaction.atomic():
        # the level may depend on on hand, which counts and shipments change: read it under the row lock
        rows = list(
            StockLevel.objects.select_for_update(of=("self",)).filter(pk__in=list(stock_ids)).order_by("pk")
        )
        changed: list[StockLevel] = []
        movements: list[StockMovement] = []
        now = timezone.now()
        for stock in rows:
            move = _set_safety(stock, level(stock), reason=reason, by=by, ref=ref)
            if move is not None:
                stock.updated_at = now
                changed.append(stock)
                movements.append(move)
        save_new(
            [movements],
            updates=[(StockLevel, ["safety_stock", "updated_at"], [model_row(s) for s in changed])],
        )
    return changed


# A change of a stock row by the field that carries it (the keyword of its service, the name pages and the API
# use): the service, and the permission it needs (counts and adjustments are floor work, safety stock a
# planning decision), in the order a request applying several runs them.
STOCK_CHANGES: dict[str, tuple[Callable[..., StockLevel], str]] = {
    "on_hand": (stock_set_count, "inventory.change_stocklevel"),
    "delta": (stock_adjust, "inventory.change_stocklevel"),
    "safety_stock": (stock_set_safety, "inventory.set_safety_stock"),
}


@dataclass(frozen=True)
class ReserveItem:
    """Units to hold for `ref`; `group` and `reason`, when given, replace the call's own for this item (one
    call can reserve for several orders, each under its own group)."""

    location: Location
    product: Product
    qty: int
    ref: str
    group: str | None = None
    reason: str | None = None


def stock_reserve_many(
    *,
    items: Sequence[ReserveItem],
    group: str = "",
    reason: str = "",
    by: Any = None,
    allow_partial: bool = False,
    new_refs: bool = False,
) -> list[Reservation]:
    """Hold units for each item, all or nothing (or, with `allow_partial`, as many as are available).

    Idempotent per (ref, location, product): an item whose ref already holds units there is left as it is,
    so a retried task never reserves twice (and is not in the returned list). Locks the stock rows in pk
    order. Raises `InsufficientStock` listing every shortage at once (unless `allow_partial`).

    `new_refs`: the caller made these refs in its own, still open transaction (routing: one per fulfilment
    line it just inserted), so no one else can be reserving under them. The one-statement path then runs
    without its savepoint (two round trips per item), which only served to undo a lost race on a ref alone;
    the general path too. The caller's transaction is then marked for rollback by a refusal (it is undone
    whole, as routing does when stock moved since its snapshot).
    """
    for item in items:
        if item.qty < 1:
            raise InvalidQuantity(
                _("Quantity for %(sku)s must be at least 1.") % {"sku": item.product.sku}, field="qty"
            )
    if len(items) == 1 and not allow_partial and _fast_path_db() is not None:
        item = items[0]
        fast = _reserve_one_fast(item, group=group, reason=reason, by=by, savepoint=not new_refs)
        if fast is not _GENERAL:
            return [fast] if isinstance(fast, Reservation) else []
    return _reserve_many_locked(
        items, group=group, reason=reason, by=by, allow_partial=allow_partial, new_refs=new_refs
    )


def _reserve_many_locked(
    items: Sequence[ReserveItem],
    *,
    group: str,
    reason: str,
    by: Any,
    allow_partial: bool,
    new_refs: bool = False,
) -> list[Reservation]:
    """The general path: lock every stock row (pk order), read what the refs hold, then write.

    In its own transaction it commits without waiting for the disk (`oms.db.commit_async`); in a caller's
    transaction the caller decides.
    """
    owned = not transaction.get_connection().in_atomic_block
    # New refs: the caller undoes its whole transaction on a refusal (see stock_reserve_many), no savepoint.
    with transaction.atomic(savepoint=not new_refs):
        if owned:
            commit_async()
        return _reserve_locked(
            items, group=group, reason=reason, by=by, allow_partial=allow_partial, new_refs=new_refs
        )


def _reserve_locked(
    items: Sequence[ReserveItem],
    *,
    group: str,
    reason: str,
    by: Any,
    allow_partial: bool,
    new_refs: bool = False,
) -> list[Reservation]:
    """Lock the stock rows (pk order), check every item, then write everything in one statement on
    PostgreSQL (stock rows, reservations and ledger, `oms.db.save_new`): five round trips for any number
    of items. With `new_refs` (see `stock_reserve_many`) no ref can hold anything yet: that read is skipped.
    """
    rows = lock_stock_rows((i.location.pk, i.product.pk) for i in items)
    # A plain read is enough: reservations only change while their stock row is locked, and we hold it.
    # (Locking them too would take reservation locks after stock locks, the reverse of _release.)
    existing = (
        {}
        if new_refs
        else {
            (r.ref, r.stock_id): r
            for r in Reservation.objects.filter(stock__in=rows.values(), ref__in={i.ref for i in items})
        }
    )
    shortages: list[tuple[str, str, int, int]] = []
    plan: list[tuple[ReserveItem, StockLevel, int]] = []
    movements: list[StockMovement] = []
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
            # the ledger row carries the stock row as it is after this item (several items may share a row)
            movements.append(
                _movement(
                    stock,
                    kind=MovementKind.RESERVE,
                    reserved_delta=qty,
                    reason=item.reason or reason or "reserved",
                    ref=item.ref,
                    by=by,
                )
            )
    if shortages:
        raise InsufficientStock(shortages)
    now = timezone.now()
    created: list[Reservation] = []
    reused: list[Reservation] = []
    changed: dict[int, StockLevel] = {}
    for item, stock, qty in plan:
        stock.updated_at = now
        changed[stock.pk] = stock
        held = existing.get((item.ref, stock.pk))
        if held is None:
            group_of = item.group if item.group is not None else group
            created.append(Reservation(stock=stock, ref=item.ref, group=group_of, qty=qty))
        else:
            held.qty, held.updated_at = qty, now
            reused.append(held)
    assign_ids([created])  # the caller gets the reservations with their keys
    save_new(
        [created, movements],
        updates=[
            (StockLevel, ["reserved", "updated_at"], [model_row(s) for s in changed.values()]),
            (Reservation, ["qty", "updated_at"], [model_row(r) for r in reused]),
        ],
    )
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
    """Hold `qty` units of one product at one location for `ref` (see `stock_reserve_many`).

    Returns the reservation (the existing one when `ref` already holds units there). On PostgreSQL this is
    one statement and, outside a transaction, one round trip. Inside a caller's transaction, reserving
    several rows one by one locks them in call order: use `stock_reserve_many` for several items.
    """
    if qty < 1:
        raise InvalidQuantity(
            _("Quantity for %(sku)s must be at least 1.") % {"sku": product.sku}, field="qty"
        )
    item = ReserveItem(location=location, product=product, qty=qty, ref=ref)
    if _fast_path_db() is not None:
        fast = _reserve_one_fast(item, group=group, reason=reason, by=by)
        if isinstance(fast, Reservation):
            return fast
        if fast is _HELD:
            return Reservation.objects.get(ref=ref, stock__location=location, stock__product=product)
    done = _reserve_many_locked([item], group=group, reason=reason, by=by, allow_partial=False)
    if done:
        return done[0]
    return Reservation.objects.get(ref=ref, stock__location=location, stock__product=product)


# --- The single-item fast path (PostgreSQL) ---------------------------------------------------------------
#
# One statement does the whole reservation: it finds the stock row, checks that `ref` holds nothing there
# yet, takes the row lock with a conditional UPDATE (the availability test is re-checked on the newest row
# version once the lock is granted, so two clients can never both take the last unit), then inserts the
# reservation and the ledger row from the UPDATE's RETURNING values. Outside a transaction the statement
# commits on its own, so the hot row stays locked only for the rest of that statement and its commit: no
# client round trip while the lock is held. A refused reservation writes nothing: nothing to roll back.
# That own transaction commits without waiting for the disk (see `oms.db`): otherwise one hot SKU could take
# no more reservations per second than the disk takes flushes, since the row stays locked through the flush.
#
# Lock order is the same as the general path's (stock row, then the reservation's unique key), so the two
# paths cannot deadlock each other. Two concurrent calls with the same ref both pass the "holds nothing yet"
# test (it reads the statement's snapshot); the second then hits the unique (ref, stock) key and its whole
# statement is undone, and it returns the first one's reservation.

_GENERAL = object()  # the fast path does not handle this case (a ref whose reservation was fully released)
_HELD = object()  # the ref already holds units there: nothing to do

_RESERVE_ONE_SQL = """
WITH s AS (
    SELECT id FROM {stock} WHERE location_id = %(location)s AND product_id = %(product)s
), held AS (
    SELECT r.id, r.qty FROM {reservation} r JOIN s ON r.stock_id = s.id WHERE r.ref = %(ref)s
), u AS (
    UPDATE {stock} SET reserved = reserved + %(qty)s, updated_at = %(now)s
    WHERE id = (SELECT id FROM s)
      AND on_hand - reserved - safety_stock >= %(qty)s
      AND NOT EXISTS (SELECT 1 FROM held)
    RETURNING id, on_hand, reserved
), r AS (
    INSERT INTO {reservation} (stock_id, ref, {group}, qty, created_at, updated_at)
    SELECT id, %(ref)s, %(group)s, %(qty)s, %(now)s, %(now)s FROM u
    RETURNING id
), m AS (
    INSERT INTO {movement} (at, stock_id, kind, on_hand_delta, reserved_delta,
                            on_hand_after, reserved_after, reason, ref, actor_id)
    SELECT %(now)s, id, %(kind)s, 0, %(qty)s, on_hand, reserved, %(reason)s, %(ref)s, %(actor)s FROM u
)
SELECT (SELECT id FROM s), (SELECT qty FROM held), (SELECT id FROM r),
       (SELECT on_hand - reserved - safety_stock FROM {stock} WHERE id = (SELECT id FROM s)){own_commit}
"""
# In its own (implicit) transaction the statement also sets how that transaction commits (oms.db).
OWN_COMMIT_ASYNC = f", {ASYNC_COMMIT_EXPR}"
_reserve_one_sql: dict[tuple[str, bool], str] = {}


def _fast_path_db() -> str | None:
    """The database alias the fast path runs on, or None when its engine is not PostgreSQL."""
    alias = router.db_for_write(Reservation) or DEFAULT_DB_ALIAS
    return alias if connections[alias].vendor == "postgresql" else None


def _sql_for(alias: str, *, own_commit: bool = False) -> str:
    if (alias, own_commit) not in _reserve_one_sql:
        qn = connections[alias].ops.quote_name
        _reserve_one_sql[(alias, own_commit)] = _RESERVE_ONE_SQL.format(
            stock=qn(StockLevel._meta.db_table),
            reservation=qn(Reservation._meta.db_table),
            movement=qn(StockMovement._meta.db_table),
            group=qn(Reservation._meta.get_field("group").column or "group"),
            own_commit=OWN_COMMIT_ASYNC if own_commit else "",
        )
    return _reserve_one_sql[(alias, own_commit)]


def _run_prepared(connection: Any, sql: str, params: dict[str, Any]) -> Any:
    """Run `sql` as a statement prepared on this connection (planned once, not every call); return its row.

    Django binds parameters on the client, which PostgreSQL must re-plan each time; for this statement the
    planning was two thirds of its cost (0.77 -> 0.24 ms per call), so it goes through a server-binding
    psycopg cursor on Django's own connection (same session and transaction; errors converted to Django's;
    not in Django's query log). Other databases never get here.
    """
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()


def _reserve_one_fast(
    item: ReserveItem, *, group: str, reason: str, by: Any, savepoint: bool = True
) -> Reservation | object:
    """Reserve one item in one statement. Returns the new reservation, `_HELD` or `_GENERAL`.

    Raises `InsufficientStock` when the units are not available (or the stock row does not exist).
    """
    alias = _fast_path_db()
    assert alias is not None
    connection = connections[alias]
    actor = _actor(by)
    now = timezone.now()
    params = {
        "location": item.location.pk,
        "product": item.product.pk,
        "ref": item.ref,
        "group": item.group if item.group is not None else group,
        "qty": item.qty,
        "now": now,
        "kind": MovementKind.RESERVE.value,
        "reason": (item.reason or reason or "reserved")[:200],
        "actor": actor.pk if actor is not None else None,
    }
    try:
        # In a caller's transaction a savepoint lets a lost race on the ref be undone alone; in autocommit
        # the statement is its own transaction (and holds the row lock only until its own commit).
        owned = not connection.in_atomic_block
        scope = nullcontext() if owned or not savepoint else transaction.atomic(using=alias)
        with scope:
            row = _run_prepared(connection, _sql_for(alias, own_commit=owned), params)
        stock_id, held_qty, reservation_id, seen_available = row[:4]
    except IntegrityError:
        # Lost the race for the same ref (unique key on (ref, stock)): the winner's reservation stands.
        if (
            Reservation.objects.using(alias)
            .filter(ref=item.ref, stock__location=item.location, stock__product=item.product, qty__gt=0)
            .exists()
        ):
            return _HELD
        raise
    if reservation_id is not None:
        return Reservation.from_db(
            alias,
            ["id", "stock_id", "ref", "group", "qty", "created_at", "updated_at"],
            [reservation_id, stock_id, item.ref, params["group"], item.qty, now, now],
        )
    if held_qty is not None:
        return _HELD if held_qty > 0 else _GENERAL
    available = 0
    if stock_id is not None:
        # `seen_available` is from the statement's snapshot; when it looks sufficient, the refusal came from
        # a newer row version (the locked one), so read that. Either way the figure reported is the one that
        # refused (at most qty - 1), even if a release has freed units since.
        if seen_available is None or seen_available >= item.qty:
            seen_available = StockLevel.objects.using(alias).get(pk=stock_id).available
        available = max(0, min(seen_available, item.qty - 1))
    raise InsufficientStock([(item.location.code, item.product.sku, item.qty, available)])


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
    *,
    ref: str,
    location: Location,
    product: Product,
    qty: int,
    reason: str,
    by: Any = None,
    kind: str = MovementKind.COMMIT,
) -> int:
    """Units held for `ref` leave the building (shipped or handed over; with `kind` TRANSFER_OUT, sent to
    another location): on_hand and reserved both go down."""
    held = _held(ref=ref, stock__location=location, stock__product=product)
    if sum(r.qty for r in held) < qty:
        raise InsufficientStock([(location.code, product.sku, qty, sum(r.qty for r in held))])
    return _release(held, qty=qty, reason=reason, by=by, kind=kind, consume=True)


@transaction.atomic
def stock_commit_held(
    *,
    ref: str,
    location: Location,
    units: Mapping[int, int],
    reason: str,
    by: Any = None,
    kind: str = MovementKind.TRANSFER_OUT,
) -> int:
    """Everything held for `ref` at `location` settles at once: `units[product id]` of each leave the building
    (on hand and reserved down, `kind`), the rest go back to free stock (a release). The reservations, then
    their stock rows, are locked together in pk order, like every other stock change. Returns units gone."""
    held = _held(ref=ref, stock__location=location)
    rows = lock_stock_rows((r.stock.location_id, r.stock.product_id) for r in held)
    gone = 0
    movements = []
    for reservation in held:
        stock = rows[(reservation.stock.location_id, reservation.stock.product_id)]
        leave = min(units.get(stock.product_id, 0), reservation.qty)
        back = reservation.qty - leave
        if leave:  # each ledger row states the stock row as it is right after it
            stock.on_hand -= leave
            stock.reserved -= leave
            movements.append(
                _movement(
                    stock,
                    kind=kind,
                    on_hand_delta=-leave,
                    reserved_delta=-leave,
                    reason=reason,
                    ref=ref,
                    by=by,
                )
            )
        if back:
            stock.reserved -= back
            movements.append(
                _movement(
                    stock, kind=MovementKind.RELEASE, reserved_delta=-back, reason="not sent", ref=ref, by=by
                )
            )
        reservation.qty = 0
        reservation.save(update_fields=["qty", "updated_at"])
        stock.save(update_fields=["on_hand", "reserved", "updated_at"])
        gone += leave
    StockMovement.objects.bulk_create(movements)
    return gone


@transaction.atomic
def stock_receive(
    *,
    location: Location,
    items: Sequence[tuple[Product, int]],
    reason: str,
    ref: str = "",
    by: Any = None,
    kind: str = MovementKind.RECEIVE,
) -> list[StockLevel]:
    """Units arrive at `location` (a receipt, or `kind` TRANSFER_IN): on hand goes up for each (product, qty),
    the rows locked together in pk order, one ledger row each."""
    for product, qty in items:
        if qty < 1:
            raise InvalidQuantity(
                _("A receipt of %(sku)s must bring at least one unit.") % {"sku": product.sku}, field="qty"
            )
    rows = lock_stock_rows((location.pk, product.pk) for product, _qty in items)
    movements = []
    for product, qty in items:
        stock = rows[(location.pk, product.pk)]
        stock.on_hand += qty
        stock.save(update_fields=["on_hand", "updated_at"])
        movements.append(_movement(stock, kind=kind, on_hand_delta=qty, reason=reason, ref=ref, by=by))
    StockMovement.objects.bulk_create(movements)
    return list(rows.values())


@transaction.atomic
def stock_receive_held(
    *, location: Location, product: Product, qty: int, ref: str, group: str = "", reason: str, by: Any = None
) -> Reservation:
    """Units arrive already promised to `ref` (a transfer for a pickup): on hand and reserved both go up,
    in one step, so safety stock or other orders can never take them in between. One ledger row."""
    if qty < 1:
        raise InvalidQuantity(_("A receipt must bring at least one unit."), field="qty")
    stock = lock_stock_row(location=location, product=product)  # on_hand and reserved change together
    stock.on_hand += qty
    stock.reserved += qty
    stock.save(update_fields=["on_hand", "reserved", "updated_at"])
    held, created = Reservation.objects.get_or_create(
        stock=stock, ref=ref, defaults={"group": group, "qty": qty}
    )
    if not created:
        held.qty += qty
        held.save(update_fields=["qty", "updated_at"])
    _movement(
        stock, kind=MovementKind.RECEIVE, on_hand_delta=qty, reserved_delta=qty, reason=reason, ref=ref, by=by
    ).save()
    return held


@transaction.atomic
def stock_short_pick(
    *, ref: str, location: Location, product: Product, missing: int, reason: str, by: Any = None
) -> int:
    """Units held for `ref` were not found on the shelf: they leave both reserved and on hand."""
    held = _held(ref=ref, stock__location=location, stock__product=product)
    return _release(held, qty=missing, reason=reason, by=by, kind=MovementKind.SHORT_PICK, consume=True)
