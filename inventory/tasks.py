"""Inventory tasks: thin and idempotent. Scheduled in settings (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from .models import StockTransfer
from .services.forecast import forecast_refresh
from .services.replenishment import replenishment_propose
from .services.safety import safety_run_execute
from .services.transfers import transfer_flag_overdue, transfers_overdue


@shared_task(name="inventory.replenishment_propose", acks_late=True, ignore_result=True)
def propose_replenishment() -> dict[str, int]:
    """Refresh the open replenishment proposals from recent demand (running it twice changes nothing)."""
    return replenishment_propose()


@shared_task(name="inventory.forecast_refresh", acks_late=True, ignore_result=True)
def refresh_forecast() -> dict[str, int]:
    """Recompute the demand forecasts from the ledger (running it twice on the same day changes nothing)."""
    return forecast_refresh()


@shared_task(name="inventory.flag_overdue_transfers", acks_late=True)
def flag_overdue_transfers() -> int:
    """Announce every transfer in transit past its expected time (once each). Returns how many."""
    flagged = 0
    for t in StockTransfer.objects.filter(pk__in=transfers_overdue()):
        flagged += transfer_flag_overdue(transfer=t)
    return flagged


@shared_task(name="inventory.safety_stock_apply", acks_late=True)
def apply_safety_stock(run_id: int) -> str | None:
    """Apply a planner's safety stock rule to its stock rows. Idempotent: a finished run is left alone, a run
    started again changes only what is not set yet. Returns the run's final status (None: no such run)."""
    run = safety_run_execute(run_id=run_id)
    return run.status if run is not None else None
