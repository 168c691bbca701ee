"""Customer e-mails: ready for pickup, shipped. Each links to the order's public tracking page by its
absolute address (`settings.PUBLIC_BASE_URL`) and is sent once the caller's transaction commits.

They are written in the customer's language, never in that of the staff member whose action sent them: an
order or a customer records no language, so that is the project's default (`settings.LANGUAGE_CODE`, pt-BR).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from ..carriers import carrier_service_name
from ..models import Fulfilment, Order, OrderTrackingLink


def tracking_link_for(order: Order) -> OrderTrackingLink:
    """The order's public tracking link, created on first use (idempotent, race-safe)."""
    link, _created = OrderTrackingLink.objects.get_or_create(
        order=order, defaults={"token": secrets.token_urlsafe(24)}
    )
    return link


def tracking_url(order: Order) -> str:
    """The absolute address of the order's public tracking page (`settings.PUBLIC_BASE_URL` + its path)."""
    path = reverse("tracking:order", kwargs={"token": tracking_link_for(order).token})
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def customer_language(order: Order) -> str:
    """The language to write to the order's customer in (no record holds one: the project's default)."""
    return settings.LANGUAGE_CODE


def _send_on_commit(order: Order, subject: str, body: str) -> None:
    email = order.customer.email
    if email:
        transaction.on_commit(
            lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email], fail_silently=True)
        )


def _first_name(order: Order) -> str:
    return (order.customer.name.split() or [""])[0]


def notify_ready_for_pickup(*, order: Order, pickup: Fulfilment) -> None:
    """E-mail the customer that the order waits at the pickup store, with the pickup code (after commit)."""
    if not order.customer.email:
        return
    location = pickup.location
    with translation.override(customer_language(order)):
        subject = _("Your order %(number)s is ready for pickup") % {"number": order.number}
        body = _(
            "Hello %(name)s,\n\nyour order %(number)s is waiting for you at %(store)s (%(address)s).\n"
            "Pickup code: %(code)s\nBring this code or your CPF. We keep it for %(days)s days.\n\n"
            "Follow your order: %(link)s\n"
        ) % {
            "name": _first_name(order),
            "number": order.number,
            "store": location.name,
            "address": f"{location.street} {location.number}, {location.city}".strip(),
            "code": pickup.pickup_code,
            "days": pickup.pickup_hold_days,
            "link": tracking_url(order),
        }
    _send_on_commit(order, subject, body)


def notify_shipped(*, order: Order, fulfilment: Fulfilment) -> None:
    """E-mail the customer that a package of the order left, with its carrier, tracking code and the
    tracking page (after commit)."""
    if not order.customer.email:
        return
    with translation.override(customer_language(order)):
        subject = _("Your order %(number)s has shipped") % {"number": order.number}
        body = _(
            "Hello %(name)s,\n\nyour order %(number)s has shipped.\n"
            "Carrier: %(carrier)s\nTracking code: %(code)s\n\n"
            "Follow your order: %(link)s\n"
        ) % {
            "name": _first_name(order),
            "number": order.number,
            "carrier": carrier_service_name(fulfilment.carrier_service),
            "code": fulfilment.tracking_code,
            "link": tracking_url(order),
        }
    _send_on_commit(order, subject, body)
