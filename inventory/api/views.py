"""Inventory API: locations and products (reference data, scoped), stock counts/adjustments and stock
transfers between locations."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api import ErrorOut, model_perm
from oms.exceptions import DomainError
from oms.parsers import BoundedJSONParser, request_data

from ..models import Location, Product, StockLevel, StockTransfer, StockTransferLine, TransferStatus
from ..selectors import location_list, product_match, stock_list, transfer_list, transfer_sides
from ..services import STOCK_CHANGES
from ..services.transfers import transfer_cancel, transfer_create, transfer_dispatch, transfer_receive
from .serializers import (
    LocationOut,
    ProductListQuery,
    ProductOut,
    StockAdjustmentIn,
    StockBulkOut,
    StockChangeIn,
    StockOut,
    TransferIn,
    TransferOut,
    TransferStepIn,
)

BULK_MAX = 1000


class CodeCursor(CursorPagination):
    ordering = "code"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class SkuCursor(CursorPagination):
    ordering = "sku"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class LocationListView(generics.ListAPIView):
    """`GET /api/v1/locations/`: the locations the caller works with. Filters: kind, state, ships,
    offers_pickup, active, region."""

    serializer_class = LocationOut
    pagination_class = CodeCursor
    permission_classes = [IsAuthenticated, model_perm("inventory.view_location")]
    filterset_fields = ["kind", "state", "ships", "offers_pickup", "active", "region"]

    def get_queryset(self) -> QuerySet[Location]:
        return location_list(user=self.request.user)


def _location_in_scope(user: Any, code: str) -> Location:
    location = location_list(user=user).filter(code=code).first()
    if location is None:
        raise Http404
    return location


class ProductListView(generics.GenericAPIView):
    """`GET /api/v1/products/`: the catalogue; with `?location=CODE` or `?with_stock=1` the stock figures
    per location the caller sees (two queries per page whatever its size)."""

    serializer_class = ProductOut
    pagination_class = SkuCursor
    permission_classes = [IsAuthenticated, model_perm("inventory.view_product")]
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="products_list", parameters=[ProductListQuery], responses={200: ProductOut(many=True)}
    )
    def get(self, request: Request) -> Response:
        query = ProductListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        products = Product.objects.all()
        if params["q"]:
            products = products.filter(product_match(params["q"]))
        if params["active"] is not None:
            products = products.filter(active=params["active"])
        location = None
        if params["location"]:
            location = _location_in_scope(request.user, params["location"])
        page = self.paginate_queryset(products)
        if page is not None and (location is not None or params["with_stock"]):
            if not request.user.has_perm("inventory.view_stocklevel"):
                raise PermissionDenied(
                    _("You need the permission %(name)s.") % {"name": "inventory.view_stocklevel"}
                )
            rows: dict[int, list[StockLevel]] = {p.pk: [] for p in page}
            for row in stock_list(user=request.user, location=location).filter(product__in=list(rows)):
                rows[row.product_id].append(row)
            for product in page:
                product.stock_rows = rows[product.pk]  # type: ignore[attr-defined]
        return self.get_paginated_response(ProductOut(page, many=True).data)


def _missing_perm(user: Any, data: dict[str, Any]) -> str | None:
    """The permission a change in `data` needs and the caller lacks (`STOCK_CHANGES`), if any."""
    return next(
        (perm for field, (_s, perm) in STOCK_CHANGES.items() if field in data and not user.has_perm(perm)),
        None,
    )


@transaction.atomic
def _apply(*, location: Location, product: Product, data: dict[str, Any], user: Any) -> StockLevel:
    """A count or an adjustment and/or a safety stock level, all or nothing (`STOCK_CHANGES`' order)."""
    stock = None
    for field, (service, _perm) in STOCK_CHANGES.items():
        if field in data:
            stock = service(
                location=location, product=product, reason=data["reason"], by=user, **{field: data[field]}
            )
    assert stock is not None  # StockChangeIn asks for one of them
    stock.location, stock.product = location, product
    return stock


_CHANGE_PERMS = frozenset(perm for _service, perm in STOCK_CHANGES.values())


class StockChangers(BasePermission):
    """Holders of either permission may send a change; `_missing_perm` then checks what it changes."""

    @property
    def message(self) -> str:
        return _("You need the permission %(name)s.") % {"name": " / ".join(sorted(_CHANGE_PERMS))}

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and any(user.has_perm(perm) for perm in _CHANGE_PERMS))


class StockDetailView(APIView):
    """`GET|PUT /api/v1/stock/{location}/{sku}/`: read, or set a count / apply a delta (409 if below
    what is reserved) and/or set the safety stock."""

    parser_classes = [BoundedJSONParser]

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method == "PUT":
            return [IsAuthenticated(), StockChangers()]
        return [IsAuthenticated(), model_perm("inventory.view_stocklevel")()]

    @staticmethod
    def _target(request: Request, location: str, sku: str) -> tuple[Location, Product]:
        place = _location_in_scope(request.user, location)
        product = Product.objects.filter(sku=sku).first()
        if product is None:
            raise Http404
        return place, product

    @extend_schema(operation_id="stock_retrieve", responses={200: StockOut, 404: ErrorOut})
    def get(self, request: Request, location: str, sku: str) -> Response:
        place, product = self._target(request, location, sku)
        stock = StockLevel.objects.filter(location=place, product=product).first() or StockLevel(
            location=place, product=product
        )
        return Response(StockOut(stock).data)

    @extend_schema(
        operation_id="stock_update",
        request=StockChangeIn,
        responses={
            200: StockOut,
            400: OpenApiResponse(description="Field-by-field errors."),
            403: ErrorOut,
            404: ErrorOut,
            409: OpenApiResponse(
                ErrorOut, description="The count or delta would go below the reserved units."
            ),
        },
    )
    def put(self, request: Request, location: str, sku: str) -> Response:
        body = StockChangeIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        place, product = self._target(request, location, sku)
        data = dict(body.validated_data)
        missing = _missing_perm(request.user, data)
        if missing:
            raise PermissionDenied(_("You need the permission %(name)s.") % {"name": missing})
        stock = _apply(location=place, product=product, data=data, user=request.user)
        return Response(StockOut(stock).data)


class StockAdjustmentBulkView(APIView):
    """`POST /api/v1/stock/adjustments/`: many counts/adjustments/safety stock levels, each applied or refused
    on its own."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, StockChangers]

    @extend_schema(
        operation_id="stock_adjustments_bulk",
        request=inline_serializer("StockAdjustmentBulkIn", {"adjustments": StockAdjustmentIn(many=True)}),
        responses={200: StockBulkOut, 400: OpenApiResponse(description="Not a list, or too many items.")},
        description='The body is `{"adjustments": [...]}` or the bare list (at most 1000 items). '
        "Each item gets its own result: 200 applied, 400 invalid, 403 a change the caller may not make "
        "(counts and adjustments need inventory.change_stocklevel, safety_stock inventory.set_safety_stock), "
        "404 location or SKU unknown to the caller, 409 refused.",
    )
    def post(self, request: Request) -> Response:
        body = request_data(request)
        items = body.get("adjustments") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ValidationError({"adjustments": ["Send a list of adjustments."]})
        if len(items) > BULK_MAX:
            raise ValidationError(
                {"adjustments": [f"At most {BULK_MAX} items per request; got {len(items)}."]}
            )
        codes = {i["location"] for i in items if isinstance(i, dict) and isinstance(i.get("location"), str)}
        skus = {i["sku"] for i in items if isinstance(i, dict) and isinstance(i.get("sku"), str)}
        places = {loc.code: loc for loc in location_list(user=request.user).filter(code__in=codes)}
        products = {p.sku: p for p in Product.objects.filter(sku__in=skus)}
        serializer = StockAdjustmentIn()
        results: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            result = self._one(serializer, item, places, products, request.user)
            results.append({"index": index, **result})
        applied = sum(1 for r in results if r["status"] == 200)
        return Response(
            {"results": results, "applied": applied, "failed": len(results) - applied},
            status=status.HTTP_200_OK,
        )

    @staticmethod
    def _one(
        serializer: StockAdjustmentIn,
        item: Any,
        places: dict[str, Location],
        products: dict[str, Product],
        user: Any,
    ) -> dict[str, Any]:
        try:
            data = serializer.run_validation(item)
        except serializers.ValidationError as exc:
            return {
                "status": 400,
                "errors": exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail},
            }
        place, product = places.get(data["location"]), products.get(data["sku"])
        if place is None:
            return {
                "status": 404,
                "errors": {"location": [_("Unknown location %(code)s.") % {"code": data["location"]}]},
            }
        if product is None:
            return {"status": 404, "errors": {"sku": [_("Unknown SKU %(sku)s.") % {"sku": data["sku"]}]}}
        missing = _missing_perm(user, data)
        if missing:
            return {
                "status": 403,
                "errors": {"detail": [_("You need the permission %(name)s.") % {"name": missing}]},
            }
        try:
            stock = _apply(location=place, product=product, data=data, user=user)
        except DomainError as exc:
            return {
                "status": exc.status_code,
                "errors": {exc.field or "detail": [exc.message], "code": exc.code},
            }
        return {"status": 200, "stock": StockOut(stock).data}


# --- stock transfers ----------------------------------------------------------------------------------------


class TransferCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


TRANSFER_NUMBER = re.compile(r"^TR-(\d{1,12})$")


_LINES = Prefetch(
    "lines", queryset=StockTransferLine.objects.select_related("product").order_by("product__sku")
)


def _transfers(user: Any) -> QuerySet[StockTransfer]:
    return transfer_list(user=user).prefetch_related(_LINES)


def _transfer(user: Any, number: str) -> StockTransfer:
    """The transfer `number` (TR-000123) if it comes from or goes to one of the caller's places; else 404."""
    match = TRANSFER_NUMBER.match(number)
    transfer = _transfers(user).filter(pk=int(match.group(1))).first() if match else None
    if transfer is None:
        raise Http404
    return transfer


class TransferListView(generics.GenericAPIView):
    """`GET /api/v1/transfers/` (the transfers from or to the caller's locations, newest first; filters:
    `status`, `location`) and `POST` (open one: its units are reserved at the source at once)."""

    serializer_class = TransferOut
    pagination_class = TransferCursor
    parser_classes = [BoundedJSONParser]
    filter_backends: list[Any] = []

    def get_permissions(self) -> list[BasePermission]:
        perm = model_perm(
            "inventory.add_stocktransfer" if self.request.method == "POST" else "inventory.view_stocktransfer"
        )
        return [IsAuthenticated(), perm()]

    @extend_schema(
        operation_id="transfers_list",
        parameters=[
            OpenApiParameter("status", str, enum=TransferStatus.values),
            OpenApiParameter("location", str, description="A location code: transfers from or to it."),
        ],
        responses={200: TransferOut(many=True), 404: ErrorOut},
    )
    def get(self, request: Request) -> Response:
        location = None
        if code := request.query_params.get("location", ""):
            location = _location_in_scope(request.user, code)
        rows = transfer_list(user=request.user, location=location)
        status_ = request.query_params.get("status", "")
        if status_:
            if status_ not in TransferStatus.values:
                raise ValidationError({"status": [f"One of {', '.join(TransferStatus.values)}."]})
            rows = rows.filter(status=status_)
        page = self.paginate_queryset(rows.prefetch_related(_LINES))
        return self.get_paginated_response(TransferOut(page, many=True).data)

    @extend_schema(
        operation_id="transfers_create",
        request=TransferIn,
        responses={
            201: TransferOut,
            400: OpenApiResponse(description="Field-by-field errors (unknown SKUs under `lines`)."),
            404: ErrorOut,
            409: OpenApiResponse(ErrorOut, description="Not enough free units at the source (`shortages`)."),
        },
    )
    def post(self, request: Request) -> Response:
        body = TransferIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        source = _location_in_scope(request.user, data["source"])
        destination = Location.objects.filter(code=data["destination"]).first()
        if destination is None:
            raise ValidationError(
                {"destination": [_("No location %(code)s.") % {"code": data["destination"]}]}
            )
        wanted = [line["sku"] for line in data["lines"]]
        products = {p.sku: p for p in Product.objects.filter(sku__in=wanted, active=True)}
        unknown = sorted(set(wanted) - set(products))
        if unknown:
            raise ValidationError(
                {
                    "lines": [
                        _("No active product with these codes: %(codes)s.") % {"codes": ", ".join(unknown)}
                    ]
                }
            )
        transfer = transfer_create(
            source=source,
            destination=destination,
            lines=[(products[line["sku"]], line["qty"]) for line in data["lines"]],
            by=request.user,
            note=data["note"],
        )
        return Response(
            TransferOut(_transfer(request.user, transfer.number)).data, status=status.HTTP_201_CREATED
        )


class TransferDetailView(APIView):
    """`GET /api/v1/transfers/{number}/`: one transfer with its lines (404 unless it comes from or goes to one
    of the caller's locations)."""

    permission_classes = [IsAuthenticated, model_perm("inventory.view_stocktransfer")]

    @extend_schema(operation_id="transfers_retrieve", responses={200: TransferOut, 404: ErrorOut})
    def get(self, request: Request, number: str) -> Response:
        return Response(TransferOut(_transfer(request.user, number)).data)


class TransferActionView(APIView):
    """`POST /api/v1/transfers/{number}/{dispatch|receive|cancel}/`: the source's staff dispatch (units per
    SKU, the carrier and tracking as `text`), the destination's staff receive (units that arrived), the
    source's staff or a manager or admin cancel an open one. 409 when its status does not allow the step."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm("inventory.change_stocktransfer")]
    ACTIONS = ("dispatch", "receive", "cancel")

    @extend_schema(
        operation_id="transfers_action",
        request=TransferStepIn,
        responses={200: TransferOut, 400: OpenApiResponse(description="Field-by-field errors."),
                   403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    )  # fmt: skip
    def post(self, request: Request, number: str, action: str) -> Response:
        if action not in self.ACTIONS:
            raise Http404
        body = TransferStepIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        transfer = _transfer(request.user, number)
        if not transfer_sides(user=request.user, transfer=transfer)[action]:
            raise PermissionDenied(
                {"dispatch": _("Only the source's staff dispatch a transfer."),
                 "receive": _("Only the destination's staff receive a transfer."),
                 "cancel": _("Only the source's staff, managers and admins cancel a transfer.")}[action]
            )  # fmt: skip
        units = None
        if "lines" in data:
            by_sku = {line.product.sku: line.pk for line in transfer.lines.all()}
            stray = sorted(line["sku"] for line in data["lines"] if line["sku"] not in by_sku)
            if stray:
                raise ValidationError(
                    {"lines": [_("Not on this transfer: %(skus)s.") % {"skus": ", ".join(stray)}]}
                )
            units = {by_sku[line["sku"]]: line["qty"] for line in data["lines"]}
        if action == "dispatch":
            transfer_dispatch(transfer=transfer, by=request.user, sent=units, tracking=data["text"])
        elif action == "receive":
            transfer_receive(transfer=transfer, by=request.user, received=units, note=data["text"])
        else:
            transfer_cancel(transfer=transfer, by=request.user, reason=data["text"])
        return Response(TransferOut(_transfer(request.user, number)).data)
