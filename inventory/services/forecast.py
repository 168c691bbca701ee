"""Demand forecasts: how many units of each product each location will sell a day, and how its week is shaped.

Made every night by the forecast job from the ledger's shipments and hand-overs (COMMIT movements) of the last
eight weeks, in the project's time zone:
- a location's week (`LocationDemandProfile.weekday_factors`): each weekday's share of its units, pulled
  towards a flat week while it has sold little (PRIOR_UNITS per weekday), so that they average 1;
- each stock row's units on an average day (`DemandForecast.daily`): its weekly units, averaged with weights
  that halve every HALF_LIFE_DAYS (recent weeks count most, an unplanned surge fades), over seven; a day's
  forecast is that times its weekday's factor and the factors of its planned demand events (`events`);
- the days of a demand event count at a normal day's level (their units divided by the event's factor), so a
  promotion neither inflates the weeks after it nor makes its weekday look busy;
- a check of the method on the location's last CHECK_DAYS: the forecast it would have made the day before
  them (knowing their events) against what was sold, per product and day (`wape`, `bias`) and for the
  location's whole days (`day_wape`: what a store plans its staff and deliveries with), shown to managers
  beside the forecast.
The replenishment job plans with it (`replenishment.replenishment_propose`): a lead time shaped by weekday
and events, and the days of cover at the forecast rate. Exponential smoothing with a weekday profile and
planned events is what retail forecasting starts from; it needs no library and runs as one aggregate query
(and three for the events) and one pass in Python.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from oms.calendar import start_of_day

from ..models import DemandForecast, LocationDemandProfile, MovementKind, StockMovement
from .events import EventCalendar

HISTORY_DAYS = 56  # eight weeks: each weekday eight times
HALF_LIFE_DAYS = 14  # a day's weight halves every two weeks
CHECK_DAYS = 14  # the check: the last two weeks, forecast from the eight before them
RECENT_DAYS = 28  # "sold in the last 28 days", shown beside the forecast
PRIOR_UNITS = 3.0  # per weekday: a location that sold little keeps a nearly flat week
FRESH_FOR = dt.timedelta(days=2)  # a forecast older than this is not planned with (the job has stopped)

# each whole week's weight (the latest first): every weekday of a week counts the same, so the level needs no
# weekday taken out, and a week's forecast (level × 7, the factors averaging 1) is its weighted week
_WEEK_WEIGHTS = [0.5 ** (7 * week / HALF_LIFE_DAYS) for week in range(HISTORY_DAYS // 7)]
_WEEK_WEIGHT_SUM = sum(_WEEK_WEIGHTS)
FLAT_WEEK = [1.0] * 7


def week_shape(units_by_weekday: list[float]) -> list[float]:
    """Each weekday's demand against an average day (Monday first): averages exactly 1."""
    mean = sum(units_by_weekday) / 7
    return [(units + PRIOR_UNITS) / (mean + PRIOR_UNITS) for units in units_by_weekday]


def _level(days: dict[dt.date, float], end: dt.date) -> float:
    """Units on an average day at `end`: the weeks of the HISTORY_DAYS before it, recent weeks weighted most,
    divided by seven (days without sales count as zeros)."""
    total = 0.0
    for day, units in days.items():
        age = (end - day).days
        if 1 <= age <= HISTORY_DAYS:
            total += units * _WEEK_WEIGHTS[(age - 1) // 7]
    return total / (7 * _WEEK_WEIGHT_SUM)


def _shape(location_days: dict[dt.date, float], end: dt.date) -> list[float]:
    by_weekday = [0.0] * 7
    for day, units in location_days.items():
        if 1 <= (end - day).days <= HISTORY_DAYS:
            by_weekday[day.weekday()] += units
    return week_shape(by_weekday)


@dataclass
class _Check:
    """The forecast made CHECK_DAYS ago against what was sold since: absolute and signed (forecast − sold)
    error per stock row and day, absolute error of the location's whole days, and the units sold."""

    error: float = 0.0
    signed: float = 0.0
    day_error: float = 0.0
    sold: int = 0


def _check(
    rows: dict[int, dict[dt.date, float]],
    location_days: dict[dt.date, float],
    sold_days: dict[dt.date, int],
    today: dt.date,
    factor: Callable[[int, dt.date], float] | None,
) -> _Check:
    """How the forecast made at the start of the CHECK_DAYS before `today` (from the HISTORY_DAYS before it)
    did over them, per row and day and for the location's whole days. `rows` and `location_days` hold units at
    a normal day's level, `sold_days` what the location sold; `factor(row, day)` is the row's planned events
    (known when the forecast was made; None: no events)."""
    start = today - dt.timedelta(days=CHECK_DAYS)
    factors = _shape(location_days, start)
    check = _Check()
    expected_day = [0.0] * CHECK_DAYS
    for stock_id, days in rows.items():
        level = _level(days, start)
        for offset in range(CHECK_DAYS):
            day = start + dt.timedelta(days=offset)
            event = factor(stock_id, day) if factor else 1.0
            actual = days.get(day, 0) * event
            expected = level * factors[day.weekday()] * event
            check.error += abs(actual - expected)
            check.signed += expected - actual
            expected_day[offset] += expected
    check.sold = sum(units for day, units in sold_days.items() if day >= start)
    check.day_error = sum(
        abs(sold_days.get(start + dt.timedelta(days=offset), 0) - expected)
        for offset, expected in enumerate(expected_day)
    )
    return check


def _ratio(value: float, units: int) -> Decimal | None:
    return Decimal(value / units).quantize(Decimal("0.001")) if units else None


def forecast_refresh(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Recompute every location's week and every stock row's forecast from the ledger (see the module), and
    drop those of rows and locations that sold nothing for HISTORY_DAYS. Idempotent on the same day. Returns
    counts (locations, forecasts, dropped)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - dt.timedelta(days=HISTORY_DAYS + CHECK_DAYS)
    sales = (
        StockMovement.objects.filter(
            kind=MovementKind.COMMIT, at__gte=start_of_day(first), at__lt=start_of_day(today)
        )
        .annotate(day=TruncDate("at"))
        .values_list("stock", "stock__location", "stock__product", "day")
        .annotate(units=Sum("on_hand_delta"))
        .order_by()
    )
    events = EventCalendar.load(first, today)
    # location → row → day → units at a normal day's level (an event's units divided by its factor)
    rows: dict[int, dict[int, dict[dt.date, float]]] = defaultdict(lambda: defaultdict(dict))
    week: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))  # location → day → units
    sold: dict[int, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))  # ... as sold
    recent: dict[int, int] = defaultdict(int)  # row → units sold in the last RECENT_DAYS
    product_of: dict[int, tuple[int, int]] = {}  # row → (location, product)
    recent_from = today - dt.timedelta(days=RECENT_DAYS)
    for stock_id, location_id, product_id, day, units in sales:
        normal = -units / events.factor(location_id, product_id, day) if events else -units
        rows[location_id][stock_id][day] = normal
        week[location_id][day] += normal
        sold[location_id][day] -= units
        product_of[stock_id] = (location_id, product_id)
        if day >= recent_from:
            recent[stock_id] -= units

    def factor(stock_id: int, day: dt.date) -> float:
        return events.factor(*product_of[stock_id], day)

    profiles: list[LocationDemandProfile] = []
    forecasts: list[DemandForecast] = []
    for location_id, location_rows in rows.items():
        levels = {stock_id: _level(days, today) for stock_id, days in location_rows.items()}
        if not any(level > 0 for level in levels.values()):
            continue  # nothing sold in the eight weeks before today (only in the check's first weeks)
        forecasts += [
            DemandForecast(
                stock_id=stock_id,
                daily=Decimal(level).quantize(Decimal("0.001")),
                recent_units=recent[stock_id],
                updated_at=now,
            )
            for stock_id, level in levels.items()
            if level > 0
        ]
        check = _check(location_rows, week[location_id], sold[location_id], today, factor if events else None)
        profiles.append(
            LocationDemandProfile(
                location_id=location_id,
                weekday_factors=[round(f, 4) for f in _shape(week[location_id], today)],
                wape=_ratio(check.error, check.sold),
                day_wape=_ratio(check.day_error, check.sold),
                bias=_ratio(check.signed, check.sold),
                checked_units=check.sold,
                updated_at=now,
            )
        )
    with transaction.atomic():
        LocationDemandProfile.objects.bulk_create(
            profiles,
            update_conflicts=True,
            unique_fields=["location"],
            update_fields=["weekday_factors", "wape", "day_wape", "bias", "checked_units", "updated_at"],
            batch_size=2000,
        )
        DemandForecast.objects.bulk_create(
            forecasts,
            update_conflicts=True,
            unique_fields=["stock"],
            update_fields=["daily", "recent_units", "updated_at"],
            batch_size=2000,
        )
        dropped, _by_model = DemandForecast.objects.filter(updated_at__lt=now).delete()
        LocationDemandProfile.objects.filter(updated_at__lt=now).delete()
    return {"locations": len(profiles), "forecasts": len(forecasts), "dropped": dropped}


def planning_forecast(*, now: dt.datetime) -> tuple[dict[int, Decimal], dict[int, list[float]]]:
    """What planners use: units a day per stock row and the week of each location, from a run of the last
    FRESH_FOR (none when the job has stopped: the caller falls back to plain recent demand)."""
    fresh = now - FRESH_FOR
    daily = dict(DemandForecast.objects.filter(updated_at__gte=fresh).values_list("stock", "daily"))
    weeks: dict[int, Any] = dict(
        LocationDemandProfile.objects.filter(updated_at__gte=fresh).values_list("location", "weekday_factors")
    )
    return daily, weeks
