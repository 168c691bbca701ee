"""Opportunity prices (routing.engine.pricing): the cascade of later customers, and learning kept off
the decision path. Pure engine, no database."""

from __future__ import annotations

import math

from routing.engine import Forecast, OpportunityPricer, route_order
from routing.engine.pricing import _expected_overflow

from .test_engine import SAO, _home, _network


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
