"""Reads of routing data. Scoping follows the order: callers pass an order from orders.selectors.order_get."""

from __future__ import annotations

from django.db.models import QuerySet

from orders.models import Order

from .models import RoutingDecision


def decision_list(*, order: Order) -> QuerySet[RoutingDecision]:
    """The routing decisions of an order the caller may see, newest first, with their policy."""
    return RoutingDecision.objects.filter(order=order).select_related("policy").order_by("-created_at", "-id")
