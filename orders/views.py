"""Customer-service pages: find an order (one search box, filters, HTMX), read it whole, act on it.

Reads go through the scoped selectors (`order_list`, `order_get`): an order outside the user's scope is a
404. Actions are small POST forms, each calling one service; a refused one (a domain exception) becomes a
message on the page, never a 500. Acting needs the `orders.change_order` permission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum, prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from inventory.models import Reservation
from inventory.selectors import location_list
from oms.exceptions import DomainError
from oms.pagination import first_page_query, keyset_page, next_page_query, wants_partial

from .carriers import name_carrier_services
from .forms import AddressForm, CancelForm, HoldForm, NoteForm, OrderFilterForm, ReleaseForm
from .models import Channel, DeliveryMode, Order, OrderStatus
from .selectors import order_get, order_list
from .services import order_add_note, order_cancel, order_change_address, order_hold, order_release_hold
from .services.returns import returnable_units
from .status import ADDRESS_CHANGEABLE, CANCELLABLE, HOLDABLE

ORDER_PAGE_SIZE = 25


@login_required
@permission_required("orders.view_order", raise_exception=True)
def order_list_view(request: HttpRequest) -> HttpResponse:
    """Search and filter the orders the user may see; HTMX requests get only the results."""
    # Every channel is offered as a filter (channels are catalogue data every role may view); the orders
    # themselves are scoped by order_list, so a manager tied to a region still filters by any channel.
    form = OrderFilterForm(
        request.GET, channels=Channel.objects.all(), locations=location_list(user=request.user)
    )
    filters = form.filters()
    page = keyset_page(
        order_list(user=request.user, filters=filters),
        ordering=["-placed_at", "-id"],
        cursor=request.GET.get("after", ""),
        size=ORDER_PAGE_SIZE,
    )
    partial = wants_partial(request)
    if filters.q and not partial and page.first and len(page.items) == 1:
        # An agent who types (or pastes) an order number and presses Enter lands on the order.
        only = page.items[0]
        if only.number == filters.q:
            return HttpResponseRedirect(reverse("orders:detail", args=[only.number]))
    context = {
        "form": form,
        "page": page,
        "filters": filters,
        "next_query": next_page_query(request, page.next_cursor),
        "first_query": first_page_query(request),
    }
    response = render(request, "orders/_results.html" if partial else "orders/list.html", context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _order(request: HttpRequest, number: str) -> Order:
    """The order if the user may see it; 404 otherwise (never tell what exists outside the scope)."""
    try:
        return order_get(user=request.user, number=number)
    except Order.DoesNotExist:
        raise Http404(_("No such order.")) from None


def _can_act(request: HttpRequest) -> bool:
    return request.user.has_perm("orders.change_order")


def _detail_context(request: HttpRequest, order: Order, bound: dict[str, forms.Form]) -> dict[str, Any]:
    lines = list(order.lines.all())
    prefetch_related_objects(lines, "product")  # one query for the product names, not one per line
    by_line = {line.pk: line for line in lines}
    order_fulfilments = list(order.fulfilments.all())
    name_carrier_services(order_fulfilments)  # one query for their carrier services' names
    fulfilments = [
        {
            "fulfilment": fulfilment,
            "lines": [(by_line.get(fl.order_line_id), fl) for fl in fulfilment.lines.all()],
        }
        for fulfilment in order_fulfilments
    ]
    reservations = (
        Reservation.objects.filter(group=order.number or "", qty__gt=0)
        .select_related("stock__location", "stock__product")
        .order_by("stock__location__code", "stock__product__sku", "ref")
    )
    can_act = _can_act(request)
    allowed = {
        "cancel": order.status in CANCELLABLE,
        "hold": order.status in HOLDABLE,
        "release": order.status == OrderStatus.ON_HOLD,
        "note": True,
        "address": order.delivery_mode == DeliveryMode.HOME and order.status in ADDRESS_CHANGEABLE,
    }
    forms_by_action: dict[str, forms.Form] = {
        "cancel": CancelForm(),
        "hold": HoldForm(),
        "note": NoteForm(),
        "address": AddressForm.for_order(order),
        **bound,
    }
    return {
        "order": order,
        "lines": lines,
        "fulfilments": fulfilments,
        "returns": list(
            order.returns.select_related("exchange_order", "location")
            .annotate(units=Sum("lines__qty"))
            .order_by("created_at", "id")
        ),
        "can_return": can_act and order.status != OrderStatus.CANCELLED and bool(returnable_units(order)),
        "reservations": reservations,
        "events": list(order.events.all()),
        "can_act": can_act,
        "allowed": allowed if can_act else dict.fromkeys(allowed, False),
        "open_action": next(iter(bound), ""),
        **{f"{name}_form": form for name, form in forms_by_action.items()},
    }


@login_required
@permission_required("orders.view_order", raise_exception=True)
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    """Everything about one order: header, lines, reservations, fulfilments, timeline, and the actions."""
    order = _order(request, number)
    return render(request, "orders/detail.html", _detail_context(request, order, {}))


def _change_address(order: Order, form: forms.Form, by: Any) -> object:
    assert isinstance(form, AddressForm)
    return order_change_address(order=order, address=form.address(order), by=by)


# Each action: its form, the service call with the form's data, and the message on success.
_Action = tuple[type[forms.Form], Callable[[Order, forms.Form, Any], object], Any]
ACTIONS: dict[str, _Action] = {
    "cancel": (
        CancelForm,
        lambda order, form, by: order_cancel(order=order, by=by, reason=form.cleaned_data["reason"]),
        gettext_lazy("Order cancelled."),
    ),
    "hold": (
        HoldForm,
        lambda order, form, by: order_hold(order=order, by=by, reason=form.cleaned_data["reason"]),
        gettext_lazy("Order put on hold."),
    ),
    "release": (
        ReleaseForm,
        lambda order, form, by: order_release_hold(order=order, by=by),
        gettext_lazy("Hold released."),
    ),
    "note": (
        NoteForm,
        lambda order, form, by: order_add_note(order=order, text=form.cleaned_data["text"], by=by),
        gettext_lazy("Note added."),
    ),
    "address": (
        AddressForm,
        _change_address,
        gettext_lazy("Delivery address changed; the order is routed again."),
    ),
}


@login_required
@require_POST
def order_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Run one action on an order and come back to it; a bad form re-renders the page with its errors."""
    if action not in ACTIONS:
        raise Http404(_("No such action."))
    order = _order(request, number)
    if not _can_act(request):
        raise PermissionDenied
    form_class, run, done = ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please correct the form below."))
        context = _detail_context(request, order, {action: form})
        return render(request, "orders/detail.html", context, status=400)
    try:
        run(order, form, request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(reverse("orders:detail", args=[order.number]))
