"""Calling the engine the way the business wants it.

The engine minimises cost; for a pickup order the business rule is stronger: the pickup store's own stock
goes first (a customer who sees the item on the shelf should not wait for a transfer), and only the rest
is brought in by transfer. `plan_order` takes the store's own units first (within its capacity, the
policy and the deadline), routes the remainder with the engine on a copy of the network, and merges.
"""

from __future__ import annotations

from dataclasses import replace

from oms.phrases import phrase

from ..engine import PICKUP, CandidateNote, Explanation, Network, Package, Plan, Policy, Prices, route_order
from ..engine import Order as EngineOrder
from ..engine import OrderLine as EngineLine
from ..engine.network import reserved_for_walkins


def plan_order(
    network: Network,
    order: EngineOrder,
    policy: Policy,
    *,
    explain: bool = True,
    prices: Prices | None = None,
) -> Plan:
    """The plan for `order`: the engine's optimum, with a pickup store's own stock taken first.

    `prices` weigh the stock later orders will need (`demand.live_pricer`): they choose between sources, but
    never leave a unit unserved that real costs would serve (a customer here now is not turned away for one
    who may come), so a plan that backorders more than the plan on real costs gives way to it."""
    plan = _plan_order(network, order, policy, explain=explain, prices=prices)
    if prices is not None and plan.unfilled:
        plain = _plan_order(network, order, policy, explain=explain, prices=None)
        if plain.unfilled_units < plan.unfilled_units:
            plain.explanation.notes.append(
                phrase(
                    "served on real costs: the stock's value to later orders would have left units unserved"
                )
            )
            return plain
    return plan


def _plan_order(
    network: Network, order: EngineOrder, policy: Policy, *, explain: bool, prices: Prices | None
) -> Plan:
    if order.mode != PICKUP or order.pickup_location is None:
        return route_order(network, order, policy=policy, prices=prices, explain=explain)
    store = network.locations[order.pickup_location]
    usable = (
        not store.paused
        and store.id not in policy.paused_locations
        and (policy.allowed_kinds is None or store.kind in policy.allowed_kinds)
        and store.processing_days <= order.deadline_days
    )
    cap = store.capacity_left - reserved_for_walkins(store, policy.store_walkin_share)
    local: list[tuple[str, int]] = []
    rest: list[EngineLine] = []
    for line in order.lines:
        take = min(network.available(store.id, line.sku), line.qty, max(cap, 0)) if usable else 0
        if take > 0:
            local.append((line.sku, take))
            cap -= take
        if line.qty - take > 0:
            rest.append(replace(line, qty=line.qty - take))
    if not local:
        return route_order(network, order, policy=policy, prices=prices, explain=explain)
    units = sum(q for _s, q in local)
    own = Package(
        location=store.id,
        service=None,
        lines=tuple(local),
        handling=0.0,
        picking=store.pick_cost * units,
        shipping=0.0,
        transfer=0.0,
        days=store.processing_days,
    )
    if not rest:
        expl = Explanation(candidates=[CandidateNote(store.id, "chosen", own.cost + store.handling_cost)])
        expl.notes.append(phrase("the pickup store had every unit"))
        return Plan(order.id, PICKUP, [own], [], 0.0, store.handling_cost, 0.0, expl)
    net = network.copy()
    for sku, q in local:
        net.set_stock(store.id, sku, net.available(store.id, sku) - q)
    net.locations[store.id].capacity_left -= units
    rest_order = replace(order, lines=tuple(rest))
    remainder = route_order(net, rest_order, policy=policy, prices=prices, explain=explain)
    expl = remainder.explanation
    expl.candidates = [c for c in expl.candidates if c.location != store.id]
    expl.candidates.insert(
        0, CandidateNote(store.id, "chosen", None, phrase("the pickup store's own stock goes first"))
    )
    plan = Plan(
        order.id,
        PICKUP,
        [own, *remainder.packages],
        remainder.unfilled,
        0.0,
        store.handling_cost,
        remainder.unfilled_cost,
        expl,
    )
    plan.latency_ms = remainder.latency_ms
    return plan
