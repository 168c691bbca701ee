"""/healthz and the real Celery worker started by `make test`."""

from __future__ import annotations

import os

import pytest

from oms.models import AuditEvent
from oms.tasks import worker_ping


@pytest.mark.django_db
def test_healthz_reports_database_redis_and_workers(client, needs_worker):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"] == {"ok": True, "vendor": "postgresql", "ms": body["database"]["ms"]}
    assert body["redis"]["ok"] is True
    assert body["workers"]["count"] >= 1


@pytest.mark.django_db
def test_healthz_says_degraded_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"]["ok"] is False


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_task_sent_from_django_runs_on_the_real_worker(needs_worker):
    result = worker_ping.delay("hello from the suite")
    answer = result.get(timeout=20)
    assert answer["pid"] != str(os.getpid())  # another process ran it
    event = AuditEvent.objects.get(pk=answer["event_id"])
    assert event.action == "worker.ping"
    assert event.summary == "hello from the suite"
