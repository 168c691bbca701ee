"""Charts drawn on the server as SVG (no chart library to load on a phone): the numbers for
`templates/components/day_bars.html`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from decimal import Decimal
from typing import Any

from django.utils import formats

CHART_W, CHART_H = 600.0, 140.0  # the drawing area (the template's viewBox adds room for labels)


def day_bars(
    days: list[dt.date],
    per_day: Mapping[dt.date, int | float | Decimal],
    *,
    label: str = "d/m",
    marked: Collection[dt.date] = (),
) -> dict[str, Any]:
    """One bar per day (`per_day`, rounded to whole units; missing days are zero), labelled with `label` (a
    date format) on every day of a short chart and every seventh of a long one, the latest labelled; the
    `marked` days drawn in another colour (e.g. those of a demand event)."""
    values = {day: round(per_day.get(day, 0)) for day in days}
    top = max(values.values(), default=0) or 1
    step = CHART_W / len(days)
    every = 1 if len(days) <= 14 else 7
    bars = []
    for i, day in enumerate(days):
        n = values[day]
        h = round(CHART_H * n / top, 1)
        bars.append(
            {
                "x": round(i * step + step * 0.1, 1),
                "y": round(CHART_H - h, 1),
                "w": round(step * 0.8, 1),
                "h": h,
                "n": n,
                "day": formats.date_format(day, "SHORT_DATE_FORMAT"),
                "label": formats.date_format(day, label) if (len(days) - 1 - i) % every == 0 else "",
                "label_x": round(i * step + step / 2, 1),
                "marked": day in marked,
            }
        )
    return {"bars": bars, "top": top, "width": CHART_W, "height": CHART_H, "label_y": CHART_H + 16}
