"""Demand events through the API: what a promotion or merchandising system pushes so that the forecast,
replenishment and routing plan for it. Scoped like the pages (`inventory.selectors.event_list`): an event
naming only other locations is a 404; one the caller sees but may not change (an event for every location, to
a manager) is a 403 on PUT and DELETE, checked by the services under lock. Only admins plan every location.
A manager reads only their own locations' codes in an event that also names others."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api import ErrorOut, model_perm
from oms.parsers import BoundedJSONParser, request_data

from ..models import DemandEvent, Location, Product
from ..selectors import (
    event_list,
    location_ids,
    planned_location_ids,
    products_by_codes,
    user_sees_all_locations,
)
from ..services.events import demand_event_delete, demand_event_save
from .serializers import DemandEventIn, DemandEventOut

_PERMS = {
    "GET": "inventory.view_demandevent",
    "POST": "inventory.add_demandevent",
    "PUT": "inventory.change_demandevent",
    "DELETE": "inventory.delete_demandevent",
}


def _permissions(request: Request) -> list[BasePermission]:
    return [IsAuthenticated(), model_perm(_PERMS.get(request.method or "GET", _PERMS["GET"]))()]


class EventCursor(CursorPagination):
    ordering = ("starts_on", "id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _events(user: Any) -> QuerySet[DemandEvent]:
    return event_list(user=user).prefetch_related(
        Prefetch("locations", queryset=Location.objects.only("code").order_by("code")),
        Prefetch("products", queryset=Product.objects.only("sku").order_by("sku")),
    )


def _event(user: Any, pk: str) -> DemandEvent:
    event = (
        _events(user).filter(pk=int(pk)).first() if pk.isascii() and pk.isdigit() and len(pk) < 12 else None
    )
    if event is None:
        raise Http404
    return event


def _day(request: Request, name: str) -> dt.date | None:
    raw = request.query_params.get(name, "")
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: ["A date as YYYY-MM-DD."]}) from None


def _save(request: Request, event: DemandEvent | None) -> DemandEvent:
    """Validate the body, resolve its codes and save through the service (400 naming the field; 403 for an
    event that is not the caller's to change)."""
    body = DemandEventIn(data=request_data(request))
    body.is_valid(raise_exception=True)
    data = body.validated_data
    allowed = planned_location_ids(user=request.user)
    codes = set(data["locations"])
    # a manager's codes are looked up among their own locations: one answer for a code elsewhere and none
    places = Location.objects.all() if allowed is None else Location.objects.filter(pk__in=allowed)
    locations = list(places.filter(code__in=codes)) if codes else []
    if unknown := sorted(codes - {loc.code for loc in locations}):
        message = (
            _("No location with these codes: %(codes)s.")
            if allowed is None
            else _("Not among your locations: %(codes)s.")
        )
        raise ValidationError({"locations": [message % {"codes": ", ".join(unknown[:10])}]})
    products, unknown = products_by_codes(data["products"])
    if unknown:
        raise ValidationError(
            {"products": [_("No product with these codes: %(codes)s.") % {"codes": ", ".join(unknown[:10])}]}
        )
    return demand_event_save(
        event=event,
        name=data["name"],
        starts_on=data["starts_on"],
        ends_on=data["ends_on"],
        factor=data["factor"],
        locations=locations,
        products=products,
        note=data["note"],
        allowed=allowed,
        by=request.user,
    )


def _out(request: Request, event: DemandEvent) -> dict[str, Any]:
    return DemandEventOut(event, context={"visible": _visible(request)}).data


def _visible(request: Request) -> set[int] | None:
    """The locations whose codes the caller may read (None: every one)."""
    return None if user_sees_all_locations(request.user) else location_ids(user=request.user)


class DemandEventListView(generics.GenericAPIView):
    """`GET /api/v1/demand-events/` (the events the caller sees, soonest first; `from` and `to` keep those
    that touch those days) and `POST` (plan one)."""

    serializer_class = DemandEventOut
    pagination_class = EventCursor
    parser_classes = [BoundedJSONParser]
    filter_backends: list[Any] = []

    def get_permissions(self) -> list[BasePermission]:
        return _permissions(self.request)

    @extend_schema(
        operation_id="demand_events_list",
        parameters=[
            OpenApiParameter("from", dt.date, description="Events that end on or after this day."),
            OpenApiParameter("to", dt.date, description="Events that start on or before this day."),
        ],
        responses={
            200: DemandEventOut(many=True),
            400: OpenApiResponse(description="A day not as YYYY-MM-DD."),
        },
    )
    def get(self, request: Request) -> Response:
        rows = _events(request.user)
        if (since := _day(request, "from")) is not None:
            rows = rows.filter(ends_on__gte=since)
        if (until := _day(request, "to")) is not None:
            rows = rows.filter(starts_on__lte=until)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(
            DemandEventOut(page, many=True, context={"visible": _visible(request)}).data
        )

    @extend_schema(
        operation_id="demand_events_create",
        request=DemandEventIn,
        responses={201: DemandEventOut, 400: OpenApiResponse(description="Field-by-field errors.")},
    )
    def post(self, request: Request) -> Response:
        event = _save(request, None)
        return Response(_out(request, _event(request.user, str(event.pk))), status=status.HTTP_201_CREATED)


class DemandEventDetailView(APIView):
    """`GET|PUT|DELETE /api/v1/demand-events/{id}/`: one event; replaced whole by PUT; removed by DELETE."""

    parser_classes = [BoundedJSONParser]

    def get_permissions(self) -> list[BasePermission]:
        return _permissions(self.request)

    @extend_schema(operation_id="demand_events_retrieve", responses={200: DemandEventOut, 404: ErrorOut})
    def get(self, request: Request, pk: str) -> Response:
        return Response(_out(request, _event(request.user, pk)))

    @extend_schema(
        operation_id="demand_events_update",
        request=DemandEventIn,
        responses={200: DemandEventOut, 400: OpenApiResponse(description="Field-by-field errors."),
                   403: ErrorOut, 404: ErrorOut},
    )  # fmt: skip
    def put(self, request: Request, pk: str) -> Response:
        event = _save(request, _event(request.user, pk))
        return Response(_out(request, _event(request.user, str(event.pk))))

    @extend_schema(operation_id="demand_events_destroy", responses={204: None, 403: ErrorOut, 404: ErrorOut})
    def delete(self, request: Request, pk: str) -> Response:
        event = _event(request.user, pk)
        demand_event_delete(event=event, allowed=planned_location_ids(user=request.user), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
