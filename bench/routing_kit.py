"""Routing engine against the routing benchmark kit: cost, validity, baselines, bound, latency.

    python bench/routing_kit.py [--bound] [--lp] [--time-limit 120] [--only NAME ...]
    python bench/routing_kit.py --seeds scarce 31-36 --bound --lp    # more seeds of one shape

For each scenario of the public suite: generate it with the kit's generate.py into var/bench/ (cached),
replay it through the engine in arrival order, score the plan with the kit's score.py (subprocess,
the independent referee), run and score both kit baselines, and print a table. A bound file is used
when one is cached (var/bench/NAME.bound.json, or the kit's own for small); `--bound` computes missing
ones with bound.py (needs highspy; MIP with --time-limit, or LP relaxation with --lp) and caches them.
The kit is found through ROUTING_BENCH_DIR (default ../shared/routing-bench next to the repository).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from routing.engine import replay  # noqa: E402

KIT = Path(os.environ.get("ROUTING_BENCH_DIR", REPO.parent / "shared" / "routing-bench")).resolve()
CACHE = REPO / "var" / "bench"
BIG = ["--locations", "50", "--skus", "5000", "--orders", "5000"]

# name -> generate.py arguments (None: the kit's shipped instance)
SUITE: dict[str, list[str] | None] = {
    "small": None,
    "default": ["--seed", "11", *BIG],
    "loose": ["--seed", "12", "--stock-scarcity", "0.1", *BIG],
    "scarce": ["--seed", "13", "--stock-scarcity", "0.6", "--pickup-share", "0.35", *BIG],
    "waves": ["--seed", "14", "--wave-size", "250", *BIG],
    "scale": ["--seed", "15", "--locations", "500", "--skus", "20000", "--orders", "2000"],
}
# held-out seeds of the same shapes (not run by default: --heldout or --only NAME), to check that a change
# generalises instead of fitting the public seeds
HELDOUT: dict[str, list[str]] = {
    "default-s21": ["--seed", "21", *BIG],
    "scarce-s22": ["--seed", "22", "--stock-scarcity", "0.6", "--pickup-share", "0.35", *BIG],
    "scarce-s23": ["--seed", "23", "--stock-scarcity", "0.6", "--pickup-share", "0.35", *BIG],
    "waves-s24": ["--seed", "24", "--wave-size", "250", *BIG],
}
SUITE.update(HELDOUT)
# the acceptance ceiling on gap to the bound, per scenario (small and scale: no target)
TARGET_GAP = {"default": 0.08, "loose": 0.08, "waves": 0.08, "scarce": 0.11}
TARGET_GAP.update({h: TARGET_GAP[h.split("-")[0]] for h in HELDOUT})


def add_seeds(shape: str, seeds: str) -> list[str]:
    """Register more seeds of a public scenario's shape (e.g. "scarce", "31-36" or "31,40") as SHAPE-sN;
    return their names."""
    if shape not in SUITE:
        raise ValueError(f"unknown shape {shape!r}")
    base = SUITE[shape]
    if base is None or "--seed" not in base:
        raise ValueError(f"{shape} has no seed to vary")
    numbers: list[int] = []
    for part in seeds.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"seeds look like 31-36 or 31,40, not {seeds!r}")
        numbers.extend(range(int(lo), int(hi if dash else lo) + 1))
    names = []
    for n in numbers:
        args = list(base)
        args[args.index("--seed") + 1] = str(n)
        name = f"{shape}-s{n}"
        SUITE[name] = args
        if shape in TARGET_GAP:
            TARGET_GAP[name] = TARGET_GAP[shape]
        names.append(name)
    return names


def scenario_path(name: str) -> Path:
    args = SUITE[name]
    if args is None:
        return KIT / "instances" / f"{name}.json"
    path = CACHE / f"{name}.json"
    if not path.exists():
        _run([str(KIT / "generate.py"), *args, "--out", str(path)])
    return path


def bound_path(name: str, scn: Path, *, compute: bool, lp: bool, time_limit: float) -> Path | None:
    """A cached bound file for the scenario, computing it first when asked and possible."""
    shipped = KIT / "instances" / f"{name}.bound.json"
    if SUITE[name] is None and shipped.exists():
        return shipped
    path = CACHE / f"{name}.bound.json"
    if path.exists():
        return path
    if not compute:
        return None
    if importlib.util.find_spec("highspy") is None:
        print(f"[{name}] highspy not installed: no bound (pip install highspy)", file=sys.stderr)
        return None
    cmd = [str(KIT / "bound.py"), str(scn), "--time-limit", str(time_limit), "--out", str(path)]
    if lp:
        cmd.append("--lp")
    kind = "LP" if lp else "MIP"
    print(f"[{name}] computing the bound ({kind}, {time_limit:.0f} s limit) ...", file=sys.stderr)
    _run(cmd)
    return path if path.exists() else None


def score(scn: Path, plan: Path, bound: Path | None = None) -> dict[str, Any]:
    cmd = [str(KIT / "score.py"), str(scn), str(plan)]
    if bound is not None:
        cmd += ["--bound", str(bound)]
    out = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"valid": False, "violations": out.stdout.strip().splitlines()[-5:]}
    return json.loads(out.stdout)


def baseline_cost(name: str, scn: Path, policy: str) -> float | None:
    plan = CACHE / f"{name}.{policy}.plan.json"
    if not plan.exists():
        _run([str(KIT / "baseline.py"), str(scn), "--policy", policy, "--out", str(plan)])
    m = score(scn, plan)
    return m.get("total_cost") if m.get("valid") else None


def run_one(name: str, *, compute_bound: bool, lp: bool, time_limit: float) -> dict[str, Any]:
    scn = scenario_path(name)
    doc = json.loads(scn.read_text())
    t0, c0 = time.perf_counter(), time.process_time()
    plan, stats = replay(doc)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    plan_file = CACHE / f"{name}.engine.plan.json"
    plan_file.write_text(json.dumps(plan))
    bound = bound_path(name, scn, compute=compute_bound, lp=lp, time_limit=time_limit)
    m = score(scn, plan_file, bound)
    base = {p: baseline_cost(name, scn, p) for p in ("priority", "nearest")}
    best_base = min(v for v in base.values() if v is not None)
    lb = m.get("bound")
    row = {
        "scenario": name,
        "valid": m.get("valid", False),
        "cost": m.get("total_cost"),
        "engine_cost": round(stats.total_cost, 2),
        "baseline_best": best_base,
        "bound": lb,
        "bound_method": m.get("bound_method"),
        "gap": m.get("gap"),
        "baseline_gap": (best_base / lb - 1) if lb else None,
        "p50_ms": stats.percentile(50),
        "p99_ms": stats.percentile(99),
        "replay_s": wall,
        "replay_cpu_s": cpu,
        "fill_rate": m.get("fill_rate"),
        "violations": m.get("violations"),
    }
    return row


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        "scenario",
        "valid",
        "total cost",
        "best baseline",
        "bound",
        "gap",
        "target",
        "base gap",
        "<= half",
        "p50 ms",
        "p99 ms",
        "replay s",
        "CPU s",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
    for r in rows:
        gap, bgap = r["gap"], r["baseline_gap"]
        target = TARGET_GAP.get(r["scenario"])
        half_ok = None if gap is None or bgap is None else gap <= bgap / 2
        cells = [
            r["scenario"],
            "yes" if r["valid"] else "NO",
            _fmt(r["cost"], ",.2f"),
            _fmt(r["baseline_best"], ",.2f"),
            "-" if r["bound"] is None else f"{r['bound']:,.2f} ({r['bound_method']})",
            _fmt(None if gap is None else 100 * gap, ".2f") + ("" if gap is None else " %"),
            "-" if target is None else f"{100 * target:.0f} %",
            _fmt(None if bgap is None else 100 * bgap, ".1f") + ("" if bgap is None else " %"),
            "-" if half_ok is None else ("yes" if half_ok else "no"),
            _fmt(r["p50_ms"], ".3f"),
            _fmt(r["p99_ms"], ".2f"),
            _fmt(r["replay_s"], ".1f"),
            _fmt(r["replay_cpu_s"], ".1f"),
        ]
        print("| " + " | ".join(cells) + " |")
    for r in rows:
        if not r["valid"]:
            print(f"{r['scenario']}: INVALID plan: {r['violations']}")
        elif r["cost"] is not None and abs(r["cost"] - r["engine_cost"]) > 0.01:
            print(f"{r['scenario']}: engine cost {r['engine_cost']} disagrees with score.py {r['cost']}")


def _run(cmd: list[str]) -> None:
    subprocess.run([sys.executable, *cmd], check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bound", action="store_true", help="compute missing bounds with bound.py (highspy)")
    ap.add_argument("--lp", action="store_true", help="with --bound: LP relaxation instead of the MIP")
    ap.add_argument("--time-limit", type=float, default=120.0, help="bound.py time limit (s)")
    ap.add_argument("--only", nargs="*", choices=list(SUITE), help="scenarios to run (default: all)")
    ap.add_argument("--heldout", action="store_true", help="also run the held-out seeds (HELDOUT)")
    ap.add_argument(
        "--seeds",
        nargs=2,
        metavar=("SHAPE", "SEEDS"),
        help="run only more seeds of a public scenario's shape instead, e.g. --seeds scarce 31-36",
    )
    ap.add_argument("--json", help="also write the rows to this file")
    a = ap.parse_args(argv)
    if not (KIT / "score.py").exists():
        print(f"routing kit not found at {KIT} (set ROUTING_BENCH_DIR)", file=sys.stderr)
        return 2
    CACHE.mkdir(parents=True, exist_ok=True)
    rows = []
    if a.seeds:
        try:
            names = add_seeds(*a.seeds)
        except ValueError as exc:
            ap.error(f"--seeds: {exc}")
    else:
        names = a.only or [n for n in SUITE if n not in HELDOUT or a.heldout]
    for name in names:
        rows.append(run_one(name, compute_bound=a.bound, lp=a.lp, time_limit=a.time_limit))
        print(f"[{name}] done: cost {rows[-1]['cost']}, gap {rows[-1]['gap']}", file=sys.stderr)
    print_table(rows)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0 if all(r["valid"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
