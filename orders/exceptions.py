from __future__ import annotations

from oms.exceptions import DomainError, InvalidTransition


class OrderNotCancellable(InvalidTransition):
    code = "not_cancellable"


class OrderNotChangeable(InvalidTransition):
    code = "not_changeable"


class ReturnInvalid(DomainError):
    status_code = 400
    code = "return_invalid"


class PickupNotOffered(DomainError):
    status_code = 400
    code = "pickup_not_offered"


__all__ = [
    "DomainError",
    "InvalidTransition",
    "OrderNotCancellable",
    "OrderNotChangeable",
    "PickupNotOffered",
    "ReturnInvalid",
]
