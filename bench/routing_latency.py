"""Decision time of the routing engine at 50 and 500 locations.

    python bench/routing_latency.py [--orders N]

Replays a generated scenario exactly like `replay` (arrival order, opportunity prices on, no waves)
and prints the distribution of in-process decision times of `route_order` (pricing included), both
wall clock and CPU time of the deciding thread — on a shared machine the wall clock also counts time
the thread waited for a core — plus the end-to-end replay time (loading, learning, applying).
Scenarios are generated with the kit's generate.py into var/bench/ (cached); the kit is found like in
bench/routing_kit.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from routing.engine import OpportunityPricer, load_scenario, route_order  # noqa: E402

KIT = Path(os.environ.get("ROUTING_BENCH_DIR", REPO.parent / "shared" / "routing-bench")).resolve()
CACHE = REPO / "var" / "bench"

# locations -> (name, generate.py arguments); the same scenarios as the kit suite's default and scale
CASES = {
    50: ("default", ["--seed", "11", "--locations", "50", "--skus", "5000", "--orders", "5000"]),
    500: ("scale", ["--seed", "15", "--locations", "500", "--skus", "20000", "--orders", "2000"]),
}
TARGETS_MS = {50: (1.0, 10.0), 500: (2.0, 25.0)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=0, help="replay only the first N orders (0: all)")
    a = ap.parse_args(argv)
    CACHE.mkdir(parents=True, exist_ok=True)
    cols = (
        "locations",
        "orders",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU p50 ms",
        "CPU p99 ms",
        "target p50/p99",
        "replay s",
    )
    print("| " + " | ".join(cols) + " |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for n_loc, (name, args) in CASES.items():
        path = CACHE / f"{name}.json"
        if not path.exists():
            subprocess.run([sys.executable, str(KIT / "generate.py"), *args, "--out", str(path)], check=True)
        doc = json.loads(path.read_text())
        if a.orders:
            doc["orders"] = doc["orders"][: a.orders]
        t0 = time.perf_counter()
        scn = load_scenario(doc)
        net = scn.network
        pricer = OpportunityPricer(net, scn.forecast)
        wall: list[float] = []
        cpu: list[float] = []
        for order in scn.orders:
            c0 = time.thread_time()
            plan = route_order(net, order, prices=pricer, explain=False)
            cpu.append((time.thread_time() - c0) * 1000.0)
            wall.append(plan.latency_ms)
            net.apply_plan(plan)
            pricer.observe(order, plan)
        elapsed = time.perf_counter() - t0
        p50, p99 = TARGETS_MS[n_loc]
        print(
            f"| {n_loc} | {len(wall)} | {_pct(wall, 50):.3f} | {_pct(wall, 99):.2f} | {max(wall):.1f} | "
            f"{_pct(cpu, 50):.3f} | {_pct(cpu, 99):.2f} | {p50:g} / {p99:g} | {elapsed:.1f} |"
        )
    return 0


def _pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ys = sorted(xs)
    return ys[min(len(ys) - 1, max(0, round(p / 100.0 * len(ys) + 0.5) - 1))]


if __name__ == "__main__":
    sys.exit(main())
