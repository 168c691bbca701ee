"""The routing engine: pure Python, no Django.

Give it a `Network` snapshot (locations, services, stock and capacity left) and an `Order`; get back a
`Plan` (packages with cost breakdown, backordered units, total cost, delivery days, explanation).
`Network.apply_plan(plan)` commits a decision to the snapshot; the caller decides when.

    plan = route_order(network, order, policy=Policy(max_packages=2), prices=pricer)
    network.apply_plan(plan)

`OpportunityPricer` adds the forecast value of scarce stock and capacity to decisions; `route_wave`
decides a release wave together; `replay` routes a whole routing-kit scenario in arrival order.
"""

from .batch import route_wave
from .network import (
    DC,
    STORE,
    InsufficientStock,
    Location,
    Network,
    Service,
    TransferTerms,
    UnfilledPenalty,
)
from .order import HOME, PICKUP, Order, OrderLine, Policy
from .plan import TRANSFER, CandidateNote, Explanation, Package, Plan
from .pricing import OpportunityPricer
from .replay import ReplayStats, replay
from .scenario import Forecast, Scenario, load_scenario, plan_document
from .solver import Prices, route_order

__all__ = [
    "DC",
    "HOME",
    "PICKUP",
    "STORE",
    "TRANSFER",
    "CandidateNote",
    "Explanation",
    "Forecast",
    "InsufficientStock",
    "Location",
    "Network",
    "OpportunityPricer",
    "Order",
    "OrderLine",
    "Package",
    "Plan",
    "Policy",
    "Prices",
    "ReplayStats",
    "Scenario",
    "Service",
    "TransferTerms",
    "UnfilledPenalty",
    "load_scenario",
    "plan_document",
    "replay",
    "route_order",
    "route_wave",
]
