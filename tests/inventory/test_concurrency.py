"""Stock never oversells under real concurrency: real PostgreSQL, real threads, each with its own connection.

These tests commit for real (`transaction=True`), so every thread closes its connection when done.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.db.models import Sum

from inventory.exceptions import InsufficientStock, StockBelowReserved
from inventory.models import MovementKind, Reservation, StockLevel, StockMovement
from inventory.services import (
    ReserveItem,
    stock_adjust,
    stock_reserve,
    stock_reserve_many,
    stock_set_count,
)
from tests.factories import LocationFactory, ProductFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]

CLIENTS = 64


@pytest.fixture
def big_pool() -> Iterator[None]:
    """Let 64 threads hold a pooled connection each (the pool of `make test` stops at 20 by default).

    Also shortens the GIL switch interval: a thread holding a row lock that gets its answer from the
    database should not wait 5 ms for the interpreter while 63 others spin through Python.
    """
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    pool = getattr(connection, "pool", None)
    if pool is not None:
        min_size, max_size = pool.min_size, pool.max_size
        pool.resize(min_size=CLIENTS, max_size=max(max_size, CLIENTS + 8))
        pool.wait(timeout=60)  # open them now, not while the clients race for them
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if pool is not None:
            # Give the 64 connections back to the server now (a shrunk pool keeps idle ones for minutes, and
            # the Celery worker of later tests needs its own); the next query opens a fresh, small pool.
            pool.resize(min_size=min_size, max_size=max_size)
            connection.close()
            connection.close_pool()  # type: ignore[attr-defined]


def run_clients(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run `work(i)` in n threads started together; return what they raised. Each closes its connection."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def client(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client is stuck"
    return errors


def assert_consistent(stock: StockLevel, *, initial_on_hand: int) -> None:
    """The stock row, its ledger and its reservations tell the same story."""
    stock.refresh_from_db()
    assert 0 <= stock.reserved <= stock.on_hand
    ledger = StockMovement.objects.filter(stock=stock).aggregate(
        oh=Sum("on_hand_delta"), r=Sum("reserved_delta")
    )
    assert initial_on_hand + (ledger["oh"] or 0) == stock.on_hand
    assert (ledger["r"] or 0) == stock.reserved
    held = Reservation.objects.filter(stock=stock).aggregate(q=Sum("qty"))["q"] or 0
    assert held == stock.reserved
    last = StockMovement.objects.filter(stock=stock).order_by("-id").first()
    if last is not None:
        assert (last.on_hand_after, last.reserved_after) == (stock.on_hand, stock.reserved)


def test_64_clients_on_one_sku_reserve_exactly_what_is_there(big_pool):
    location, product = LocationFactory(), ProductFactory()
    stock_set_count(location=location, product=product, on_hand=1000, reason="initial count")
    attempts_per_client = 12_800 // CLIENTS
    outcome = {"reserved": 0, "refused": 0}
    lock = threading.Lock()

    def work(i: int) -> None:
        reserved = refused = 0
        for n in range(attempts_per_client):
            try:
                stock_reserve(location=location, product=product, qty=1, ref=f"c{i}:{n}", group=f"c{i}")
                reserved += 1
            except InsufficientStock:
                refused += 1
        with lock:
            outcome["reserved"] += reserved
            outcome["refused"] += refused

    started = time.monotonic()
    errors = run_clients(CLIENTS, work)
    elapsed = time.monotonic() - started

    assert errors == []  # in particular no OperationalError (deadlock, serialization, pool timeout)
    assert outcome == {"reserved": 1000, "refused": 11_800}
    stock = StockLevel.objects.get(location=location, product=product)
    assert (stock.on_hand, stock.reserved, stock.available) == (1000, 1000, 0)
    assert Reservation.objects.filter(stock=stock).count() == 1000
    assert Reservation.objects.filter(stock=stock, qty=1).count() == 1000
    assert StockMovement.objects.filter(stock=stock, kind=MovementKind.RESERVE).count() == 1000
    assert_consistent(stock, initial_on_hand=0)
    assert elapsed < 60


def test_multi_sku_reservations_in_opposite_orders_never_deadlock(big_pool):
    location = LocationFactory()
    x, y = ProductFactory(), ProductFactory()
    for product in (x, y):
        stock_set_count(location=location, product=product, on_hand=10_000, reason="initial count")
    rounds = 25

    def work(i: int) -> None:
        first, second = (x, y) if i % 2 == 0 else (y, x)
        for n in range(rounds):
            ref = f"c{i}:{n}"
            stock_reserve_many(
                items=[ReserveItem(location, first, 1, ref), ReserveItem(location, second, 2, ref)],
                group=ref,
            )

    errors = run_clients(16, work)

    assert not [e for e in errors if isinstance(e, OperationalError)]
    assert errors == []
    sx = StockLevel.objects.get(location=location, product=x)
    sy = StockLevel.objects.get(location=location, product=y)
    # Even clients take 1 of x and 2 of y, odd clients the reverse: 8 × 40 × (1 + 2) each.
    assert (sx.reserved, sy.reserved) == (8 * rounds * 3, 8 * rounds * 3)
    assert_consistent(sx, initial_on_hand=0)
    assert_consistent(sy, initial_on_hand=0)


def test_counts_and_adjustments_racing_reservations_never_leave_reserved_above_on_hand(big_pool):
    location, product = LocationFactory(), ProductFactory()
    stock_set_count(location=location, product=product, on_hand=300, reason="initial count")
    seen: list[tuple[int, int]] = []
    refused = {"count": 0}

    def work(i: int) -> None:
        if i < 4:  # counters and adjusters: set the count near what is reserved, or move it a little
            for n in range(60):
                try:
                    if n % 2:
                        stock = stock_adjust(
                            location=location, product=product, delta=(-3 if n % 4 == 1 else 2), reason="adj"
                        )
                    else:
                        current = StockLevel.objects.get(location=location, product=product)
                        stock = stock_set_count(
                            location=location,
                            product=product,
                            on_hand=current.reserved + n % 5,
                            reason="count",
                        )
                    seen.append((stock.on_hand, stock.reserved))
                except StockBelowReserved:
                    refused["count"] += 1  # a reservation landed between the read and the count: refused
        else:
            for n in range(40):
                with contextlib.suppress(InsufficientStock):  # running out is expected here
                    stock_reserve(location=location, product=product, qty=1 + n % 2, ref=f"c{i}:{n}")

    errors = run_clients(24, work)

    assert errors == []
    assert seen and all(0 <= reserved <= on_hand for on_hand, reserved in seen)
    stock = StockLevel.objects.get(location=location, product=product)
    assert 0 < stock.reserved <= stock.on_hand
    assert_consistent(stock, initial_on_hand=0)


def test_concurrent_duplicate_reserve_with_the_same_ref_reserves_once(big_pool):
    location = LocationFactory()
    a, b = ProductFactory(), ProductFactory()
    for product in (a, b):
        stock_set_count(location=location, product=product, on_hand=1000, reason="initial count")
    refs = [f"fl:{n}" for n in range(30)]
    results: list[Any] = []

    def work(i: int) -> None:
        for ref in refs:
            if i % 4 == 3:  # the general (multi-item) path racing the single-item path for the same ref
                stock_reserve_many(
                    items=[ReserveItem(location, a, 3, ref), ReserveItem(location, b, 1, ref)], group="G"
                )
            else:
                results.append(stock_reserve(location=location, product=a, qty=3, ref=ref, group="G").pk)

    errors = run_clients(16, work)

    assert errors == []
    stock_a = StockLevel.objects.get(location=location, product=a)
    stock_b = StockLevel.objects.get(location=location, product=b)
    assert (stock_a.reserved, stock_b.reserved) == (3 * len(refs), len(refs))
    assert sorted(Reservation.objects.filter(stock=stock_a).values_list("ref", "qty")) == sorted(
        (ref, 3) for ref in refs
    )
    assert StockMovement.objects.filter(stock=stock_a, kind=MovementKind.RESERVE).count() == len(refs)
    # Every caller got the one reservation of its ref back.
    assert set(results) == set(Reservation.objects.filter(stock=stock_a).values_list("pk", flat=True))
    assert_consistent(stock_a, initial_on_hand=0)
    assert_consistent(stock_b, initial_on_hand=0)


def test_transfers_dispatched_racing_reservations_never_deadlock(big_pool):
    """A transfer's lines are in the order they were typed (y, then x); reservations lock x, then y. The
    dispatch settles its reservations in the stock rows' order, like everyone: no two wait on each other."""
    from inventory.models import StockTransfer
    from inventory.services.transfers import transfer_cancel, transfer_create, transfer_dispatch

    dc, store = LocationFactory(kind="dc"), LocationFactory()
    x, y = ProductFactory(), ProductFactory()
    for product in (x, y):
        stock_set_count(location=dc, product=product, on_hand=10_000, reason="initial count")
    rounds = 10

    def work(i: int) -> None:
        for n in range(rounds):
            if i % 2 == 0:
                t = transfer_create(source=dc, destination=store, lines=[(y, 2), (x, 1)], by=None)
                if n % 3:
                    transfer_dispatch(transfer=t, by=None)
                else:
                    transfer_cancel(transfer=t, by=None)
            else:
                ref = f"c{i}:{n}"
                stock_reserve_many(items=[ReserveItem(dc, x, 1, ref), ReserveItem(dc, y, 1, ref)], group=ref)

    errors = run_clients(16, work)

    assert not [e for e in errors if isinstance(e, OperationalError)]
    assert errors == []
    assert StockTransfer.objects.filter(status="dispatched").count() == 8 * 6
    for product in (x, y):
        assert_consistent(StockLevel.objects.get(location=dc, product=product), initial_on_hand=0)
    sx = StockLevel.objects.get(location=dc, product=x)
    assert (sx.on_hand, sx.reserved) == (10_000 - 8 * 6 * 1, 8 * rounds)  # sent; the orders' units held
