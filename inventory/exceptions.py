from __future__ import annotations

from oms.exceptions import DomainError


class InsufficientStock(DomainError):
    """Fewer units available than asked for; `shortages` lists (location, sku, asked, available)."""

    code = "insufficient_stock"

    def __init__(self, shortages: list[tuple[str, str, int, int]]) -> None:
        parts = [f"{sku} at {loc}: asked {asked}, available {avail}" for loc, sku, asked, avail in shortages]
        super().__init__("Insufficient stock: " + "; ".join(parts), shortages=[list(s) for s in shortages])
        self.shortages = shortages


class StockBelowReserved(DomainError):
    """A count or adjustment would leave fewer units on hand than are already reserved."""

    code = "below_reserved"


class InvalidQuantity(DomainError):
    status_code = 400
    code = "invalid_quantity"
