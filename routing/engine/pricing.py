"""Opportunity prices (stub)."""
from __future__ import annotations


class OpportunityPricer:
    def __init__(self, network, forecast) -> None:
        self.net = network

    def unit_price(self, location_id: str, sku: str) -> float:
        return 0.0

    def capacity_price(self, location_id: str) -> float:
        return 0.0

    def observe(self, order, plan) -> None:
        pass
