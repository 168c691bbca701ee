"""Outbound webhooks: events are fanned out to subscribers after commit and POSTed by a Celery task.

Each delivery is signed: `X-OMS-Signature: sha256=<HMAC-SHA256 of the raw body with the subscriber's secret>`,
retried with exponential back-off on network errors and non-2xx answers, and logged with every answer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from .cache import cached, forget, prefetch
from .models import WebhookDelivery, WebhookSubscription
from .queue import enqueue_on_commit

logger = logging.getLogger(__name__)

DELIVER_TASK = "oms.deliver_webhook"
MAX_ATTEMPTS = 8


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# The active subscriptions, read on every event (each order create and routing emits some), are kept in
# Django's cache (Redis in production, shared by every process) and dropped whenever one is saved or deleted;
# an API request reads them with its key (oms.cache.prefetch).
SUBSCRIBERS_KEY = prefetch("oms:webhooks:subscribers")
SUBSCRIBERS_TTL = 300


def active_subscriptions() -> list[WebhookSubscription]:
    return cached(
        SUBSCRIBERS_KEY, lambda: list(WebhookSubscription.objects.filter(active=True)), SUBSCRIBERS_TTL
    )


@receiver([post_save, post_delete], sender=WebhookSubscription, dispatch_uid="oms.webhooks.subscribers")
def subscribers_changed(**kwargs: Any) -> None:
    forget(SUBSCRIBERS_KEY)


def subscriptions_for(event_type: str) -> list[WebhookSubscription]:
    """The active subscriptions that want `event_type` (emitting it writes one delivery for each)."""
    return [s for s in active_subscriptions() if s.wants(event_type)]


def emit_event(event_type: str, data: dict[str, Any]) -> None:
    """Record one delivery per interested subscriber and queue them on commit (no-op without subscribers)."""
    emit_events(event_type, [data])


def emit_all(events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """`emit_event` for events of several types (type, data), in order per type: the subscribers are read
    once for all of them."""
    if not events:
        return
    active = active_subscriptions()
    if not active:
        return
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event_type, data in events:
        by_type.setdefault(event_type, []).append(data)
    for event_type, datas in by_type.items():
        emit_events(event_type, datas, subscriptions=[s for s in active if s.wants(event_type)])


def emit_events(
    event_type: str, datas: list[dict[str, Any]], *, subscriptions: list[WebhookSubscription] | None = None
) -> None:
    """`emit_event` for many events of one type: the subscribers are read once (not at all when the caller
    has them already, from `subscriptions_for`)."""
    if subscriptions is None:
        subscriptions = subscriptions_for(event_type)
    if not subscriptions or not datas:
        return
    deliveries = []
    for data in datas:
        event_id = uuid.uuid4()
        payload = json.loads(json.dumps(
            {"id": str(event_id), "type": event_type, "created_at": timezone.now(), "data": data},
            cls=DjangoJSONEncoder,
        ))  # fmt: skip
        deliveries += [
            WebhookDelivery(subscription=s, event_id=event_id, event_type=event_type, payload=payload)
            for s in subscriptions
        ]
    # in batches: thousands of events (the replenishment job's `stock.low`) would pass PostgreSQL's 65,535
    # parameters in one statement
    for delivery in WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000):
        enqueue_on_commit(DELIVER_TASK, delivery.pk)


class DeliveryFailed(Exception):
    pass


def deliver(delivery_id: int, *, timeout: float = 10.0) -> WebhookDelivery:
    """POST one delivery once; raises DeliveryFailed (so the task retries) unless the answer is 2xx."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update().select_related("subscription").get(pk=delivery_id)
        )  # one attempt at a time per delivery
        if delivery.status == WebhookDelivery.Status.DELIVERED:
            return delivery
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    request = urllib.request.Request(  # noqa: S310 - subscriber URLs are http(s) by URLField validation
        delivery.subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "OMS-Webhooks/1",
            "X-OMS-Event": delivery.event_type,
            "X-OMS-Delivery": str(delivery.event_id),
            "X-OMS-Signature": sign(delivery.subscription.secret, body),
        },
    )
    code: int | None = None
    text = ""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            code, text = response.status, response.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        code, text = exc.code, exc.read(2000).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        text = f"{exc.__class__.__name__}: {exc}"
    ok = code is not None and 200 <= code < 300
    delivery.last_status_code, delivery.last_response = code, text
    if ok:
        delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(update_fields=["last_status_code", "last_response", "status", "delivered_at"])
    if not ok and delivery.status != WebhookDelivery.Status.FAILED:
        raise DeliveryFailed(f"delivery {delivery_id}: {code or text}")
    return delivery
