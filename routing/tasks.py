"""Routing tasks: thin, idempotent, acknowledged late. They take ids and call a service.

The periodic ones are scheduled in settings (CELERY_BEAT_SCHEDULE).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from celery.signals import worker_init, worker_process_init
from django.db import OperationalError

from inventory.exceptions import InsufficientStock
from oms.calendar import add_business_days

from .models import DecisionTrigger
from .services.demand import demand_refresh
from .services.live import CapacityTaken, order_route, orders_drain, orders_route_pending
from .services.maintenance import backorders_retry, unreleased_reoptimise

RETRYABLE = (InsufficientStock, CapacityTaken, OperationalError)


# The decision id is in the database: no result is stored (one Redis write fewer per order).
@shared_task(name="routing.route_order", bind=True, acks_late=True, max_retries=5, ignore_result=True)
def route_order(self: Any, order_id: int) -> int | None:
    """Route one order: one sent back to routing (hold released, address changed, short pick), or a new
    one when tasks run inline (with a worker, new orders ask for `routing.drain`). Returns the decision id."""
    try:
        decision = order_route(order_id=order_id, trigger=DecisionTrigger.NEW)
    except RETRYABLE as exc:
        raise self.retry(exc=exc, countdown=1) from exc
    return decision.pk if decision else None


@shared_task(name="routing.route_pending", acks_late=True, ignore_result=True)
def route_pending(limit: int = 100) -> int:
    """Route up to `limit` orders awaiting routing (oldest first), skipping any another worker holds, so any
    number of workers can drain at once. Returns how many got a decision. The beat's safety net for orders
    whose message was lost, and a few messages for a bulk intake instead of one per order."""
    return orders_route_pending(limit=limit)


@shared_task(name="routing.drain", acks_late=True, ignore_result=True)
def drain() -> int:
    """Route orders awaiting routing until none is left: what a new order queues on commit (at most one run
    waits, however many orders come in; see routing.services.live.orders_drain)."""
    return orders_drain()


@worker_init.connect
def warm_calendar(**_kwargs: Any) -> None:
    """Compute this year's and next year's business-day calendar in the worker's main process, before it
    forks its pool: the first use costs ~400 ms (the holidays library), which otherwise every new pool
    process pays on its first order."""
    today = dt.date.today()
    add_business_days(today, 0)
    add_business_days(dt.date(today.year + 1, 1, 1), 0)


@worker_process_init.connect
def warm_routing(**_kwargs: Any) -> None:
    """Build the routing network and the picture of demand as a pool process starts (no DB work happens in
    the parent)."""
    from .services.demand import demand_warm
    from .services.snapshot import static_network

    try:
        static_network()
        demand_warm()
    except Exception:  # a cold start is slower, never fatal: the first task builds it again
        return


@shared_task(name="routing.reroute_order", bind=True, acks_late=True, max_retries=5)
def reroute_order(self: Any, order_id: int, trigger: str = DecisionTrigger.SHORT_PICK) -> int | None:
    """Route again the units of an order left uncovered by a short pick or a cancelled fulfilment."""
    if trigger not in DecisionTrigger.values:
        trigger = DecisionTrigger.SHORT_PICK
    try:
        decision = order_route(order_id=order_id, trigger=trigger)
    except RETRYABLE as exc:
        raise self.retry(exc=exc, countdown=1) from exc
    return decision.pk if decision else None


@shared_task(name="routing.retry_backorders", acks_late=True)
def retry_backorders(limit: int = 200) -> int:
    """Route backordered units again (stock may have arrived). Returns the orders that got units."""
    return backorders_retry(limit=limit)


@shared_task(name="routing.reoptimise_unreleased", acks_late=True)
def reoptimise_unreleased(limit: int = 200) -> int:
    """Re-decide orders not yet released to picking; swaps only when cheaper. Returns swaps made."""
    return unreleased_reoptimise(limit=limit)


@shared_task(name="routing.refresh_demand", acks_late=True, ignore_result=True)
def refresh_demand() -> int:
    """Rebuild the picture of recent demand the live path prices stock with. Returns its orders."""
    return demand_refresh().orders


@shared_task(name="routing.whatif_run", acks_late=True)
def whatif_run(run_id: int) -> str | None:
    """Replay a what-if run under its draft and the live policy. Idempotent: a finished run is left alone.
    Returns the run's final status (None: no such run)."""
    # imported here so that this task stays a self-contained addition to the module
    from .services.whatif import whatif_run_execute

    run = whatif_run_execute(run_id=run_id)
    return run.status if run is not None else None
