"""Wave routing: decide a whole release wave together, then revise decisions within the wave.

A wave's orders are routed greedily, soonest deadline first (arrival order among equals), each priced
knowing the wave's orders routed before it (the pricer observes every plan as it is made); then every
order left short (backordered units) or split is revisited together with each other order of the same
wave that took stock it could use: both are released and re-routed in the opposite order, and the swap
is kept only if the two plans together cost less (real cost plus the opportunity cost of what they
use). Nothing outside the wave and the waves before it is looked at.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .network import Network
from .order import Order, Policy
from .plan import Plan
from .pricing import OpportunityPricer
from .solver import route_order

MAX_SWAPS_PER_ORDER = 6  # rivals tried for one short order (latency guard)


def route_wave(
    network: Network,
    orders: Sequence[Order],
    *,
    policy: Policy | None = None,
    pricer: OpportunityPricer | None = None,
    improve: bool = True,
) -> list[Plan]:
    """Plans for all `orders` of one wave, applied to `network` (stock and capacity taken).

    Each plan's `latency_ms` is its own routing time plus an equal share of the wave's revision time.
    """
    plans: list[Plan | None] = [None] * len(orders)
    # the most constrained orders (soonest deadline) choose first: the flexible ones have more options
    for k in sorted(range(len(orders)), key=lambda k: (orders[k].deadline_days, k)):
        p = route_order(network, orders[k], policy=policy, prices=pricer, explain=False)
        network.apply_plan(p)
        plans[k] = p
        if pricer is not None:  # the next order of the wave is priced knowing this one
            pricer.observe(orders[k], p)
    done = [p for p in plans if p is not None]
    if not improve or len(orders) < 2:
        return done
    t0 = time.perf_counter()
    _improve(network, list(orders), done, policy, pricer)
    share = (time.perf_counter() - t0) * 1000.0 / len(plans)
    for p in done:
        p.latency_ms += share
    return done


def _score(plan: Plan) -> float:
    return plan.total_cost + plan.explanation.opportunity_cost


def _improve(
    net: Network,
    orders: list[Order],
    plans: list[Plan],
    policy: Policy | None,
    pricer: OpportunityPricer | None,
) -> None:
    users: dict[str, set[int]] = {}  # sku -> wave orders whose plan ships some of it
    for a, p in enumerate(plans):
        for pkg in p.packages:
            for s, _ in pkg.lines:
                users.setdefault(s, set()).add(a)
    for b, ob in enumerate(orders):
        pb = plans[b]
        if not pb.unfilled and len(pb.packages) <= 1:
            continue
        rivals = sorted({a for ln in ob.lines for a in users.get(ln.sku, ()) if a != b})
        for a in rivals[:MAX_SWAPS_PER_ORDER]:
            pa, pb = plans[a], plans[b]
            before = _score(pa) + _score(pb)
            net.release_plan(pa)
            net.release_plan(pb)
            nb = route_order(net, ob, policy=policy, prices=pricer, explain=False)
            net.apply_plan(nb)
            na = route_order(net, orders[a], policy=policy, prices=pricer, explain=False)
            net.apply_plan(na)
            if _score(na) + _score(nb) < before - 1e-6:
                na.latency_ms = pa.latency_ms
                nb.latency_ms = pb.latency_ms
                plans[a], plans[b] = na, nb
                for k, p in ((a, na), (b, nb)):
                    for pkg in p.packages:
                        for s, _ in pkg.lines:
                            users.setdefault(s, set()).add(k)
            else:
                net.release_plan(na)
                net.release_plan(nb)
                net.apply_plan(pa)
                net.apply_plan(pb)
            if not plans[b].unfilled and len(plans[b].packages) <= 1:
                break
