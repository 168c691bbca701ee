"""Benchmark of the live routing path: order committed -> routed and reserved by the Celery worker.

Not a test. Phase 1 commits orders one at a time at a gentle pace and measures, per order, the time from the
commit of the order to the commit of its routing (decision, fulfilments, reservations, status): p50/p99.
Phase 2 commits orders at a sustained rate (default 150/s for 30 s, from 4 threads) and samples the backlog
(orders committed but not yet routed) every second, to show whether the workers keep up. With `--api` the
orders of phase 2 come in through the API instead: `POST /api/v1/orders/` to gunicorn (`--gunicorn W T`, with
the project's `gunicorn.conf.py`), one HTTP client per thread, as an integration would send them; the gunicorn
workers, the Celery worker and the clients share the machine.

Everything it needs is started by the script when not given: a throwaway PostgreSQL cluster (initdb, as the
`postgres` user when run as root), Redis, and a Celery worker (`--concurrency`, default 2), on free ports;
all stopped at exit. Give DATABASE_URL / REDIS_URL to use running servers (then start the worker yourself:
`DATABASE_URL=... REDIS_URL=... .venv/bin/celery -A oms worker --concurrency=2`).

    nice .venv/bin/python bench/routing_live.py --orders 300 --rate 150 --duration 30 [--api]

Before measuring, `--history N` (default 2,000) commits N orders of the last 28 days, already collected, each
having used a random location's capacity on its day, and publishes the picture of recent demand, so that
decisions price the stock and capacity later orders will need, as they do in production (`--history 0`:
none, real costs alone).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = str(ROOT / ".venv" / "bin" / "python")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def servers(
    *, worker_concurrency: int = 2, start_worker: bool = True, db_reuse: int = -1
) -> Iterator[dict[str, str]]:
    """PostgreSQL, Redis and a Celery worker for a bench (throwaway unless DATABASE_URL/REDIS_URL are set)."""
    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-"))
    os.chmod(tmp, 0o755)  # noqa: S103  (the postgres user must reach the cluster folder)
    procs: list[subprocess.Popen[bytes]] = []
    pg_data = None
    pg_bin = None
    env = dict(os.environ)
    try:
        if not env.get("DATABASE_URL"):
            pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
            pg_data = tmp / "pg"
            pg_data.mkdir()
            if os.geteuid() == 0:
                shutil.chown(pg_data, "postgres")
            port = free_port()
            subprocess.run(
                _as_postgres([str(pg_bin / "initdb"), "-D", str(pg_data), "-U", "postgres", "-A", "trust"]),
                check=True,
                capture_output=True,
            )
            opts = f"-p {port} -k {pg_data} -c listen_addresses=127.0.0.1 -c max_connections=200"
            subprocess.run(
                _as_postgres(
                    [
                        str(pg_bin / "pg_ctl"),
                        "-D",
                        str(pg_data),
                        "-l",
                        str(pg_data / "log"),
                        "-w",
                        "-o",
                        opts,
                        "start",
                    ]
                ),
                check=True,
                capture_output=True,
            )
            subprocess.run(
                ["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "oms_bench"], check=True
            )
            env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{port}/oms_bench"
        if not env.get("REDIS_URL"):
            port = free_port()
            procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--dir",
                        str(tmp),
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
            env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
            time.sleep(0.3)
        env.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
        env.setdefault("SECRET_KEY", "bench-" + "x" * 50)
        env.setdefault("SECURE_SSL_REDIRECT", "0")
        env.setdefault("LOG_LEVEL", "WARNING")
        env.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
        if start_worker:
            log = open(tmp / "worker.log", "wb")  # noqa: SIM115
            reuse = f"app.conf.update(CELERY_DB_REUSE_MAX={db_reuse or None}); " if db_reuse >= 0 else ""
            procs.append(
                subprocess.Popen(
                    [
                        PY,
                        "-c",
                        # CELERY_DB_REUSE_MAX: Celery's Django fixup closes the connection (and, with a pool
                        # in prefork, the whole pool) before and after every task unless it is set. Only
                        # --db-reuse overrides the settings' value (0: never reuse).
                        "import sys; from oms.celery import app; " + reuse + "app.worker_main(sys.argv[1:])",
                        "worker",
                        "--loglevel=WARNING",
                        f"--concurrency={worker_concurrency}",
                        "--without-gossip",
                        "--without-mingle",
                        "--without-heartbeat",
                        "-n",
                        f"bench-{os.getpid()}@%h",
                    ],
                    cwd=ROOT,
                    env={**env, "DB_POOL_MIN": "1", "DB_POOL_MAX": "4"},  # as in production (Procfile)
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")})
        for k in ("SECRET_KEY", "SECURE_SSL_REDIRECT", "LOG_LEVEL", "ALLOWED_HOSTS"):
            os.environ[k] = env[k]
        yield env
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        if pg_data is not None and pg_bin is not None:
            subprocess.run(
                _as_postgres([str(pg_bin / "pg_ctl"), "-D", str(pg_data), "-m", "immediate", "stop"]),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(tmp, ignore_errors=True)


def build_network(
    *, locations: int, skus: int, dc_stock: int = 1_000_000, store_stock: int = 50
) -> dict[str, Any]:
    """A Brazilian-looking network: 10 % DCs (deep stock), the rest stores (shallow), SKUs with weights."""
    import random
    from decimal import Decimal

    from inventory.models import Location, Product, StockLevel
    from orders.models import Channel
    from routing.services.defaults import routing_defaults_setup
    from routing.services.snapshot import network_changed

    routing_defaults_setup()
    rng = random.Random(7)
    cities = [
        (-23.55, -46.63),
        (-22.90, -43.20),
        (-19.92, -43.94),
        (-25.43, -49.27),
        (-8.05, -34.88),
        (-30.03, -51.23),
        (-12.97, -38.50),
        (-15.79, -47.88),
        (-3.73, -38.52),
        (-16.68, -49.25),
    ]
    if not Location.objects.filter(code__startswith="BL-").exists():
        n_dc = max(1, locations // 10)
        rows = []
        for i in range(locations):
            lat, lon = cities[i % len(cities)]
            dc = i < n_dc
            rows.append(
                Location(
                    code=f"BL-{'CD' if dc else 'LJ'}-{i:03d}",
                    name=f"{'CD' if dc else 'Loja'} {i}",
                    kind="dc" if dc else "store",
                    city="Cidade",
                    state="SP",
                    cep="01310200",
                    lat=lat + rng.uniform(-0.15, 0.15),
                    lon=lon + rng.uniform(-0.15, 0.15),
                    ships=True,
                    offers_pickup=not dc,
                    processing_days=1 if dc else 0,
                    handling_cost=Decimal("2.30") if dc else Decimal("5.00"),
                    pick_cost=Decimal("0.60") if dc else Decimal("1.50"),
                    daily_capacity=10_000_000 if dc else 1_000_000,
                )
            )
        Location.objects.bulk_create(rows)
        prods = [
            Product(
                sku=f"BL-{i:05d}",
                name=f"Produto {i}",
                weight_g=rng.choice([150, 300, 600, 1200, 2500]),
                price=Decimal(rng.choice(["29.90", "59.90", "129.90", "349.00"])),
            )
            for i in range(skus)
        ]
        Product.objects.bulk_create(prods)
        locs = list(Location.objects.filter(code__startswith="BL-"))
        prods = list(Product.objects.filter(sku__startswith="BL-"))
        stock = []
        for loc in locs:
            for p in prods:
                if loc.kind == "dc":
                    stock.append(StockLevel(location=loc, product=p, on_hand=dc_stock))
                elif rng.random() < 0.3:
                    stock.append(StockLevel(location=loc, product=p, on_hand=store_stock))
        StockLevel.objects.bulk_create(stock, batch_size=5000)
        network_changed()
    Channel.objects.get_or_create(code="web", defaults={"name": "Site", "kind": "site"})
    return {
        "products": list(Product.objects.filter(sku__startswith="BL-")),
        "points": cities,
        "channel": Channel.objects.get(code="web"),
    }


def make_order(world: dict[str, Any], n: int, rng: Any) -> int:
    """Commit one home order of 1-3 lines (its routing is queued on commit); returns its pk."""
    import datetime as dt

    from django.db import transaction
    from django.utils import timezone

    from orders.services import AddressData, CustomerData, LineData, order_create

    lat, lon = rng.choice(world["points"])
    lines = [
        LineData(product=p, qty=rng.randint(1, 2), unit_price=p.price)
        for p in rng.sample(world["products"], rng.randint(1, 3))
    ]
    address = AddressData(
        street="Rua",
        number=str(n),
        district="Centro",
        city="Cidade",
        state="SP",
        cep="01310200",
        lat=lat + rng.uniform(-0.1, 0.1),
        lon=lon + rng.uniform(-0.1, 0.1),
    )
    with transaction.atomic():
        order = order_create(
            channel=world["channel"],
            external_ref=f"BENCH-{os.getpid()}-{n}-{time.time_ns()}",
            placed_at=timezone.now() - dt.timedelta(seconds=1),
            customer=CustomerData(name="Cliente Bench"),
            delivery_mode="home",
            deadline_days=5,
            lines=lines,
            address=address,
        ).order
    return order.pk


def make_history(world: dict[str, Any], n: int) -> None:
    """`n` orders of the last 28 days, already collected: the recent demand the live path prices stock with
    (routing.services.demand), published as the beat would."""
    import datetime as dt
    import random

    from django.db import transaction
    from django.db.models import Sum
    from django.utils import timezone

    from inventory.models import Location
    from orders.models import Order, OrderLine, OrderStatus
    from routing.models import LocationDayCapacity
    from routing.services.demand import demand_refresh

    if n <= 0:
        return
    rng = random.Random(3)
    now = timezone.now()
    today = timezone.localdate()
    locations = list(Location.objects.filter(code__startswith="BL-").values_list("pk", flat=True))
    used: dict[tuple[int, dt.date], int] = {}  # the capacity the history took: its units, a location each
    with transaction.atomic():  # collected before they commit: their routing requests find nothing to do
        pks = [make_order(world, -1 - k, rng) for k in range(n)]
        units = dict(
            OrderLine.objects.filter(order_id__in=pks)
            .values("order_id")
            .annotate(units=Sum("qty"))
            .values_list("order_id", "units")
        )
        for pk in pks:
            placed = now - dt.timedelta(days=rng.uniform(0.1, 28.0))
            Order.objects.filter(pk=pk).update(status=OrderStatus.COLLECTED, placed_at=placed)
            day = timezone.localdate(placed)
            if day < today:
                key = (rng.choice(locations), day)
                used[key] = used.get(key, 0) + units[pk]
        LocationDayCapacity.objects.bulk_create(
            [LocationDayCapacity(location_id=loc, day=day, units_used=q) for (loc, day), q in used.items()],
            update_conflicts=True,
            unique_fields=["location", "day"],
            update_fields=["units_used"],
        )
    picture = demand_refresh()
    print(
        f"history: {picture.orders} orders over {picture.span_days:.1f} days, {len(picture.units)} SKUs, "
        f"{len(picture.capacity_units)} locations' daily capacity use"
    )


def routed_at(pks: list[int]) -> dict[int, float]:
    """When each routed order's routing finished (its last status event), epoch seconds."""
    from orders.models import OrderEvent

    out: dict[int, float] = {}
    for order_id, at in (
        OrderEvent.objects.filter(order_id__in=pks, kind="status", data__to__in=["allocated", "backordered"])
        .values_list("order_id", "at")
        .order_by("at")
    ):
        out.setdefault(order_id, at.timestamp())
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_phase(world: dict[str, Any], orders: int, pace: float) -> None:
    import random

    rng = random.Random(1)
    committed: dict[int, float] = {}
    for n in range(orders):
        pk = make_order(world, n, rng)
        committed[pk] = time.time()
        time.sleep(pace)
    deadline = time.time() + 60
    done: dict[int, float] = {}
    while time.time() < deadline:
        done = routed_at(list(committed))
        if len(done) == len(committed):
            break
        time.sleep(0.2)
    lat = [(done[pk] - committed[pk]) * 1000 for pk in done]
    from routing.models import RoutingDecision

    rows = list(
        RoutingDecision.objects.filter(order_id__in=list(committed))
        .order_by("order_id")
        .values_list("latency_ms", flat=True)
    )
    eng = list(rows)
    slowest = sorted(range(len(rows)), key=lambda i: -rows[i])[:3]
    print(
        f"latency: {len(done)}/{orders} routed; commit -> routed+reserved p50 {pct(lat, 0.5):.1f} ms, "
        f"p90 {pct(lat, 0.9):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms"
    )
    print(
        f"         in-task routing (snapshot + engine + writes) p50 {pct(eng, 0.5):.1f} ms, "
        f"p99 {pct(eng, 0.99):.1f} ms; slowest: "
        + ", ".join(f"order #{i + 1} {rows[i]:.0f} ms" for i in slowest)
    )


def order_payload(world: dict[str, Any], ref: str, rng: Any) -> dict[str, Any]:
    """The API body of a home order like make_order's (1-3 lines, near one of the network's cities)."""
    lat, lon = rng.choice(world["points"])
    return {
        "channel": world["channel"].code,
        "external_ref": ref,
        "customer": {"name": "Cliente Bench"},
        "delivery": {
            "mode": "home",
            "deadline_days": 5,
            "address": {
                "street": "Rua",
                "number": "1",
                "district": "Centro",
                "city": "Cidade",
                "state": "SP",
                "cep": "01310200",
                "lat": lat + rng.uniform(-0.1, 0.1),
                "lon": lon + rng.uniform(-0.1, 0.1),
            },
        },
        "lines": [
            {"sku": p.sku, "qty": rng.randint(1, 2), "unit_price": str(p.price)}
            for p in rng.sample(world["products"], rng.randint(1, 3))
        ],
    }


def api_poster(port: int, key: str) -> Any:
    """A function that POSTs one order body over this thread's keep-alive connection; returns the status."""
    import http.client
    import json

    local = threading.local()
    headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {key}"}

    def post(body: dict[str, Any]) -> int:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local.conn.request("POST", "/api/v1/orders/", json.dumps(body), headers)
        response = local.conn.getresponse()
        response.read()
        return response.status

    return post


def sustained_phase(
    world: dict[str, Any],
    rate: float,
    duration: float,
    threads: int,
    post: Any = None,
    *,
    quiet: bool = False,
) -> None:
    """Orders at `rate` for `duration` s from `threads` threads: committed in-process, or POSTed (`post`)."""
    import random

    from django.db import connection

    from orders.models import Order

    stop = time.time() + duration
    made: list[int] = []
    failed: list[int] = []
    lock = threading.Lock()

    def producer(k: int) -> None:
        rng = random.Random(100 + k)
        interval = threads / rate
        nxt = time.time()
        n = 0
        while time.time() < stop:
            number = 10_000_000 * (k + 1) + n
            n += 1
            if post is None:
                make_order(world, number, rng)
                code = 201
            else:
                code = post(order_payload(world, f"API-{os.getpid()}-{number}-{time.time_ns()}", rng))
            with lock:
                (made if code == 201 else failed).append(number if code == 201 else code)
            nxt += interval
            delay = nxt - time.time()
            if delay > 0:
                time.sleep(delay)
        connection.close()

    sys.path.insert(0, str(ROOT / "bench"))
    from api_orders import cpu_by_program

    workers = [threading.Thread(target=producer, args=(k,)) for k in range(threads)]
    cpu_before = cpu_by_program()
    t0 = time.time()
    for w in workers:
        w.start()
    samples = []
    while any(w.is_alive() for w in workers):
        time.sleep(1.0)
        backlog = Order.objects.filter(status="awaiting_routing").count()
        samples.append((time.time() - t0, len(made), backlog))
        if not quiet:
            print(f"  t={samples[-1][0]:5.1f}s committed={samples[-1][1]:6d} backlog={backlog}")
    for w in workers:
        w.join()
    cpu_used = {name: ms - cpu_before.get(name, 0.0) for name, ms in cpu_by_program().items()}
    intake = len(made) / (time.time() - t0)
    drain_start = time.time()
    while Order.objects.filter(status="awaiting_routing").exists() and time.time() - drain_start < 300:
        time.sleep(0.5)
    drain = time.time() - drain_start
    third = max(1, len(samples) // 3)
    early = statistics.mean(s[2] for s in samples[:third])
    late = statistics.mean(s[2] for s in samples[-third:])
    routed_rate = len(made) / (time.time() - t0)
    if failed:
        print(f"  {len(failed)} orders refused by the API: statuses {sorted(set(failed))}")
    print(
        f"sustained{' through the API' if post else ''}: asked {rate:.0f}/s, committed {intake:.1f} orders/s "
        f"for {duration:.0f}s; "
        f"backlog mean first third {early:.0f}, last third {late:.0f}; "
        f"drained {drain:.1f}s after intake stopped; "
        f"end-to-end routed {routed_rate:.1f} orders/s"
    )
    if not quiet:
        # where the machine's CPU went during the intake (this bench's client threads are "python")
        busy = sorted(((sec, name) for name, sec in cpu_used.items() if sec > 0.05), reverse=True)[:6]
        print(
            "  CPU per committed order: "
            + ", ".join(f"{name} {sec * 1000 / max(len(made), 1):.2f} ms" for sec, name in busy)
            + f"; all processes {sum(cpu_used.values()) / duration * 100:.0f} % of one core"
        )


def profile_phase(world: dict[str, Any], orders: int, top: int, batches: list[int] | None = None) -> None:
    """Work per order, measured in this process (no worker, no queue): SQL statements, CPU ms and wall ms of
    `order_route` per order, and where the CPU goes (cProfile, cumulative)."""
    import cProfile
    import io
    import pstats
    import random
    from collections import Counter

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from routing.services.live import order_route

    rng = random.Random(3)
    pks = [make_order(world, 50_000_000 + n, rng) for n in range(orders)]
    cold = cProfile.Profile()
    w0 = time.perf_counter()
    cold.enable()
    order_route(order_id=pks[0])  # warm the static network and the code paths
    cold.disable()
    print(f"first decision in this process (cold): {(time.perf_counter() - w0) * 1000:.0f} ms")
    if top:
        out = io.StringIO()
        pstats.Stats(cold, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())
    stmts: list[int] = []
    cpu: list[float] = []
    wall: list[float] = []
    kinds: Counter[str] = Counter()
    kind_ms: dict[str, float] = {}
    prof = cProfile.Profile()
    for pk in pks[1:]:
        with CaptureQueriesContext(connection) as ctx:
            c0, w0 = time.process_time(), time.perf_counter()
            if top:  # the profiler costs CPU: figures without --top are the clean ones
                prof.enable()
            order_route(order_id=pk)
            if top:
                prof.disable()
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        stmts.append(len(ctx.captured_queries))
        for q in ctx.captured_queries:
            words = q["sql"].split()
            head = words[:1] if words[0] in ("SAVEPOINT", "RELEASE", "ROLLBACK") else words[:4]
            key = " ".join(head)[:70]
            kinds[key] += 1
            kind_ms[key] = kind_ms.get(key, 0.0) + float(q["time"]) * 1000
    n = len(stmts)
    print(
        f"profile: {n} orders routed in-process; SQL statements per order mean {sum(stmts) / n:.1f} "
        f"(min {min(stmts)}, max {max(stmts)}); CPU per order (this process: ORM + engine) "
        f"p50 {pct(cpu, 0.5):.2f} ms, p99 {pct(cpu, 0.99):.2f} ms; wall p50 {pct(wall, 0.5):.2f} ms, "
        f"p99 {pct(wall, 0.99):.2f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    print("  statements per order, and their round-trip time per order (client side, ms):")
    for sql, count in kinds.most_common():
        print(f"  {count / n:5.2f}/order {kind_ms[sql] / n:6.2f} ms  {sql}")
    if top:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
        print(out.getvalue())
    # The drain's way: the same number of new orders routed by orders_route_pending, `batch` per transaction
    # (DRAIN_BATCH as configured, and any other sizes asked for), as the worker does under a backlog.
    from routing.services import live

    configured = live.DRAIN_BATCH
    for number, batch in enumerate(batches or [configured]):
        live.DRAIN_BATCH = batch
        for n in range(orders):
            make_order(world, 60_000_000 + number * 1_000_000 + n, rng)
        with CaptureQueriesContext(connection) as ctx:
            c0, w0 = time.process_time(), time.perf_counter()
            routed = live.orders_route_pending(limit=orders)
            cpu_all, wall_all = time.process_time() - c0, time.perf_counter() - w0
        print(
            f"drain: {routed} orders routed by orders_route_pending, {batch} per transaction; "
            f"SQL statements per order {len(ctx.captured_queries) / max(routed, 1):.2f}; "
            f"CPU per order {cpu_all * 1000 / max(routed, 1):.2f} ms, "
            f"wall per order {wall_all * 1000 / max(routed, 1):.2f} ms"
        )
    live.DRAIN_BATCH = configured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300, help="orders for the latency phase")
    parser.add_argument("--pace", type=float, default=0.05, help="seconds between latency-phase orders")
    parser.add_argument("--rate", type=float, default=150.0, help="orders/s asked in the sustained phase")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--locations", type=int, default=50)
    parser.add_argument("--skus", type=int, default=500)
    parser.add_argument(
        "--history",
        type=int,
        default=2000,
        help="past orders (last 28 days) the decisions price stock from; 0: none, real costs alone",
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="only measure the work per order in-process, for N orders"
    )
    parser.add_argument("--top", type=int, default=0, help="with --profile: print the N costliest functions")
    parser.add_argument(
        "--batches",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="with --profile: time the drain with N orders per transaction for each N (default: DRAIN_BATCH)",
    )
    parser.add_argument(
        "--api", action="store_true", help="phase 2 through the API (gunicorn) instead of in-process commits"
    )
    parser.add_argument(
        "--gunicorn", type=int, nargs=2, default=(2, 4), metavar=("WORKERS", "THREADS"), help="with --api"
    )
    parser.add_argument(
        "--api-warmup", type=float, default=0.0, metavar="S", help="with --api: S s at 20 orders/s first"
    )
    parser.add_argument(
        "--db-reuse",
        type=int,
        default=-1,
        help="run the worker with CELERY_DB_REUSE_MAX=N (0: none, the pool closed around every task); "
        "without it the worker runs with the settings as they are (1000)",
    )
    args = parser.parse_args()
    with servers(worker_concurrency=args.concurrency, start_worker=not args.profile, db_reuse=args.db_reuse):
        import django

        django.setup()
        world = build_network(locations=args.locations, skus=args.skus)
        make_history(world, args.history)
        if args.profile:
            profile_phase(world, args.profile, args.top, args.batches)
            return
        time.sleep(2)  # the worker connects
        latency_phase(world, args.orders, args.pace)
        if args.duration <= 0:
            return
        if not args.api:
            sustained_phase(world, args.rate, args.duration, args.threads)
            return
        sys.path.insert(0, str(ROOT / "bench"))
        from api_orders import integration_key, start_gunicorn

        key = integration_key("bench-live")
        server, port = start_gunicorn(*args.gunicorn)
        try:
            print(f"gunicorn: {args.gunicorn[0]} workers x {args.gunicorn[1]} threads (gthread) on :{port}")
            post = api_poster(port, key)
            if args.api_warmup > 0:
                # Fresh gunicorn threads stall their first requests (connections, first runs) and starve the
                # worker for a few seconds: warm them at a gentle rate, let the worker catch up, then measure.
                print(f"warm-up: {args.api_warmup:.0f} s at 20 orders/s through the API (not counted)")
                sustained_phase(world, 20, args.api_warmup, args.threads, post=post, quiet=True)
            sustained_phase(world, args.rate, args.duration, args.threads, post=post)
        finally:
            os.killpg(server.pid, 15)
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
