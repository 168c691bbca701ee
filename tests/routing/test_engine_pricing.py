"""Opportunity prices (routing.engine.pricing): the cascade of later customers, and learning kept off
the decision path. Pure engine, no database."""

from __future__ import annotations

import math

import pytest

from routing.engine import Forecast, Network, OpportunityPricer, route_order
from routing.engine import pricing as pricing_module
from routing.engine.pricing import _expected_overflow
from routing.engine.scenario import load_scenario

from .test_engine import SAO, _home, _instance, _network, needs_kit


def _poisson_overflow(x: int, m: float) -> float:
    total, p = 0.0, math.exp(-m)
    for n in range(0, 400):
        if n > 0:
            p *= m / n
        total += max(0, n - x) * p
    return total


def test_expected_overflow_is_the_poisson_mean_excess() -> None:
    for x, m in ((0, 3.0), (1, 0.4), (3, 3.0), (5, 12.5), (40, 54.0), (10, 0.0)):
        assert math.isclose(_expected_overflow(x, m), _poisson_overflow(x, m), rel_tol=1e-6, abs_tol=1e-9)


def _pricer_with_sao_demand(store_units: int) -> OpportunityPricer:
    # A is held by the São Paulo store (every São Paulo customer's first choice: courier) and the
    # São Paulo DC (their second choice); the forecast expects far more A than the store holds
    net = _network(ST_SAO__A=store_units, DC_SAO__A=3)
    pricer = OpportunityPricer(net, Forecast(orders=100, sku_units={"A": 60.0}))
    for _ in range(10):
        order = _home(deadline=3, where=SAO, B=1)  # destinations only: B is not stocked, nothing moves
        pricer.observe(order, route_order(net, order, prices=pricer))
    return pricer


def test_a_backup_holder_is_priced_when_the_first_choice_will_sell_out() -> None:
    short = _pricer_with_sao_demand(store_units=1).unit_price("DC-SAO", "A", penalty=110.0)
    ample = _pricer_with_sao_demand(store_units=200).unit_price("DC-SAO", "A", penalty=110.0)
    # no sampled customer has the DC as first choice: its price comes only from the store's overflow
    assert ample < 0.5
    assert short > 10.0


def test_stale_estimates_are_re_derived_after_the_decision() -> None:
    pricer = _pricer_with_sao_demand(store_units=1)
    pricer.unit_price("DC-SAO", "A", penalty=110.0)
    pricer.epoch += 10  # the picture of demand has moved on
    before = pricer._sku_cache["A"]
    pricer.unit_price("DC-SAO", "A", penalty=110.0)
    assert pricer._sku_cache["A"] is before  # the decision used the last estimate ...
    assert "A" in pricer._refresh
    order = _home(deadline=3, where=SAO, B=1)
    pricer.observe(order, route_order(pricer.net, order, prices=pricer))
    assert "A" not in pricer._refresh  # ... and it was re-derived once the decision was made
    assert pricer._sku_cache["A"][1] == pricer.epoch


def _store_prices(dc_units: int) -> tuple[float, float]:
    # A: 2 units at the São Paulo store (every São Paulo customer's first choice: courier) and
    # `dc_units` at the São Paulo DC, their only backup; the forecast expects far more A than the store
    # holds, so what a unit at the store is worth depends on whether the DC will still have stock
    net = _network(ST_SAO__A=2, DC_SAO__A=dc_units)
    pricer = OpportunityPricer(net, Forecast(orders=100, sku_units={"A": 60.0}))
    for _ in range(10):
        order = _home(deadline=3, where=SAO, B=1)  # destinations only: B is not stocked, nothing moves
        pricer.observe(order, route_order(net, order, prices=pricer))
    first = pricer.unit_price("ST-SAO", "A", penalty=110.0)  # a first look, on the decision path
    assert "A" in pricer._refresh
    order = _home(deadline=3, where=SAO, B=1)
    pricer.observe(order, route_order(net, order, prices=pricer))  # the full estimate, after the decision
    assert "A" not in pricer._refresh
    return first, pricer.unit_price("ST-SAO", "A", penalty=110.0)


def test_the_loss_counts_only_backups_that_will_still_have_stock() -> None:
    _, sure_backup = _store_prices(dc_units=500)
    first_look, failing_backup = _store_prices(dc_units=1)
    # with a deep DC behind it, the store's customers lose only the dearer DC package; with one unit
    # at the DC, which the overflow will take, they lose the penalty
    assert sure_backup < 20.0
    assert failing_backup > 3 * sure_backup
    # the first look (one pass, on the decision path) sees only the next holder; the decision after
    # the re-derivation uses the new estimate, not the first look's cached price
    assert first_look < failing_backup / 3


@needs_kit
def test_looked_up_holders_give_the_shares_of_the_whole_ranking(monkeypatch: pytest.MonkeyPatch) -> None:
    # the kit's small network after 300 orders: every SKU's shares, from the holders looked up per
    # customer (in no particular order) and from each customer's whole ranking, must be the same
    scn = load_scenario(_instance("small"))
    pricer = OpportunityPricer(scn.network, scn.forecast)
    for order in scn.orders[:300]:
        plan = route_order(scn.network, order, prices=pricer, explain=False)
        scn.network.apply_plan(plan)
        pricer.observe(order, plan)
    skus = sorted({ln.sku for o in scn.orders[300:400] for ln in o.lines})
    held = {s: scn.network.holders(s) for s in skus}
    assert len({len(h) for h in held.values()}) >= 5  # rare and widely held SKUs alike

    def shares(look_up: int) -> list[object]:
        monkeypatch.setattr(pricing_module, "LOOK_UP_HOLDERS", look_up)
        out: list[object] = []
        for s in skus:
            own, spill = pricer._walk(s, 110.0, held[s], 512)
            fail = {lid: pricer._fail(own, spill, lid, s) for lid in held[s]}
            out.append((own, spill, pricer._walk_avail(s, 110.0, held[s], 512, fail)))
        return out

    assert shares(10**6) == shares(0)


def _one_decision(net: Network, shares: pricing_module.SharesCache, epoch: int) -> OpportunityPricer:
    """A live decision's pricer: ten past São Paulo customers as its samples, estimates kept in `shares`."""
    samples = [pricing_module.destination(net, _home(deadline=3, where=SAO, B=1)) for _ in range(10)]
    return OpportunityPricer(
        net,
        Forecast(orders=100, sku_units={"A": 60.0}),
        samples=[d for d in samples if d is not None],
        one_decision=True,
        shares=shares,
        epoch=epoch,
    )


def test_a_one_decision_pricer_estimates_in_full_and_shares_the_estimate_with_later_decisions() -> None:
    net = _network(ST_SAO__A=1, DC_SAO__A=3)
    shares: pricing_module.SharesCache = {}
    first = _one_decision(net, shares, epoch=100)
    price = first.unit_price("DC-SAO", "A", penalty=110.0)
    assert not first._refresh  # no quick look left to refine: there is no decision after this one
    assert price > 10.0  # the store will sell out: its customers' overflow prices the DC
    estimate = shares["A"]
    again = _one_decision(net, shares, epoch=100)
    assert again.unit_price("DC-SAO", "A", penalty=110.0) == pytest.approx(price)
    assert shares["A"] is estimate  # the next decision reused it
    _one_decision(net, shares, epoch=100 + pricing_module.STALE_EPOCHS).unit_price("DC-SAO", "A", 110.0)
    assert shares["A"] is not estimate  # until it fell due


def test_a_holders_last_units_carry_a_balancing_price_while_the_sku_is_short(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def prices(forecast_units: float) -> tuple[float, float]:
        net = _network(ST_SAO__A=1, DC_SAO__A=9)
        pricer = OpportunityPricer(net, Forecast(orders=100, sku_units={"A": forecast_units}))
        for _ in range(10):
            order = _home(deadline=3, where=SAO, B=1)
            pricer.observe(order, route_order(net, order, prices=pricer))
        return pricer.unit_price("ST-SAO", "A", 110.0), pricer.unit_price("DC-SAO", "A", 110.0)

    short, ample = prices(60.0), prices(2.0)  # 10 units held: 60 wanted is short, 2 is not (< half)
    monkeypatch.setattr(pricing_module, "BALANCE_PRICE", 0.0)
    short_off, ample_off = prices(60.0), prices(2.0)
    # the store's last unit costs 10 / 1 more, the DC's ninth-to-last 10 / 9, only while the SKU is short
    assert short[0] - short_off[0] == pytest.approx(10.0)
    assert short[1] - short_off[1] == pytest.approx(10.0 / 9)
    assert ample == ample_off


def test_capacity_later_orders_will_need_before_it_comes_back_is_priced_against_what_is_left() -> None:
    # the samples are São Paulo customers who want their order tomorrow: only the store can make it
    net = _network(ST_SAO__A=100, DC_SAO__A=100)
    net.locations["ST-SAO"].capacity_left = 1
    samples = [pricing_module.destination(net, _home(deadline=1, where=SAO, B=1)) for _ in range(10)]

    def pricer(demand: dict[str, float]) -> OpportunityPricer:
        return OpportunityPricer(
            net,
            Forecast(orders=100, sku_units={}),
            samples=[d for d in samples if d is not None],
            one_decision=True,
            capacity_demand=demand,
        )

    busy, quiet, unknown = pricer({"ST-SAO": 12.0}), pricer({"ST-SAO": 0.01}), pricer({})
    # 12 units expected for the one left: a customer who finds the store full loses the unit (the penalty's
    # 60, less the ~11 serving it costs); 0.01 expected: hardly anyone will
    assert busy.capacity_price("ST-SAO") > 40.0
    assert quiet.capacity_price("ST-SAO") < 1.0
    assert unknown.capacity_price("ST-SAO") == 0.0
    assert busy.capacity_price("DC-SAO") == 0.0  # nobody expected there
    # a customer due in 3 days: the store is the cheaper source, unless its last unit of capacity is wanted
    order = _home(deadline=3, where=SAO, A=1)
    assert [p.location for p in route_order(net, order, prices=quiet).packages] == ["ST-SAO"]
    busy_plan = route_order(net, order, prices=busy)
    assert [p.location for p in busy_plan.packages] == ["DC-SAO"]
    assert busy_plan.total_cost > route_order(net, order, prices=quiet).total_cost  # real costs reported


def test_the_price_discount_fades_once_a_sku_is_surely_short(monkeypatch: pytest.MonkeyPatch) -> None:
    scale, full = pricing_module.PRICE_SCALE, pricing_module.FULL_PRICE_DEMAND
    # the stock covers the demand: the whole discount
    assert pricing_module.price_scale(5.0, 10) == pricing_module.price_scale(10.0, 10) == scale
    assert scale < pricing_module.price_scale(20.0, 10) < 1.0
    assert pricing_module.price_scale(full * 10, 10) == pricing_module.price_scale(500.0, 10) == 1.0

    def store_price() -> float:
        net = _network(ST_SAO__A=1, DC_SAO__A=9)
        pricer = OpportunityPricer(net, Forecast(orders=100, sku_units={"A": 60.0}))
        for _ in range(10):
            order = _home(deadline=3, where=SAO, B=1)
            pricer.observe(order, route_order(net, order, prices=pricer))
        return pricer.unit_price("ST-SAO", "A", 110.0)

    monkeypatch.setattr(pricing_module, "BALANCE_PRICE", 0.0)
    short = store_price()  # 54 units still wanted, 10 held: more than 3 times the stock, no discount
    monkeypatch.setattr(pricing_module, "FULL_PRICE_DEMAND", 1e12)
    discounted = store_price()
    assert short > 1.0
    assert short == pytest.approx(discounted / scale, rel=1e-6)
