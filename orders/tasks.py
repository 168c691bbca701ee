"""Celery tasks of the orders app: thin, idempotent, by id."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from .models import Fulfilment, Return
from .services.fulfilment import (
    fulfilment_expire_pickup,
    fulfilment_flag_late,
    fulfilments_late,
    pickups_due_for_expiry,
)
from .services.returns import exchanges_cancelled_unsettled, return_exchange_cancelled


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


@shared_task(name="orders.exchange_cancelled", acks_late=True)
def exchange_cancelled(return_pk: int, user_pk: int | None = None) -> str:
    """Settle a return whose exchange order was cancelled (what it was worth is due again); `user_pk` is who
    cancelled it. Returns the return's status. Safe to run twice: the second run changes nothing."""
    ret = Return.objects.filter(pk=return_pk).first()
    if ret is None:
        return ""
    by = get_user_model().objects.filter(pk=user_pk).first() if user_pk else None
    return return_exchange_cancelled(ret=ret, by=by).status


@shared_task(name="orders.settle_cancelled_exchanges", acks_late=True)
def settle_cancelled_exchanges() -> int:
    """The beat's sweep behind `exchange_cancelled`: settle every return whose exchange order was cancelled
    and whose settling task never ran. Returns how many it settled; safe to run twice or concurrently (each
    settling is checked again under its order's lock)."""
    settled = 0
    for pk in exchanges_cancelled_unsettled():
        ret = Return.objects.filter(pk=pk).first()
        if ret is not None:
            return_exchange_cancelled(ret=ret, by=None)
            settled += 1
    return settled
