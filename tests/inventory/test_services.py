"""Stock services: counts, adjustments, reservations, releases, commits — and the ledger of each."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from inventory.exceptions import InsufficientStock, InvalidQuantity, StockBelowReserved
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
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
from oms.db import ASYNC_COMMIT_EXPR, ASYNC_COMMIT_SQL
from tests.factories import LocationFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock():
    return StockFactory(on_hand=10)


def _reload(stock: StockLevel) -> StockLevel:
    stock.refresh_from_db()
    return stock


def _ledger_matches(stock: StockLevel) -> None:
    moves = list(StockMovement.objects.filter(stock=stock).order_by("id"))
    assert sum(m.on_hand_delta for m in moves) == stock.on_hand - 10
    assert sum(m.reserved_delta for m in moves) == stock.reserved
    if moves:
        assert (moves[-1].on_hand_after, moves[-1].reserved_after) == (stock.on_hand, stock.reserved)


def test_count_sets_on_hand_and_writes_the_ledger(stock, admin_user):
    stock_set_count(
        location=stock.location, product=stock.product, on_hand=7, reason="cycle count", by=admin_user
    )
    stock = _reload(stock)
    assert stock.on_hand == 7
    move = StockMovement.objects.get(stock=stock)
    assert (move.kind, move.on_hand_delta, move.actor, move.reason) == (
        MovementKind.COUNT,
        -3,
        admin_user,
        "cycle count",
    )


def test_count_below_reserved_is_refused_and_changes_nothing(stock):
    stock_reserve(location=stock.location, product=stock.product, qty=4, ref="line:1", group="A")
    with pytest.raises(StockBelowReserved) as err:
        stock_set_count(location=stock.location, product=stock.product, on_hand=3, reason="count")
    assert "4 unidades já reservadas" in err.value.message  # pt-BR, the default language
    assert _reload(stock).on_hand == 10
    assert StockMovement.objects.filter(kind=MovementKind.COUNT).count() == 0


def test_adjust_up_and_down(stock):
    stock_adjust(location=stock.location, product=stock.product, delta=5, reason="receipt")
    stock_adjust(location=stock.location, product=stock.product, delta=-2, reason="damaged")
    stock = _reload(stock)
    assert stock.on_hand == 13
    _ledger_matches(stock)
    with pytest.raises(InvalidQuantity):
        stock_adjust(location=stock.location, product=stock.product, delta=0, reason="nothing")
    with pytest.raises(StockBelowReserved):
        stock_adjust(location=stock.location, product=stock.product, delta=-14, reason="too much")


def test_adjust_below_reserved_names_the_reserved_units_in_the_singular_and_the_plural(stock):
    stock_reserve(location=stock.location, product=stock.product, qty=1, ref="line:1", group="A")
    with translation.override("en"), pytest.raises(StockBelowReserved) as err:
        stock_adjust(location=stock.location, product=stock.product, delta=-10, reason="lost")
    assert err.value.message.endswith("would leave 0 on hand, below the 1 unit reserved.")
    stock_reserve(location=stock.location, product=stock.product, qty=1, ref="line:2", group="B")
    with translation.override("en"), pytest.raises(StockBelowReserved) as err:
        stock_adjust(location=stock.location, product=stock.product, delta=-10, reason="lost")
    assert err.value.message.endswith("below the 2 units reserved.")
    assert _reload(stock).on_hand == 10


def test_reserve_respects_available_and_safety_stock(stock):
    StockLevel.objects.filter(pk=stock.pk).update(safety_stock=2)
    stock_reserve(location=stock.location, product=stock.product, qty=8, ref="line:1")
    with pytest.raises(InsufficientStock) as err:
        stock_reserve(location=stock.location, product=stock.product, qty=1, ref="line:2")
    assert err.value.shortages == [(stock.location.code, stock.product.sku, 1, 0)]
    assert _reload(stock).reserved == 8


def test_reserve_is_idempotent_per_reference(stock):
    first = stock_reserve(location=stock.location, product=stock.product, qty=3, ref="line:1")
    again = stock_reserve(location=stock.location, product=stock.product, qty=3, ref="line:1")
    assert first.pk == again.pk
    assert _reload(stock).reserved == 3
    assert StockMovement.objects.filter(kind=MovementKind.RESERVE).count() == 1


def test_reserve_many_is_all_or_nothing_and_lists_every_shortage():
    a, b, c = StockFactory(on_hand=5), StockFactory(on_hand=1), StockFactory(on_hand=0)
    items = [ReserveItem(s.location, s.product, 2, f"line:{i}") for i, s in enumerate([a, b, c])]
    with pytest.raises(InsufficientStock) as err:
        stock_reserve_many(items=items, group="ORDER-1")
    assert {s[1] for s in err.value.shortages} == {b.product.sku, c.product.sku}
    assert Reservation.objects.count() == 0
    assert _reload(a).reserved == 0


def test_release_and_release_group(stock):
    other = StockFactory(location=LocationFactory(code="LJ-RJ-01"), product=stock.product, on_hand=5)
    stock_reserve(location=stock.location, product=stock.product, qty=4, ref="line:1", group="O1")
    stock_reserve(location=other.location, product=stock.product, qty=2, ref="line:1", group="O1")
    assert stock_release(ref="line:1", location=stock.location, qty=1, reason="qty changed") == 1
    assert _reload(stock).reserved == 3
    assert stock_release_group(group="O1", reason="cancelled") == 5
    assert (_reload(stock).reserved, _reload(other).reserved) == (0, 0)
    assert stock_release_group(group="O1", reason="cancelled again") == 0
    _ledger_matches(_reload(stock))


def test_commit_takes_units_out_of_on_hand_and_reserved(stock):
    stock_reserve(location=stock.location, product=stock.product, qty=4, ref="fl:1", group="O1")
    stock_commit(ref="fl:1", location=stock.location, product=stock.product, qty=3, reason="shipped")
    stock = _reload(stock)
    assert (stock.on_hand, stock.reserved) == (7, 1)
    with pytest.raises(InsufficientStock):
        stock_commit(ref="fl:1", location=stock.location, product=stock.product, qty=2, reason="shipped")
    _ledger_matches(_reload(stock))


def test_short_pick_removes_missing_units(stock):
    stock_reserve(location=stock.location, product=stock.product, qty=4, ref="fl:1", group="O1")
    stock_short_pick(
        ref="fl:1", location=stock.location, product=stock.product, missing=3, reason="not found"
    )
    stock = _reload(stock)
    assert (stock.on_hand, stock.reserved) == (7, 1)


def test_database_refuses_reserved_above_on_hand(stock):
    with pytest.raises(IntegrityError), transaction.atomic():
        StockLevel.objects.filter(pk=stock.pk).update(reserved=11)


def test_reserving_creates_missing_stock_rows_with_zero():
    location, product = LocationFactory(), ProductFactory()
    with pytest.raises(InsufficientStock):
        stock_reserve(location=location, product=product, qty=1, ref="line:9")
    assert not StockLevel.objects.filter(location=location, product=product).exists()  # rolled back


def test_receive_held_raises_on_hand_and_reserved_together_even_under_safety_stock(stock):
    from inventory.services import stock_receive_held

    # Free stock is below safety stock: a plain adjust-then-reserve would be refused.
    StockLevel.objects.filter(pk=stock.pk).update(safety_stock=12)
    held = stock_receive_held(location=stock.location, product=stock.product, qty=3, ref="fl:7", group="O7",
                              reason="transfer received")  # fmt: skip
    stock = _reload(stock)
    assert (stock.on_hand, stock.reserved, held.qty) == (13, 3, 3)
    move = StockMovement.objects.get(stock=stock)
    assert (move.kind, move.on_hand_delta, move.reserved_delta) == (MovementKind.RECEIVE, 3, 3)
    _ledger_matches(stock)


@pytest.mark.django_db(transaction=True)
def test_reservations_in_their_own_transaction_commit_without_waiting_for_the_disk(monkeypatch):
    # A hot SKU's row would otherwise stay locked through every commit's disk flush (see oms.db).
    import inventory.services

    sent: list[str] = []
    real = inventory.services._run_prepared

    def spy(conn: Any, sql: str, params: Any) -> Any:
        sent.append(sql)
        return real(conn, sql, params)

    monkeypatch.setattr(inventory.services, "_run_prepared", spy)
    stock = StockFactory(on_hand=10)
    two = StockFactory(on_hand=10)
    stock_reserve(location=stock.location, product=stock.product, qty=1, ref="own-1")  # its own transaction
    with transaction.atomic():
        stock_reserve(location=stock.location, product=stock.product, qty=1, ref="own-0")  # the caller's
    with CaptureQueriesContext(connection) as general:
        stock_reserve_many(
            items=[
                ReserveItem(location=s.location, product=s.product, qty=1, ref="own-2") for s in (stock, two)
            ],
            allow_partial=True,
        )
    assert ASYNC_COMMIT_EXPR in sent[0] and ASYNC_COMMIT_EXPR not in sent[1]
    assert ASYNC_COMMIT_SQL in [q["sql"] for q in general.captured_queries]
    assert _reload(stock).reserved == 3
    assert _reload(two).reserved == 1


@pytest.mark.django_db(transaction=True)
def test_a_reservation_inside_the_callers_transaction_leaves_its_durability_alone():
    stock = StockFactory(on_hand=10)
    two = StockFactory(on_hand=10)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO on")  # the test server runs with it off
        stock_reserve(location=stock.location, product=stock.product, qty=1, ref="in-1")
        stock_reserve_many(items=[ReserveItem(s.location, s.product, 1, "in-2") for s in (stock, two)])
        cursor.execute("SELECT current_setting('synchronous_commit')")
        assert cursor.fetchone()[0] == "on"
    assert _reload(stock).reserved == 2


def test_new_refs_reserve_without_a_savepoint_and_a_taken_ref_still_holds_once(stock):
    item = ReserveItem(stock.location, stock.product, 2, "fl:new-1")
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        stock_reserve_many(items=[item], group="G-1", new_refs=True)
        # a retry in the same transaction finds the ref holding its units
        again = stock_reserve_many(items=[item], group="G-1", new_refs=True)
    assert not [q for q in ctx.captured_queries if "SAVEPOINT" in q["sql"].upper()]
    assert again == []
    assert _reload(stock).reserved == 2
    assert Reservation.objects.get(ref="fl:new-1").qty == 2
    _ledger_matches(stock)
    # without new_refs the same call in a caller's transaction takes a savepoint (a ref race is undone alone)
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        stock_reserve_many(items=[ReserveItem(stock.location, stock.product, 1, "fl:new-2")])
    assert [q for q in ctx.captured_queries if "SAVEPOINT" in q["sql"].upper()]
