"""Inventory tasks: thin and idempotent. Scheduled in settings (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from .services.forecast import forecast_refresh
from .services.replenishment import replenishment_propose


@shared_task(name="inventory.replenishment_propose", acks_late=True, ignore_result=True)
def propose_replenishment() -> dict[str, int]:
    """Refresh the open replenishment proposals from recent demand (running it twice changes nothing)."""
    return replenishment_propose()


@shared_task(name="inventory.forecast_refresh", acks_late=True, ignore_result=True)
def refresh_forecast() -> dict[str, int]:
    """Recompute the demand forecasts from the ledger (running it twice on the same day changes nothing)."""
    return forecast_refresh()
