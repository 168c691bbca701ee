"""The base of every domain exception: a refused business operation, in domain words."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused business operation. The API answers `status_code` (409 by default); pages show `message`."""

    status_code = 409
    code = "conflict"

    def __init__(self, message: str, *, field: str | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.data = data


class InvalidTransition(DomainError):
    code = "invalid_transition"


class NotPermitted(DomainError):
    """The caller's role or scope does not allow this change (403), though they may see what it is about."""

    status_code = 403
    code = "forbidden"


class NotFoundInScope(DomainError):
    status_code = 404
    code = "not_found"
