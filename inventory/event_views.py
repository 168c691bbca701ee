"""Demand event pages for managers and admins: the events ahead and past, one made or changed, one removed.

Scoped by `inventory.selectors.event_list`: an event that names only other locations is a 404. An event for
every location is seen by every planner (it changes their forecast too) but changed only by those who plan
every location; a scoped manager's events name their own locations. Every change goes through
`inventory.services.events`, which refuses bad input by field, writing nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oms.exceptions import DomainError
from oms.roles import is_manager_or_admin

from .forms import DemandEventForm
from .models import DemandEvent
from .selectors import event_editable, event_list, location_ids, location_list, user_sees_all_locations
from .services.events import demand_event_delete, demand_event_save

PAST_SHOWN = 30  # the latest events that have ended


def _planner(request: HttpRequest) -> None:
    if not is_manager_or_admin(request.user):
        raise PermissionDenied(_("Only managers and admins plan stock."))


@login_required
def event_index(request: HttpRequest) -> HttpResponse:
    """The events that have not ended, soonest first, then the latest that have."""
    _planner(request)
    today = timezone.localdate()
    events = event_list(user=request.user).annotate(
        location_count=Count("locations", distinct=True), product_count=Count("products", distinct=True)
    )
    ahead = list(events.filter(ends_on__gte=today))
    past = list(events.filter(ends_on__lt=today).order_by("-ends_on", "-pk")[:PAST_SHOWN])
    editable = _editable(request, ahead + past)
    context = {
        "ahead": [(e, e.pk in editable) for e in ahead],
        "past": [(e, e.pk in editable) for e in past],
        "today": today,
    }
    return render(request, "inventory/events.html", context)


def _editable(request: HttpRequest, events: list[DemandEvent]) -> set[int]:
    """The ids of the events the user may change, in one query (`event_editable` for a whole page)."""
    if user_sees_all_locations(request.user):
        return {e.pk for e in events}
    mine = location_ids(user=request.user)
    named: dict[int, set[int]] = {}
    for event_id, location_id in DemandEvent.locations.through.objects.filter(
        demandevent_id__in=[e.pk for e in events]
    ).values_list("demandevent_id", "location_id"):
        named.setdefault(event_id, set()).add(location_id)
    return {pk for pk, places in named.items() if places <= mine}


@login_required
def event_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new event (no `pk`) or a change of one the user may change (else 404 outside their scope, 403
    within it)."""
    _planner(request)
    event = None
    if pk is not None:
        event = get_object_or_404(event_list(user=request.user), pk=pk)
        if not event_editable(user=request.user, event=event):
            raise PermissionDenied(_("This event also covers locations that are not yours."))
    sees_all = user_sees_all_locations(request.user)
    mine = location_list(user=request.user)
    if request.method == "POST":
        form = DemandEventForm(request.POST, locations=mine, sees_all=sees_all)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = demand_event_save(
                    event=event,
                    name=data["name"],
                    starts_on=data["starts_on"],
                    ends_on=data["ends_on"],
                    factor=data["factor"],
                    locations=data["locations"],
                    products=data["products"],
                    note=data["note"],
                    allowed=None if sees_all else location_ids(user=request.user),
                    by=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Event “%(name)s” saved.") % {"name": saved.name})
                return HttpResponseRedirect(reverse("inventory:events"))
    else:
        form = DemandEventForm(initial=_initial(event, sees_all), locations=mine, sees_all=sees_all)
    return render(request, "inventory/event_form.html", {"form": form, "event": event})


def _initial(event: DemandEvent | None, sees_all: bool) -> dict[str, Any]:
    if event is None:
        start = timezone.localdate() + dt.timedelta(days=1)
        return {"starts_on": start, "ends_on": start, "factor": "2.00", "everywhere": sees_all}
    codes = list(event.locations.values_list("code", flat=True))
    return {
        "name": event.name,
        "starts_on": event.starts_on,
        "ends_on": event.ends_on,
        "factor": event.factor,
        "everywhere": not codes,
        "locations": codes,
        "products": "\n".join(event.products.order_by("sku").values_list("sku", flat=True)),
        "note": event.note,
    }


@login_required
@require_POST
def event_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove an event the user may change, once confirmed (else back to it, with a message)."""
    _planner(request)
    event = get_object_or_404(event_list(user=request.user), pk=pk)
    if not event_editable(user=request.user, event=event):
        raise PermissionDenied(_("This event also covers locations that are not yours."))
    if not request.POST.get("confirm"):
        messages.error(request, _("Tick the box to confirm the removal."))
        return HttpResponseRedirect(reverse("inventory:event", args=[event.pk]))
    demand_event_delete(event=event, by=request.user)
    messages.success(request, _("Event “%(name)s” removed.") % {"name": event.name})
    return HttpResponseRedirect(reverse("inventory:events"))
