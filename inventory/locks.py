"""Row locks on stock, always taken in primary-key order so that two transactions never deadlock."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from .models import Location, Product, StockLevel


def lock_stock_rows(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """Create missing stock rows for (location_id, product_id) pairs, then lock them all in pk order.

    Must run inside a transaction. Returns the locked rows by pair.
    """
    wanted = set(pairs)
    if not wanted:
        return {}
    StockLevel.objects.bulk_create(
        [StockLevel(location_id=loc, product_id=prod) for loc, prod in sorted(wanted)], ignore_conflicts=True
    )
    match = Q()
    for loc, prod in wanted:
        match |= Q(location_id=loc, product_id=prod)
    rows = StockLevel.objects.select_for_update(of=("self",)).filter(match).order_by("pk")
    return {(row.location_id, row.product_id): row for row in rows}


def lock_stock_row(*, location: Location, product: Product) -> StockLevel:
    return lock_stock_rows([(location.pk, product.pk)])[(location.pk, product.pk)]
