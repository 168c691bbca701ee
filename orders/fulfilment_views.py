"""Store and warehouse pages: the location's queue, the batch pick list, one fulfilment and its actions,
the printable packing slip / label. Mobile first (360 px, one thumb), HTMX for the actions.

Staff see only their own locations (`inventory.selectors.location_list`); a fulfilment elsewhere is a 404.
A store also sees the transfers dispatched *to* it (to confirm receipt). Every action goes through one
service of `orders.services.fulfilment`; a refused one becomes a message on the page, never a 500.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Case, Count, F, OuterRef, Prefetch, Q, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from inventory.models import Location
from inventory.selectors import location_ids, location_list
from oms.exceptions import DomainError
from oms.parsers import whole_number

from . import selectors
from .carriers import fulfilment_ship_services, name_carrier_services
from .models import Fulfilment, FulfilmentKind, FulfilmentLine, FulfilmentStatus, Package
from .services import fulfilment as svc

FS = FulfilmentStatus
PAGE_SIZE = 50
WORKS = "orders.change_fulfilment"


def fulfilment_get(*, user: Any, pk: int) -> Fulfilment:
    try:
        return selectors.fulfilment_get(user=user, pk=pk)
    except Fulfilment.DoesNotExist:
        raise Http404("No such fulfilment here.") from None


def _user_locations(request: HttpRequest) -> tuple[list[Location], Location]:
    locations = list(location_list(user=request.user).order_by("code"))
    if not locations:
        raise Http404("You are not tied to any location.")
    code = request.GET.get("location", "")
    chosen = next((loc for loc in locations if loc.code == code), None) if code else locations[0]
    if chosen is None:
        raise Http404("No such location here.")
    return locations, chosen


# --- queue and pick list ------------------------------------------------------------------------------------

STATUS_FILTERS = ["open", *[s for s, _label in FS.choices], "all"]


@login_required
@permission_required(WORKS, raise_exception=True)
@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    """The location's work: due first (ship-by), filters by status and mode, counts per status."""
    locations, location = _user_locations(request)
    status = request.GET.get("status", "open")
    status = status if status in STATUS_FILTERS else "open"
    mode = request.GET.get("mode", "")
    mode = mode if mode in FulfilmentKind.values else ""
    here = Fulfilment.objects.filter(
        Q(location=location)
        | Q(kind=FulfilmentKind.TRANSFER, order__pickup_location=location, status=FS.DISPATCHED)
    )
    if mode:
        here = here.filter(kind=mode)
    counts = dict(here.values_list("status").annotate(n=Count("pk")).order_by())
    rows = here
    if status == "open":
        rows = rows.filter(status__in=svc.OPEN_STATUSES)
    elif status != "all":
        rows = rows.filter(status=status)
    # A pickup also counts the units its order's received transfers brought to the store (the hand-over's
    # lines): one supplied entirely by transfer has none of its own and is not "0/0".
    received = (
        FulfilmentLine.objects.filter(
            fulfilment__order=OuterRef("order"),
            fulfilment__kind=FulfilmentKind.TRANSFER,
            fulfilment__status=FS.RECEIVED,
        )
        .order_by()
        .values("fulfilment__order")
    )
    at_store = {
        name: Case(
            When(
                kind=FulfilmentKind.PICKUP, then=Coalesce(Subquery(received.annotate(n=total).values("n")), 0)
            ),
            default=Value(0),
        )
        for name, total in (("units", Sum(F("qty") - F("qty_short"))), ("picked", Sum("qty_picked")))
    }
    rows = (
        rows.select_related("order", "location")
        .annotate(
            units=Coalesce(Sum(F("lines__qty") - F("lines__qty_short")), 0) + at_store["units"],
            picked=Coalesce(Sum("lines__qty_picked"), 0) + at_store["picked"],
        )
        .order_by(F("ship_by").asc(nulls_last=True), "pk")
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "locations": locations,
        "location": location,
        "status": status,
        "mode": mode,
        "page": page,
        "counts": [(value, label, counts.get(value, 0)) for value, label in FS.choices],
        "open_count": sum(n for s, n in counts.items() if s in svc.OPEN_STATUSES),
        "modes": FulfilmentKind.choices,
        "statuses": FS.choices,
        "now": timezone.now(),
    }
    template = "fulfilment/_queue_rows.html" if request.htmx else "fulfilment/queue.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@permission_required(WORKS, raise_exception=True)
@require_GET
def picklist(request: HttpRequest) -> HttpResponse:
    """One walk for several fulfilments: what is left to pick, grouped by SKU, in shelf (SKU) order."""
    ids = [n for v in request.GET.getlist("f") if (n := whole_number(v)) is not None][:500]
    rows = (
        FulfilmentLine.objects.filter(
            fulfilment__in=selectors.fulfilment_list(user=request.user).filter(
                pk__in=ids, status__in=[FS.ASSIGNED, FS.PICKING]
            )
        )
        .values(
            "fulfilment_id",
            "fulfilment__order__number",
            "order_line__product__sku",
            "order_line__product__ean",
            "order_line__product__name",
        )
        .annotate(left=Sum(F("qty") - F("qty_short") - F("qty_picked")))
        .filter(left__gt=0)
        # No bin locations in the catalogue yet: SKUs are shelved in code order, so walk in that order.
        .order_by("order_line__product__sku", "fulfilment_id")
    )
    groups: OrderedDict[str, dict[str, Any]] = OrderedDict()
    for row in rows:
        sku = row["order_line__product__sku"]
        group = groups.setdefault(
            sku,
            {
                "sku": sku,
                "ean": row["order_line__product__ean"],
                "name": row["order_line__product__name"],
                "qty": 0,
                "orders": [],
            },
        )
        group["qty"] += row["left"]
        group["orders"].append((row["fulfilment__order__number"], row["fulfilment_id"], row["left"]))
    fulfilment_ids = sorted({fid for g in groups.values() for _n, fid, _q in g["orders"]})
    return render(
        request,
        "fulfilment/picklist.html",
        {
            "groups": list(groups.values()),
            "fulfilment_ids": fulfilment_ids,
            "units": sum(g["qty"] for g in groups.values()),
        },
    )


# --- one fulfilment -----------------------------------------------------------------------------------------


def _detail_context(request: HttpRequest, fulfilment: Fulfilment) -> dict[str, Any]:
    fulfilment = (
        Fulfilment.objects.select_related(
            "order__customer", "order__pickup_location", "location", "collected_by"
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=FulfilmentLine.objects.select_related("order_line__product").order_by(
                    "order_line__product__sku", "pk"
                ),
            ),
            Prefetch("packages", queryset=Package.objects.order_by("pk")),
        )
        .get(pk=fulfilment.pk)
    )
    if fulfilment.kind == FulfilmentKind.PICKUP:
        # What the customer collects: the store's own lines and those that came by a received transfer.
        lines = list(
            svc.handover_lines(fulfilment)
            .select_related("order_line__product", "fulfilment__location")
            .order_by("order_line__product__sku", "pk")
        )
    else:
        lines = list(fulfilment.lines.all())
    for line in lines:
        line.left = line.qty_left  # type: ignore[attr-defined]  # the template's name
        # Received by transfer from another location: shown as such, nothing left to pick for it here.
        line.via = (  # type: ignore[attr-defined]
            line.fulfilment.location.code if line.fulfilment_id != fulfilment.pk else ""
        )
    name_carrier_services([fulfilment])
    mine = location_ids(user=request.user)
    receiving = fulfilment.kind == FulfilmentKind.TRANSFER and fulfilment.order.pickup_location_id in mine
    kind, status = fulfilment.kind, fulfilment.status
    can = {
        "pick": status in {FS.ASSIGNED, FS.PICKING} and fulfilment.location_id in mine,
        "pack": svc.can_move_fulfilment(kind, status, FS.PACKED) and fulfilment.location_id in mine,
        "ship": svc.can_move_fulfilment(kind, status, FS.SHIPPED) and fulfilment.location_id in mine,
        "deliver": svc.can_move_fulfilment(kind, status, FS.DELIVERED) and fulfilment.location_id in mine,
        "hand_over": svc.can_move_fulfilment(kind, status, FS.COLLECTED) and fulfilment.location_id in mine,
        "dispatch": svc.can_move_fulfilment(kind, status, FS.DISPATCHED) and fulfilment.location_id in mine,
        "receive": svc.can_move_fulfilment(kind, status, FS.RECEIVED) and receiving,
    }
    return {
        "f": fulfilment,
        "order": fulfilment.order,
        "lines": lines,
        "packages": list(fulfilment.packages.all()),
        "can": can,
        "short_reasons": [
            (svc.ShortReason.NOT_FOUND, _("Not found")),
            (svc.ShortReason.DAMAGED, _("Damaged")),
            (svc.ShortReason.LESS_THAN_RESERVED, _("Fewer than reserved")),
        ],
        # (code, name) of what `fulfilment_ship` takes; routing's choice (`f.carrier_service`) preselected.
        "carrier_services": fulfilment_ship_services(fulfilment) if can["ship"] else [],
        # The packing slip lists what goes out: a line short-picked to nothing sends no unit.
        "slip_lines": [line for line in lines if line.qty_active > 0],
        "units": sum(line.qty_active for line in lines),
        "picked_units": sum(line.qty_picked for line in lines),
    }


@login_required
@permission_required(WORKS, raise_exception=True)
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    fulfilment = fulfilment_get(user=request.user, pk=pk)
    return render(request, "fulfilment/detail.html", _detail_context(request, fulfilment))


def _int(value: str | None, field: str) -> int:
    try:
        return int((value or "").strip())
    except ValueError:
        raise svc.InvalidPickQuantity(_("Type a whole number."), field=field) from None


def _do(request: HttpRequest, fulfilment: Fulfilment, action: str) -> str:
    """Run one action's service with the posted data; returns the success message."""
    data, user = request.POST, request.user
    if action == "start":
        svc.fulfilment_start_picking(fulfilment=fulfilment, by=user)
        return _("Picking started.")
    if action == "pick":
        result = svc.fulfilment_confirm_pick(
            fulfilment=fulfilment, code=data.get("code", ""), qty=_int(data.get("qty") or "1", "qty"), by=user
        )
        return _("Picked %(qty)s × %(sku)s.") % {"qty": result.qty, "sku": result.line.order_line.sku}
    if action == "short":
        svc.fulfilment_short_pick(
            fulfilment=fulfilment,
            line_id=_int(data.get("line"), "line"),
            missing=_int(data.get("missing"), "missing"),
            reason=data.get("reason", ""),
            by=user,
        )
        return _("Short pick recorded; the missing units were sent back to routing.")
    if action == "reject":
        svc.fulfilment_reject(fulfilment=fulfilment, reason=data.get("reason", ""), by=user)
        return _("Fulfilment rejected; its units were sent back to routing.")
    if action == "pack":
        weights = [_int(w, "weight") for w in data.getlist("weight") if w.strip()]
        svc.fulfilment_pack(fulfilment=fulfilment, weights_g=weights, by=user)
        return _("Packed.")
    if action == "ship":
        svc.fulfilment_ship(
            fulfilment=fulfilment,
            carrier_service=data.get("carrier_service", ""),
            tracking_code=data.get("tracking_code", ""),
            generate=bool(data.get("generate")),
            by=user,
        )
        return _("Shipped.")
    if action == "deliver":
        svc.fulfilment_mark_delivered(fulfilment=fulfilment, by=user)
        return _("Marked as delivered.")
    if action == "hand_over":
        svc.fulfilment_hand_over(fulfilment=fulfilment, code=data.get("code", ""), by=user)
        return _("Handed over to the customer.")
    if action == "dispatch":
        svc.fulfilment_dispatch(fulfilment=fulfilment, by=user)
        return _("Transfer dispatched.")
    if action == "receive":
        received = {
            line: _int(data.get(key), "received")
            for key in data
            if key.startswith("received_")
            and (line := whole_number(key.removeprefix("received_"))) is not None
        }
        svc.fulfilment_receive(fulfilment=fulfilment, received=received or None, by=user)
        return _("Transfer received.")
    raise Http404("No such action.")


ACTIONS = {"start", "pick", "short", "reject", "pack", "ship", "deliver", "hand_over", "dispatch", "receive"}


@login_required
@permission_required(WORKS, raise_exception=True)
@require_POST
def act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One action on one fulfilment. HTMX gets the refreshed panel (with its message); others a redirect."""
    if action not in ACTIONS:
        raise Http404("No such action.")
    fulfilment = fulfilment_get(user=request.user, pk=pk)
    mine = location_ids(user=request.user)
    if action != "receive" and fulfilment.location_id not in mine:
        raise Http404("No such fulfilment here.")
    try:
        messages.success(request, _do(request, fulfilment, action))
    except DomainError as exc:
        # Nothing changed; the page says why (HTMX swaps only 2xx answers, so the panel comes back as 200).
        messages.error(request, exc.message)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "fulfilment/_panel.html", _detail_context(request, fulfilment))
    return redirect("fulfilment:detail", pk=fulfilment.pk)


# --- print view ---------------------------------------------------------------------------------------------

# Code 128 bar/space widths for symbol values 0..105, then the stop pattern (ISO/IEC 15417).
_C128_TABLE = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 122132 "
    "122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 321221 312212 "
    "322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 231113 231311 "
    "112133 112331 132131 113123 113321 133121 313121 211331 231131 213113 213311 213131 311123 311321 "
    "331121 312113 312311 332111 314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 111242 121142 121241 114212 "
    "124112 124211 411212 421112 421211 212141 214121 412121 111143 111341 131141 114113 114311 411113 "
    "411311 113141 114131 311141 411131 211412 211214 211232"
)
_C128 = _C128_TABLE.split()
_C128_STOP = "2331112"
_START_B, _START_C = 104, 105


def code128_values(text: str) -> list[int]:
    """Symbol values (start, data, checksum) for `text`: code set C for an even run of digits, else B."""
    if not text or any(not 32 <= ord(ch) <= 126 for ch in text):
        raise ValueError("Code 128 B/C encodes printable ASCII only")
    if text.isdigit() and len(text) % 2 == 0:
        values = [_START_C, *(int(text[i : i + 2]) for i in range(0, len(text), 2))]
    else:
        values = [_START_B, *(ord(ch) - 32 for ch in text)]
    checksum = (values[0] + sum(i * v for i, v in enumerate(values[1:], start=1))) % 103
    return [*values, checksum]


def code128_svg(text: str, *, module: int = 2, height: int = 60) -> SafeString:
    """An inline SVG Code 128 barcode of `text` (10-module quiet zones), drawn server-side."""
    widths = "".join(_C128[v] for v in code128_values(text)) + _C128_STOP
    x, bars = 10 * module, []
    for i, w in enumerate(widths):
        width = int(w) * module
        if i % 2 == 0:
            bars.append((x, width))
        x += width
    total = x + 10 * module
    rects = format_html_join(
        "", '<rect x="{}" y="0" width="{}" height="{}"/>', ((bx, bw, height) for bx, bw in bars)
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" aria-label="{}" '
        'viewBox="0 0 {} {}" width="{}" height="{}" shape-rendering="crispEdges">{}</svg>',
        text,
        total,
        height,
        total,
        height,
        rects,
    )


@login_required
@permission_required(WORKS, raise_exception=True)
@require_GET
def label(request: HttpRequest, pk: int) -> HttpResponse:
    """The packing slip and shipping label, made for printing (order number as a Code 128 barcode)."""
    fulfilment = fulfilment_get(user=request.user, pk=pk)
    context = _detail_context(request, fulfilment)
    context["barcode"] = code128_svg(fulfilment.order.number or str(fulfilment.order.pk))
    context["back"] = reverse("fulfilment:detail", kwargs={"pk": fulfilment.pk})
    return render(request, "fulfilment/label.html", context)
