"""Benchmark of the customer-service search box through `GET /api/v1/orders/?q=...` on 1,000,000 orders.

Fills the bench database (set-based SQL: INSERT ... SELECT generate_series, with customers) once, then
measures p50/p95 of the API for each kind of query: number, channel reference, e-mail, CPF, phone, CEP and
customer-name prefix (target p95 <= 25 ms). Prints EXPLAIN ANALYZE of the SQL for any slow kind.
Not a test. Run bench/api_orders.py --setup first (it creates the database, reference data and a key).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        nice .venv/bin/python bench/api_search.py --orders 1000000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

TARGET_MS = 25.0
FIRST_NAMES = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor", "Isabela", "João"]
LAST_NAMES = [
    "Souza",
    "Silva",
    "Santos",
    "Oliveira",
    "Pereira",
    "Lima",
    "Costa",
    "Ferreira",
    "Almeida",
    "Rocha",
]

FILL_SQL = """
INSERT INTO orders_customer (name, email, document, phone, created_at)
SELECT (ARRAY{first})[1 + (g * 7) % 10] || ' ' || (ARRAY{last})[1 + (g * 13) % 10] || ' ' || g,
       'cliente' || g || '@example.com',
       lpad(((g::bigint * 7919) % 100000000000)::text, 11, '0'),
       '+55119' || lpad(((g::bigint * 104729) % 100000000)::text, 8, '0'),
       now()
FROM generate_series(1, {customers}) AS g;

INSERT INTO orders_order (number, channel_id, external_ref, customer_id, status, status_before_hold,
    placed_at, delivery_mode, deadline_days, promised_date, ship_street, ship_number, ship_complement,
    ship_district, ship_city, ship_state, ship_cep, subtotal, shipping_price, total, currency, created_at,
    updated_at, customer_name)
SELECT NULL, c.ids[1 + g % array_length(c.ids, 1)], 'SRCH-' || g, cust.id,
       (ARRAY['allocated','shipped','delivered','in_fulfilment','cancelled'])[1 + g % 5], '',
       now() - (g % 525600) * interval '1 minute', 'home', 3,
       (now() - (g % 525600) * interval '1 minute')::date + 3,
       'Rua Busca', (g % 2000)::text, '', 'Centro', 'São Paulo', 'SP',
       lpad(((g::bigint * 7777) % 99999999 + 1)::text, 8, '0'), 100, 0, 100, 'BRL', now(), now(), cust.name
FROM generate_series(1, {orders}) AS g
     CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM orders_channel) AS c
     CROSS JOIN (SELECT min(id) AS first FROM orders_customer WHERE email LIKE 'cliente%@example.com') AS cu
     JOIN orders_customer AS cust ON cust.id = cu.first + (g::bigint * 31) % {customers};

UPDATE orders_order SET number = lpad(id::text, 8, '0') WHERE number IS NULL;
"""


def fill(orders: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_order WHERE external_ref LIKE 'SRCH-%'")
        have = cursor.fetchone()[0]
        if have >= orders:
            print(f"{have} search orders already there")
            return
        if have:
            raise SystemExit("A partial fill is there; drop the database and run again.")
        start = time.perf_counter()
        customers = max(1, orders // 3)
        # No parameters: the SQL is built from integers and constant names only, and its % are modulo signs.
        sql = FILL_SQL.format(
            first=_array(FIRST_NAMES), last=_array(LAST_NAMES), orders=orders, customers=customers
        )
        cursor.execute(sql)
        cursor.execute("ANALYZE orders_order")
        cursor.execute("ANALYZE orders_customer")
        print(f"filled {orders} orders and {orders // 3} customers in {time.perf_counter() - start:.0f} s")


def _array(values: list[str]) -> str:
    return "[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def samples(n: int) -> dict[str, list[str]]:
    """Real values to search for, picked from random orders of the fill."""
    from orders.models import Order

    rng = random.Random(11)
    top = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ids = [rng.randrange(1, top + 1) for _ in range(n * 3)]
    rows = list(
        Order.objects.filter(pk__in=ids, external_ref__startswith="SRCH-")
        .select_related("customer")
        .values_list(
            "number",
            "external_ref",
            "customer__email",
            "customer__document",
            "customer__phone",
            "ship_cep",
            "customer__name",
        )[:n]
    )
    return {
        "number": [r[0] or "" for r in rows],
        "reference": [r[1] for r in rows],
        "e-mail": [r[2] for r in rows],
        "CPF": [f"{r[3][:3]}.{r[3][3:6]}.{r[3][6:9]}-{r[3][9:]}" for r in rows],
        "phone": [f"(11) 9{r[4][6:10]}-{r[4][10:]}" for r in rows],
        "CEP": [f"{r[5][:5]}-{r[5][5:]}" for r in rows],
        "name prefix": [" ".join(r[6].split()[:2])[: rng.randrange(5, 12)] for r in rows],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from orders.selectors import OrderFilters, order_list

    fill(args.orders)
    key = (ROOT / "var" / "bench_api_key").read_text().strip()
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}", HTTP_HOST="127.0.0.1")
    client.get("/api/v1/orders/?page_size=1")
    from oms.models import ApiKey

    user = ApiKey.objects.get(name="bench").user
    print(
        f"GET /api/v1/orders/?q=... (page of 50, in-process, {args.samples} samples each); "
        f"target p95 {TARGET_MS} ms"
    )
    for kind, values in samples(args.samples).items():
        times, hits = [], 0
        slowest = (0.0, values[0])
        for value in values:
            start = time.perf_counter()
            response = client.get("/api/v1/orders/?" + urlencode({"q": value}))
            times.append((time.perf_counter() - start) * 1000)
            slowest = max(slowest, (times[-1], value))
            assert response.status_code == 200, response.content[:300]
            hits += len(response.json()["results"])
        times.sort()
        p50, p95 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.95))]
        flag = "" if p95 <= TARGET_MS else "   <-- over target"
        print(
            f"  {kind:12} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  ({hits / len(values):.1f} hits/query){flag}"
        )
        if p95 > TARGET_MS:
            sql, params = order_list(user=user, filters=OrderFilters(q=values[0]))[
                :51
            ].query.sql_with_params()
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                for (line,) in cursor.fetchall():
                    print("      " + line)


if __name__ == "__main__":
    main()
