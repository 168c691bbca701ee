"""KPI rollups: one row per channel and day (orders) and per location and day (fulfilment work).

The dashboards read these rows, never the order tables: a month of KPIs is a few hundred rows however many
orders there were. `reporting.services.kpi_rollup` writes them (the beat re-rolls the last days, since a day's
orders keep changing: cancelled, shipped, delivered); nothing else does. Days are calendar days in the
project's time zone (America/Sao_Paulo).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from inventory.models import Location
from orders.models import Channel

ZERO = Decimal("0.00")


class ChannelDay(models.Model):
    """What one channel's orders of one day (by the time they were placed) came to, and the returns of its
    orders that day, as of `rolled_at`."""

    day = models.DateField(_("day"))
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    orders = models.PositiveIntegerField(_("orders"), default=0)
    units = models.PositiveIntegerField(_("units"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=14, decimal_places=2, default=ZERO)
    pickup_orders = models.PositiveIntegerField(_("pickup orders"), default=0)
    cancelled_orders = models.PositiveIntegerField(_("cancelled orders"), default=0)
    # orders given at least one fulfilment to the customer (shipment or pickup; transfers do not count), and
    # those given more than one
    fulfilled_orders = models.PositiveIntegerField(_("orders with a fulfilment"), default=0)
    split_orders = models.PositiveIntegerField(_("split orders"), default=0)
    # orders with a line backordered now
    backordered_orders = models.PositiveIntegerField(_("backordered orders"), default=0)
    routed_orders = models.PositiveIntegerField(_("routed orders"), default=0)
    # what the routing decisions of these orders planned to spend: carriage, handling, picking, transfers
    fulfilment_cost = models.DecimalField(_("fulfilment cost"), max_digits=14, decimal_places=2, default=ZERO)
    # after-sales of the channel's orders, by the day it happened (not the day the order was placed): units
    # received back, money refunded to customers and money customers paid on returns that left them owing
    returned_units = models.PositiveIntegerField(_("units returned"), default=0)
    refunded = models.DecimalField(_("refunded"), max_digits=14, decimal_places=2, default=ZERO)
    collected = models.DecimalField(_("collected on returns"), max_digits=14, decimal_places=2, default=ZERO)
    rolled_at = models.DateTimeField(_("rolled up at"))

    class Meta:
        verbose_name = _("channel day")
        verbose_name_plural = _("channel days")
        constraints = [models.UniqueConstraint(fields=["day", "channel"], name="reporting_channelday_unique")]

    def __str__(self) -> str:
        return f"{self.channel_id} {self.day}"


class LocationDay(models.Model):
    """One location's fulfilment work of one day: what it was given (by creation) and what it finished (sent,
    handed to a transfer or made ready for pickup) that day, on time or late against its ship-by time."""

    day = models.DateField(_("day"))
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    assigned = models.PositiveIntegerField(_("fulfilments assigned"), default=0)
    units = models.PositiveIntegerField(_("units assigned"), default=0)
    short_units = models.PositiveIntegerField(_("units short-picked"), default=0)
    cancelled = models.PositiveIntegerField(_("fulfilments cancelled"), default=0)
    done = models.PositiveIntegerField(_("fulfilments done"), default=0)
    done_on_time = models.PositiveIntegerField(_("done on time"), default=0)
    rolled_at = models.DateTimeField(_("rolled up at"))

    class Meta:
        verbose_name = _("location day")
        verbose_name_plural = _("location days")
        constraints = [
            models.UniqueConstraint(fields=["day", "location"], name="reporting_locationday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.location_id} {self.day}"
