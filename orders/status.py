"""The order and line status pipeline as data (django-oscar style), and the derived order status.

`ORDER_TRANSITIONS[a]` lists the statuses an order may move to from `a`. The order status follows from its
lines through `derive_order_status`, a pure function; holds and cancellations are explicit moves.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import LineStatus, OrderStatus

S = OrderStatus

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.RECEIVED: frozenset({S.AWAITING_ROUTING, S.ON_HOLD, S.CANCELLED}),
    S.AWAITING_ROUTING: frozenset({S.ALLOCATED, S.BACKORDERED, S.IN_FULFILMENT, S.ON_HOLD, S.CANCELLED}),
    S.ALLOCATED: frozenset(
        {
            S.AWAITING_ROUTING,
            S.BACKORDERED,
            S.IN_FULFILMENT,
            S.PARTLY_SHIPPED,
            S.SHIPPED,
            S.READY_FOR_PICKUP,
            S.ON_HOLD,
            S.CANCELLED,
        }
    ),
    S.BACKORDERED: frozenset({S.AWAITING_ROUTING, S.ALLOCATED, S.IN_FULFILMENT, S.ON_HOLD, S.CANCELLED}),
    S.IN_FULFILMENT: frozenset(
        {
            S.AWAITING_ROUTING,
            S.ALLOCATED,
            S.BACKORDERED,
            S.PARTLY_SHIPPED,
            S.SHIPPED,
            S.READY_FOR_PICKUP,
            S.CANCELLED,
        }
    ),
    S.PARTLY_SHIPPED: frozenset({S.SHIPPED, S.DELIVERED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.READY_FOR_PICKUP: frozenset({S.COLLECTED, S.CANCELLED}),
    S.COLLECTED: frozenset(),
    S.ON_HOLD: frozenset({S.RECEIVED, S.AWAITING_ROUTING, S.ALLOCATED, S.BACKORDERED, S.CANCELLED}),
    S.CANCELLED: frozenset(),
}

# Statuses from which nothing has left a location yet: the order may still be cancelled or changed.
CANCELLABLE = frozenset(
    {
        S.RECEIVED,
        S.AWAITING_ROUTING,
        S.ALLOCATED,
        S.BACKORDERED,
        S.IN_FULFILMENT,
        S.READY_FOR_PICKUP,
        S.ON_HOLD,
    }
)
HOLDABLE = frozenset({S.RECEIVED, S.AWAITING_ROUTING, S.ALLOCATED, S.BACKORDERED})
ADDRESS_CHANGEABLE = frozenset({S.RECEIVED, S.AWAITING_ROUTING, S.ALLOCATED, S.BACKORDERED, S.ON_HOLD})

L = LineStatus


def derive_order_status(line_statuses: Iterable[str]) -> str:
    """The order status that its lines' statuses add up to."""
    statuses = list(line_statuses)
    active = [s for s in statuses if s != L.CANCELLED]
    if not active:
        return S.CANCELLED
    present = set(active)
    if present == {L.DELIVERED}:
        return S.DELIVERED
    if present == {L.COLLECTED}:
        return S.COLLECTED
    if present <= {L.SHIPPED, L.DELIVERED}:
        return S.SHIPPED
    if present & {L.SHIPPED, L.DELIVERED}:
        return S.PARTLY_SHIPPED
    if present <= {L.READY_FOR_PICKUP, L.COLLECTED}:
        return S.READY_FOR_PICKUP
    if present & {L.IN_FULFILMENT, L.READY_FOR_PICKUP}:
        return S.IN_FULFILMENT
    if L.PENDING in present:
        return S.AWAITING_ROUTING
    if L.BACKORDERED in present:
        return S.BACKORDERED
    return S.ALLOCATED


def can_move(current: str, target: str) -> bool:
    return target == current or target in ORDER_TRANSITIONS.get(current, frozenset())
