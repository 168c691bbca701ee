"""Demand forecasts: how many units of each product each location will sell a day, and how its week is shaped.

Made every night by the forecast job from the ledger's shipments and hand-overs (COMMIT movements) of the last
eight weeks, in the project's time zone:
- a location's week (`LocationDemandProfile.weekday_factors`): each weekday's share of its units, pulled
  towards a flat week while it has sold little (PRIOR_UNITS per weekday), so that they average 1;
- each stock row's units on an average day (`DemandForecast.daily`): its weekly units, averaged with weights
  that halve every HALF_LIFE_DAYS (recent weeks count most, an unplanned surge fades), over seven; a day's
  forecast is that times its weekday's factor and the factors of its planned demand events (`events`);
- a day of a demand event with factor f counts as f of its weekday's normal days in a row's level (a
  promotion's units are read at a normal day's level, a closure's few sales as those of a fraction of a day),
  and the days of a location's events for every product are left out of its week's shape: a promotion neither
  inflates the weeks after it nor makes its weekday look busy, a closure neither the reverse;
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
from collections.abc import Collection
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


_NORMAL_WEEKS = 7 * _WEEK_WEIGHT_SUM  # the weighted days of the history, all of them normal
# each day's weight, as `_history` lists the days (the latest first)
_DAY_WEIGHTS = tuple(_WEEK_WEIGHTS[(age - 1) // 7] for age in range(1, HISTORY_DAYS + 1))


def _level(days: dict[dt.date, int], end: dt.date, normal_days: float) -> float:
    """Units on a normal day at `end`: the units of the HISTORY_DAYS before it, recent weeks weighted most,
    over the weighted days they were sold in (`normal_days`: a day of events with factor f counts as f normal
    days, a closure as a fraction of one; days without sales count as zeros)."""
    total = 0.0
    for day, units in days.items():
        age = (end - day).days
        if 1 <= age <= HISTORY_DAYS:
            total += units * _WEEK_WEIGHTS[(age - 1) // 7]
    return total / normal_days


def _shape(location_days: dict[dt.date, int], end: dt.date, skip: Collection[dt.date] = ()) -> list[float]:
    """The location's week at `end`, from its HISTORY_DAYS before it, leaving out the days of its events
    (`skip`): each weekday's units scaled to all its days of the history (a weekday with none left: the
    average of the others)."""
    by_weekday, counted = [0.0] * 7, [0] * 7
    for age in range(1, HISTORY_DAYS + 1):
        day = end - dt.timedelta(days=age)
        if day not in skip:
            by_weekday[day.weekday()] += location_days.get(day, 0)
            counted[day.weekday()] += 1
    per_day = [units / n for units, n in zip(by_weekday, counted, strict=True) if n]
    fill = sum(per_day) / len(per_day) if per_day else 0.0
    weeks = HISTORY_DAYS // 7
    return week_shape(
        [units / n * weeks if n else fill * weeks for units, n in zip(by_weekday, counted, strict=True)]
    )


@dataclass
class _Check:
    """The forecast made CHECK_DAYS ago against what was sold since: absolute and signed (forecast − sold)
    error per stock row and day, absolute error of the location's whole days, and the units sold."""

    error: float = 0.0
    signed: float = 0.0
    day_error: float = 0.0
    sold: int = 0


def _check(
    location_id: int,
    rows: dict[int, dict[dt.date, int]],
    location_days: dict[dt.date, int],
    today: dt.date,
    *,
    events: EventCalendar,
    product_of: dict[int, int],
) -> _Check:
    """How the forecast made at the start of the CHECK_DAYS before `today` (from the HISTORY_DAYS before it)
    did over them, per row and day and for the location's whole days, with the events of those days (as they
    are planned now: the check measures the method, given what was planned)."""
    start = today - dt.timedelta(days=CHECK_DAYS)
    check_days = [start + dt.timedelta(days=offset) for offset in range(CHECK_DAYS)]
    history = _history(start)
    factors = _shape(location_days, start, events.location_wide_days(location_id, history))
    weights = _weights(history, factors) if events else ()
    check = _Check()
    expected_day = [0.0] * CHECK_DAYS
    for stock_id, days in rows.items():
        product_id = product_of[stock_id]
        extra = events.extra_days(location_id, product_id, history, weights) if events else 0.0
        level = _level(days, start, _NORMAL_WEEKS + extra)
        for offset, day in enumerate(check_days):
            event = events.factor(location_id, product_id, day) if events else 1.0
            actual = days.get(day, 0)
            expected = level * factors[day.weekday()] * event
            check.error += abs(actual - expected)
            check.signed += expected - actual
            expected_day[offset] += expected
    for offset, day in enumerate(check_days):
        sold = location_days.get(day, 0)
        check.sold += sold
        check.day_error += abs(sold - expected_day[offset])
    return check


def _history(end: dt.date) -> list[dt.date]:
    return [end - dt.timedelta(days=age) for age in range(1, HISTORY_DAYS + 1)]


def _weights(history: list[dt.date], shape: list[float]) -> tuple[float, ...]:
    """Each history day's weight in a row's level, times its weekday's share of the location's week (a
    Saturday of Black Friday is more of a normal week than its Tuesday): what an event day's factor less one
    counts."""
    return tuple(w * shape[day.weekday()] for w, day in zip(_DAY_WEIGHTS, history, strict=True))


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
    history = _history(today)
    rows: dict[int, dict[int, dict[dt.date, int]]] = defaultdict(
        lambda: defaultdict(dict)
    )  # location → row → day
    week: dict[int, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))  # location → day → units
    recent: dict[int, int] = defaultdict(int)  # row → units sold in the last RECENT_DAYS
    product_of: dict[int, int] = {}  # row → product
    recent_from = today - dt.timedelta(days=RECENT_DAYS)
    for stock_id, location_id, product_id, day, units in sales:
        rows[location_id][stock_id][day] = -units
        week[location_id][day] -= units
        product_of[stock_id] = product_id
        if day >= recent_from:
            recent[stock_id] -= units
    profiles: list[LocationDemandProfile] = []
    forecasts: list[DemandForecast] = []
    for location_id, location_rows in rows.items():
        shape = _shape(week[location_id], today, events.location_wide_days(location_id, history))
        weights = _weights(history, shape) if events else ()
        levels = {
            stock_id: _level(
                days,
                today,
                _NORMAL_WEEKS
                + (events.extra_days(location_id, product_of[stock_id], history, weights) if events else 0.0),
            )
            for stock_id, days in location_rows.items()
        }
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
        check = _check(
            location_id, location_rows, week[location_id], today, events=events, product_of=product_of,
        )  # fmt: skip
        profiles.append(
            LocationDemandProfile(
                location_id=location_id,
                weekday_factors=[round(f, 4) for f in shape],
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
