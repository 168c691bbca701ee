"""What of an order may come back: the units that reached the customer, less what its returns cover; and
where a user may have goods come back to."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from inventory.selectors import location_list

from ...models import (
    Fulfilment,
    FulfilmentKind,
    FulfilmentLine,
    FulfilmentStatus,
    Order,
    ReturnLine,
    ReturnStatus,
)
from ..fulfilment import handover_lines

FK, FS = FulfilmentKind, FulfilmentStatus


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
