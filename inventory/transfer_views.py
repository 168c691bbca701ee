"""Stock transfer pages: the transfers from and to my locations, one transfer with its actions (dispatch at
the source, receive at the destination, cancel before it leaves), and a transfer made by hand. Mobile first.

Everything is scoped by `inventory.selectors.transfer_list`: a transfer between two locations that are not
the user's is a 404. Every action goes through `inventory.services.transfers`; a refused one becomes a
message on the page, never a 500.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from oms import once
from oms.exceptions import DomainError
from oms.pagination import first_page_query, keyset_page, next_page_query
from oms.parsers import whole_number

from .forms import TransferForm
from .models import StockMovement, StockTransfer, TransferStatus
from .selectors import location_ids, location_list, transfer_list, transfer_sides
from .services.transfers import transfer_cancel, transfer_create, transfer_dispatch, transfer_receive

PAGE_SIZE = 50
CHANGE = "inventory.change_stocktransfer"
# the list's status filter: the work still to do (the default), one status, or everything
STATUS_FILTERS = ["todo", *TransferStatus.values, "all"]
DIRECTIONS = ["", "out", "in"]


@login_required
@permission_required("inventory.view_stocktransfer", raise_exception=True)
def transfer_index(request: HttpRequest) -> HttpResponse:
    """Transfers from and to my locations, newest first: by default those still to dispatch or receive."""
    locations = location_list(user=request.user).order_by("code").only("code", "name")
    code = request.GET.get("location", "")
    location = get_object_or_404(locations, code=code) if code else None
    status = request.GET.get("status", "todo")
    status = status if status in STATUS_FILTERS else "todo"
    direction = request.GET.get("direction", "")
    direction = direction if direction in DIRECTIONS else ""
    rows = transfer_list(user=request.user, location=location)
    if status == "todo":
        rows = rows.filter(status__in=[TransferStatus.OPEN, TransferStatus.DISPATCHED])
    elif status != "all":
        rows = rows.filter(status=status)
    mine = location_ids(user=request.user)
    if direction:
        places = [location.pk] if location else mine
        rows = rows.filter(**{"source__in" if direction == "out" else "destination__in": places})
    page = keyset_page(rows, ordering=["-pk"], cursor=request.GET.get("after", ""), size=PAGE_SIZE)
    for t in page.items:
        t.to_dispatch = t.status == TransferStatus.OPEN and t.source_id in mine
        t.to_receive = t.status == TransferStatus.DISPATCHED and t.destination_id in mine
    context = {
        "page": page,
        "next_query": next_page_query(request, page.next_cursor),
        "first_query": first_page_query(request),
        "locations": locations,
        "location": location,
        "status": status,
        "statuses": TransferStatus.choices,
        "direction": direction,
        "can_create": request.user.has_perm("inventory.add_stocktransfer"),
    }
    return render(request, "inventory/transfers.html", context)


@login_required
@permission_required("inventory.view_stocktransfer", raise_exception=True)
def transfer_summary(request: HttpRequest) -> HttpResponse:
    """The home page's card (an HTMX fragment): transfers my locations have to dispatch and to receive."""
    mine = location_ids(user=request.user)
    counts = StockTransfer.objects.aggregate(
        to_dispatch=Count("pk", filter=Q(status=TransferStatus.OPEN, source__in=mine)),
        to_receive=Count("pk", filter=Q(status=TransferStatus.DISPATCHED, destination__in=mine)),
    )
    return render(request, "inventory/_transfer_summary.html", counts)


def _transfer(request: HttpRequest, pk: int) -> StockTransfer:
    transfer: StockTransfer = get_object_or_404(transfer_list(user=request.user), pk=pk)
    return transfer


def _can(request: HttpRequest, t: StockTransfer) -> dict[str, bool]:
    """What the user may do to this transfer now: their side's step (`transfer_sides`), in its status."""
    if not request.user.has_perm(CHANGE):
        return {"dispatch": False, "receive": False, "cancel": False}
    sides = transfer_sides(user=request.user, transfer=t)
    return {
        "dispatch": sides["dispatch"] and t.status == TransferStatus.OPEN,
        "receive": sides["receive"] and t.status == TransferStatus.DISPATCHED,
        "cancel": sides["cancel"] and t.status == TransferStatus.OPEN,
    }


@login_required
@permission_required("inventory.view_stocktransfer", raise_exception=True)
def transfer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    t = _transfer(request, pk)
    context = {
        "t": t,
        "lines": t.lines.select_related("product").order_by("product__sku"),
        "can": _can(request, t),
        "ledger": StockMovement.objects.filter(ref=t.number)
        .select_related("stock__location", "stock__product", "actor")
        .order_by("at", "id"),
    }
    return render(request, "inventory/transfer_detail.html", context)


def _counts(request: HttpRequest, t: StockTransfer, prefix: str) -> dict[int, int]:
    """Units per line from the form's `<prefix>-<line pk>` fields; a field that is not a whole number is
    refused naming its product."""
    counts = {}
    for line in t.lines.select_related("product"):
        raw = request.POST.get(f"{prefix}-{line.pk}", "").strip()
        if raw == "":
            continue
        qty = whole_number(raw)
        if qty is None:
            message = _("%(sku)s: enter a whole number of units.") % {"sku": line.product.sku}
            raise DomainError(message, field="qty")
        counts[line.pk] = qty
    return counts


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def transfer_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    t = _transfer(request, pk)
    if action not in ("dispatch", "receive", "cancel"):
        raise Http404("No such action.")
    if not _can(request, t)[action]:
        messages.error(request, _("You cannot do that to this transfer now."))
        return redirect("inventory:transfer", pk=t.pk)
    text = request.POST.get("text", "")
    try:
        if action == "dispatch":
            transfer_dispatch(transfer=t, by=request.user, sent=_counts(request, t, "sent"), tracking=text)
            messages.success(request, _("Transfer %(n)s dispatched.") % {"n": t.number})
        elif action == "receive":
            transfer_receive(transfer=t, by=request.user, received=_counts(request, t, "received"), note=text)
            messages.success(request, _("Transfer %(n)s received.") % {"n": t.number})
        else:
            transfer_cancel(transfer=t, by=request.user, reason=text)
            messages.success(request, _("Transfer %(n)s cancelled.") % {"n": t.number})
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("inventory:transfer", pk=t.pk)


@login_required
@permission_required("inventory.add_stocktransfer", raise_exception=True)
def transfer_new(request: HttpRequest) -> HttpResponse:
    """A transfer by hand, from one of my locations: its units are reserved at once."""
    sources = location_list(user=request.user).filter(active=True)
    form = TransferForm(request.POST or None, sources=sources, initial={"source": request.GET.get("from")})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data: dict[str, Any] = form.cleaned_data
            is_first, led = once.first(request)
            if not is_first:  # sent twice: one transfer
                return once.repeated(request, led, reverse("inventory:transfers"))
            try:
                with once.claimed(request):
                    t = transfer_create(
                        source=data["source"],
                        destination=data["destination"],
                        lines=data["lines"],
                        by=request.user,
                        note=data["note"],
                    )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(
                    request, _("Transfer %(n)s opened: its units are reserved.") % {"n": t.number}
                )
                url = reverse("inventory:transfer", args=[t.pk])
                once.done(request, url)
                return HttpResponseRedirect(url)
        status = 400
    return render(request, "inventory/transfer_new.html", {"form": form}, status=status)
