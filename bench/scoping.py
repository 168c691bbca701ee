"""Benchmark: what scoping by permission adds to the order list at 1,000,000 orders.

A store user tied to 50 of 200 locations (guardian object permissions) lists orders through
`orders.selectors.order_list`, the same query every page and API endpoint uses; an admin runs the same list
unscoped. Prints the median and p95 of each (first page of 50, newest first; and with a status filter), the
added time, and EXPLAIN ANALYZE of the scoped queries. Not a test.

Setup: the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust auth). The script creates the database
`oms_bench_scoping` if missing, migrates it and fills it with SQL generate_series (about a minute the first
time; `--refill` starts over):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_scoping nice .venv/bin/python bench/scoping.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/oms_bench_scoping"
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DB_POOL", "0")

N_ORDERS = 1_000_000
N_LOCATIONS = 200
USER_LOCATIONS = 50
N_CUSTOMERS = 100_000


def ensure_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# Sizes are spelled as names in the SQL and substituted below (constants, no user input).
_FILL_SQL = [
    "TRUNCATE orders_fulfilmentline, orders_fulfilment, orders_orderevent, orders_orderline, orders_order,"
    " orders_customer, orders_channel, inventory_location, guardian_userobjectpermission CASCADE",
    """INSERT INTO orders_channel (code, name, kind, ref_pattern, active)
       SELECT 'ch' || g, 'Channel ' || g, 'site', '', true FROM generate_series(1, 5) g""",
    """INSERT INTO inventory_location (code, name, kind, region, street, number, district, city, state, cep,
         lat, lon, ships, offers_pickup, processing_days, handling_cost, pick_cost, daily_capacity,
         opening_hours, active)
       SELECT 'LJ-' || lpad(g::text, 3, '0'), 'Loja ' || g, 'store', 'r' || (g % 5), '', '', '', 'São Paulo',
         'SP', '01310200', -23.5, -46.6, true, (g % 3 = 0), 0, 5, 1.5, 500, '', true
       FROM generate_series(1, N_LOCATIONS) g""",
    """INSERT INTO orders_customer (name, email, document, phone, created_at)
       SELECT 'Cliente ' || g, 'c' || g || '@example.com', '', '', now()
       FROM generate_series(1, N_CUSTOMERS) g""",
    # Orders over the last 90 days; one in ten is a pickup at a store that offers it.
    """INSERT INTO orders_order (number, channel_id, external_ref, customer_id, status, status_before_hold,
         placed_at, delivery_mode, deadline_days, pickup_location_id, ship_street, ship_number,
         ship_complement, ship_district, ship_city, ship_state, ship_cep, subtotal, shipping_price, total,
         currency, created_at, updated_at)
       SELECT 'B' || lpad(g::text, 9, '0'),
         (SELECT min(id) FROM orders_channel) + g % 5, 'REF-' || g,
         (SELECT min(id) FROM orders_customer) + g % N_CUSTOMERS,
         (ARRAY['received','allocated','in_fulfilment','shipped','delivered','cancelled'])[1 + g % 6], '',
         now() - (g::float / N_ORDERS * interval '90 days'),
         CASE WHEN g % 10 = 0 THEN 'pickup' ELSE 'home' END, 3,
         CASE WHEN g % 10 = 0 THEN (SELECT min(id) FROM inventory_location) + (g / 10 * 3) % N_LOCATIONS
              ELSE NULL END,
         '', '', '', '', '', 'SP', '01310200', 100, 0, 100, 'BRL', now(), now()
       FROM generate_series(1, N_ORDERS) g""",
    # One fulfilment per order at a pseudo-random location (a few orders are split over two).
    """INSERT INTO orders_fulfilment (order_id, location_id, kind, status, carrier_service, tracking_code,
         created_at, updated_at)
       SELECT o.id, (SELECT min(id) FROM inventory_location) + (o.id * 7919) % N_LOCATIONS, 'ship',
         'assigned', '', '', now(), now()
       FROM orders_order o""",
    """INSERT INTO orders_fulfilment (order_id, location_id, kind, status, carrier_service, tracking_code,
         created_at, updated_at)
       SELECT o.id, (SELECT min(id) FROM inventory_location) + (o.id * 104729) % N_LOCATIONS, 'ship',
         'assigned', '', '', now(), now()
       FROM orders_order o WHERE o.id % 20 = 0""",
    "ANALYZE",
]
FILL = [
    sql.replace("N_LOCATIONS", str(N_LOCATIONS))
    .replace("N_ORDERS", str(N_ORDERS))
    .replace("N_CUSTOMERS", str(N_CUSTOMERS))
    for sql in _FILL_SQL
]


TABLES = ["orders_channel", "inventory_location", "orders_customer", "orders_order", "orders_fulfilment"]
TYPE_DEFAULTS = {
    "character varying": "''",
    "text": "''",
    "integer": "0",
    "smallint": "0",
    "bigint": "0",
    "numeric": "0",
    "double precision": "0",
    "boolean": "false",
    "timestamp with time zone": "now()",
    "date": "current_date",
    "jsonb": "'{}'::jsonb",
}


def give_defaults(cursor: Any) -> None:
    """Bench database only: a default for every NOT NULL column the INSERTs below do not name, so the fill
    keeps working as the apps add columns (Django itself sets no database defaults)."""
    cursor.execute(
        """SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_name = ANY(%s) AND is_nullable = 'NO' AND column_default IS NULL
             AND is_identity = 'NO'""",
        [TABLES],
    )
    for table, column, data_type in cursor.fetchall():
        if data_type in TYPE_DEFAULTS:
            cursor.execute(
                f'ALTER TABLE {table} ALTER COLUMN "{column}" SET DEFAULT {TYPE_DEFAULTS[data_type]}'
            )


def fill(refill: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders_order WHERE EXISTS (SELECT 1 FROM orders_fulfilment)")
        (count,) = cursor.fetchone()
        if count >= N_ORDERS and not refill:
            print(f"reusing {count:,} orders")
            return
        started = time.perf_counter()
        give_defaults(cursor)
        for statement in FILL:
            cursor.execute(statement)
        print(f"filled {N_ORDERS:,} orders in {time.perf_counter() - started:.0f} s")


def users() -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from guardian.models import UserObjectPermission
    from guardian.shortcuts import assign_perm

    from inventory.models import Location
    from oms.roles import Role, setup_roles

    setup_roles()
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True})
    admin.groups.add(Group.objects.get(name=Role.ADMIN))
    staff, _ = user_model.objects.get_or_create(username="bench-store")
    staff.groups.add(Group.objects.get(name=Role.STORE_STAFF))
    # 50 locations spread over the network (every fourth, shifted so that they cover every residue of the
    # fill's location formula: otherwise some statuses would have no order at all in the scope).
    UserObjectPermission.objects.filter(user=staff).delete()
    locations = list(Location.objects.order_by("id"))
    for i in range(USER_LOCATIONS):
        assign_perm("inventory.work_at_location", staff, locations[4 * i + i % 4])
    return user_model.objects.get(pk=admin.pk), user_model.objects.get(pk=staff.pk)


def fixed_region_lookup() -> None:
    """inventory.selectors.location_list compares Location.region (a region code) with Region ids, which
    PostgreSQL refuses; while that is open, measure with the one-line fix (`.values("code")`) in place."""
    from django.db.models import Q
    from guardian.shortcuts import get_objects_for_user

    import inventory.selectors
    import orders.selectors
    from inventory.models import Location, Region

    original = inventory.selectors.location_list

    def location_list(*, user: Any) -> Any:
        if inventory.selectors.user_sees_all_locations(user):
            return original(user=user)
        direct = get_objects_for_user(
            user,
            "inventory.work_at_location",
            klass=Location,
            accept_global_perms=False,
            with_superuser=False,
        )
        regions = get_objects_for_user(
            user, "inventory.manage_region", klass=Region, accept_global_perms=False, with_superuser=False
        )
        return Location.objects.filter(Q(pk__in=direct.values("pk")) | Q(region__in=regions.values("code")))

    inventory.selectors.location_list = location_list
    orders.selectors.location_list = location_list
    print("NOTE: measured with the region-lookup fix of inventory.selectors.location_list (values('code'))")


def first_page(user: Any, filters: Any) -> list[Any]:
    from orders.selectors import order_list

    return list(order_list(user=user, filters=filters)[:50])


def db_time(user: Any, filters: Any, repeat: int = 7) -> float:
    """Median planning + execution time reported by EXPLAIN ANALYZE (less sensitive to a busy machine)."""
    from django.db import connection

    from orders.selectors import order_list

    sql, params = order_list(user=user, filters=filters)[:50].query.sql_with_params()
    samples = []
    for _ in range(repeat):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plan = plan[0] if isinstance(plan, list) else plan
            samples.append(plan["Planning Time"] + plan["Execution Time"])
    return statistics.median(samples)


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float]:
    run()  # warm the cache and the plan
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--refill", action="store_true", help="fill the orders again")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from orders.selectors import OrderFilters, order_list

    call_command("migrate", verbosity=0)
    fill(args.refill)
    admin, staff = users()
    from django.db.utils import ProgrammingError

    try:
        list(order_list(user=staff)[:1])
    except ProgrammingError:
        fixed_region_lookup()

    cases = {
        "first page, newest first": OrderFilters(),
        "status=shipped, first page": OrderFilters(status="shipped"),
        "placed in the last 7 days": OrderFilters(placed_after=timezone.now() - dt.timedelta(days=7)),
    }
    print(f"\n{N_ORDERS:,} orders, {N_LOCATIONS} locations; store user tied to {USER_LOCATIONS} locations")
    print(
        "wall time of list(order_list(...)[:50]) in Python, and the database's own planning + execution time"
    )
    print(
        f"{'query':28} {'unscoped p50/p95':>17} {'scoped p50/p95':>16} {'added':>7} |"
        f" {'db unscoped':>11} {'db scoped':>9}"
    )
    for label, filters in cases.items():
        unscoped = timed(partial(first_page, admin, filters), args.repeat)
        scoped = timed(partial(first_page, staff, filters), args.repeat)
        db_unscoped, db_scoped = db_time(admin, filters), db_time(staff, filters)
        print(
            f"{label:28} {unscoped[0]:>8.1f}/{unscoped[1]:<8.1f} {scoped[0]:>7.1f}/{scoped[1]:<8.1f}"
            f" {scoped[0] - unscoped[0]:>+7.1f} | {db_unscoped:>11.1f} {db_scoped:>9.1f}  ms"
        )
    for label, filters in cases.items():
        query = order_list(user=staff, filters=filters)[:50]
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        print(f"\nEXPLAIN ANALYZE, scoped: {label}\n{plan}")


if __name__ == "__main__":
    main()
