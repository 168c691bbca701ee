"""Project-level tasks: a worker self-check used by the health page and the test suite."""

from __future__ import annotations

import os
from typing import Any

from celery import shared_task

from .audit import audit_record
from .webhooks import MAX_ATTEMPTS, DeliveryFailed, deliver


@shared_task(name="oms.worker_ping")
def worker_ping(note: str) -> dict[str, str]:
    """Write one audit row from the worker and say which process ran it (proves worker ↔ database)."""
    event = audit_record(actor=None, action="worker.ping", summary=note)
    return {"pid": str(os.getpid()), "event_id": str(event.pk)}


@shared_task(name="oms.deliver_webhook", bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def deliver_webhook(self: Any, delivery_id: int) -> str:
    """POST one webhook delivery; retried with exponential back-off (2 s, 4 s, 8 s… up to 10 min)."""
    try:
        return deliver(delivery_id).status
    except DeliveryFailed as exc:
        raise self.retry(exc=exc, countdown=min(600, 2 ** (self.request.retries + 1))) from exc
