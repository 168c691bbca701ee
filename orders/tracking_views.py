"""The customer's public view of an order, reached by the unguessable token of its tracking link.

No login. It shows what the customer needs and nothing personal beyond their first name: status, promised
date, packages with carrier and tracking code, and the pickup store (with the pickup code once ready).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .carriers import name_carrier_services
from .models import FulfilmentKind, FulfilmentStatus, OrderTrackingLink, Package


@never_cache
@require_GET
def order_tracking(request: HttpRequest, token: str) -> HttpResponse:
    link = (
        OrderTrackingLink.objects.select_related("order__customer", "order__pickup_location")
        .filter(token=token)
        .first()
        if 16 <= len(token) <= 64
        else None
    )
    if link is None:
        raise Http404("No such tracking link.")
    order = link.order
    packages = list(
        Package.objects.filter(fulfilment__order=order)
        .exclude(fulfilment__status=FulfilmentStatus.CANCELLED)
        .select_related("fulfilment")
        .order_by("pk")
    )
    name_carrier_services(package.fulfilment for package in packages)
    pickup = (
        order.fulfilments.filter(kind=FulfilmentKind.PICKUP)
        .exclude(status=FulfilmentStatus.CANCELLED)
        .order_by("-pk")
        .first()
        if order.is_pickup
        else None
    )
    context = {
        "order": order,
        "first_name": (order.customer.name.split() or [""])[0],
        "packages": packages,
        "pickup": pickup,
        "pickup_ready": pickup is not None and pickup.status == FulfilmentStatus.READY_FOR_PICKUP,
        "store": order.pickup_location,
    }
    response = render(request, "tracking/order.html", context)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
