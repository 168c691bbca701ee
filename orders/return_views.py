"""Return pages: customer service starts a return from the order page, the location the goods come back to
receives them (on a phone), customer service records the refund; a list of returns per user's scope.

Reads go through the scoped selectors (`return_list`, `return_get`, the order page's `_order`): outside the
scope, a 404.
Starting, refunding and cancelling need `orders.change_order`; receiving, `return_receivable_by`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from oms import once
from oms.csv_export import csv_response
from oms.exceptions import DomainError
from oms.pagination import first_page_query, keyset_page, next_page_query

from .models import REVERSIBLE_ENTRIES, EntryKind, Order, Return, ReturnEntry, ReturnStatus
from .return_forms import (
    ReturnCancelForm,
    ReturnCollectForm,
    ReturnExchangeSendForm,
    ReturnNewForm,
    ReturnReceiveForm,
    ReturnRefundForm,
    ReturnReverseForm,
    swap_suggestions,
)
from .selectors import return_get, return_list, return_receivable_by, returns_with_status
from .services.returns import (
    GOODS_IN,
    exchange_resend_refusal,
    received_value,
    return_cancel,
    return_collect,
    return_create,
    return_due,
    return_entry_reverse,
    return_exchange_send,
    return_locations,
    return_receive,
    return_refund,
    returnable_units,
    standing,
)
from .views import _order

RETURNS_PAGE_SIZE = 25
ACTS = "orders.change_order"
# the actions of a return's page and their forms (receiving's form also takes the return)
FORMS: dict[str, type[forms.Form]] = {
    "receive": ReturnReceiveForm,
    "refund": ReturnRefundForm,
    "collect": ReturnCollectForm,
    "send-exchange": ReturnExchangeSendForm,
    "cancel": ReturnCancelForm,
    "correct": ReturnReverseForm,
}


def _new_form(request: HttpRequest, order: Order, data: Any = None) -> ReturnNewForm:
    open_units = returnable_units(order)
    lines = [(line, open_units[line.pk]) for line in order.lines.all() if open_units.get(line.pk)]
    locations = return_locations(request.user)
    default = order.pickup_location if order.pickup_location_id else None
    if default is None:
        shipped = next((f for f in order.fulfilments.all() if f.shipped_at), None)
        default = shipped.location if shipped else None
    initial = {"location": default.code} if default else {}
    swaps = swap_suggestions([line for line, _most in lines])
    return ReturnNewForm(data, lines=lines, locations=locations, swaps=swaps, initial=initial)


@login_required
@permission_required(ACTS, raise_exception=True)
def return_new(request: HttpRequest, number: str) -> HttpResponse:
    """Start a return of an order's delivered units."""
    order = _order(request, number)
    form = _new_form(request, order, request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            is_first, led = once.first(request)
            if not is_first:  # sent twice: the first one authorised the return (or is doing it)
                return once.repeated(request, led, reverse("orders:detail", args=[order.number]))
            try:
                with once.claimed(request):
                    ret = return_create(
                        order=order,
                        lines=form.units(),
                        reason=form.cleaned_data["reason"],
                        location=form.cleaned_data["location"],
                        note=form.cleaned_data["note"],
                        exchange=form.exchange(),
                        exchange_when=form.exchange_timing(),
                        by=request.user,
                    )
            except DomainError as exc:  # beside the field it is about, what was typed kept
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Return %(n)s authorised.") % {"n": ret.number})
                url = reverse("returns:detail", args=[ret.number])
                once.done(request, url)
                return HttpResponseRedirect(url)
        status = 400
    return render(request, "orders/return_new.html", {"order": order, "form": form}, status=status)


@login_required
@permission_required("orders.view_order", raise_exception=True)
def return_list_view(request: HttpRequest) -> HttpResponse:
    """Returns in the user's scope, newest first; `?status=` narrows them (staff: awaiting the goods)."""
    returns = (
        return_list(user=request.user).select_related("exchange_order").annotate(units=Sum("lines__qty"))
    )
    status = request.GET.get("status", "")
    if status in ReturnStatus.values:
        returns = returns_with_status(returns, status)
    page = keyset_page(
        returns, ordering=["-created_at", "-id"], cursor=request.GET.get("after", ""), size=RETURNS_PAGE_SIZE
    )
    context = {
        "page": page,
        "status": status,
        "statuses": ReturnStatus.choices,
        "next_query": next_page_query(request, page.next_cursor),
        "first_query": first_page_query(request),
    }
    return render(request, "orders/returns.html", context)


MONEY_PERIODS = (7, 30, 90, 365)  # days of money entries a download covers (`?days=`), 30 unless said
MONEY_COLUMNS = [
    "at", "entry", "return", "order", "channel", "kind", "amount", "reference", "other_return", "corrects",
    "note", "by",
]  # fmt: skip


@login_required
@permission_required("orders.view_order", raise_exception=True)
@require_GET
def return_money_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Every money entry of the returns the user sees, of the last `?days=` days (7, 30, 90 or 365), oldest
    first, as CSV: what finance reconciles with the payment system (refunds, payments, deductions, waivers,
    offsets and the corrections of any of them, each with its reference). Streamed: one query, any size."""
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        days = 0
    if days not in MONEY_PERIODS:
        return HttpResponseBadRequest(
            f"days: one of {', '.join(map(str, MONEY_PERIODS))}.", content_type="text/plain"
        )
    since = timezone.now() - dt.timedelta(days=days)
    entries = (
        ReturnEntry.objects.filter(ret__in=return_list(user=request.user).values("pk"), created_at__gte=since)
        .select_related("ret__order__channel", "other", "created_by")
        .order_by("created_at", "id")
    )

    def rows() -> Iterator[list[Any]]:
        for e in entries.iterator(chunk_size=2000):
            order = e.ret.order
            at = timezone.localtime(e.created_at).isoformat(timespec="seconds")
            yield [
                at, e.pk, e.ret.number, order.number, order.channel.code, e.kind, e.amount, e.reference,
                e.other.number if e.other else "", e.reverses_id or "", e.note,
                e.created_by.get_username() if e.created_by else "",
            ]  # fmt: skip

    return csv_response(
        MONEY_COLUMNS, rows(), filename=f"return-money-{timezone.localdate().isoformat()}-{days}d.csv"
    )


def _return(request: HttpRequest, number: str) -> Return:
    try:
        return return_get(user=request.user, number=number)
    except Return.DoesNotExist:
        raise Http404(_("No such return.")) from None


def _detail(
    request: HttpRequest, ret: Return, bound: dict[str, forms.Form], status: int = 200
) -> HttpResponse:
    acts = request.user.has_perm(ACTS)
    lines = list(ret.lines.all())
    entries = list(ret.entries.all())
    due = return_due(ret, lines, entries)
    to_refund, owes = max(due, Decimal("0.00")), max(-due, Decimal("0.00"))
    goods_in = ret.status in GOODS_IN
    allowed = {
        "receive": ret.status == ReturnStatus.REQUESTED and return_receivable_by(user=request.user, ret=ret),
        # a cancelled return is owed money only where the customer paid for an exchange cancelled since
        "refund": (goods_in or ret.status == ReturnStatus.CANCELLED) and acts and due > 0,
        "collect": ret.status != ReturnStatus.REQUESTED and acts and due < 0,
        "cancel": ret.status == ReturnStatus.REQUESTED and acts,
        "correct": acts,
        # the exchange order could not be created at receipt: sent again from here
        "send_exchange": acts
        and bool(ret.exchange_lines)
        and exchange_resend_refusal(ret, lines, entries) is None,
    }
    exchange_value = sum((Decimal(row["price"]) * row["qty"] for row in ret.exchange_lines), Decimal("0.00"))
    context = {
        "ret": ret,
        "lines": lines,
        "entries": entries,
        # entries a correction reversed, and those a person may still correct
        "corrected": {e.reverses_id for e in entries if e.kind == EntryKind.REVERSAL},
        "correctable": {e.pk for e in standing(entries) if e.kind in REVERSIBLE_ENTRIES},
        "reverse_form": bound.get("correct"),
        "units_value": received_value(lines),
        "due": to_refund,
        "owes": owes,
        # what is due shows once the goods are in, or for a cancelled return whose exchange went ahead
        "settled": goods_in
        or (ret.status == ReturnStatus.CANCELLED and (ret.exchange_counts or bool(entries))),
        "planned_exchange_value": exchange_value,
        "shipping_price": ret.order.shipping_price,
        "allowed": allowed,
        "receive_form": bound.get("receive") or ReturnReceiveForm(ret=ret),
        "refund_form": bound.get("refund") or ReturnRefundForm(initial={"amount": to_refund}),
        "collect_form": bound.get("collect") or ReturnCollectForm(initial={"amount": owes}),
        "cancel_form": bound.get("cancel") or ReturnCancelForm(),
    }
    return render(request, "orders/return_detail.html", context, status=status)


@login_required
@permission_required("orders.view_order", raise_exception=True)
def return_detail(request: HttpRequest, number: str) -> HttpResponse:
    """One return: its lines, where it stands, and what the user may do with it."""
    return _detail(request, _return(request, number), {})


def _perform(request: HttpRequest, ret: Return, form: forms.Form) -> None:
    """The service call behind one of a return page's forms (`return_action`), and what it says on success."""
    if isinstance(form, ReturnReceiveForm):
        return_receive(ret=ret, received=form.received(), by=request.user)
        messages.success(request, _("Return received."))
    elif isinstance(form, ReturnRefundForm):
        return_refund(
            ret=ret,
            amount=form.cleaned_data["amount"],
            reference=form.cleaned_data["reference"],
            keep_rest=form.cleaned_data["keep_rest"],
            retry=False,  # a person: told when the reference is on the return already
            by=request.user,
        )
        messages.success(request, _("Refund recorded."))
    elif isinstance(form, ReturnCollectForm):
        return_collect(
            ret=ret,
            amount=form.cleaned_data["amount"],
            reference=form.cleaned_data["reference"],
            waive_rest=form.cleaned_data["waive_rest"],
            retry=False,
            by=request.user,
        )
        messages.success(request, _("Customer's payment recorded."))
    elif isinstance(form, ReturnReverseForm):
        return_entry_reverse(
            ret=ret, entry=form.cleaned_data["entry"], reason=form.cleaned_data["reason"], by=request.user
        )
        messages.success(request, _("Entry corrected."))
    elif isinstance(form, ReturnExchangeSendForm):
        return_exchange_send(ret=ret, by=request.user)
        messages.success(request, _("Exchange order created."))
    else:
        return_cancel(ret=ret, reason=form.cleaned_data["reason"], by=request.user)
        messages.success(request, _("Return cancelled."))


@login_required
@require_POST
def return_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Receive, refund, record the customer's payment, send the exchange again or cancel a return; a bad
    form, or a refusal about one of its fields, comes back with the error beside the field; another refusal
    (the return has moved on) as a message."""
    if action not in FORMS:
        raise Http404(_("No such action."))
    ret = _return(request, number)
    if action == "receive" and not return_receivable_by(user=request.user, ret=ret):
        raise PermissionDenied
    if action != "receive" and not request.user.has_perm(ACTS):
        raise PermissionDenied
    form: forms.Form = (
        ReturnReceiveForm(request.POST, ret=ret) if action == "receive" else FORMS[action](request.POST)
    )
    if not form.is_valid():
        messages.error(request, _("Please correct the form below."))
        return _detail(request, ret, {action: form}, status=400)
    here = reverse("returns:detail", args=[ret.number])
    is_first, led = once.first(request)
    if not is_first:  # sent twice (a double click, a retry): recorded once
        return once.repeated(request, led, here)
    try:
        with once.claimed(request):
            _perform(request, ret, form)
    except DomainError as exc:  # nothing recorded (the token is free again)
        if exc.field in form.fields:  # e.g. an amount over what is due: beside it, what was typed kept
            form.add_error(exc.field, exc.message)
            return _detail(request, ret, {action: form}, status=400)
        messages.error(request, exc.message)
    else:
        once.done(request, here)
    return HttpResponseRedirect(here)
