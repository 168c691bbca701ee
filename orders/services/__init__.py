"""Order services. Lifecycle verbs live in `lifecycle`; fulfilment verbs in `fulfilment`."""

from .lifecycle import (
    ROUTE_TASK,
    AddressData,
    CustomerData,
    LineData,
    OrderCreateResult,
    OrderInput,
    lock_order,
    order_add_note,
    order_cancel,
    order_change_address,
    order_create,
    order_create_many,
    order_event,
    order_hold,
    order_refresh_status,
    order_release_hold,
)

__all__ = [
    "ROUTE_TASK",
    "AddressData",
    "CustomerData",
    "LineData",
    "OrderCreateResult",
    "OrderInput",
    "lock_order",
    "order_add_note",
    "order_cancel",
    "order_change_address",
    "order_create",
    "order_create_many",
    "order_event",
    "order_hold",
    "order_refresh_status",
    "order_release_hold",
]
