"""Hot-SKU reservation benchmark: 64 clients reserving one SKU at one location, on PostgreSQL.

Each client is a thread with its own database connection (default: 8 processes x 8 threads, so the GIL of
one process does not serialise all 64), calling `inventory.services.stock_reserve(qty=1, ref=unique)` in
a loop. It prints reservations/s, the latency of each call (p50/p99) and checks at the end that the stock
row, the ledger and the reservations agree and nothing was oversold (`oversold: 0`, exit status 1 if not).

Two scenarios run one after the other on a fresh product each:

* `sustained`: as many units as attempts, so every call reserves (the throughput of the reservation path);
* `sell-out`: the issue's case, 1,000 units and 12,800 attempts (1,000 reserved, 11,800 refused).

Setup: a PostgreSQL you may write to. With the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust
auth) the script creates the database `oms_bench_stock` if it is missing and migrates it:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_stock .venv/bin/python bench/stock_hot_sku.py

Options: --processes 8 --threads 8 --attempts 12800 --units N (only the sustained scenario, N units)
--scenario sustained|sell-out|both, --path locked (for comparison: the general path, SELECT ... FOR UPDATE
then one statement per change inside a transaction, instead of the single-statement fast path).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oms_bench_stock"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ["DB_POOL"] = "0"  # one plain connection per client thread, held for the whole run
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.base")


def ensure_database(url: str) -> None:
    """Create the benchmark database when it does not exist yet."""
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def client_process(
    proc: int,
    threads: int,
    per_client: int,
    location_id: int,
    product_id: int,
    run: str,
    path: str,
    start: Any,
    out: Any,
) -> None:
    """One process of `threads` clients; sends back (latencies of reserves, of refusals, errors, t0, t1)."""
    import django

    django.setup()
    from django.db import connection

    from inventory import services
    from inventory.exceptions import InsufficientStock
    from inventory.models import Location, Product
    from inventory.services import ReserveItem, stock_reserve

    def reserve(ref: str) -> None:
        if path == "locked":
            item = ReserveItem(location=location, product=product, qty=1, ref=ref)
            services._reserve_many_locked([item], group="", reason="", by=None, allow_partial=False)
        else:
            stock_reserve(location=location, product=product, qty=1, ref=ref)

    location, product = Location.objects.get(pk=location_id), Product.objects.get(pk=product_id)
    connection.close()
    results: list[tuple[list[float], list[float], list[str], float, float]] = []
    ready = threading.Barrier(threads + 1)

    def client(t: int) -> None:
        ok: list[float] = []
        refused: list[float] = []
        errors: list[str] = []
        connection.ensure_connection()  # connect before the clock starts
        ready.wait()
        start.wait()
        t0 = time.perf_counter()
        for n in range(per_client):
            began = time.perf_counter()
            try:
                reserve(f"{run}:{proc}.{t}.{n}")
                ok.append(time.perf_counter() - began)
            except InsufficientStock:
                refused.append(time.perf_counter() - began)
            except Exception as exc:  # reported, and fails the run
                errors.append(repr(exc))
        t1 = time.perf_counter()
        connection.close()
        results.append((ok, refused, errors, t0, t1))

    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    ready.wait()
    for w in workers:
        w.join()
    ok = [x for r in results for x in r[0]]
    refused = [x for r in results for x in r[1]]
    errors = [x for r in results for x in r[2]]
    out.put((ok, refused, errors, min(r[3] for r in results), max(r[4] for r in results)))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def scenario(name: str, *, units: int, attempts: int, processes: int, threads: int, path: str) -> bool:
    from django.db import connections
    from django.db.models import Sum

    from inventory.models import Reservation, StockLevel, StockMovement
    from inventory.services import stock_set_count
    from tests.factories import LocationFactory, ProductFactory

    run = f"{name}-{int(time.time() * 1000)}"
    location: Any = LocationFactory(code=f"BENCH-{run}"[:32])
    product: Any = ProductFactory(sku=f"BENCH-{run}"[:40], ean=None)
    stock_set_count(location=location, product=product, on_hand=units, reason="bench")
    clients = processes * threads
    per_client = attempts // clients
    connections.close_all()  # never share a connection with the forked children

    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(
            target=client_process,
            args=(p, threads, per_client, location.pk, product.pk, run, path, start, out),
        )
        for p in range(processes)
    ]
    for p in procs:
        p.start()
    time.sleep(1.0 + 0.1 * processes)  # let every client connect
    start.set()
    parts = [out.get() for _ in procs]
    for p in procs:
        p.join()

    ok = [x for part in parts for x in part[0]]
    refused = [x for part in parts for x in part[1]]
    errors = [x for part in parts for x in part[2]]
    wall = max(part[4] for part in parts) - min(part[3] for part in parts)

    stock = StockLevel.objects.get(location=location, product=product)
    ledger = StockMovement.objects.filter(stock=stock).aggregate(r=Sum("reserved_delta"))["r"] or 0
    held = Reservation.objects.filter(stock=stock).aggregate(q=Sum("qty"))["q"] or 0
    oversold = max(0, stock.reserved - stock.on_hand, held - units, len(ok) - units)
    consistent = stock.reserved == ledger == held == len(ok) and stock.on_hand == units

    print(f"\n== {name}: {clients} clients ({processes} processes x {threads} threads), one SKU, {path} path")
    print(f"units {units}, attempts {per_client * clients}: reserved {len(ok)}, refused {len(refused)}")
    print(
        f"wall {wall:.2f} s: {len(ok) / wall:,.0f} reservations/s, "
        f"{(len(ok) + len(refused)) / wall:,.0f} calls/s"
    )
    print(f"latency of a reservation: p50 {pct(ok, 0.50):.1f} ms, p99 {pct(ok, 0.99):.1f} ms")
    if refused:
        print(f"latency of a refusal:     p50 {pct(refused, 0.50):.1f} ms, p99 {pct(refused, 0.99):.1f} ms")
    print(
        f"stock row reserved {stock.reserved} / on hand {stock.on_hand}, ledger {ledger}, reservations {held}"
    )
    print(f"errors: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"oversold: {oversold}" + ("" if consistent else "  INCONSISTENT: stock row, ledger, reservations"))
    if ok:
        print(f"mean latency {statistics.fmean(ok) * 1000:.1f} ms")
    return oversold == 0 and consistent and not errors


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--attempts", type=int, default=12_800)
    parser.add_argument("--units", type=int, default=None, help="units for the sustained scenario")
    parser.add_argument("--scenario", choices=["sustained", "sell-out", "both"], default="both")
    parser.add_argument("--path", choices=["fast", "locked"], default="fast")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        sync = cursor.fetchone()[0]
        cursor.execute("SHOW fsync")
        fsync = cursor.fetchone()[0]
    version = getattr(connection, "pg_version", "?")
    print(f"PostgreSQL {version}, fsync={fsync}, synchronous_commit={sync}, {os.cpu_count()} CPUs")

    good = True
    shape = {
        "attempts": args.attempts,
        "processes": args.processes,
        "threads": args.threads,
        "path": args.path,
    }
    if args.scenario in ("sustained", "both"):
        good &= scenario("sustained", units=args.units or args.attempts, **shape)
    if args.scenario in ("sell-out", "both"):
        good &= scenario("sell-out", units=1000, **shape)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
