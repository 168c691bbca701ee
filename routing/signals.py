"""Cache invalidation only: a change to a location, service, rate card, transfer terms or policy makes every
process rebuild the static part of its routing network (see services.snapshot)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from inventory.models import Location

from .models import Carrier, CarrierService, RateCard, RoutingPolicy, TransferTerms

WATCHED = (Location, Carrier, CarrierService, RateCard, RoutingPolicy, TransferTerms)


def _changed(sender: Any, **kwargs: Any) -> None:
    from .services.snapshot import network_changed

    if kwargs.get("raw"):
        return
    network_changed()


for _model in WATCHED:
    post_save.connect(_changed, sender=_model, dispatch_uid=f"routing-net-save-{_model.__name__}")
    post_delete.connect(_changed, sender=_model, dispatch_uid=f"routing-net-delete-{_model.__name__}")


@receiver(m2m_changed, sender=RoutingPolicy.paused_locations.through, dispatch_uid="routing-net-paused")
def _paused_changed(sender: Any, **kwargs: Any) -> None:
    _changed(sender, **kwargs)
