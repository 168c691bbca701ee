"""Stock transfers between the retailer's locations: create (reserve at the source), dispatch (the units leave
the source), receive (they join the destination's stock), cancel (the reservation is released).

Each function is one transaction that locks the transfer first, then its stock rows (in pk order, through the
stock services), and writes the ledger rows (reference: the transfer's number), an audit row and a webhook
event. A refused step raises `DomainError` naming the field and changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.audit import audit_record
from oms.exceptions import DomainError
from oms.queue import enqueue_on_commit
from oms.webhooks import emit_events, subscriptions_for

from ..models import (
    Location,
    MovementKind,
    Product,
    StockTransfer,
    StockTransferLine,
    TransferOrigin,
    TransferStatus,
)
from . import ReserveItem, _actor, stock_commit_held, stock_receive, stock_release, stock_reserve_many

# Days a dispatched transfer is expected on the road (the replenishment job's lead time, LEAD_DAYS, also
# counts the days before dispatch); past them it is overdue and announced once (`transfer.overdue`).
TRANSIT_DAYS = 2

# A receipt's note or a cancellation's reason follows the note the transfer was opened with ("rev2", received
# with "one missing": "rev2 · one missing"), the whole cut to the field's length.
NOTE_SEPARATOR = " · "
NOTE_MAX = StockTransfer._meta.get_field("note").max_length or 200

# Received units may let backordered order lines be routed: routing retries them (a task name: inventory
# does not import routing).
BACKORDER_RETRY_TASK = "routing.retry_backorders"


def _event(name: str, transfer: StockTransfer, lines: Sequence[StockTransferLine] | None = None) -> None:
    """Webhook `name` with the transfer and its lines (those given, with their products, else read): nothing
    is read or written when no one subscribes to it."""
    subscriptions = subscriptions_for(name)
    if not subscriptions:
        return
    if lines is None:
        lines = list(transfer.lines.select_related("product"))
    emit_events(
        name,
        [{"transfer": transfer.number, "source": transfer.source.code,
          "destination": transfer.destination.code, "origin": transfer.origin, "status": transfer.status,
          "tracking": transfer.tracking,
          "lines": [{"sku": line.product.sku, "qty": line.qty, "sent": line.qty_sent,
                     "received": line.qty_received}
                    for line in sorted(lines, key=lambda line: line.product.sku)]}],
        subscriptions=subscriptions,
    )  # fmt: skip


def transfer_create(
    *,
    source: Location,
    destination: Location,
    lines: Sequence[tuple[Product, int]],
    by: Any,
    origin: str = TransferOrigin.MANUAL,
    note: str = "",
    allow_partial: bool = False,
) -> StockTransfer:
    """Open a transfer of `lines` (product, units) from `source` to `destination` and reserve the units at the
    source, so no order can take them meanwhile. All or nothing, or with `allow_partial` as many as are free
    (lines with none are left out; a transfer with none at all is refused)."""
    if source.pk == destination.pk:
        raise DomainError(_("A transfer goes to another location than its source."), field="destination")
    for place, field in ((source, "source"), (destination, "destination")):
        if not place.active:
            raise DomainError(_("%(code)s is not active.") % {"code": place.code}, field=field)
    wanted: dict[int, list[Any]] = {}
    for product, qty in lines:
        if qty < 1:
            raise DomainError(
                _("Quantity for %(sku)s must be at least 1.") % {"sku": product.sku}, field="lines"
            )
        wanted.setdefault(product.pk, [product, 0])[1] += qty
    if not wanted:
        raise DomainError(_("A transfer needs at least one product."), field="lines")
    with transaction.atomic():
        transfer = StockTransfer.objects.create(
            source=source, destination=destination, origin=origin, note=note[:200], created_by=_actor(by)
        )
        held = stock_reserve_many(
            items=[
                ReserveItem(source, product, qty, ref=transfer.number) for product, qty in wanted.values()
            ],
            group=transfer.number,
            reason=f"transfer to {destination.code}",
            by=by,
            allow_partial=allow_partial,
        )
        reserved = {r.stock.product_id: r.qty for r in held}
        if not reserved:
            raise DomainError(
                _("None of these units is free at %(code)s now.") % {"code": source.code}, field="lines"
            )
        made = StockTransferLine.objects.bulk_create(
            StockTransferLine(transfer=transfer, product=product, qty=reserved[product.pk])
            for product, _qty in wanted.values()
            if product.pk in reserved
        )
        units = sum(reserved.values())
        audit_record(
            actor=by,
            action="transfer.created",
            obj=transfer,
            summary=f"{transfer.number}: {units} units {source.code} -> {destination.code} ({origin})",
        )
        _event("transfer.created", transfer, made)
    return transfer


def _locked(transfer: StockTransfer, *expected: str) -> StockTransfer:
    """The transfer locked, with its places; refused (naming its status) unless in one of `expected`."""
    locked = (
        StockTransfer.objects.select_for_update(of=("self",))
        .select_related("source", "destination")
        .get(pk=transfer.pk)
    )
    if locked.status not in expected:
        raise DomainError(
            _("Transfer %(number)s is %(status)s: nothing was changed.")
            % {"number": locked.number, "status": locked.get_status_display().lower()},
            field="status",
        )
    return locked


def _close(t: StockTransfer, status: str, *, by: Any, note: str) -> dict[str, Any]:
    """Received or cancelled: when, by whom, and the note if one was given, added after the transfer's own
    note (cut to the field's 200 characters, the note's whole text goes to the audit row: the returned
    `after`)."""
    t.status, t.closed_at, t.closed_by = status, timezone.now(), _actor(by)
    text = note.strip()
    if text:
        joined = t.note + NOTE_SEPARATOR + text if t.note else text
        t.note = joined if len(joined) <= NOTE_MAX else joined[: NOTE_MAX - 1] + "…"
    t.save(update_fields=["status", "closed_at", "closed_by", "note"])
    return {"note": text} if text else {}


def _quantities(
    lines: list[StockTransferLine], given: Mapping[int, int] | None, *, most: str, label: str
) -> dict[int, int]:
    """Units per line (`given` by line pk, else the line's `most`), each between 0 and the line's `most`."""
    chosen = {}
    for line in lines:
        top = getattr(line, most)
        qty = top if given is None or line.pk not in given else given[line.pk]
        if not 0 <= qty <= top:
            raise DomainError(
                _("%(sku)s: %(label)s must be between 0 and %(most)s.")
                % {"sku": line.product.sku, "label": label, "most": top},
                field="qty",
            )
        chosen[line.pk] = qty
    return chosen


def transfer_dispatch(
    *, transfer: StockTransfer, by: Any, sent: Mapping[int, int] | None = None, tracking: str = ""
) -> StockTransfer:
    """The units leave the source: `sent` per line pk (all reserved units when not given). Units not sent go
    back to the source's free stock. At least one unit must leave (otherwise cancel the transfer)."""
    with transaction.atomic():
        t = _locked(transfer, TransferStatus.OPEN)
        lines = list(t.lines.select_related("product").order_by("pk"))
        qty = _quantities(lines, sent, most="qty", label=_("units sent"))
        if not any(qty.values()):
            raise DomainError(_("Nothing would leave: cancel the transfer instead."), field="qty")
        stock_commit_held(
            ref=t.number,
            location=t.source,
            units={line.product_id: qty[line.pk] for line in lines},
            reason=f"transfer to {t.destination.code}",
            by=by,
            kind=MovementKind.TRANSFER_OUT,
        )
        for line in lines:
            line.qty_sent = qty[line.pk]
        StockTransferLine.objects.bulk_update(lines, ["qty_sent"])
        t.status = TransferStatus.DISPATCHED
        t.dispatched_at = timezone.now()
        t.expected_at = t.dispatched_at + dt.timedelta(days=TRANSIT_DAYS)
        t.dispatched_by = _actor(by)
        t.tracking = tracking.strip()[:80]
        t.save(update_fields=["status", "dispatched_at", "expected_at", "dispatched_by", "tracking"])
        audit_record(
            actor=by, action="transfer.dispatched", obj=t,
            summary=f"{t.number}: {sum(qty.values())} units sent to {t.destination.code}",
        )  # fmt: skip
        _event("transfer.dispatched", t, lines)
    return t


def transfer_receive(
    *, transfer: StockTransfer, by: Any, received: Mapping[int, int] | None = None, note: str = ""
) -> StockTransfer:
    """The units arrive at the destination: `received` per line pk (all units sent when not given) join its
    stock. Fewer than were sent is recorded as the line's discrepancy (`missing`)."""
    with transaction.atomic():
        t = _locked(transfer, TransferStatus.DISPATCHED)
        lines = list(t.lines.select_related("product").order_by("pk"))
        qty = _quantities(lines, received, most="qty_sent", label=_("units received"))
        arrived = [(line.product, qty[line.pk]) for line in lines if qty[line.pk]]
        if arrived:
            stock_receive(
                location=t.destination, items=arrived, reason=f"transfer from {t.source.code}",
                ref=t.number, by=by, kind=MovementKind.TRANSFER_IN,
            )  # fmt: skip
            enqueue_on_commit(BACKORDER_RETRY_TASK)
        for line in lines:
            line.qty_received = qty[line.pk]
        StockTransferLine.objects.bulk_update(lines, ["qty_received"])
        noted = _close(t, TransferStatus.RECEIVED, by=by, note=note)
        missing = sum(line.missing for line in lines)
        summary = f"{t.number}: {sum(qty.values())} units received from {t.source.code}"
        audit_record(
            actor=by,
            action="transfer.received",
            obj=t,
            summary=summary + (f", {missing} missing" if missing else ""),
            after=noted or None,
        )
        _event("transfer.received", t, lines)
    return t


def transfer_cancel(*, transfer: StockTransfer, by: Any, reason: str = "") -> StockTransfer:
    """Cancel a transfer not dispatched yet: its reserved units go back to the source's free stock."""
    with transaction.atomic():
        t = _locked(transfer, TransferStatus.OPEN)
        released = stock_release(
            ref=t.number, location=t.source, reason=reason or "transfer cancelled", by=by
        )
        noted = _close(t, TransferStatus.CANCELLED, by=by, note=reason)
        audit_record(
            actor=by, action="transfer.cancelled", obj=t, summary=f"{t.number}: {released} units released",
            after=noted or None,
        )  # fmt: skip
        _event("transfer.cancelled", t)
    return t


def transfers_overdue(*, now: dt.datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of transfers in transit past their expected time, not announced yet (the longest overdue first)."""
    return list(
        StockTransfer.objects.filter(
            status=TransferStatus.DISPATCHED, expected_at__lt=now or timezone.now(), overdue_alerted_at=None
        )
        .order_by("expected_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def transfer_flag_overdue(*, transfer: StockTransfer, now: dt.datetime | None = None) -> bool:
    """Announce once that a transfer in transit is overdue at its destination: an audit row and the
    `transfer.overdue` webhook (for the carrier desk). False, with nothing written, if it was announced
    already, has arrived or is not overdue."""
    now = now or timezone.now()
    with transaction.atomic():
        t = _locked(transfer, *TransferStatus.values)
        if t.overdue_alerted_at or not t.is_overdue(now):
            return False
        t.overdue_alerted_at = now
        t.save(update_fields=["overdue_alerted_at"])
        audit_record(
            actor=None, action="transfer.overdue", obj=t,
            summary=f"{t.number}: expected at {t.destination.code} by {t.expected_at:%Y-%m-%d %H:%M} UTC",
        )  # fmt: skip
        _event("transfer.overdue", t)
    return True
