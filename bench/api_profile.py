"""Where the time of one `POST /api/v1/orders/` goes, in-process (no HTTP): statements and a cProfile.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_api REDIS_URL=redis://127.0.0.1:6379/5
    nice .venv/bin/python bench/api_profile.py [--orders 60] [--top 25] [--bulk 500]

Needs the database and API key set up by `bench/api_orders.py --setup` (see bench/README.md). Prints the SQL
statements of one create with their times, then the mean time per create over `--orders` creates and the
functions that take it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime, ...")
    parser.add_argument(
        "--bulk", type=int, default=0, metavar="N", help="profile POST /orders/bulk/ of N orders instead"
    )
    args = parser.parse_args()

    import django

    django.setup()
    import api_orders
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    key = (ROOT / "var" / "bench_api_key").read_text().strip()
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {key}", secure=True)
    rng = random.Random(7)
    base = int(time.time() * 1000)

    def create(i: int) -> None:
        if args.bulk:
            body: Any = [api_orders.order_body(rng, f"BLK-{base}-{i}-{n}") for n in range(args.bulk)]
            url = "/api/v1/orders/bulk/"
        else:
            body, url = api_orders.order_body(rng, f"WEB-{base + i}"), "/api/v1/orders/"
        response = client.post(url, json.dumps(body), content_type="application/json")
        if response.status_code not in (200, 201) or (args.bulk and response.json()["failed"]):
            raise SystemExit(f"create failed: {response.status_code} {response.content[:300]!r}")

    for i in range(5):  # warm up (connections, caches)
        create(i)
    with CaptureQueriesContext(connection) as ctx:
        create(10)
    print(f"statements per create: {len(ctx.captured_queries)}")
    for query in ctx.captured_queries:
        print(f"  {float(query['time']) * 1000:6.2f} ms  {query['sql'][:110]}")
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(100, 100 + args.orders):
        create(i)
    plain = (time.perf_counter() - started) / args.orders * 1000
    cpu = (time.process_time() - cpu) / args.orders * 1000
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(1000, 1000 + args.orders):
        create(i)
    profiler.disable()
    what = f"bulk of {args.bulk}" if args.bulk else "create"
    print(f"per {what}: {plain:.1f} ms wall, {cpu:.1f} ms CPU here (no profiler), {args.orders} requests")
    stats = pstats.Stats(profiler)
    print_by_package(stats, args.orders)
    stats.sort_stats(args.sort).print_stats(args.top)


def print_by_package(stats: pstats.Stats, n: int) -> None:
    """Own time (profiled) per request, by the package the function lives in."""
    totals: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in filename:
            package = filename.split("site-packages/", 1)[1].split("/", 1)[0]
        elif filename.startswith(str(ROOT)):
            package = "oms: " + Path(filename).relative_to(ROOT).parts[0]
        else:
            package = "python"
        totals[package] = totals.get(package, 0.0) + tottime
    print("own time per request by package (profiled ms):")
    for package, seconds in sorted(totals.items(), key=lambda item: -item[1])[:14]:
        print(f"  {seconds / n * 1000:6.2f}  {package}")


if __name__ == "__main__":
    main()
