"""Celery tasks of the orders app: thin, idempotent, by id."""

from __future__ import annotations

from celery import shared_task

from .models import Fulfilment
from .services.fulfilment import (
    fulfilment_expire_pickup,
    fulfilment_flag_late,
    fulfilments_late,
    pickups_due_for_expiry,
)


@shared_task(name="orders.expire_uncollected_pickups", acks_late=True)
def expire_uncollected_pickups() -> int:
    """Send every ready pickup not collected within its hold back to stock. Returns how many expired.

    Safe to run twice or concurrently: each fulfilment is re-checked under its order's lock.
    """
    expired = 0
    for pk in pickups_due_for_expiry():
        fulfilment = Fulfilment.objects.filter(pk=pk).first()
        if fulfilment is not None and fulfilment_expire_pickup(fulfilment=fulfilment, by=None):
            expired += 1
    return expired


@shared_task(name="orders.flag_late_fulfilments", acks_late=True)
def flag_late_fulfilments() -> int:
    """Announce every fulfilment that missed its ship-by time (once each). Returns how many were announced.

    Safe to run twice or concurrently: each is re-checked under its order's lock.
    """
    flagged = 0
    for pk in fulfilments_late():
        fulfilment = Fulfilment.objects.filter(pk=pk).first()
        if fulfilment is not None and fulfilment_flag_late(fulfilment=fulfilment):
            flagged += 1
    return flagged
