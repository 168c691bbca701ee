"""Display filters for Brazilian values and statuses: `{% load oms_format %}`.

`brl` (R$ 1.234,50), `cep` (01310-200), `document` (CPF/CNPJ with punctuation), `phone` (national format
for Brazilian numbers), and `status_tone`, the badge class (ok / warn / bad) for an order, line, fulfilment
or movement status; `once_field`, a form's one-submission token (`oms.once`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from oms import once
from oms.brazil import format_brl, format_cep, format_document
from orders import timeline

register = template.Library()

_OK = {"delivered", "collected", "shipped", "ready_for_pickup", "allocated", "received", "picked", "packed"}
_WARN = {"on_hold", "backordered", "awaiting_routing", "partly_shipped", "pending", "picking", "short_pick"}
_BAD = {"cancelled"}


@register.filter
def brl(value: Any) -> str:
    """A money amount in reais; empty for None, the value unchanged when it is not a number."""
    if value is None or value == "":
        return ""
    try:
        return format_brl(Decimal(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


@register.filter
def event_label(kind: Any) -> str:
    """An order timeline event's kind in the reader's language."""
    return timeline.event_label(str(kind))


@register.simple_tag
def event_message(event: Any) -> str:
    """An order timeline event's message (a plain status change in the reader's language)."""
    return timeline.event_message(event.kind, event.message, event.data)


@register.simple_tag
def once_field() -> SafeString:
    """A form's one-submission token (`oms.once`): sent twice, it is recorded once."""
    return format_html('<input type="hidden" name="{}" value="{}">', once.FIELD, once.new_token())


@register.filter
def cep(value: Any) -> str:
    return format_cep(str(value or ""))


@register.filter
def document(value: Any) -> str:
    return format_document(str(value or ""))


@register.filter
def phone(value: Any) -> str:
    """An E.164 number shown the local way: '+5511912345678' → '(11) 91234-5678'; others international."""
    text = str(value or "")
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        return text
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 55
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


@register.filter
def status_tone(value: Any) -> str:
    """The badge class for a status value: 'ok', 'warn', 'bad' or '' (neutral)."""
    status = str(value or "")
    if status in _BAD:
        return "bad"
    if status in _WARN:
        return "warn"
    if status in _OK:
        return "ok"
    return ""


@register.filter
def signed(value: Any) -> str:
    """An integer change with its sign: 3 → '+3', -2 → '−2', 0 → '0'."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return str(value)
    if number > 0:
        return f"+{number}"
    if number < 0:
        return f"−{-number}"
    return "0"
