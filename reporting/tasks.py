"""Reporting tasks: thin and idempotent (a rollup recomputes whole days). Scheduled in settings
(CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task

from .services import RECENT_DAYS, kpi_rollup_recent


@shared_task(name="reporting.rollup", acks_late=True, ignore_result=True)
def rollup(days: int = RECENT_DAYS) -> int:
    """Re-roll the KPIs of today and the days before it; returns the rows written."""
    return kpi_rollup_recent(days=days)
