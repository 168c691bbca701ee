"""Scenario replay: route a scenario's orders strictly in arrival order, as the live system would."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from .order import Order, Policy
from .plan import Plan
from .scenario import load_scenario, plan_document
from .solver import route_order

ROUTER_NAME = "oms-routing-engine/1"


@dataclass(slots=True)
class ReplayStats:
    orders: int = 0
    total_cost: float = 0.0
    unfilled_units: int = 0
    packages: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list, repr=False)

    def percentile(self, p: float) -> float:
        """Decision latency percentile in ms (nearest-rank)."""
        if not self.latencies_ms:
            return 0.0
        xs = sorted(self.latencies_ms)
        k = min(len(xs) - 1, max(0, round(p / 100.0 * len(xs) + 0.5) - 1))
        return xs[k]

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": self.orders,
            "total_cost": round(self.total_cost, 2),
            "unfilled_units": self.unfilled_units,
            "packages": self.packages,
            "elapsed_s": round(self.elapsed_s, 3),
            "latency_p50_ms": round(self.percentile(50), 3),
            "latency_p99_ms": round(self.percentile(99), 3),
        }


def replay(
    scenario: dict[str, Any], policy: Policy | None = None, *, opportunity: bool = True, waves: bool = True
) -> tuple[dict[str, Any], ReplayStats]:
    """Route every order of a scenario document in arrival order and return (plan document, stats).

    Each order's plan depends only on the orders before it (and, when orders carry a `wave`, on the
    other orders of its own wave); the scenario's forecast is the only view of the future used.
    `opportunity=False` routes on real costs alone; `waves=False` ignores wave numbers.
    """
    from .batch import route_wave
    from .pricing import OpportunityPricer

    t0 = time.perf_counter()
    scn = load_scenario(scenario)
    net = scn.network
    pricer = OpportunityPricer(net, scn.forecast) if opportunity else None
    stats = ReplayStats()
    plans: list[Plan] = []
    groups: list[list[Order]]
    if waves and any(o.wave is not None for o in scn.orders):
        groups = [list(g) for _, g in groupby(scn.orders, key=lambda o: o.wave)]
    else:
        groups = [[o] for o in scn.orders]
    for group in groups:
        if len(group) == 1:
            plan = route_order(net, group[0], policy=policy, prices=pricer, explain=False)
            net.apply_plan(plan)
            if pricer is not None:
                pricer.observe(group[0], plan)
            done = [plan]
        else:
            done = route_wave(net, group, policy=policy, pricer=pricer)
        for plan in done:
            plans.append(plan)
            stats.latencies_ms.append(plan.latency_ms)
            stats.total_cost += plan.total_cost
            stats.unfilled_units += plan.unfilled_units
            stats.packages += len(plan.packages)
    stats.orders = len(plans)
    stats.elapsed_s = time.perf_counter() - t0
    return plan_document(scn.name, plans, ROUTER_NAME), stats
