"""Demand forecasts: how many units of each product each location will sell a day, and how its week is shaped.

Made every night by the forecast job from the ledger's shipments and hand-overs (COMMIT movements) of the last
eight weeks, in the project's time zone:
- a location's week (`LocationDemandProfile.weekday_factors`): each weekday's share of its units, pulled
  towards a flat week while it has sold little (PRIOR_UNITS per weekday), so that they average 1;
- each stock row's units on an average day (`DemandForecast.daily`): its weekly units, averaged with weights
  that halve every HALF_LIFE_DAYS (recent weeks count most, an unplanned surge fades), over seven, plus its
  damped trend; a day's forecast is that times its weekday's factor and the factors of its planned demand
  events (`events`);
- the trend (`DemandForecast.trend`, units a day gained or lost each week): the slope of the least-squares
  line through the row's eight weekly rates, every week counting the same (the trend smoothed more slowly than
  the level, as in Holt's linear method), damped as in Gardner & McKenzie's damped trend (TREND_DAMPING). The
  weighted average stands for the week _LAG weeks before the last one, so the forecast is that average plus
  the trend times _LAG + TREND_DAMPING: the last week's level, then one damped week ahead. A slope within
  TREND_Z standard errors of flat (the weeks' scatter about the line, at least what Poisson counts bring) is
  taken as flat, and beyond it shrunk towards flat by the noise (positive-part James-Stein); a row that sold
  fewer than TREND_MIN_UNITS keeps none; the trend moves the forecast by at most TREND_CAP of the average
  either way, so it never goes negative;
- a day of a demand event with factor f counts as f of its weekday's normal days in a row's level (a
  promotion's units are read at a normal day's level, a closure's few sales as those of a fraction of a day),
  and the days of a location's events for every product are left out of its week's shape: a promotion neither
  inflates the weeks after it nor makes its weekday look busy, a closure neither the reverse;
- a check of the method on the location's last CHECK_DAYS: the forecast it would have made the day before
  them (knowing their events; with its trend, held over the two weeks as the stored rate is) against what was
  sold, per product and day (`wape`, `bias`) and for the location's whole days (`day_wape`: what a store plans
  its staff and deliveries with), shown to managers beside the forecast.
The replenishment job plans with it (`replenishment.replenishment_propose`): a lead time shaped by weekday
and events, and the days of cover at the forecast rate. Exponential smoothing with a weekday profile and
planned events is what retail forecasting starts from, and a damped trend what it adds first; it needs no
library and runs as one aggregate query (and three for the events) and one pass in Python.
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
WEEKS = HISTORY_DAYS // 7
HALF_LIFE_DAYS = 14  # a day's weight halves every two weeks
CHECK_DAYS = 14  # the check: the last two weeks, forecast from the eight before them
RECENT_DAYS = 28  # "sold in the last 28 days", shown beside the forecast
PRIOR_UNITS = 3.0  # per weekday: a location that sold little keeps a nearly flat week
FRESH_FOR = dt.timedelta(days=2)  # a forecast older than this is not planned with (the job has stopped)
TREND_DAMPING = 0.9  # φ: each week ahead keeps 90 % of the trend of the one before (Gardner & McKenzie)
TREND_MIN_UNITS = 28  # in the eight weeks (half a unit a day): fewer are too few to read a trend in
TREND_Z = 2.5  # a slope within 2.5 standard errors of flat is noise
TREND_CAP = 0.5  # the trend moves a forecast by at most half its level either way

# each whole week's weight (the latest first): every weekday of a week counts the same, so the level needs no
# weekday taken out, and a week's forecast (level × 7, the factors averaging 1) is its weighted week
_WEEK_WEIGHTS = [0.5 ** (7 * week / HALF_LIFE_DAYS) for week in range(WEEKS)]
_WEEK_WEIGHT_SUM = sum(_WEEK_WEIGHTS)
FLAT_WEEK = [1.0] * 7
# The level (the weighted average) stands for the week _LAG weeks before the last one (about 1.9)
_LAG = sum(k * w for k, w in enumerate(_WEEK_WEIGHTS)) / _WEEK_WEIGHT_SUM
# The trend's slope is the weekly rates (week k: k weeks before the last) times _SLOPE (rising: positive); its
# variance is a week's times _SLOPE_VARIANCE. Weighted as the level, its standard error is a quarter larger
# and it found the trend of fewer of the bench's rising and falling rows (docs/performance.md)
_CENTRE = (WEEKS - 1) / 2
_SLOPE = tuple((_CENTRE - k) / sum((j - _CENTRE) ** 2 for j in range(WEEKS)) for k in range(WEEKS))
_SLOPE_VARIANCE = sum(c * c for c in _SLOPE)
_AHEAD = _LAG + TREND_DAMPING  # weeks from the average's week to the one forecast (the next), damped
_PLAIN_WEEKS = (7.0,) * WEEKS  # each week's normal days without events


def week_shape(units_by_weekday: list[float]) -> list[float]:
    """Each weekday's demand against an average day (Monday first): averages exactly 1."""
    mean = sum(units_by_weekday) / 7
    return [(units + PRIOR_UNITS) / (mean + PRIOR_UNITS) for units in units_by_weekday]


def _weeks(days: dict[dt.date, int], end: dt.date) -> list[float]:
    """The units of each of the WEEKS before `end` (the last first; days without sales count as zeros)."""
    units = [0.0] * WEEKS
    for day, n in days.items():
        age = (end - day).days
        if 1 <= age <= HISTORY_DAYS:
            units[(age - 1) // 7] += n
    return units


def _normal_weeks(
    events: EventCalendar,
    location_id: int,
    product_id: int,
    history: list[dt.date],
    shape: list[float],
    memo: dict[tuple[int, dt.date], tuple[float, ...]],
) -> tuple[float, ...]:
    """How many normal days each week of `history` (the last first) is for the row: seven, and each day of
    its events its factor less one more, times its weekday's share of the location's week (a Saturday of Black
    Friday is more of a normal week than its Tuesday). The weeks of the products no event names are the
    location's: worked out once per location and history in `memo`."""
    if not events:
        return _PLAIN_WEEKS
    own = product_id in events.by_product
    key = (location_id, history[0])
    if not own and key in memo:
        return memo[key]
    weekdays = tuple(shape[day.weekday()] for day in history[:7])  # every week's days: the same weekdays
    weeks = tuple(
        7.0 + events.extra_days(location_id, product_id, history[7 * k : 7 * k + 7], weekdays)
        for k in range(WEEKS)
    )
    if not own:
        memo[key] = weeks
    return weeks


def _forecast(units: list[float], normal: tuple[float, ...]) -> tuple[float, float]:
    """A row's units on a normal day and its trend (units a day per week), from its weeks' `units` and
    `normal` days (see the module): the weighted average of its weeks, recent weeks weighted most, over their
    weighted normal days, plus its damped trend times _AHEAD. Never below half the average."""
    level = sum(w * n for w, n in zip(_WEEK_WEIGHTS, units, strict=True)) / sum(
        w * d for w, d in zip(_WEEK_WEIGHTS, normal, strict=True)
    )
    if sum(units) < TREND_MIN_UNITS or level <= 0:
        return level, 0.0
    rates = [n / d for n, d in zip(units, normal, strict=True)]  # units a normal day, each week
    slope = sum(c * r for c, r in zip(_SLOPE, rates, strict=True))
    mean = sum(rates) / WEEKS
    scatter = sum((r - mean - slope * (_CENTRE - k)) ** 2 for k, r in enumerate(rates)) / (WEEKS - 2)
    # a week of Poisson sales scatters by its mean at least: a few lucky weeks are not a trend
    noise = TREND_Z * TREND_Z * max(scatter, mean / 7) * _SLOPE_VARIANCE
    if slope * slope <= noise:
        return level, 0.0
    bound = TREND_CAP * level / _AHEAD
    trend = max(-bound, min(bound, slope * (1 - noise / (slope * slope))))
    return level + trend * _AHEAD, trend


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
    memo: dict[tuple[int, dt.date], tuple[float, ...]],
) -> _Check:
    """How the forecast made at the start of the CHECK_DAYS before `today` (from the HISTORY_DAYS before it)
    did over them, per row and day and for the location's whole days, with the events of those days (as they
    are planned now: the check measures the method, given what was planned)."""
    start = today - dt.timedelta(days=CHECK_DAYS)
    check_days = [start + dt.timedelta(days=offset) for offset in range(CHECK_DAYS)]
    history = _history(start)
    factors = _shape(location_days, start, events.location_wide_days(location_id, history))
    check = _Check()
    expected_day = [0.0] * CHECK_DAYS
    for stock_id, days in rows.items():
        product_id = product_of[stock_id]
        rate, _trend = _forecast(
            _weeks(days, start), _normal_weeks(events, location_id, product_id, history, factors, memo)
        )
        for offset, day in enumerate(check_days):
            event = events.factor(location_id, product_id, day) if events else 1.0
            actual = days.get(day, 0)
            expected = rate * factors[day.weekday()] * event
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
    memo: dict[tuple[int, dt.date], tuple[float, ...]] = {}  # `_normal_weeks`'
    for location_id, location_rows in rows.items():
        shape = _shape(week[location_id], today, events.location_wide_days(location_id, history))
        made = {
            stock_id: _forecast(
                _weeks(days, today),
                _normal_weeks(events, location_id, product_of[stock_id], history, shape, memo),
            )
            for stock_id, days in location_rows.items()
        }
        if not any(daily > 0 for daily, _trend in made.values()):
            continue  # nothing sold in the eight weeks before today (only in the check's first weeks)
        forecasts += [
            DemandForecast(
                stock_id=stock_id,
                daily=Decimal(daily).quantize(Decimal("0.001")),
                trend=Decimal(trend).quantize(Decimal("0.001")),
                recent_units=recent[stock_id],
                updated_at=now,
            )
            for stock_id, (daily, trend) in made.items()
            if daily > 0
        ]
        check = _check(
            location_id, location_rows, week[location_id], today, events=events, product_of=product_of,
            memo=memo,
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
            update_fields=["daily", "trend", "recent_units", "updated_at"],
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
