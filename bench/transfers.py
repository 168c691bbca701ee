"""Benchmark of stock transfers: each step through its service, and the transfer pages on a large table.

Measures, nice'd on a quiet machine, on the bench database:
- `--transfers` transfers of `--lines` products each, from a DC to a store, through `transfer_create`,
  `transfer_dispatch` and `transfer_receive` (the units reserved, sent and received, with their ledger, audit
  rows and webhook events): wall time per step, p50 and p99;
- after filling `--history` received transfers of three lines (set-based SQL, like a year of them), the
  transfers list (`GET /inventory/transfers/?status=all` and the default "still to do") and one transfer's
  page as an admin: median wall time and SQL statements.
Not a test. Run `bench/api_orders.py --setup` first (database, locations, products); `bench/replenishment.py`
fills the stock rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_api REDIS_URL=redis://127.0.0.1:6379/5 \\
        nice .venv/bin/python bench/transfers.py --transfers 300 --lines 10 --history 200000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("LOG_LEVEL", "WARNING")

HISTORY_SQL = """
INSERT INTO inventory_stocktransfer (source_id, destination_id, origin, status, note, tracking, created_at,
    dispatched_at, closed_at)
SELECT dc.ids[1 + g % array_length(dc.ids, 1)], st.ids[1 + (g * 7) % array_length(st.ids, 1)],
       'replenishment', 'received', 'bench-history', '', day, day, day
FROM generate_series(1, {n}) AS g
     CROSS JOIN LATERAL (SELECT now() - (g % 365) * interval '1 day' AS day) AS d,
     (SELECT array_agg(id ORDER BY id) AS ids FROM inventory_location WHERE kind = 'dc') AS dc,
     (SELECT array_agg(id ORDER BY id) AS ids FROM inventory_location WHERE kind <> 'dc') AS st;

INSERT INTO inventory_stocktransferline (transfer_id, product_id, qty, qty_sent, qty_received)
SELECT t.id, p.ids[1 + ((t.id * 31 + k * 977) % array_length(p.ids, 1))], 6, 6, 6
FROM inventory_stocktransfer AS t CROSS JOIN generate_series(0, 2) AS k,
     (SELECT array_agg(id ORDER BY id) AS ids FROM inventory_product) AS p
WHERE t.note = 'bench-history';
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def fill_history(n: int) -> None:
    from fill import fill_once

    fill_once(
        count_sql="SELECT count(*) FROM inventory_stocktransfer WHERE note = 'bench-history'",
        wanted=n,
        fill_sql=HISTORY_SQL.format(n=n),
        tables=["inventory_stocktransfer", "inventory_stocktransferline"],
        what="received transfers of 3 lines",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=300)
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()

    from inventory.models import Location, Product, StockLevel, StockTransfer
    from inventory.services.transfers import transfer_create, transfer_dispatch, transfer_receive

    rng = random.Random(7)
    dcs = list(Location.objects.filter(kind="dc"))
    stores = list(Location.objects.exclude(kind="dc"))
    deep = list(
        StockLevel.objects.filter(location__in=dcs, on_hand__gte=100).values_list("location_id", "product_id")
    )
    if not deep:
        raise SystemExit("No deep DC stock: run bench/replenishment.py first (it fills the stock rows).")
    by_dc: dict[int, list[int]] = {}
    for lid, pid in deep:
        by_dc.setdefault(lid, []).append(pid)
    products = Product.objects.in_bulk({pid for _lid, pid in deep})
    places = {loc.pk: loc for loc in dcs}
    steps: dict[str, list[float]] = {"create": [], "dispatch": [], "receive": []}
    for _ in range(args.transfers):
        dc_id = rng.choice(list(by_dc))
        lines = [(products[pid], 1) for pid in rng.sample(by_dc[dc_id], args.lines)]
        t0 = time.perf_counter()
        t = transfer_create(source=places[dc_id], destination=rng.choice(stores), lines=lines, by=None)
        t1 = time.perf_counter()
        transfer_dispatch(transfer=t, by=None, tracking="bench")
        t2 = time.perf_counter()
        transfer_receive(transfer=t, by=None)
        t3 = time.perf_counter()
        steps["create"].append(t1 - t0)
        steps["dispatch"].append(t2 - t1)
        steps["receive"].append(t3 - t2)
    print(f"{args.transfers} transfers of {args.lines} lines, DC -> store, through the services:")
    for name, walls in steps.items():
        print(f"  {name}: p50 {pct(walls, 50) * 1000:.1f} ms, p99 {pct(walls, 99) * 1000:.1f} ms")

    fill_history(args.history)
    from pages import time_admin_page

    total = StockTransfer.objects.count()
    for label, params in (("still to do", {}), ("all", {"status": "all"})):
        wall, statements = time_admin_page("/inventory/transfers/", params, repeat=args.repeat)
        print(f"GET /inventory/transfers/ ({label}) over {total} transfers: {wall:.1f} ms, {statements} SQL")
    latest = StockTransfer.objects.order_by("-pk").first()
    assert latest is not None
    wall, statements = time_admin_page(f"/inventory/transfers/{latest.pk}/", repeat=args.repeat)
    print(f"GET /inventory/transfers/<pk>/ ({args.lines} lines): median {wall:.1f} ms, {statements} SQL")


if __name__ == "__main__":
    main()
