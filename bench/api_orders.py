"""Benchmark of order intake through the REST API: single creates from 16 clients, then bulks of 500.

Prints orders/s and p50/p95/p99 latency. Not a test. Needs PostgreSQL (DATABASE_URL) and, to measure
"routing queued after commit" as the issue asks, REDIS_URL with NO worker running. See bench/README.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        nice .venv/bin/python bench/api_orders.py --setup --duration 20 --clients 16
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import runpy
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")

N_LOCATIONS = 50
N_SKUS = 2000
CHANNELS = [("web", "Site", "site"), ("app", "App", "app"), ("mkt", "Marketplace", "marketplace")]


def cpf(seed: int) -> str:
    base = [int(d) for d in f"{seed % 10**9:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(base, range(length + 1, 1, -1), strict=True))
        base.append(total * 10 % 11 % 10)
    return "".join(map(str, base))


def ensure_database(url: str) -> None:
    """Create the bench database if it is missing (createdb on the URL's host, user and name)."""
    from urllib.parse import urlparse

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    args = ["createdb", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    args += ["-U", parts.username or "postgres", name]
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode and "already exists" not in result.stderr:
        raise SystemExit(f"createdb failed: {result.stderr}")


def setup(url: str) -> None:
    ensure_database(url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env=os.environ
    )
    seed()


def seed() -> str:
    """Channels, 50 locations, 2,000 SKUs and an integration user with a key; returns the key."""
    import django

    django.setup()
    from decimal import Decimal

    from inventory.models import Location, Product
    from orders.models import Channel

    for code, name, kind in CHANNELS:
        Channel.objects.get_or_create(code=code, defaults={"name": name, "kind": kind})
    rng = random.Random(7)
    Location.objects.bulk_create(
        [
            Location(
                code=f"{'CD' if i < 5 else 'LJ'}-B-{i:03d}",
                name=f"Bench location {i}",
                kind="dc" if i < 5 else "store",
                city="São Paulo",
                state="SP",
                cep=f"0{rng.randrange(1000000, 9999999)}",
                lat=-23.5 + rng.uniform(-2, 2),
                lon=-46.6 + rng.uniform(-2, 2),
                offers_pickup=i >= 5,
            )
            for i in range(N_LOCATIONS)
        ],
        ignore_conflicts=True,
    )
    Product.objects.bulk_create(
        [
            Product(
                sku=f"SKU-{i:05d}",
                ean=f"78{i:011d}",
                name=f"Produto {i}",
                weight_g=300,
                price=Decimal("49.90"),
            )
            for i in range(N_SKUS)
        ],
        ignore_conflicts=True,
    )
    key = integration_key()
    Path(ROOT / "var").mkdir(exist_ok=True)
    (ROOT / "var" / "bench_api_key").write_text(key)
    return key


def integration_key(name: str = "bench") -> str:
    """A new API key `name` (any older one of that name is deleted) of a user who may create orders."""
    from django.contrib.auth.models import Group, Permission, User

    from oms.models import ApiKey
    from oms.roles import Role

    user, _ = User.objects.get_or_create(username="bench-integration")
    user.groups.add(Group.objects.get(name=Role.CUSTOMER_SERVICE))
    user.user_permissions.add(*Permission.objects.filter(codename__in=["add_order", "view_order"]))
    ApiKey.objects.filter(name=name).delete()
    _obj, key = ApiKey.objects.create_key(name=name, user=user)
    return str(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_gunicorn(workers: int, threads: int) -> tuple[subprocess.Popen[bytes], int]:
    """gunicorn with the project's `gunicorn.conf.py` (as the Procfile runs it), `workers` x `threads`."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),  # the interpreter the bench runs on
            "oms.wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("gunicorn did not start")


def order_body(rng: random.Random, ref: str, n_lines: int = 3) -> dict[str, Any]:
    skus = rng.sample(range(N_SKUS), n_lines)
    return {
        "channel": rng.choice(CHANNELS)[0],
        "external_ref": ref,
        "customer": {
            "name": f"Cliente {rng.randrange(10**6)}",
            "email": f"c{rng.randrange(10**6)}@example.com",
            "cpf": cpf(rng.randrange(10**8, 10**9)),
            "phone": f"+55119{rng.randrange(10**7, 10**8)}",
        },
        "delivery": {
            "mode": "home",
            "deadline_days": 3,
            "address": {
                "street": "Rua Bench",
                "number": str(rng.randrange(1, 2000)),
                "district": "Centro",
                "city": "São Paulo",
                "state": "SP",
                "cep": f"0{rng.randrange(1000000, 9999999)}",
            },
        },
        "lines": [{"sku": f"SKU-{s:05d}", "qty": rng.randrange(1, 4), "unit_price": "49.90"} for s in skus],
    }


def single_worker(args: tuple[int, str, int, float, int, str]) -> tuple[list[float], int, int]:
    """One client process: `threads` keep-alive connections posting single orders until `until`."""
    port, key, threads, until, proc_no, run = args
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def loop(thread_no: int) -> None:
        rng = random.Random(proc_no * 100 + thread_no)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
        n = 0
        mine: list[float] = []
        bad = 0
        while time.time() < until:
            n += 1
            body = json.dumps(order_body(rng, f"B{run}-{proc_no}-{thread_no}-{n}")).encode()
            start = time.perf_counter()
            conn.request("POST", "/api/v1/orders/", body, headers)
            response = conn.getresponse()
            data = response.read()
            mine.append(time.perf_counter() - start)
            if response.status != 201:
                bad += 1
                if bad <= 3:
                    print(f"  ! {response.status} {data[:300]!r}", file=sys.stderr)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    pool = [threading.Thread(target=loop, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, errors[0], len(latencies)


def bulk_worker(args: tuple[int, str, int, int, str, int]) -> tuple[list[float], int, int]:
    port, key, batches, size, run, proc_no = args
    rng = random.Random(1000 + proc_no)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}
    times: list[float] = []
    created = failed = 0
    for b in range(batches):
        body = json.dumps([order_body(rng, f"K{run}-{proc_no}-{b}-{i}") for i in range(size)]).encode()
        start = time.perf_counter()
        conn.request("POST", "/api/v1/orders/bulk/", body, headers)
        response = conn.getresponse()
        data = json.loads(response.read())
        times.append(time.perf_counter() - start)
        if response.status != 200:
            print(f"  ! bulk {response.status} {str(data)[:300]}", file=sys.stderr)
            failed += size
            continue
        created += data["created"]
        failed += data["failed"]
    return times, created, failed


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def run_python_clients(port: int, key: str, args: argparse.Namespace, run: str) -> None:
    procs = max(1, min(args.client_procs, args.clients))
    per = [args.clients // procs + (1 if i < args.clients % procs else 0) for i in range(procs)]
    until = time.time() + args.duration
    start = time.perf_counter()
    with mp.Pool(procs) as pool:
        parts = pool.map(single_worker, [(port, key, per[i], until, i, run) for i in range(procs)])
    elapsed = time.perf_counter() - start
    latencies = [x for part in parts for x in part[0]]
    errors = sum(part[1] for part in parts)
    ok = len(latencies) - errors
    print(
        f"single creates, {args.clients} clients, {elapsed:.1f} s: {ok} orders, "
        f"{ok / elapsed:.0f} orders/s, errors {errors}; latency ms "
        f"p50 {pct(latencies, 50) * 1000:.1f}  p95 {pct(latencies, 95) * 1000:.1f}  "
        f"p99 {pct(latencies, 99) * 1000:.1f}  mean {statistics.fmean(latencies) * 1000:.1f}"
    )


def cpu_by_program() -> dict[str, float]:
    """CPU seconds (user + system) used so far by every live process on this machine, summed by program
    name (gunicorn, celery, postgres, redis-server, wrk, ...), from /proc (Linux; empty elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    totals: dict[str, float] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        head = b" ".join(cmdline[:3])
        name = (
            "gunicorn"
            if b"gunicorn" in head
            else "celery"
            if b"celery" in head or b"worker_main" in head
            else comm
        )
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return totals


def run_wrk(port: int, key: str, clients: int, duration: float, run: str, warmup: float = 0) -> None:
    """The single-create load from wrk: `clients` keep-alive connections on 2 threads, latency percentiles.

    `warmup` seconds of the same load come first, not counted: every gunicorn thread gets its database
    connection and every code path its first run (a cold start stalls the first requests for up to 2 s).
    """

    def wrk(seconds: float, tag: str) -> str:
        env = {**os.environ, "BENCH_API_KEY": key, "BENCH_RUN": tag}
        command = [
            "wrk",
            "-t2",
            f"-c{clients}",
            f"-d{max(1, int(seconds))}s",
            "--latency",
            "--timeout",
            "10s",
        ]
        command += ["-s", str(ROOT / "bench" / "wrk_create.lua"), f"http://127.0.0.1:{port}"]
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout

    if warmup > 0:
        wrk(warmup, run + "w")
    cpu_before = cpu_by_program()
    out = wrk(duration, run)
    cpu_after = cpu_by_program()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    pcts = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.MULTILINE))
    # Every request must have made a new order (a repeated reference is answered 200, and wrk counts it too).
    import django

    django.setup()
    from orders.models import Order

    created = Order.objects.filter(external_ref__startswith=f"{run}-").count()
    print(
        f"single creates (wrk), {clients} clients, {duration:.0f} s: {rate:.0f} requests/s, "
        f"{created} of {requests} created, errors {bad.group(1) if bad else 0}; "
        f"latency p50 {pcts.get('50')}  p90 {pcts.get('90')}  p99 {pcts.get('99')}"
    )
    # CPU per created order by program: steadier than the rate on a machine whose speed varies
    used = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    busy = sorted(((ms, name) for name, ms in used.items() if ms > 0.01), reverse=True)[:5]
    print(
        "  CPU per created order: "
        + ", ".join(f"{name} {seconds * 1000 / max(created, 1):.2f} ms" for seconds, name in busy)
        + f"; all processes {sum(used.values()) / duration * 100:.0f} % of one core"
    )


def analyze(url: str) -> None:
    """`VACUUM (ANALYZE)` the database, as autovacuum keeps a production one. Without statistics (a server
    with autovacuum off, as on CI machines) a bulk's lookup of 500 references planned a sequential scan of the
    orders table: 46-65 ms a batch instead of 1 ms. Then `CHECKPOINT`, which returns once the pages the vacuum
    (and the previous run) dirtied are on disk, so the measured run does not start while they are still being
    written back (each commit's WAL flush would wait behind that writeback)."""
    subprocess.run(["psql", url, "-qc", "VACUUM (ANALYZE)"], check=True)
    subprocess.run(["psql", url, "-qc", "CHECKPOINT"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--setup", action="store_true", help="createdb if missing, migrate, seed reference data"
    )
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--client-procs", type=int, default=4)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # what the Procfile runs (and the environment sets)
    parser.add_argument("--workers", type=int, default=conf["workers"])
    parser.add_argument("--threads", type=int, default=conf["threads"])
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of uncounted wrk load first (with --wrk)"
    )
    parser.add_argument("--bulk-batches", type=int, default=12, help="batches of 500 (0 skips the bulk part)")
    parser.add_argument("--bulk-clients", type=int, default=2)
    parser.add_argument(
        "--wrk",
        action="store_true",
        help="generate the single-create load with wrk (bench/wrk_create.lua) instead of Python clients, "
        "so the load generator takes less of the machine's CPU",
    )
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        raise SystemExit("Set DATABASE_URL to a PostgreSQL database (see bench/README.md).")
    if not os.environ.get("REDIS_URL"):
        print("note: REDIS_URL unset: routing runs inline inside each request (not what the issue measures)")
    if args.setup:
        setup(url)
    key_file = ROOT / "var" / "bench_api_key"
    if not key_file.exists():
        raise SystemExit("Run with --setup first.")
    key = key_file.read_text().strip()
    analyze(url)
    run = secrets.token_hex(3)
    server, port = start_gunicorn(args.workers, args.threads)
    try:
        shape = f"{args.workers} workers x {args.threads} threads, keep-alive {conf['keepalive']} s"
        print(f"gunicorn: {shape}, :{port}")
        # Warm-up: a few orders so every worker has its connection pool, imports and caches ready.
        warm = (port, key, 4, time.time() + 2, 99, run + "w")
        single_worker(warm)
        if args.wrk:
            run_wrk(port, key, args.clients, args.duration, run, args.warmup)
        else:
            run_python_clients(port, key, args, run)
        if args.bulk_batches:
            clients = max(1, args.bulk_clients)
            per_client = max(1, args.bulk_batches // clients)
            start = time.perf_counter()
            with mp.Pool(clients) as pool:
                parts_b = pool.map(
                    bulk_worker, [(port, key, per_client, 500, run, i) for i in range(clients)]
                )
            elapsed = time.perf_counter() - start
            created = sum(p[1] for p in parts_b)
            failed = sum(p[2] for p in parts_b)
            times = [t for p in parts_b for t in p[0]]
            print(
                f"bulk creates, {clients} clients x {per_client} batches of 500, {elapsed:.1f} s: "
                f"{created} orders, {created / elapsed:.0f} orders/s, failed {failed}; "
                f"per batch s p50 {pct(times, 50):.2f} "
                f"max {max(times):.2f}"
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
