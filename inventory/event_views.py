"""Demand event pages for managers and admins: the events ahead and past, one made or changed, one removed.

Scoped by `inventory.selectors.event_list`: an event that names only other locations is a 404. An event for
every location is seen by every planner (it changes their forecast too) but changed only by admins, who plan
every location; a manager's events name their own locations. Every change goes through
`inventory.services.events`, which checks that again under lock and refuses bad input by field, writing
nothing. The pages need the demand event permissions of the roles (`oms.roles`), as the API does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Func, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oms import once
from oms.exceptions import DomainError

from .forms import DemandEventForm
from .models import DemandEvent, DemandEventLocation, DemandEventProduct, Location
from .selectors import event_list, events_editable, own_locations, planned_location_ids
from .services.events import EventNotYours, demand_event_delete, demand_event_save

PAST_SHOWN = 30  # the latest events that have ended


@login_required
@permission_required("inventory.view_demandevent", raise_exception=True)
def event_index(request: HttpRequest) -> HttpResponse:
    """The events that have not ended, soonest first, then the latest that have."""
    today = timezone.localdate()

    def count(through: Any) -> Any:  # a subquery each: a join of both would multiply their rows
        rows = through.objects.filter(demandevent=OuterRef("pk")).order_by().values("demandevent")
        return Subquery(rows.annotate(n=Func("pk", function="COUNT")).values("n"))

    events = event_list(user=request.user).annotate(
        location_count=Coalesce(count(DemandEventLocation), 0),
        product_count=Coalesce(count(DemandEventProduct), 0),
    )
    ahead = list(events.filter(ends_on__gte=today))
    past = list(events.filter(ends_on__lt=today).order_by("-ends_on", "-pk")[:PAST_SHOWN])
    editable = events_editable(user=request.user, events=ahead + past)
    context = {
        "ahead": [(e, e.pk in editable) for e in ahead],
        "past": [(e, e.pk in editable) for e in past],
        "today": today,
    }
    return render(request, "inventory/events.html", context)


def _editable(request: HttpRequest, pk: int) -> DemandEvent:
    """The event if the user may change it: 404 outside their scope, 403 when seen but not theirs."""
    event = get_object_or_404(event_list(user=request.user), pk=pk)
    if not events_editable(user=request.user, events=[event]):
        raise PermissionDenied(_("This event also covers locations that are not yours."))
    return event


@login_required
def event_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """A new event (no `pk`) or a change of one the user may change."""
    needed = "inventory.add_demandevent" if pk is None else "inventory.change_demandevent"
    if not request.user.has_perm(needed):
        raise PermissionDenied
    event = _editable(request, pk) if pk is not None else None
    allowed = planned_location_ids(user=request.user)
    mine = Location.objects.all() if allowed is None else own_locations(user=request.user)
    if request.method == "POST":
        form = DemandEventForm(request.POST, locations=mine, plans_all=allowed is None)
        if form.is_valid():
            data = form.cleaned_data
            is_first, led = once.first(request)
            if not is_first:  # sent twice: one event
                return once.repeated(request, led, reverse("inventory:events"))
            try:
                with once.claimed(request):
                    saved = demand_event_save(
                        event=event,
                        name=data["name"],
                        starts_on=data["starts_on"],
                        ends_on=data["ends_on"],
                        factor=data["factor"],
                        locations=data["locations"],
                        products=data["products"],
                        note=data["note"],
                        allowed=allowed,
                        by=request.user,
                    )
            except EventNotYours as exc:
                raise PermissionDenied(exc.message) from None
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Event “%(name)s” saved.") % {"name": saved.name})
                once.done(request, reverse("inventory:events"))
                return HttpResponseRedirect(reverse("inventory:events"))
    else:
        form = DemandEventForm(
            initial=_initial(event, allowed is None), locations=mine, plans_all=allowed is None
        )
    return render(request, "inventory/event_form.html", {"form": form, "event": event})


def _initial(event: DemandEvent | None, plans_all: bool) -> dict[str, Any]:
    if event is None:
        start = timezone.localdate() + dt.timedelta(days=1)
        return {"starts_on": start, "ends_on": start, "factor": "2.00", "everywhere": plans_all}
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
@permission_required("inventory.delete_demandevent", raise_exception=True)
@require_POST
def event_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove an event the user may change, once confirmed (else back to it, with a message)."""
    event = _editable(request, pk)
    if not request.POST.get("confirm"):
        messages.error(request, _("Tick the box to confirm the removal."))
        return HttpResponseRedirect(reverse("inventory:event", args=[event.pk]))
    try:
        demand_event_delete(event=event, allowed=planned_location_ids(user=request.user), by=request.user)
    except EventNotYours as exc:
        raise PermissionDenied(exc.message) from None
    except DomainError as exc:  # gone meanwhile
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Event “%(name)s” removed.") % {"name": event.name})
    return HttpResponseRedirect(reverse("inventory:events"))
