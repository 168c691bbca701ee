"""Reads of the KPI rollups, scoped like the data they come from: a channel's figures to whoever sees the
channel (orders.selectors.channel_list), a location's to whoever works with it
(inventory.selectors.location_list)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Count, Max, QuerySet, Sum
from django.utils import timezone

from inventory.selectors import location_list
from orders.models import TO_SEND_STATUSES, Channel, Fulfilment
from orders.selectors import channel_list

from .models import ChannelDay, LocationDay


def channel_day_list(
    *, user: Any, since: dt.date, until: dt.date, channel: Channel | None = None
) -> QuerySet[ChannelDay]:
    """The rollup rows of the channels the user sees (or of one of them), days `since`..`until` inclusive."""
    rows = ChannelDay.objects.filter(day__gte=since, day__lte=until, channel__in=channel_list(user=user))
    if channel is not None:
        rows = rows.filter(channel=channel)
    return rows.select_related("channel").order_by("day", "channel__code")


def location_totals(*, user: Any, since: dt.date, until: dt.date) -> Iterable[Mapping[str, Any]]:
    """Per location the user works with: its work of days `since`..`until` summed (one row per location that
    had any), with the time of the latest rollup among them."""
    return (
        LocationDay.objects.filter(day__gte=since, day__lte=until, location__in=location_list(user=user))
        .values("location", "location__code", "location__name", "location__kind")
        .annotate(
            assigned=Sum("assigned"),
            units=Sum("units"),
            short_units=Sum("short_units"),
            cancelled=Sum("cancelled"),
            done=Sum("done"),
            done_on_time=Sum("done_on_time"),
            rolled_at=Max("rolled_at"),
        )
        .order_by("location__code")
    )


def overdue_by_location(*, user: Any) -> dict[int, int]:
    """Live, not rolled up: per location the user works with, its fulfilments past their ship-by time and
    still to be sent. One query on the (location, status, ship_by) index."""
    return dict(
        Fulfilment.objects.filter(
            location__in=location_list(user=user), status__in=TO_SEND_STATUSES, ship_by__lt=timezone.now()
        )
        .values("location")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("location", "n")
    )
