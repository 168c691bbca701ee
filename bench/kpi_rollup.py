"""Benchmark of the KPI rollups and the KPI dashboard on a large order history.

Fills the bench database once (set-based SQL) with `--orders` orders spread evenly over `--days` days, each
with one line, one fulfilment (shipped, two in three before their ship-by time) and, for every other order, a
routing decision; then measures, nice'd on a quiet machine:
- `kpi_rollup(day=...)`: one day recomputed (the mean of `--repeat` runs, a day in the middle of the history);
- `kpi_rollup_recent(days=7)`: what the beat runs every 10 minutes;
- the dashboard `GET /reporting/` for an admin over 90 days: wall time and SQL statements.
Not a test. Run `bench/api_orders.py --setup` first (database, channels, locations, products).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_api REDIS_URL=redis://127.0.0.1:6379/5 \\
        nice .venv/bin/python bench/kpi_rollup.py --orders 1000000 --days 365
"""

from __future__ import annotations

import argparse
import os
import statistics
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

# {orders} orders over {days} days up to now; {prefix} marks them. Numbers, names and prices are constants.
FILL_SQL = """
INSERT INTO orders_customer (name, email, document, phone, created_at)
SELECT 'Cliente KPI ' || g, 'kpi' || g || '@example.com', '', '', now() FROM generate_series(1, 1000) AS g;

INSERT INTO orders_order (number, channel_id, external_ref, customer_id, status, status_before_hold,
    placed_at, delivery_mode, deadline_days, promised_date, ship_street, ship_number, ship_complement,
    ship_district, ship_city, ship_state, ship_cep, subtotal, shipping_price, total, currency, created_at,
    updated_at, customer_name)
SELECT NULL, c.ids[1 + g % array_length(c.ids, 1)], '{prefix}' || g, cu.first + g % 1000,
       (ARRAY['shipped','delivered','delivered','cancelled','backordered'])[1 + g % 5], '',
       now() - (g::double precision / {orders}) * {days} * interval '1 day',
       'home', 3, current_date, 'Rua', '1', '', 'Centro',
       'São Paulo', 'SP', '01310200', 100 + g % 200, 0, 100 + g % 200, 'BRL', now(), now(), 'Cliente KPI'
FROM generate_series(1, {orders}) AS g
     CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM orders_channel) AS c
     CROSS JOIN (SELECT min(id) AS first FROM orders_customer WHERE email LIKE 'kpi%@example.com') AS cu;

UPDATE orders_order SET number = 'K' || lpad(id::text, 9, '0') WHERE number IS NULL;

INSERT INTO orders_orderline (line_no, sku, qty, unit_price, status, order_id, product_id)
SELECT 1, p.sku, 1 + o.id % 3, 100, CASE WHEN o.status = 'backordered' THEN 'backordered' ELSE 'shipped' END,
       o.id, p.id
FROM orders_order AS o
     CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM inventory_product) AS pa
     JOIN inventory_product AS p ON p.id = pa.ids[1 + o.id % array_length(pa.ids, 1)]
WHERE o.external_ref LIKE '{prefix}%';

INSERT INTO orders_fulfilment (kind, status, carrier_service, tracking_code, ship_by, shipped_at, created_at,
    updated_at, location_id, order_id, pickup_code, pickup_hold_days)
SELECT 'ship', CASE WHEN o.status = 'cancelled' THEN 'cancelled' ELSE 'shipped' END, 'EXPR', '',
       o.placed_at + interval '1 day',
       CASE WHEN o.status = 'cancelled' THEN NULL
            ELSE o.placed_at + (CASE WHEN o.id % 3 = 0 THEN 30 ELSE 20 END) * interval '1 hour' END,
       o.placed_at + interval '1 minute', now(), la.ids[1 + o.id % array_length(la.ids, 1)], o.id, '', 0
FROM orders_order AS o
     CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM inventory_location) AS la
WHERE o.external_ref LIKE '{prefix}%';

INSERT INTO routing_routingdecision (created_at, trigger, latency_ms, engine_ms, attempts, total_cost,
    cost_breakdown, plan, candidates, summary, units_routed, units_backordered, order_id)
SELECT o.placed_at + interval '1 second', 'new', 10, 1, 1, 25,
       '{{"handling": 2.3, "picking": 0.6, "shipping": 20.1, "transfer": 0, "split_penalty": 0,
         "unfilled_penalty": 0}}'::jsonb, '{{}}'::jsonb, '{{}}'::jsonb, '', 1, 0, o.id
FROM orders_order AS o WHERE o.external_ref LIKE '{prefix}%' AND o.id % 2 = 0;
"""
PREFIX = "KPI-"


def fill(orders: int, days: int) -> None:
    from fill import fill_once

    fill_once(
        count_sql="SELECT count(*) FROM orders_order WHERE external_ref LIKE %s",
        params=[PREFIX + "%"],
        wanted=orders,
        fill_sql=FILL_SQL.format(orders=orders, days=days, prefix=PREFIX),
        tables=["orders_order", "orders_orderline", "orders_fulfilment", "routing_routingdecision"],
        what=f"KPI orders over {days} days",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    import datetime as dt

    from django.utils import timezone

    from reporting.services import kpi_rollup, kpi_rollup_recent

    fill(args.orders, args.days)
    today = timezone.localdate()
    day = today - dt.timedelta(days=args.days // 2)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        channels, locations = kpi_rollup(day=day)
        times.append(time.perf_counter() - t0)
    print(
        f"kpi_rollup of one day (~{args.orders // args.days} orders, {channels} channels, "
        f"{locations} locations): "
        f"mean {statistics.mean(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms over {args.repeat} runs"
    )
    t0 = time.perf_counter()
    rows = kpi_rollup_recent(days=7)
    print(f"kpi_rollup_recent(days=7), the beat's run: {time.perf_counter() - t0:.2f} s, {rows} rows")
    t0 = time.perf_counter()
    rows = kpi_rollup_recent(days=90)
    print(f"kpi_rollup_recent(days=90), a backfill: {time.perf_counter() - t0:.1f} s, {rows} rows")

    from pages import time_admin_page

    wall, statements = time_admin_page("/reporting/", {"days": 90}, repeat=args.repeat)
    print(f"GET /reporting/?days=90 as admin: median {wall:.1f} ms, {statements} SQL statements")


if __name__ == "__main__":
    main()
