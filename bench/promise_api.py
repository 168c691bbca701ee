"""Benchmark of the delivery promise through the API: POST /api/v1/promise/ at 100 locations.

Not a test. Builds a 100-location network (10 DCs, 90 stores, 500 SKUs) in a throwaway PostgreSQL + Redis
(or DATABASE_URL / REDIS_URL when given; see bench/routing_live.py), then sends requests through Django's
full stack (middleware, authentication, DRF, serializers) in-process with random carts (1-3 SKUs) to
random destinations, and prints p50/p90/p99 latency. The target is p99 <= 50 ms.

    nice .venv/bin/python bench/promise_api.py --requests 2000 --locations 100
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from routing_live import build_network, pct, servers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--locations", type=int, default=100)
    parser.add_argument("--skus", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("API_RATE_PER_USER", "1000000/min")  # measure the promise, not the rate limit
    with servers(start_worker=False):
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.test import Client

        world = build_network(locations=args.locations, skus=args.skus)
        user, _ = get_user_model().objects.get_or_create(username="bench-cs", defaults={"is_superuser": True})
        client = Client()
        client.force_login(user)
        rng = random.Random(5)
        skus = [p.sku for p in world["products"]]
        ceps = [
            "01310200",
            "20040002",
            "30130010",
            "80010000",
            "50010000",
            "90010000",
            "40020000",
            "70040010",
        ]
        times: list[float] = []
        sizes: list[int] = []
        for i in range(args.requests + 50):
            lat, lon = rng.choice(world["points"])
            body = {
                "lines": [{"sku": s, "qty": rng.randint(1, 2)} for s in rng.sample(skus, rng.randint(1, 3))],
                "cep": rng.choice(ceps),
                "lat": lat + rng.uniform(-0.1, 0.1),
                "lon": lon + rng.uniform(-0.1, 0.1),
            }
            t0 = time.perf_counter()
            resp = client.post("/api/v1/promise/", json.dumps(body), content_type="application/json")
            elapsed = (time.perf_counter() - t0) * 1000
            if resp.status_code != 200:
                raise SystemExit(f"HTTP {resp.status_code}: {resp.content[:300]!r}")
            if i >= 50:  # the first requests warm the process (snapshot cache, imports)
                times.append(elapsed)
                data = resp.json()
                sizes.append(len(data["home"]) + len(data["pickup"]))
        print(
            f"promise API at {args.locations} locations, {len(times)} requests: "
            f"p50 {pct(times, 0.5):.1f} ms, "
            f"p90 {pct(times, 0.9):.1f} ms, p99 {pct(times, 0.99):.1f} ms, max {max(times):.1f} ms; "
            f"{sum(sizes) / len(sizes):.1f} options per answer"
        )


if __name__ == "__main__":
    main()
