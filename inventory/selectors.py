"""Reads of locations and stock, scoped by what the user may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import NullIf
from guardian.shortcuts import get_objects_for_user

from oms.roles import Role, is_manager_or_admin, user_roles

from .models import (
    TRANSFER_LINE_ON_WAY,
    DemandEvent,
    DemandEventLocation,
    DemandForecast,
    Location,
    Product,
    ProposalStatus,
    Region,
    ReplenishmentProposal,
    SafetyStockRun,
    StockLevel,
    StockMovement,
    StockTransfer,
    StockTransferLine,
    TransferStatus,
    names_only,
)

SEES_ALL_LOCATIONS = {Role.ADMIN, Role.CUSTOMER_SERVICE}


def user_sees_all_locations(user: Any) -> bool:
    return bool(user_roles(user) & SEES_ALL_LOCATIONS) or getattr(user, "is_superuser", False)


def location_list(*, user: Any) -> QuerySet[Location]:
    """The locations a user works with: all for admins and customer service; for staff, the locations they
    are tied to; for managers, those plus every location of their regions. One query, no Python loop."""
    if user_sees_all_locations(user):
        return Location.objects.all()
    return own_locations(user=user)


def own_locations(*, user: Any) -> QuerySet[Location]:
    """The locations a user is tied to or manages (their regions'), whatever their roles let them see."""
    if not getattr(user, "is_authenticated", False):
        return Location.objects.none()
    direct = get_objects_for_user(
        user, "inventory.work_at_location", klass=Location, accept_global_perms=False, with_superuser=False
    )
    regions = get_objects_for_user(
        user, "inventory.manage_region", klass=Region, accept_global_perms=False, with_superuser=False
    )
    return Location.objects.filter(Q(pk__in=direct.values("pk")) | Q(region__in=regions.values("code")))


def location_ids(*, user: Any) -> set[int]:
    """The ids of `location_list(user)`, for checks against many rows (which side of a transfer is mine)."""
    return set(location_list(user=user).values_list("pk", flat=True))


def product_match(query: str, *, via: str = "") -> Q:
    """What a product search box matches: a SKU prefix, the exact EAN or part of the name. `via` is the path
    to the product from the model being filtered (e.g. "product__")."""
    return (
        Q(**{f"{via}sku__istartswith": query})
        | Q(**{f"{via}ean": query})
        | Q(**{f"{via}name__icontains": query})
    )


def stock_list(*, user: Any, location: Location | None = None, query: str = "") -> QuerySet[StockLevel]:
    stock = StockLevel.objects.select_related("location", "product")
    if not user_sees_all_locations(user):
        stock = stock.filter(location__in=location_list(user=user).values("pk"))
    if location is not None:
        stock = stock.filter(location=location)
    if query:
        stock = stock.filter(product_match(query, via="product__"))
    return stock.order_by("location__code", "product__sku")


def stock_movement_list(*, stock: StockLevel) -> QuerySet[StockMovement]:
    return stock.movements.select_related("actor").order_by("-at", "-id")


def proposal_list(
    *, user: Any, location: Location | None = None, open_only: bool = True
) -> QuerySet[ReplenishmentProposal]:
    """Open replenishment proposals for the locations the user works with (or one of them), most urgent
    first: fewest days of demand covered. With `open_only=False` the decided and superseded ones too (a
    decision posted twice must be told it was decided, not that the proposal is not there)."""
    rows = ReplenishmentProposal.objects.filter(location__in=location_list(user=user)).select_related(
        "location", "product", "source"
    )
    if open_only:
        rows = rows.filter(status=ProposalStatus.PROPOSED)
    if location is not None:
        rows = rows.filter(location=location)
    cover = ExpressionWrapper(
        (F("available") + F("incoming")) / NullIf(F("daily_demand"), 0), output_field=DecimalField()
    )
    return rows.annotate(cover=cover).order_by(
        F("cover").asc(nulls_last=True), "location__code", "product__sku"
    )


def transfer_list(*, user: Any, location: Location | None = None) -> QuerySet[StockTransfer]:
    """Transfers from or to the locations the user works with (or one of them), newest first, with their
    places, units and line count."""
    rows = StockTransfer.objects.all()
    if not user_sees_all_locations(user):
        mine = location_list(user=user).values("pk")
        rows = rows.filter(Q(source__in=mine) | Q(destination__in=mine))
    if location is not None:
        rows = rows.filter(Q(source=location) | Q(destination=location))
    return (
        rows.select_related("source", "destination")
        .annotate(units=Sum("lines__qty"), sent=Sum("lines__qty_sent"), line_count=Count("lines"))
        .order_by("-pk")
    )


def forecast_list(*, location: Location) -> QuerySet[DemandForecast]:
    """The forecasts of one location's stock rows, most demand first, with each row and its product."""
    return (
        DemandForecast.objects.filter(stock__location=location)
        .select_related("stock__product")
        .order_by("-daily", "stock__product__sku")
    )


def event_list(*, user: Any) -> QuerySet[DemandEvent]:
    """The demand events a planner sees: every one for those who see every location; else those for every
    location (they change the forecast of theirs too) and those naming one of theirs; soonest first."""
    events = DemandEvent.objects.all()
    if not user_sees_all_locations(user):
        mine = location_list(user=user).values("pk")
        places = DemandEventLocation.objects
        events = events.filter(
            ~Q(pk__in=places.values("demandevent_id"))
            | Q(pk__in=places.filter(location__in=mine).values("demandevent_id"))
        )
    return events.order_by("starts_on", "pk")


def events_touching(
    *, user: Any, start: dt.date, end: dt.date, location: Location | None = None
) -> QuerySet[DemandEvent]:
    """The user's events with a day from `start` to `end`; with `location`, those that apply there (the
    forecast and replenishment pages show what they plan with)."""
    events = event_list(user=user).filter(starts_on__lte=end, ends_on__gte=start)
    if location is not None:
        events = events.filter(Q(locations=None) | Q(locations=location)).distinct()
    return events


def planned_location_ids(*, user: Any) -> set[int] | None:
    """The ids of the locations whose demand the user plans: None (every location, those to come too) for
    admins; else their own (a manager's regions), even where another role (customer service) lets them see
    more."""
    if Role.ADMIN in user_roles(user):
        return None
    return set(own_locations(user=user).values_list("pk", flat=True))


def events_editable(*, user: Any, events: Iterable[DemandEvent]) -> set[int]:
    """The ids of those events the user may change or remove (one query): every one for admins; else those
    that name locations, all of them the user's (the services check it again under lock)."""
    ids = [e.pk for e in events]
    allowed = planned_location_ids(user=user)
    if allowed is None:
        return set(ids)
    named: dict[int, set[int]] = {}
    for event_id, location_id in DemandEventLocation.objects.filter(demandevent_id__in=ids).values_list(
        "demandevent_id", "location_id"
    ):
        named.setdefault(event_id, set()).add(location_id)
    return {pk for pk, places in named.items() if names_only(places, allowed)}


def products_by_codes(codes: Iterable[str]) -> tuple[list[Product], list[str]]:
    """The products named by SKU or EAN, and the codes that name none (sorted)."""
    wanted = set(codes)
    if not wanted:
        return [], []
    found = list(Product.objects.filter(Q(sku__in=wanted) | Q(ean__in=wanted)))
    known = {p.sku for p in found} | {p.ean for p in found if p.ean}
    return found, sorted(wanted - known)


def transfer_sides(*, user: Any, transfer: StockTransfer) -> dict[str, bool]:
    """Which of a transfer's steps are the user's to take, whatever its status: dispatch at its source,
    receive at its destination, cancel at its source or as a manager or admin (the pages and the API)."""
    mine = location_ids(user=user)
    return {
        "dispatch": transfer.source_id in mine,
        "receive": transfer.destination_id in mine,
        "cancel": transfer.source_id in mine or is_manager_or_admin(user),
    }


def transfer_lines_moving(*, stock: StockLevel) -> list[StockTransferLine]:
    """The transfer lines of a stock row's product still to leave its location (units held there) or to reach
    it (units on their way), with `qty_on_way` set: reserved, or sent once dispatched."""
    return list(
        StockTransferLine.objects.filter(
            Q(transfer__source=stock.location_id, transfer__status=TransferStatus.OPEN)
            | Q(
                transfer__destination=stock.location_id,
                transfer__status__in=[TransferStatus.OPEN, TransferStatus.DISPATCHED],
            ),
            product=stock.product_id,
        )
        .select_related("transfer__source", "transfer__destination")
        .annotate(qty_on_way=TRANSFER_LINE_ON_WAY)
        .order_by("transfer_id")
    )


SETS_SAFETY_STOCK = "inventory.set_safety_stock"


def safety_locations(*, user: Any) -> QuerySet[Location]:
    """The locations whose safety stock the user sets by rule: none without inventory.set_safety_stock; every
    one for admins; else their own (those they are tied to, their regions'), whatever else they may see."""
    if not user.has_perm(SETS_SAFETY_STOCK):
        return Location.objects.none()
    if Role.ADMIN in user_roles(user):  # superusers too
        return Location.objects.all()
    return own_locations(user=user)


def safety_run_list(*, user: Any) -> QuerySet[SafetyStockRun]:
    """The safety stock runs a user may see, newest first: admins every one, other planners their own."""
    runs = SafetyStockRun.objects.select_related("created_by").order_by("-created_at", "-id")
    if not user.has_perm(SETS_SAFETY_STOCK):
        return runs.none()
    if Role.ADMIN in user_roles(user):
        return runs
    return runs.filter(created_by=user)
