"""How the order timeline reads on a page: each event kind's name and each message in the reader's language.
The services store what happened as phrases (`oms.phrases`) beside its English rendering (never in the
language of whoever caused it); a page renders the phrases."""

from __future__ import annotations

from typing import Any

from django.utils.translation import pgettext_lazy

from oms.phrases import Phrase, choice_arg, phrase, render_all

from .models import Order, OrderStatus

EVENT_LABELS: dict[str, Any] = {
    "created": pgettext_lazy("timeline", "created"),
    "status": pgettext_lazy("timeline", "status"),
    "routed": pgettext_lazy("timeline", "routed"),
    "reroute": pgettext_lazy("timeline", "re-routed"),
    "fulfilment": pgettext_lazy("timeline", "fulfilment"),
    "pick": pgettext_lazy("timeline", "pick"),
    "short_pick": pgettext_lazy("timeline", "short pick"),
    "reject": pgettext_lazy("timeline", "rejected"),
    "pack": pgettext_lazy("timeline", "packed"),
    "ship": pgettext_lazy("timeline", "shipped"),
    "delivered": pgettext_lazy("timeline", "delivered"),
    "ready_for_pickup": pgettext_lazy("timeline", "ready for pickup"),
    "collected": pgettext_lazy("timeline", "collected"),
    "pickup_expired": pgettext_lazy("timeline", "pickup expired"),
    "transfer_dispatched": pgettext_lazy("timeline", "transfer sent"),
    "transfer_received": pgettext_lazy("timeline", "transfer received"),
    "late": pgettext_lazy("timeline", "late"),
    "note": pgettext_lazy("timeline", "note"),
    "hold": pgettext_lazy("timeline", "hold"),
    "release": pgettext_lazy("timeline", "released"),
    "address": pgettext_lazy("timeline", "address"),
    "cancelled": pgettext_lazy("timeline", "cancelled"),
    "return": pgettext_lazy("timeline", "return"),
    "return_received": pgettext_lazy("timeline", "return received"),
    "return_cancelled": pgettext_lazy("timeline", "return cancelled"),
    "exchange": pgettext_lazy("timeline", "exchange"),
    "refund": pgettext_lazy("timeline", "refund"),
    "return_payment": pgettext_lazy("timeline", "return money"),
    "return_correction": pgettext_lazy("timeline", "return money corrected"),
}


def now_in(target: str) -> list[Phrase]:
    """ "Now <status>.": a status change that says nothing more."""
    return [phrase("Now %(status)s.", status=choice_arg(Order, "status", target, lower=True))]


def event_label(kind: str) -> str:
    """The name of an event kind in the reader's language (the kind itself when unknown)."""
    return str(EVENT_LABELS.get(kind, kind))


def event_message(kind: str, message: str, data: Any) -> str:
    """The event's message in the reader's language: its phrases (`oms.phrases`), or for an entry written
    before they were stored, a plain status change; anything else as stored."""
    if not isinstance(data, dict):
        return message
    text = data.get("text")
    if isinstance(text, list) and text:
        return render_all(text)
    target = data.get("to")
    if kind == "status" and target in OrderStatus.values and message == f"Now {target.replace('_', ' ')}.":
        return render_all(now_in(target))
    return message
