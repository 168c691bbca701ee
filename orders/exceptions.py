from __future__ import annotations

from oms.exceptions import DomainError, InvalidTransition


class OrderNotCancellable(InvalidTransition):
    code = "not_cancellable"


class OrderNotChangeable(InvalidTransition):
    code = "not_changeable"


class IdempotencyKeyReused(DomainError):
    """An idempotency key sent again with another order (another channel or reference): a client's bug, 422 as
    the IETF Idempotency-Key draft asks for a key reused with a different payload."""

    status_code = 422
    code = "idempotency_key_reused"


class ReturnInvalid(DomainError):
    status_code = 400
    code = "return_invalid"


class PickupNotOffered(DomainError):
    status_code = 400
    code = "pickup_not_offered"


__all__ = [
    "DomainError",
    "IdempotencyKeyReused",
    "InvalidTransition",
    "OrderNotCancellable",
    "OrderNotChangeable",
    "PickupNotOffered",
    "ReturnInvalid",
]
