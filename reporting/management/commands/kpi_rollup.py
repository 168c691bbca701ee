"""`manage.py kpi_rollup [--days N]`: recompute the KPI rollups of today and the N - 1 days before it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reporting.services import RECENT_DAYS, kpi_rollup_recent

MAX_DAYS = 3660


class Command(BaseCommand):
    help = (
        "Recompute the KPI rollups (orders per channel and day, work per location and day) of the last days."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=int, default=RECENT_DAYS, help=f"days back from today (default {RECENT_DAYS})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        days = options["days"]
        if not 1 <= days <= MAX_DAYS:
            raise CommandError(f"--days must be between 1 and {MAX_DAYS}, not {days}")
        written = kpi_rollup_recent(days=days)
        self.stdout.write(f"rolled up {days} days: {written} rows")
