"""Opportunity prices of scarce stock and capacity, estimated from the demand forecast.

Taking a unit of SKU s at location L now may cost a later order: if later demand that would be served
best from L exceeds what L has left, some of it must go to the next-best location (or be backordered),
and the difference is the later order's *regret*. The price of the unit is the
expected regret it causes — a newsvendor estimate:

    lambda(L, s) = P(N >= x) x mean regret of L's customers,   N ~ Poisson(m_L),

where x is L's stock of s and m_L the remaining forecast demand for s times the share of customers
for whom L is the best holder of s. (A rationing variant — charging only the regret of the customers
with the least to lose — measured worse on every kit scenario tried: online, the displaced customer
is whoever comes next, not the cheapest to divert.)

A customer's regret is measured against the backups that will *still have stock* when it needs them:
a first pass over the sample finds who turns to whom and so how likely each holder is to sell out
(P(N >= x) with its own customers and the overflow turning to it); a second pass prices each
customer's loss as the expected cost of its next holders, each there with 1 - P(sold out), or the
penalty. Where a whole region of holders will sell out, the loss is the cost of reaching the holder
that will not (or the penalty), not the few reais to the next holder that is about to empty too; so
flexible customers are steered to stock nobody else can use. Prices are then scaled by
PRICE_SCALE (measured: x0.6-0.8 all better than x1, x1.25 far worse — overpriced units are left
unfilled for sure, underpriced ones only maybe cost a later customer), a discount that fades while a SKU's
remaining demand grows past its stock (`price_scale`).

Customers are represented by a reservoir sample of
*past* orders' destinations, deadlines and line counts (never later orders), so the price captures
geography and urgency: stock near customers who want things tomorrow is worth more, and a missing
unit of a multi-line order costs a whole extra package.

Capacity is priced the same way per location: the work later orders will bring there before the capacity
comes back (given by the caller, as the live path does for the rest of the day, or else projected from the
units our own recent decisions took there over the remaining forecast) against the capacity left, with the
regret of the cheapest alternative source as the loss (the unfilled penalty for a customer no other location
can serve in time).

Prices are decision weights only: they are added to per-unit costs when choosing, never reported.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from operator import itemgetter

from .costs import home_options, local_option, transfer_option
from .geo import road_km
from .network import Network
from .order import HOME, Order
from .plan import Plan
from .scenario import Forecast

SAMPLE_SIZE = 512  # past destinations kept as the picture of where (and how fast) demand comes from
SHARE_WORK = 25_600  # samples x locations walked per SKU at most (all 512 samples at 50 locations)
STALE_EPOCHS = 3  # per-SKU shares are re-derived at most every this many epochs
SAMPLE_LOCATIONS = 80  # locations kept per sample: all DCs and the nearest stores
# a SKU with fewer than sqrt(LOOK_UP_HOLDERS x locations) holders has them looked up per sampled
# customer instead of walking the customer's whole ranking (the same result, less work)
LOOK_UP_HOLDERS = 4
FIRST_LOOK_SAMPLES = 128  # samples walked for a SKU's first estimate
EPOCH_CHANGES = SAMPLE_SIZE // 8  # re-derive per-SKU demand shares after this many sample changes ...
EPOCH_MAX_ORDERS = 500  # ... or this many orders (the remaining demand shrinks meanwhile)
TYPICAL_KG = 0.6  # weight used to rank locations for a destination (exact weight used for costs)
CAP_WINDOW = 400  # orders in the capacity-usage window
REFRESH_PER_ORDER = 2  # stale per-SKU estimates re-derived after each decision (off the decision path)
# a backup holder this unlikely to sell out counts as sure: dearer holders behind it do not matter
SURE = 0.05
# prices from the availability-weighted regrets are scaled (x0.6-0.8 measured best, x1.25 far worse): an
# overpriced unit is surely left unfilled, an underpriced one only maybe costs a later customer ...
PRICE_SCALE = 0.75
# ... but once a SKU's remaining forecast demand exceeds its remaining stock, later customers will want every
# unit, and the discount fades, gone at FULL_PRICE_DEMAND times the stock. Measured (session 12): nine scarce
# draws -0.16 % to +0.04 % (mean -0.06 %), a shape with stock for 79 % of the units ordered -0.49 %; the
# default, loose and waves scenarios unchanged to the cent (no SKU is short enough there).
FULL_PRICE_DEMAND = 3.0
# Balancing: while a SKU's remaining forecast demand is at least BALANCE_SHORT of its remaining stock, each of
# a holder's last units also costs BALANCE_PRICE / (units it has left). A holder that empties leaves the
# customers only it can reach in time (a same-day pickup, a next-day order far from the DCs) with nothing,
# which the per-holder newsvendor price sees only as its own customers' regret; spreading the draws keeps
# more holders stocked. Measured (session 10) on nine scarce draws: every one cheaper, -0.03 to -0.80 %
# (mean -0.28 %); default, loose and waves draws -0.24 to 0.00 %. Ungated (session 9), it cost default and
# loose 0.25-0.40 %.
BALANCE_PRICE = 10.0
BALANCE_SHORT = 0.5


# (location id, package fixed part + pick of one unit, pick, ((extra fixed, per_kg) per service))
_Ranked = tuple[str, float, float, tuple[tuple[float, float], ...]]


# per SKU: holder -> (customers it serves best, their mean regret), and holder L2 -> [(L1 it backs up,
# customers, their mean regret should L2 fail them too)]
_Shares = tuple[dict[str, tuple[float, float]], dict[str, list[tuple[str, float, float]]]]
# per SKU: (holders when derived, epoch when derived, the shares)
SharesCache = dict[str, tuple[int, int, _Shares]]


_fixed_part = itemgetter(1)  # a ranked entry's fixed part: the sort key of every walk


class Destination:
    """A past order's destination: every location that could serve it in time, cheapest first."""

    __slots__ = ("by_id", "home", "multi", "ranked")

    def __init__(self, ranked: list[_Ranked], multi: bool, home: bool) -> None:
        self.ranked = ranked
        self.by_id = {r[0]: r for r in ranked}
        self.multi = multi  # the order had several lines: a missing unit costs an extra package
        self.home = home  # extra packages of home orders pay the split penalty


class OpportunityPricer:
    """Prices for `solver.route_order(prices=...)`; call `observe(order, plan)` after each decision."""

    def __init__(
        self,
        network: Network,
        forecast: Forecast | None,
        *,
        seed: int = 0,
        samples: Sequence[Destination] = (),
        one_decision: bool = False,
        shares: SharesCache | None = None,
        epoch: int = 0,
        capacity_demand: Mapping[str, float] | None = None,
    ) -> None:
        """`samples` starts the picture of demand with past destinations (`destination`) instead of an
        empty one. `one_decision`: the pricer lives for a single decision (the live path), so a SKU's
        estimate is made in full when needed instead of a quick look refined after the decision; `shares`
        is then where the estimates of earlier decisions on the same samples are kept (and this one's go),
        reused while fewer than STALE_EPOCHS epochs old (`epoch` is the caller's clock) and while the SKU's
        holders are about the same. `capacity_demand`: the units later orders are expected to need from each
        location before its capacity comes back (the live path: the rest of the day); without it, they are
        projected from this pricer's own recent decisions over the forecast's remaining orders."""
        self.net = network
        self.forecast = forecast or Forecast()
        self.rng = random.Random(seed)
        self.samples: list[Destination] = list(samples)
        self.one_decision = one_decision
        self.seen_orders = 0
        self.epoch = epoch
        self._changes = 0
        self._epoch_start = 0
        self._sku_cache: SharesCache = {} if shares is None else shares
        # (location, sku) -> (stock, epoch, total stock, the shares it came from, price)
        self._lam_cache: dict[tuple[str, str], tuple[int, int, int, _Shares | None, float]] = {}
        # the per-SKU walk costs samples x holders: big networks use a random part of the reservoir
        self._share_samples = min(SAMPLE_SIZE, max(128, SHARE_WORK // max(1, len(network.locations))))
        self._recent: deque[dict[str, int]] = deque()
        self._window_units: dict[str, int] = {}
        self._capacity_demand = capacity_demand
        self._cap_cache: dict[str, tuple[int, int, float]] = {}
        self._cap_regrets: tuple[int, dict[str, float]] = (-1, {})
        self._refresh: dict[str, float] = {}  # SKUs whose shares are due for re-derivation -> penalty

    # ------------------------------------------------------------ progress
    def remaining_share(self) -> float:
        """Share of the forecast period's orders still to come (0 when no forecast)."""
        expected = self.forecast.orders
        if expected <= 0:
            return 0.0
        return max(0.0, 1.0 - self.seen_orders / expected)

    # ------------------------------------------------------------ stock
    def unit_price(self, location_id: str, sku: str, penalty: float = math.inf) -> float:
        """Expected loss to later orders from taking one unit of `sku` at `location_id` now.

        Later demand at L is L's own customers (those it serves best) plus the expected overflow of
        the holders that are those customers' first choice when they sell out (the customers who
        would then turn to L): in a scarce network a unit is worth what the *cascade* of later
        customers would lose, not only L's first-choice customers."""
        fu = self.forecast.sku_units.get(sku, 0.0)
        if fu <= 0 or not self.samples:
            return 0.0
        stock = self.net.stock
        x = stock.get((location_id, sku), 0)
        key = (location_id, sku)
        total = self.net.total_stock(sku)
        hit = self._lam_cache.get(key)
        if hit is not None and hit[0] == x and hit[1] == self.epoch and hit[2] == total:
            cached = self._sku_cache.get(sku)
            if cached is not None and hit[3] is cached[2]:  # not re-derived since (observe)
                return hit[4]
        shares = self._shares(sku, penalty)
        demand = fu * self.remaining_share()
        lam = price_scale(demand, total) * self._price(shares[0], shares[1], location_id, sku)
        if x > 0 and demand > BALANCE_SHORT * total:
            lam += BALANCE_PRICE / x  # see BALANCE_PRICE
        self._lam_cache[key] = (x, self.epoch, total, shares, lam)
        return lam

    def _price(
        self,
        own: dict[str, tuple[float, float]],
        spill: dict[str, list[tuple[str, float, float]]],
        location_id: str,
        sku: str,
    ) -> float:
        """The newsvendor price of L's next unit of `sku` from the shares (see unit_price)."""
        x, m_own, r_own, m_sp, w_sp = self._demand(own, spill, location_id, sku)
        m = m_own + m_sp
        if m <= 0:
            return 0.0
        return (m_own * r_own + w_sp) / m * _shortfall_probability(x, m)

    def _fail(
        self,
        own: dict[str, tuple[float, float]],
        spill: dict[str, list[tuple[str, float, float]]],
        location_id: str,
        sku: str,
    ) -> float:
        """P(later demand at L takes all L has left): the chance L fails a customer who turns to it."""
        x, m_own, _r_own, m_sp, _w_sp = self._demand(own, spill, location_id, sku)
        return _shortfall_probability(x, m_own + m_sp)

    def _demand(
        self,
        own: dict[str, tuple[float, float]],
        spill: dict[str, list[tuple[str, float, float]]],
        location_id: str,
        sku: str,
    ) -> tuple[int, float, float, float, float]:
        """Later demand for `sku` at L, from the shares: L's stock left; the units of its own first-choice
        customers and their mean regret; the expected overflow it catches from the holders it backs up, and
        that overflow weighted by those customers' regret."""
        stock = self.net.stock
        x = stock.get((location_id, sku), 0)
        fu = self.forecast.sku_units.get(sku, 0.0)
        scale = fu * self.remaining_share() / min(len(self.samples), self._share_samples)
        served = own.get(location_id)
        m_own = r_own = 0.0
        if served:
            m_own = served[0] * scale
            r_own = served[1]
        m_sp = w_sp = 0.0
        for l1, cnt, regret in spill.get(location_id, ()):
            first = own.get(l1)
            if not first:
                continue
            over = _expected_overflow(stock.get((l1, sku), 0), first[0] * scale)
            if over > 0:
                part = over * cnt / first[0]
                m_sp += part
                w_sp += part * regret
        return x, m_own, r_own, m_sp, w_sp

    def _shares(self, sku: str, penalty: float, *, fresh: bool = False) -> _Shares:
        """For each holder of `sku`: how many sampled customers it serves best, and their mean regret
        (what each would lose if it had to turn to its next-best holder, or backorder); and for each
        holder L2, the customers whose first choice L1 it backs up: (L1, how many, their regret if
        L2 failed them too)."""
        holders = self.net.holders(sku)
        hit = self._sku_cache.get(sku)
        stale = hit is not None and (
            self.epoch - hit[1] >= STALE_EPOCHS or abs(hit[0] - len(holders)) > hit[0] // 10
        )
        if self.one_decision and (hit is None or stale):
            fresh = True  # no decision after this one to refine a quick look
        if hit is not None and not fresh:
            if stale:
                # stale: decide on the last estimate now and re-derive it after the decision (observe),
                # so the walk over the sample stays off the decision path
                self._refresh[sku] = penalty
            # a holder or two running out, or a few new samples, barely move the shares
            return hit[2]
        # a SKU seen for the first time gets a quick estimate from part of the sample (decision time
        # matters) and the full one from the next epoch on
        n_samples = (
            self._share_samples if hit is not None or fresh else min(self._share_samples, FIRST_LOOK_SAMPLES)
        )
        if fresh:
            # off the decision path: a customer's loss when its choice fails is the expected cost of the
            # backups that will still have stock, given how likely each is to sell out (from a first
            # walk: who turns to whom)
            own, spill = self._walk(sku, penalty, holders, n_samples)
            fail = {lid: self._fail(own, spill, lid, sku) for lid in holders}
            if any(f >= SURE for f in fail.values()):  # else every backup is sure: the first walk's regrets
                own, spill = self._walk_avail(sku, penalty, holders, n_samples, fail)
        else:
            own, spill = self._walk(sku, penalty, holders, n_samples)
            self._refresh[sku] = penalty  # a first look: the full estimate follows after the decision
        shares = (own, spill)
        # a pricer for one decision shares its estimates with later ones (see __init__): their ages are
        # spread by SKU, so that the estimates made together early on do not all fall due at once
        age = zlib.crc32(sku.encode()) % STALE_EPOCHS if self.one_decision else 0
        self._sku_cache[sku] = (len(holders), self.epoch - age, shares)
        return shares

    def _looks_up(self, holders: set[str]) -> bool:
        """Whether a walk looks the SKU's holders up per sampled customer (a rarely held SKU) instead of
        walking each customer's whole ranking."""
        return len(holders) ** 2 < LOOK_UP_HOLDERS * len(self.net.locations)

    def _tally(
        self, out: dict[str, list[float]], back: dict[str, dict[str, list[float]]], n_samples: int
    ) -> _Shares:
        """A walk's shares from its per-holder regrets, counts scaled to the whole share sample."""
        scale = min(len(self.samples), self._share_samples) / max(1, min(len(self.samples), n_samples))
        own = {lid: (len(v) * scale, sum(v) / len(v)) for lid, v in out.items()}
        spill = {
            l2: [(l1, len(v) * scale, sum(v) / len(v)) for l1, v in by1.items()] for l2, by1 in back.items()
        }
        return own, spill

    def _walk(self, sku: str, penalty: float, holders: set[str], n_samples: int) -> _Shares:
        """First pass over the sample: each customer's three cheapest holders, and what it would lose
        if its first (or second) choice failed it and it turned to the next one."""
        w = self.net.weight(sku)
        out: dict[str, list[float]] = {}
        back: dict[str, dict[str, list[float]]] = {}
        split = self.net.split_penalty
        few = self._looks_up(holders)
        inf = math.inf
        for d in self.samples[:n_samples]:
            if few:
                # a rarely held SKU: look its holders up instead of walking the whole ranking, in any
                # order (the order only decides how early the walk can stop)
                by_id = d.by_id
                walk = [by_id[lid] for lid in holders if lid in by_id]
            else:
                walk = d.ranked
            c1 = c2 = c3 = inf  # the sampled customer's three cheapest one-unit packages from holders
            l1 = l2 = ""
            m1 = m2 = 0.0
            for lid, fixed, pick, opts in walk:
                if fixed > c3:  # cannot beat the third best
                    if few:
                        continue
                    break  # ranked by fixed part: nothing further can either
                if lid not in holders:
                    continue
                extra, rate = opts[0]
                c = fixed + extra + rate * w
                for ex, r in opts[1:]:
                    if fixed + ex + r * w < c:
                        c, rate = fixed + ex + r * w, r
                if c < c1:
                    c1, c2, c3, l1, l2, m1, m2 = c, c1, c2, lid, l1, pick + rate * w, m1
                elif c < c2:
                    c2, c3, l2, m2 = c, c2, lid, pick + rate * w
                elif c < c3:
                    c3 = c
            if c1 >= penalty:
                continue
            # a multi-line order's unit would have ridden in its package from l1: without it, an
            # extra package (and split) or a backorder
            extra = split if d.home else 0.0
            regret = min(c2 + extra, penalty) - m1 if d.multi else min(c2, penalty) - c1
            out.setdefault(l1, []).append(regret)
            if l2 and c2 < penalty:
                # if l1 sells out this customer turns to l2; should l2 fail too: the third choice
                r2 = min(c3 + extra, penalty) - m2 if d.multi else min(c3, penalty) - c2
                back.setdefault(l2, {}).setdefault(l1, []).append(r2)
        return self._tally(out, back, n_samples)

    def _walk_avail(
        self, sku: str, penalty: float, holders: set[str], n_samples: int, fail: dict[str, float]
    ) -> _Shares:
        """Like _walk, but a customer's loss when its choice fails is the expected cost of the holders
        that will still have stock for it: each next-best holder is there with 1 - fail[holder]."""
        w = self.net.weight(sku)
        out: dict[str, list[float]] = {}
        back: dict[str, dict[str, list[float]]] = {}
        split = self.net.split_penalty
        few = self._looks_up(holders)
        for d in self.samples[:n_samples]:
            if few:
                by_id = d.by_id
                walk = sorted([by_id[lid] for lid in holders if lid in by_id], key=_fixed_part)
            else:
                walk = d.ranked
            found: list[tuple[float, float, str]] = []  # (one-unit package cost, marginal unit cost, holder)
            sure = penalty  # cost of the cheapest holder sure to have stock: nothing dearer matters
            for lid, fixed, pick, opts in walk:
                if fixed >= sure:
                    break
                if lid not in holders:
                    continue
                extra, rate = opts[0]
                c = fixed + extra + rate * w
                for ex, r in opts[1:]:
                    if fixed + ex + r * w < c:
                        c, rate = fixed + ex + r * w, r
                if c >= sure:
                    continue
                found.append((c, pick + rate * w, lid))
                if fail.get(lid, 0.0) < SURE:
                    sure = c
            if not found:
                continue
            found.sort()
            add = split if d.home else 0.0
            c1, m1, l1 = found[0]
            alt1 = _expected_alternative(found, 1, fail, penalty, add if d.multi else 0.0)
            out.setdefault(l1, []).append(alt1 - (m1 if d.multi else c1))
            if len(found) > 1:
                c2, m2, l2 = found[1]
                alt2 = _expected_alternative(found, 2, fail, penalty, add if d.multi else 0.0)
                back.setdefault(l2, {}).setdefault(l1, []).append(alt2 - (m2 if d.multi else c2))
        return self._tally(out, back, n_samples)

    # ------------------------------------------------------------ capacity
    def capacity_price(self, location_id: str) -> float:
        """Expected loss to later orders from using one unit of `location_id`'s capacity now."""
        left = self.net.locations[location_id].capacity_left
        hit = self._cap_cache.get(location_id)
        if hit is not None and hit[0] == left and hit[1] == self.epoch:
            return hit[2]
        m = 0.0
        if self._capacity_demand is not None:
            m = self._capacity_demand.get(location_id, 0.0)
        elif self._recent and self.forecast.orders > 0:
            rate = self._window_units.get(location_id, 0) / len(self._recent)
            m = rate * self.forecast.orders * self.remaining_share()
        mu = 0.0
        shortfall = _shortfall_probability(left, m) if m > 0 else 0.0
        if shortfall > 0:  # else no need for the walk over the samples
            mean_regret = self._capacity_regrets().get(location_id)
            if mean_regret:
                mu = mean_regret * shortfall
        self._cap_cache[location_id] = (left, self.epoch, mu)
        return mu

    def _capacity_regrets(self) -> dict[str, float]:
        """For each location, the mean regret (next location with capacity minus this one, for a
        typical unit) of the sampled customers it serves best; a customer no other location can serve in
        time would lose the unit (at least the unfilled penalty's fixed part, less what serving it costs)."""
        if self._cap_regrets[0] == self.epoch:
            return self._cap_regrets[1]
        locs = self.net.locations
        lost = self.net.unfilled.unit_cost(0.0)
        out: dict[str, list[float]] = {}
        for d in self.samples:
            best: list[tuple[float, str]] = []
            for lid, fixed, _pick, opts in d.ranked:
                loc = locs.get(lid)
                if loc is None or loc.capacity_left <= 0:  # not in this network (a policy's kinds), or full
                    continue
                best.append((fixed + min(f + r * TYPICAL_KG for f, r in opts), lid))
                if len(best) == 2:
                    break
            if len(best) == 2:
                best.sort()
                out.setdefault(best[0][1], []).append(best[1][0] - best[0][0])
            elif best:
                out.setdefault(best[0][1], []).append(max(0.0, lost - best[0][0]))
        means = {lid: sum(v) / len(v) for lid, v in out.items()}
        self._cap_regrets = (self.epoch, means)
        return means

    # ------------------------------------------------------------ learning
    def observe(self, order: Order, plan: Plan) -> None:
        """Record a decided order: its destination becomes a possible sample of demand, its units
        the latest capacity usage."""
        self.seen_orders += 1
        j = len(self.samples) if len(self.samples) < SAMPLE_SIZE else self.rng.randrange(self.seen_orders)
        if j < SAMPLE_SIZE:
            dest = destination(self.net, order)
            if dest is not None:
                if j == len(self.samples):
                    self.samples.append(dest)
                else:
                    self.samples[j] = dest
                self._changes += 1
        if self._changes >= EPOCH_CHANGES or self.seen_orders - self._epoch_start >= EPOCH_MAX_ORDERS:
            # enough of the picture of demand (or of the period) has moved: re-derive cached shares
            self.epoch += 1
            self._changes = 0
            self._epoch_start = self.seen_orders
            self._capacity_regrets()
        # learning work between decisions, a bounded amount per order (oldest requests first)
        for _ in range(min(REFRESH_PER_ORDER, len(self._refresh))):
            sku = next(iter(self._refresh))
            self._shares(sku, self._refresh.pop(sku), fresh=True)
        used: dict[str, int] = {}
        for p in plan.packages:
            used[p.location] = used.get(p.location, 0) + p.units
        for lid, u in used.items():
            self._window_units[lid] = self._window_units.get(lid, 0) + u
        self._recent.append(used)
        if len(self._recent) > CAP_WINDOW:
            for lid, u in self._recent.popleft().items():
                self._window_units[lid] -= u


def price_scale(demand: float, stock: int) -> float:
    """The scale of a SKU's prices with `demand` units still expected and `stock` units left: PRICE_SCALE
    while the stock covers the demand, rising to 1 at FULL_PRICE_DEMAND times the stock."""
    short = (demand / max(1, stock) - 1.0) / (FULL_PRICE_DEMAND - 1.0)
    return PRICE_SCALE + (1.0 - PRICE_SCALE) * min(1.0, max(0.0, short))


def destination(net: Network, order: Order) -> Destination | None:
    """A past order as a sample of demand: the locations (all DCs, the nearest stores) that could serve it
    in time, ranked by the fixed part of a one-unit package."""
    ranked: list[_Ranked] = []
    if order.mode == HOME:
        assert order.lat is not None and order.lon is not None
        ids = net.nearest(order.lat, order.lon, net.locations, SAMPLE_LOCATIONS)
        for lid in ids:
            loc = net.locations[lid]
            km = road_km(net.road_factor, loc.lat, loc.lon, order.lat, order.lon)
            opts, _ = home_options(loc, net.services, km, order.deadline_days)
            if opts:
                f0 = min(o.fixed for o in opts)
                extras = tuple((o.fixed - f0, o.per_kg) for o in opts)
                ranked.append((lid, f0 + loc.pick_cost, loc.pick_cost, extras))
    else:
        store = net.locations.get(order.pickup_location or "")
        if store is None:  # a store the network no longer has
            return None
        store_id = store.id
        for lid in net.nearest(store.lat, store.lon, net.locations, SAMPLE_LOCATIONS):
            loc = net.locations[lid]
            if lid == store_id:
                opt, _ = local_option(loc, order.deadline_days)
            else:
                km = net.km_between(lid, store_id)
                opt, _ = transfer_option(loc, net.transfer, km, order.deadline_days)
            if opt is not None:
                ranked.append((lid, opt.fixed + loc.pick_cost, loc.pick_cost, ((0.0, opt.per_kg),)))
    if not ranked:
        return None
    ranked.sort(key=_fixed_part)
    return Destination(ranked, len(order.lines) > 1, order.mode == HOME)


def _expected_alternative(
    found: list[tuple[float, float, str]], start: int, fail: dict[str, float], penalty: float, add: float
) -> float:
    """Expected cost of the cheapest holder from found[start:] that still has stock (each fails
    independently with fail[holder]), or the penalty if all fail."""
    total = 0.0
    reach = 1.0
    for c, _m, lid in found[start:]:
        cost = min(c + add, penalty)
        f = fail.get(lid, 0.0)
        total += reach * (1.0 - f) * cost
        reach *= f
        if reach < 1e-3:
            break
    return total + reach * penalty


def _expected_overflow(x: int, m: float) -> float:
    """E[(N - x)+] for N ~ Poisson(m): the later demand a holder with x units left cannot serve."""
    if m <= 0:
        return 0.0
    if x <= 0:
        return m
    # E[N 1{N > x}] = m P(N >= x), so E[(N - x)+] = m P(N >= x) - x P(N >= x + 1)
    return max(0.0, m * _shortfall_probability(x, m) - x * _shortfall_probability(x + 1, m))


def _shortfall_probability(x: int, m: float) -> float:
    """P(N >= x) for N ~ Poisson(m): the chance later demand wants the x-th unit left."""
    if m <= 0 or x < 1:
        return 0.0 if x >= 1 else 1.0
    sd = math.sqrt(m)
    if x > m + 6.0 * sd + 5.0:
        return 0.0
    if m > 60.0:
        return 0.5 * math.erfc((x - 0.5 - m) / (sd * math.sqrt(2.0)))
    p = math.exp(-m)
    cdf = p
    for n in range(1, x):
        p *= m / n
        cdf += p
    return max(0.0, 1.0 - cdf)
