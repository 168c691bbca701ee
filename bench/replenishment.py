"""Benchmark of the replenishment job and page on a large stock ledger.

Fills the bench database once (set-based SQL): a stock row for every location and product (DCs deep, stores
shallow), and `--movements` shipments ("commit" ledger rows of one or two units) spread unevenly over the
stock rows and evenly over the last 60 days; then measures, nice'd on a quiet machine:
- `replenishment_propose()` on a table without open proposals (it creates them), then again on the same stock
  (it changes nothing): what the beat runs every 6 hours;
- `GET /inventory/replenishment/` for an admin: wall time and SQL statements;
- the nightly `forecast_refresh()` over the same ledger (it reads 70 days), then `replenishment_propose()`
  planning with the forecasts, and `GET /inventory/forecast/` for the location with the most forecasts;
- the same three with `--events` demand events (a third for every location and product, a third for 500
  products each, a third for a tenth of the locations each; spread over the 70 days read and the 17 planned),
  and `GET /inventory/forecast/events/`.
Not a test. Run `bench/api_orders.py --setup` first (database, locations, products).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_api REDIS_URL=redis://127.0.0.1:6379/5 \\
        nice .venv/bin/python bench/replenishment.py --movements 2000000
"""

from __future__ import annotations

import argparse
import os
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

# The ledger's deltas are not summed into on_hand here: the job reads on_hand and the shipments separately.
FILL_SQL = """
INSERT INTO inventory_stocklevel (location_id, product_id, on_hand, reserved, safety_stock, updated_at)
SELECT l.id, p.id, CASE WHEN l.kind = 'dc' THEN 50 + p.id % 400 ELSE p.id % 9 END, 0, 0, now()
FROM inventory_location AS l CROSS JOIN inventory_product AS p;

INSERT INTO inventory_stockmovement (at, stock_id, kind, on_hand_delta, reserved_delta, on_hand_after,
    reserved_after, reason, ref)
SELECT now() - (g % 60) * interval '1 day' - (g % 1440) * interval '1 minute',
       s.ids[1 + ((g::bigint * g) % array_length(s.ids, 1))], 'commit', -1 - g % 2, -1 - g % 2, 0, 0,
       'shipped', 'bench-' || g
FROM generate_series(1, {movements}) AS g
     CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM inventory_stocklevel) AS s;
"""


def fill(movements: int) -> None:
    from fill import fill_once

    fill_once(
        count_sql="SELECT count(*) FROM inventory_stockmovement WHERE ref LIKE 'bench-%%'",
        wanted=movements,
        fill_sql=FILL_SQL.format(movements=movements),
        tables=["inventory_stocklevel", "inventory_stockmovement"],
        what="bench shipments (and the stock rows)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()

    from inventory.models import (
        DemandEvent,
        DemandForecast,
        LocationDemandProfile,
        ReplenishmentProposal,
        StockLevel,
    )
    from inventory.services.replenishment import replenishment_propose

    fill(args.movements)
    ReplenishmentProposal.objects.all().delete()
    DemandForecast.objects.all().delete()  # the first runs plan from the plain average, as with no forecast
    LocationDemandProfile.objects.all().delete()
    DemandEvent.objects.all().delete()  # a previous run's: the plain figures come without events
    rows = StockLevel.objects.count()
    t0 = time.perf_counter()
    counts = replenishment_propose()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = replenishment_propose()
    second = time.perf_counter() - t0
    print(f"replenishment_propose over {rows} stock rows and {args.movements} shipments (60 days, 28 read):")
    print(f"  first run {first:.2f} s, {counts}; again on the same stock {second:.2f} s, {again}")

    from pages import time_admin_page

    wall, statements = time_admin_page("/inventory/replenishment/", repeat=args.repeat)
    print(
        f"GET /inventory/replenishment/ as admin ({counts['created']} open, 200 shown): "
        f"median {wall:.1f} ms, {statements} SQL statements"
    )

    from django.db.models import Count

    from inventory.services.forecast import forecast_refresh

    for run in ("first run", "again"):
        t0 = time.perf_counter()
        made = forecast_refresh()
        print(f"forecast_refresh ({run}): {time.perf_counter() - t0:.2f} s, {made}")
    t0 = time.perf_counter()
    planned = replenishment_propose()
    print(f"replenishment_propose with the forecasts: {time.perf_counter() - t0:.2f} s, {planned}")
    busiest = (
        DemandForecast.objects.values("stock__location__code")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("stock__location__code", "n")
        .first()
    )
    assert busiest is not None
    wall, statements = time_admin_page("/inventory/forecast/", {"location": busiest[0]}, repeat=args.repeat)
    print(
        f"GET /inventory/forecast/ for {busiest[0]} ({busiest[1]} forecasts, 100 shown): "
        f"median {wall:.1f} ms, {statements} SQL statements"
    )
    if args.events:
        with_events(args.events, busiest[0], repeat=args.repeat)


def with_events(n: int, busiest: str, *, repeat: int) -> None:
    import datetime as dt

    from django.utils import timezone
    from pages import time_admin_page

    from inventory.models import DemandEvent, Location, Product
    from inventory.services.events import demand_event_save
    from inventory.services.forecast import forecast_refresh
    from inventory.services.replenishment import replenishment_propose

    DemandEvent.objects.all().delete()
    today = timezone.localdate()
    products = list(Product.objects.order_by("pk").only("pk"))
    places = list(Location.objects.order_by("pk").only("pk", "code"))
    for k in range(n):
        start = today - dt.timedelta(days=70 - k * 87 // n)  # from 70 days ago to 17 days ahead
        demand_event_save(
            name=f"Bench {k}",
            starts_on=start,
            ends_on=start + dt.timedelta(days=3),
            factor="1.5",
            products=products[k * 37 % len(products) :][:500] if k % 3 == 1 else [],
            locations=places[k % 10 :: 10] if k % 3 == 2 else [],
        )
    for run in ("first run", "again"):
        t0 = time.perf_counter()
        made = forecast_refresh()
        print(f"forecast_refresh with {n} events ({run}): {time.perf_counter() - t0:.2f} s, {made}")
    t0 = time.perf_counter()
    planned = replenishment_propose()
    took = time.perf_counter() - t0
    print(f"replenishment_propose with the forecasts and {n} events: {took:.2f} s, {planned}")
    for path, query in (("/inventory/forecast/", {"location": busiest}), ("/inventory/forecast/events/", {})):
        wall, statements = time_admin_page(path, query, repeat=repeat)
        print(f"GET {path} with {n} events: median {wall:.1f} ms, {statements} SQL statements")


if __name__ == "__main__":
    main()
