"""The per-order optimiser: cheapest set of packages (and backorders) for one order, given the network.

Search: every location holding any of the order's SKUs and able to meet the deadline is a candidate
with its undominated services. Subsets of candidates (one package each) are enumerated depth-first
in increasing fixed cost and cut by a lower bound (sum of fixed costs + split penalties + every unit
at its cheapest price anywhere), so the search is exact over subsets up to `max_packages` while most
orders evaluate only a handful. Inside a subset each unit goes to its cheapest location with stock
and capacity, or is backordered when even that costs more than its unfilled penalty; the service of
each package is then chosen for the package's weight (and units re-assigned once with those rates).

Decisions compare *decision prices*: real cost plus, when a `Prices` source is given, the opportunity
cost of the stock and capacity used (what later orders are expected to lose). Reported costs are
always the real ones, computed term by term like the referee.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from .costs import Option, best_option, home_options, local_option, transfer_option
from .geo import road_km
from .network import Location, Network, reserved_for_walkins
from .order import DEFAULT_POLICY, HOME, Order, Policy
from .plan import (
    CHOSEN,
    COSTLIER,
    NO_CAPACITY,
    NOT_ALLOWED,
    PAUSED,
    TRANSFER,
    CandidateNote,
    Explanation,
    Package,
    Plan,
    phrase,
)

DEFAULT_MAX_PACKAGES = 8
CANDIDATE_LIMIT = 40  # locations priced per order: all DCs plus the nearest stores holding a line
MAX_EVALUATIONS = 4000  # latency guard: the bound normally stops the search far earlier
POOL_SIZE = 10  # all candidates may combine when there are no more than this
POOL_WHOLE = 5  # else: the best single-package locations ...
POOL_PER_LINE = 3  # ... plus the cheapest senders of each line


class Prices(Protocol):
    """Opportunity prices (BRL per unit) of stock and capacity; see pricing.OpportunityPricer."""

    def unit_price(self, location_id: str, sku: str, penalty: float) -> float: ...

    def capacity_price(self, location_id: str) -> float: ...


class _Cand:
    __slots__ = ("cap", "fmin", "lid", "loc", "opts", "pool", "rmin", "single", "supply", "unit")

    def __init__(self, lid: str, loc: Location, opts: list[Option], cap: int) -> None:
        self.lid = lid
        self.loc = loc
        self.opts = opts
        self.cap = cap
        self.fmin = min(o.choice_fixed for o in opts)
        self.rmin = min(o.per_kg for o in opts)
        self.supply: list[int] = []
        self.unit: list[float] = []
        self.single: float | None = None
        self.pool = False  # may be one of several packages (splits search only the pool)


def route_order(
    network: Network,
    order: Order,
    *,
    policy: Policy | None = None,
    prices: Prices | None = None,
    explain: bool = True,
) -> Plan:
    """Decide how to supply `order` from `network` at the lowest decision price.

    Never mutates the network: call `network.apply_plan(plan)` to commit the decision. Every
    package respects stock, capacity left, service rules and the deadline; units nothing can
    supply profitably are returned in `plan.unfilled`.
    """
    t0 = time.perf_counter()
    pol = policy or DEFAULT_POLICY
    ctx = _Context(network, order, pol, prices if pol.use_opportunity_costs else None, explain)
    plan = ctx.solve()
    plan.latency_ms = (time.perf_counter() - t0) * 1000.0
    return plan


class _Context:
    def __init__(self, net: Network, order: Order, pol: Policy, prices: Prices | None, explain: bool) -> None:
        self.net = net
        self.order = order
        self.pol = pol
        self.prices = prices
        self.explain = explain
        self.home = order.mode == HOME
        self.skus = [ln.sku for ln in order.lines]
        self.qty = [ln.qty for ln in order.lines]
        self.w = [net.weight(s) for s in self.skus]
        self.pen = [net.unfilled.unit_cost(ln.price) for ln in order.lines]
        self.notes: list[CandidateNote] = []
        self.max_pk = pol.max_packages if pol.max_packages is not None else DEFAULT_MAX_PACKAGES
        self.split = net.split_penalty if self.home else 0.0
        self.extra = 0.0  # per-order cost once anything is sent (pickup handling)
        self.store: Location | None = None
        if not self.home:
            assert order.pickup_location is not None
            self.store = net.locations[order.pickup_location]
            self.extra = self.store.handling_cost
        self.evaluations = 0
        self.no_stock = 0
        self.beyond = 0  # farther stores holding a line, not priced

    # ------------------------------------------------------------ candidates
    def candidates(self) -> list[_Cand]:
        net, pol, order = self.net, self.pol, self.order
        seen: set[str] = set()
        for s in self.skus:
            seen |= net.holders(s)
        index = net.locations
        ids = sorted(seen, key=net.rank)
        self.no_stock = len(net.locations) - len(ids)
        if len(ids) > CANDIDATE_LIMIT:
            # big networks: price every DC and the nearest stores only
            where = self.store if self.store is not None else order
            lat, lon = where.lat, where.lon
            assert lat is not None and lon is not None
            kept = net.nearest(lat, lon, ids, CANDIDATE_LIMIT)
            self.beyond = len(ids) - len(kept)
            ids = kept
        cands: list[_Cand] = []
        for lid in ids:
            loc = index[lid]
            reason = None
            if loc.paused or lid in pol.paused_locations:
                reason = PAUSED
            elif pol.allowed_kinds is not None and loc.kind not in pol.allowed_kinds:
                reason = NOT_ALLOWED
            cap = loc.capacity_left - reserved_for_walkins(loc, pol.store_walkin_share)
            if reason is None and cap <= 0:
                reason = NO_CAPACITY
            opts: list[Option] = []
            if reason is None:
                local = self.store is not None and lid == self.store.id
                if loc.kind == "store" and not pol.ship_from_store and not local:
                    reason = NOT_ALLOWED
                elif self.home:
                    km = road_km(net.road_factor, loc.lat, loc.lon, order.lat, order.lon)  # type: ignore[arg-type]
                    opts, reason = home_options(loc, net.services, km, order.deadline_days, pol.speed_weight)
                elif local:
                    opt, reason = local_option(loc, order.deadline_days, pol.speed_weight)
                    opts = [opt] if opt else []
                else:
                    assert self.store is not None
                    km = net.km_between(lid, self.store.id)
                    opt, reason = transfer_option(
                        loc, net.transfer, km, order.deadline_days, pol.speed_weight
                    )
                    opts = [opt] if opt else []
            if reason is not None:
                if self.explain:
                    self.notes.append(CandidateNote(lid, reason, detail=_detail(reason, pol, loc)))
                continue
            c = _Cand(lid, loc, opts, cap)
            prices = self.prices
            mu = prices.capacity_price(lid) if prices is not None else 0.0
            for s, q, pen in zip(self.skus, self.qty, self.pen, strict=True):
                have = net.stock.get((lid, s), 0)
                c.supply.append(min(have, q, cap))
                if have > 0:
                    lam = prices.unit_price(lid, s, pen) if prices is not None else 0.0
                    c.unit.append(loc.pick_cost + lam + mu)
                else:
                    c.unit.append(0.0)
            cands.append(c)
        return cands

    # ------------------------------------------------------------ search
    def solve(self) -> Plan:
        cands = self.candidates()
        nl = len(self.skus)
        pen, qty, w = self.pen, self.qty, self.w
        # cheapest decision price of each unit anywhere (or its penalty): the bound's variable part
        cheapest = list(pen)
        for c in cands:
            for i in range(nl):
                if c.supply[i] > 0:
                    u = c.unit[i] + c.rmin * w[i]
                    if u < cheapest[i]:
                        cheapest[i] = u
        base_lb = sum(q * u for q, u in zip(qty, cheapest, strict=True))
        best_cost = sum(q * p for q, p in zip(qty, pen, strict=True))
        best: tuple[list[_Cand], list[list[int]], list[int], list[Option]] | None = None
        self.mark_pool(cands)
        cands.sort(key=lambda c: c.fmin)
        n = len(cands)
        limit = min(self.max_pk, n)
        # DFS over subsets in increasing fixed cost; `stack` holds (next index, members, fixed sum)
        stack: list[tuple[int, list[_Cand], float]] = [(0, [], 0.0)]
        while stack:
            start, members, fsum = stack.pop()
            k = len(members)
            lb0 = fsum + base_lb + self.extra + (self.split * k)
            children = []
            for j in range(start, n):
                c = cands[j]
                if lb0 + c.fmin >= best_cost - 1e-9 or self.evaluations >= MAX_EVALUATIONS:
                    break
                if k and not c.pool:
                    continue
                sub = [*members, c]
                res = self.evaluate(sub)
                if res is None:
                    # a member carries nothing here, and adding locations only gives it cheaper rivals
                    continue
                cost = res[0]
                if k == 0:
                    c.single = cost
                if cost < best_cost - 1e-9:
                    best_cost = cost
                    best = (sub, res[1], res[2], res[3])
                if k + 1 < limit and c.pool:
                    children.append((j + 1, sub, fsum + c.fmin))
            # deeper subsets of cheaper prefixes first (popped last-in first-out)
            stack.extend(reversed(children))
        return self.build(cands, best)

    def mark_pool(self, cands: list[_Cand]) -> None:
        """Mark the locations worth combining: for each line the few cheapest ways to send that line
        alone, and the few cheapest single-package estimates for the whole order."""
        if len(cands) <= POOL_SIZE:
            for c in cands:
                c.pool = True
            return
        qty, w, pen = self.qty, self.w, self.pen
        whole: list[tuple[float, int]] = []
        for n, c in enumerate(cands):
            est = c.fmin
            for i in range(len(qty)):
                if c.supply[i] > 0:
                    est += (
                        c.supply[i] * min(pen[i], c.unit[i] + c.rmin * w[i]) + (qty[i] - c.supply[i]) * pen[i]
                    )
                else:
                    est += qty[i] * pen[i]
            whole.append((est, n))
        whole.sort()
        for _, n in whole[:POOL_WHOLE]:
            cands[n].pool = True
        for i in range(len(qty)):
            per_line = sorted(
                (c.fmin + c.supply[i] * (c.unit[i] + c.rmin * w[i]) - c.supply[i] * pen[i], n)
                for n, c in enumerate(cands)
                if c.supply[i] > 0
            )
            for _, n in per_line[:POOL_PER_LINE]:
                cands[n].pool = True

    def evaluate(self, sub: list[_Cand]) -> tuple[float, list[list[int]], list[int], list[Option]] | None:
        """Decision price of supplying the order from exactly the locations in `sub`; None if one
        of them would carry nothing (a smaller subset covers that case)."""
        self.evaluations += 1
        nl, qty, w, pen = len(self.skus), self.qty, self.w, self.pen
        m = len(sub)
        chosen = [c.opts[0] for c in sub]
        for _ in range(2):
            rates = [o.per_kg for o in chosen]
            capleft = [c.cap for c in sub]
            alloc = [[0] * nl for _ in range(m)]
            unfilled = [0] * nl
            for i in range(nl):
                rem = qty[i]
                wi = w[i]
                if m == 1:
                    order_k: list[int] | range = range(1)
                else:
                    order_k = sorted(
                        range(m), key=[sub[k].unit[i] + rates[k] * wi for k in range(m)].__getitem__
                    )
                for k in order_k:
                    c = sub[k]
                    sup = c.supply[i]
                    if sup <= 0 or capleft[k] <= 0:
                        continue
                    if c.unit[i] + rates[k] * wi >= pen[i]:
                        break
                    take = min(rem, sup, capleft[k])
                    alloc[k][i] = take
                    capleft[k] -= take
                    rem -= take
                    if rem == 0:
                        break
                unfilled[i] = rem
            new = []
            for k in range(m):
                kg = sum(a * wi for a, wi in zip(alloc[k], w, strict=True))
                new.append(best_option(sub[k].opts, kg) if len(sub[k].opts) > 1 else sub[k].opts[0])
            if all(a is b for a, b in zip(new, chosen, strict=True)):
                break
            chosen = new
        cost = self.extra + self.split * (m - 1)
        for k in range(m):
            a = alloc[k]
            if not any(a):
                return None
            c = sub[k]
            o = chosen[k]
            kg = 0.0
            for i in range(nl):
                if a[i]:
                    kg += a[i] * w[i]
                    cost += a[i] * c.unit[i]
            cost += o.choice_fixed + o.per_kg * kg
        for i in range(nl):
            if unfilled[i]:
                cost += unfilled[i] * pen[i]
        return cost, alloc, unfilled, chosen

    # ------------------------------------------------------------ result
    def build(
        self,
        cands: list[_Cand],
        best: tuple[list[_Cand], list[list[int]], list[int], list[Option]] | None,
    ) -> Plan:
        net, order = self.net, self.order
        packages: list[Package] = []
        opportunity = 0.0
        chosen_ids: set[str] = set()
        if best is None:
            unfilled = list(self.qty)
        else:
            sub, alloc, unfilled, opts = best
            for c, a, o in zip(sub, alloc, opts, strict=True):
                lines = tuple((s, q) for s, q in zip(self.skus, a, strict=True) if q)
                units = sum(a)
                kg = sum(q * wi for q, wi in zip(a, self.w, strict=True))
                # real costs term by term, in the referee's order of operations
                loc = c.loc
                picking = loc.pick_cost * units
                handling = shipping = transfer = 0.0
                if o.service is None:
                    pass
                elif o.service == TRANSFER:
                    t = net.transfer
                    handling = loc.handling_cost
                    transfer = t.base + t.per_km * o.km + t.per_kg * kg
                else:
                    sv = net.service(o.service)
                    handling = loc.handling_cost
                    shipping = sv.base + sv.per_km * o.km + sv.per_kg * kg
                packages.append(
                    Package(c.lid, o.service, lines, handling, picking, shipping, transfer, o.days, o.km)
                )
                opportunity += sum(q * (u - loc.pick_cost) for q, u in zip(a, c.unit, strict=True) if q)
                chosen_ids.add(c.lid)
        backorder = [(s, q) for s, q in zip(self.skus, unfilled, strict=True) if q]
        unfilled_cost = sum(q * p for q, p in zip(unfilled, self.pen, strict=True) if q)
        split = net.split_penalty * (len(packages) - 1) if self.home and packages else 0.0
        handling = self.extra if (not self.home and packages) else 0.0
        expl = Explanation(
            options_evaluated=self.evaluations, opportunity_cost=opportunity, priced=self.prices is not None
        )
        if self.explain:
            expl.no_stock = self.no_stock
            notes = []
            for c in cands:
                if c.lid in chosen_ids:
                    notes.append(CandidateNote(c.lid, CHOSEN, c.single))
                else:
                    cut = None if c.single is not None else phrase("cut by the cost bound")
                    notes.append(CandidateNote(c.lid, COSTLIER, c.single, cut))
            expl.candidates = notes + self.notes
            for s, q in backorder:
                if not net.holders(s):
                    expl.notes.append(
                        phrase("%(sku)s: no location has stock (backordered: %(qty)s)", sku=s, qty=q)
                    )
                else:
                    expl.notes.append(
                        phrase(
                            "%(sku)s: backordered: %(qty)s (no source in time is cheaper than the penalty)",
                            sku=s,
                            qty=q,
                        )
                    )
            if expl.no_stock:
                expl.notes.append(
                    phrase("locations holding none of the order's SKUs: %(n)s", n=expl.no_stock)
                )
            if self.beyond:
                expl.notes.append(phrase("farther stores holding a line, not priced: %(n)s", n=self.beyond))
        return Plan(order.id, order.mode, packages, backorder, split, handling, unfilled_cost, expl)


def _detail(reason: str, pol: Policy, loc: Location) -> dict[str, Any] | None:
    if reason == NOT_ALLOWED:
        if pol.allowed_kinds is not None and loc.kind not in pol.allowed_kinds:
            return phrase("the policy allows only %(kinds)s", kinds=sorted(pol.allowed_kinds))
        return phrase("the policy has ship-from-store off")
    if reason == NO_CAPACITY:
        return phrase("capacity left: %(n)s", n=loc.capacity_left)
    return None
