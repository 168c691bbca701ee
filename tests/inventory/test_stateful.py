"""Random sequences of stock operations against a tiny in-memory model of what they should do.

After every step the database must equal the model (on_hand, reserved per row; qty per reservation), keep
`0 <= reserved <= on_hand`, and its ledger and reservations must add up to the stock rows. A refused
operation must raise its domain error and change nothing at all.

Each example runs inside a transaction (a savepoint in the test's transaction) that is rolled back in
`teardown`, so examples never see each other's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from inventory.exceptions import InsufficientStock, StockBelowReserved
from inventory.models import Reservation, StockLevel, StockMovement
from inventory.services import (
    ReserveItem,
    stock_adjust,
    stock_commit,
    stock_release,
    stock_release_group,
    stock_reserve,
    stock_reserve_many,
    stock_set_count,
    stock_short_pick,
)
from tests.factories import LocationFactory, ProductFactory

LOCATIONS = range(2)
PRODUCTS = range(2)
REFS = ["fl:1", "fl:2", "fl:3", "fl:4"]
GROUPS = ["O-1", "O-2"]

locs = st.sampled_from(list(LOCATIONS))
prods = st.sampled_from(list(PRODUCTS))
refs = st.sampled_from(REFS)
groups = st.sampled_from(GROUPS)
qtys = st.integers(min_value=1, max_value=6)


@dataclass
class Row:
    on_hand: int = 0
    reserved: int = 0
    safety: int = 0

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety)


@dataclass
class Model:
    rows: dict[tuple[int, int], Row] = field(default_factory=dict)
    held: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (ref, loc, prod) -> qty
    group_of: dict[tuple[str, int, int], str] = field(default_factory=dict)

    def row(self, loc: int, prod: int) -> Row:
        return self.rows.get((loc, prod), Row())


class StockMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        suffix = f"{id(self) % 10**6}"
        self.locations: list[Any] = [LocationFactory(code=f"SM-{suffix}-{i}") for i in LOCATIONS]
        self.products: list[Any] = [ProductFactory(sku=f"SM-{suffix}-{i}", ean=None) for i in PRODUCTS]
        self.model = Model()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- helpers --------------------------------------------------------------------------------------------

    def lp(self, loc: int, prod: int) -> dict[str, Any]:
        return {"location": self.locations[loc], "product": self.products[prod]}

    def snapshot(self) -> tuple[Any, ...]:
        return (
            sorted(
                StockLevel.objects.values_list(
                    "location_id", "product_id", "on_hand", "reserved", "safety_stock"
                )
            ),
            sorted(Reservation.objects.values_list("ref", "stock_id", "qty", "group")),
            StockMovement.objects.count(),
        )

    def refused(self, error: type[Exception], call: Any) -> None:
        """`call` must raise `error` and leave every row, reservation and ledger entry as it was."""
        before = self.snapshot()
        with pytest.raises(error):
            call()
        assert self.snapshot() == before

    def take(self, key: tuple[str, int, int], qty: int | None, *, consume: bool) -> int:
        held = self.model.held.get(key, 0)
        take = held if qty is None else min(qty, held)
        if take <= 0:
            return 0
        self.model.held[key] = held - take
        row = self.model.rows[(key[1], key[2])]
        row.reserved -= take
        if consume:
            row.on_hand -= take
        return take

    # --- rules ----------------------------------------------------------------------------------------------

    @rule(loc=locs, prod=prods, on_hand=st.integers(min_value=0, max_value=20))
    def count(self, loc: int, prod: int, on_hand: int) -> None:
        row = self.model.row(loc, prod)
        if on_hand < row.reserved:
            self.refused(
                StockBelowReserved,
                lambda: stock_set_count(**self.lp(loc, prod), on_hand=on_hand, reason="count"),
            )
            return
        stock = stock_set_count(**self.lp(loc, prod), on_hand=on_hand, reason="count")
        self.model.rows.setdefault((loc, prod), Row()).on_hand = on_hand
        assert (stock.on_hand, stock.reserved) == (on_hand, row.reserved)

    @rule(loc=locs, prod=prods, delta=st.integers(min_value=-6, max_value=8).filter(bool))
    def adjust(self, loc: int, prod: int, delta: int) -> None:
        row = self.model.row(loc, prod)
        if row.on_hand + delta < row.reserved:
            self.refused(
                StockBelowReserved, lambda: stock_adjust(**self.lp(loc, prod), delta=delta, reason="adjust")
            )
            return
        stock_adjust(**self.lp(loc, prod), delta=delta, reason="adjust")
        self.model.rows.setdefault((loc, prod), Row()).on_hand += delta

    @rule(loc=locs, prod=prods, safety=st.integers(min_value=0, max_value=4))
    def set_safety_stock(self, loc: int, prod: int, safety: int) -> None:
        # Safety stock is edited on the stock row directly (admin); it only changes what is available.
        if StockLevel.objects.filter(**self.lp(loc, prod)).update(safety_stock=safety):
            self.model.rows[(loc, prod)].safety = safety

    @rule(loc=locs, prod=prods, qty=qtys, ref=refs, group=groups)
    def reserve(self, loc: int, prod: int, qty: int, ref: str, group: str) -> None:
        key = (ref, loc, prod)
        row = self.model.row(loc, prod)
        if self.model.held.get(key, 0) > 0:  # idempotent: the existing reservation comes back unchanged
            got = stock_reserve(**self.lp(loc, prod), qty=qty, ref=ref, group=group)
            assert (got.qty, got.group) == (self.model.held[key], self.model.group_of[key])
            return
        if row.available < qty:
            self.refused(
                InsufficientStock, lambda: stock_reserve(**self.lp(loc, prod), qty=qty, ref=ref, group=group)
            )
            return
        got = stock_reserve(**self.lp(loc, prod), qty=qty, ref=ref, group=group)
        assert got.qty == qty and got.pk is not None
        self.model.rows[(loc, prod)].reserved += qty
        self.model.held[key] = qty
        self.model.group_of.setdefault(key, group)  # a re-used (fully released) reservation keeps its group

    @rule(
        picks=st.lists(st.tuples(locs, prods, qtys), min_size=1, max_size=3, unique_by=lambda t: t[:2]),
        ref=refs,
        group=groups,
    )
    def reserve_many(self, picks: list[tuple[int, int, int]], ref: str, group: str) -> None:
        items = [ReserveItem(self.locations[loc], self.products[prod], qty, ref) for loc, prod, qty in picks]
        todo = [(loc, prod, qty) for loc, prod, qty in picks if self.model.held.get((ref, loc, prod), 0) == 0]
        if any(self.model.row(loc, prod).available < qty for loc, prod, qty in todo):
            self.refused(InsufficientStock, lambda: stock_reserve_many(items=items, group=group))
            return
        done = stock_reserve_many(items=items, group=group)
        assert len(done) == len(todo)
        for loc, prod, qty in todo:
            self.model.rows[(loc, prod)].reserved += qty
            self.model.held[(ref, loc, prod)] = qty
            self.model.group_of.setdefault((ref, loc, prod), group)

    @rule(ref=refs, loc=st.none() | locs, qty=st.none() | qtys)
    def release(self, ref: str, loc: int | None, qty: int | None) -> None:
        expected = sum(
            self.take(key, qty, consume=False)
            for key in sorted(self.model.held)
            if key[0] == ref and (loc is None or key[1] == loc)
        )
        location = None if loc is None else self.locations[loc]
        assert stock_release(ref=ref, location=location, qty=qty, reason="release") == expected

    @rule(group=groups)
    def release_group(self, group: str) -> None:
        keys = [key for key in sorted(self.model.held) if self.model.group_of[key] == group]
        expected = sum(self.take(key, None, consume=False) for key in keys)
        assert stock_release_group(group=group, reason="cancel") == expected

    @rule(ref=refs, loc=locs, prod=prods, qty=qtys)
    def commit(self, ref: str, loc: int, prod: int, qty: int) -> None:
        key = (ref, loc, prod)
        if self.model.held.get(key, 0) < qty:
            self.refused(
                InsufficientStock,
                lambda: stock_commit(ref=ref, **self.lp(loc, prod), qty=qty, reason="shipped"),
            )
            return
        assert stock_commit(ref=ref, **self.lp(loc, prod), qty=qty, reason="shipped") == qty
        self.take(key, qty, consume=True)

    @rule(ref=refs, loc=locs, prod=prods, missing=qtys)
    def short_pick(self, ref: str, loc: int, prod: int, missing: int) -> None:
        expected = self.take((ref, loc, prod), missing, consume=True)
        got = stock_short_pick(ref=ref, **self.lp(loc, prod), missing=missing, reason="not found")
        assert got == expected

    # --- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def database_matches_the_model(self) -> None:
        loc_index = {loc.pk: i for i, loc in enumerate(self.locations)}
        prod_index = {p.pk: i for i, p in enumerate(self.products)}
        rows = list(StockLevel.objects.filter(location__in=self.locations))
        ledger = {
            r["stock_id"]: (r["oh"], r["res"])
            for r in StockMovement.objects.filter(stock__in=rows)
            .values("stock_id")
            .annotate(oh=Sum("on_hand_delta"), res=Sum("reserved_delta"))
        }
        last = {
            m.stock_id: (m.on_hand_after, m.reserved_after)
            for m in StockMovement.objects.filter(stock__in=rows)
            .order_by("stock_id", "-id")
            .distinct("stock_id")
        }
        by_row: dict[int, int] = {}
        held: dict[tuple[str, int, int], int] = {}
        for ref, stock_id, loc_id, prod_id, qty in Reservation.objects.filter(stock__in=rows).values_list(
            "ref", "stock_id", "stock__location_id", "stock__product_id", "qty"
        ):
            by_row[stock_id] = by_row.get(stock_id, 0) + qty
            if qty:
                held[(ref, loc_index[loc_id], prod_index[prod_id])] = qty
        seen = set()
        for stock in rows:
            key = (loc_index[stock.location_id], prod_index[stock.product_id])
            seen.add(key)
            row = self.model.row(*key)
            assert (stock.on_hand, stock.reserved, stock.safety_stock) == (
                row.on_hand,
                row.reserved,
                row.safety,
            )
            assert 0 <= stock.reserved <= stock.on_hand
            assert (
                stock.available
                == row.available
                == max(0, stock.on_hand - stock.reserved - stock.safety_stock)
            )
            assert ledger.get(stock.pk, (0, 0)) == (stock.on_hand, stock.reserved)  # rows are born at zero
            assert last.get(stock.pk, (0, 0)) == (stock.on_hand, stock.reserved)
            assert by_row.get(stock.pk, 0) == stock.reserved
        # Rows the model knows but the database lacks can only be untouched, empty ones.
        for key in set(self.model.rows) - seen:
            assert self.model.rows[key] == Row()
        assert held == {k: v for k, v in self.model.held.items() if v}


@pytest.mark.django_db
def test_random_stock_operations_keep_the_books_straight():
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
