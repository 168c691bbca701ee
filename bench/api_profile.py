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
    parser.add_argument(
        "--stages", action="store_true", help="also CPU per request of each stage of a create (no profiler)"
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
    servers = api_orders.cpu_by_program()
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(100, 100 + args.orders):
        create(i)
    plain = (time.perf_counter() - started) / args.orders * 1000
    cpu = (time.process_time() - cpu) / args.orders * 1000
    servers = {
        name: (seconds - servers.get(name, 0.0)) / args.orders * 1000
        for name, seconds in api_orders.cpu_by_program().items()
        if name in ("postgres", "redis-server")
    }
    if args.stages:
        stages = time_stages()
        for i in range(500, 500 + args.orders):
            create(i)
        print("CPU per request by stage (inclusive ms, no profiler):")
        for name, seconds in stages.items():
            print(f"  {seconds / args.orders * 1000:6.3f}  {name}")
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(1000, 1000 + args.orders):
        create(i)
    profiler.disable()
    what = f"bulk of {args.bulk}" if args.bulk else "create"
    print(f"per {what}: {plain:.1f} ms wall, {cpu:.2f} ms CPU here (no profiler), {args.orders} requests")
    used = ", ".join(f"{name} {ms:.2f} ms" for name, ms in servers.items())
    print(f"  and the servers' CPU per {what}: {used}")
    stats = pstats.Stats(profiler)
    print_by_package(stats, args.orders)
    stats.sort_stats(args.sort).print_stats(args.top)


# Where a create's CPU goes, stage by stage: (module, attribute) as the caller looks it up.
STAGES = [
    ("django.core.handlers.base", "BaseHandler.get_response"),
    ("oms.authentication", "ApiKeyAuthentication.authenticate"),
    ("oms.throttling", "ApiRateThrottle.allow_request"),
    ("oms.authentication", "get_many_and_incr"),
    ("oms.parsers", "BoundedJSONParser.parse"),
    ("orders.api.views", "load_refs"),
    ("orders.api.views", "validate_order"),
    ("orders.services.lifecycle", "_customers_for"),
    ("orders.services.lifecycle", "assign_ids"),
    ("orders.services.lifecycle", "save_new"),
    ("orders.services.lifecycle", "subscriptions_for"),
    ("orders.services.lifecycle", "request_on_commit"),
    ("orders.api.views", "order_out"),
]


def time_stages() -> dict[str, float]:
    """Wrap each stage so its CPU time (inclusive) adds up in the returned dict, by stage name."""
    import functools
    import importlib

    totals: dict[str, float] = {}
    for module_name, path in STAGES:
        owner: Any = importlib.import_module(module_name)
        *parents, attribute = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, attribute)
        totals[path] = 0.0

        def timed(*args: Any, __original: Any = original, __path: str = path, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return __original(*args, **kwargs)
            finally:
                totals[__path] += time.thread_time() - started

        setattr(owner, attribute, functools.wraps(original)(timed))
    return totals


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
