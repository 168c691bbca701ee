"""Business days in Brazil: weekends and national holidays (the `holidays` library) do not count."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays
from django.utils import timezone


@lru_cache(maxsize=32)
def _national_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("BR", years=year).keys())


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _national_holidays(day.year)


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date `days` business days after `start` (0 → `start` itself, or the next business day)."""
    day = start
    while not is_business_day(day):
        day += dt.timedelta(days=1)
    remaining = days
    while remaining > 0:
        day += dt.timedelta(days=1)
        if is_business_day(day):
            remaining -= 1
    return day


def start_of_day(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the current time zone (the project's, America/Sao_Paulo, unless a
    request activated another)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())
