"""Project-level tasks: a worker self-check used by the health page and the test suite."""

from __future__ import annotations

import os

from celery import shared_task

from .audit import audit_record


@shared_task(name="oms.worker_ping")
def worker_ping(note: str) -> dict[str, str]:
    """Write one audit row from the worker and say which process ran it (proves worker ↔ database)."""
    event = audit_record(actor=None, action="worker.ping", summary=note)
    return {"pid": str(os.getpid()), "event_id": str(event.pk)}
