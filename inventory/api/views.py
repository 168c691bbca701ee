"""Inventory API: locations and products (reference data, scoped) and stock counts/adjustments."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
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

from ..models import Location, Product, StockLevel
from ..selectors import location_list, product_match, stock_list
from ..services import stock_adjust, stock_set_count
from .serializers import (
    LocationOut,
    ProductListQuery,
    ProductOut,
    StockAdjustmentIn,
    StockBulkOut,
    StockChangeIn,
    StockOut,
)

BULK_MAX = 1000
CHANGE_STOCK = "inventory.change_stocklevel"


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
                raise PermissionDenied("You need the permission inventory.view_stocklevel.")
            rows: dict[int, list[StockLevel]] = {p.pk: [] for p in page}
            for row in stock_list(user=request.user, location=location).filter(product__in=list(rows)):
                rows[row.product_id].append(row)
            for product in page:
                product.stock_rows = rows[product.pk]  # type: ignore[attr-defined]
        return self.get_paginated_response(ProductOut(page, many=True).data)


def _apply(*, location: Location, product: Product, data: dict[str, Any], user: Any) -> StockLevel:
    if "on_hand" in data:
        stock = stock_set_count(
            location=location, product=product, on_hand=data["on_hand"], reason=data["reason"], by=user
        )
    else:
        stock = stock_adjust(
            location=location, product=product, delta=data["delta"], reason=data["reason"], by=user
        )
    stock.location, stock.product = location, product
    return stock


class StockDetailView(APIView):
    """`GET|PUT /api/v1/stock/{location}/{sku}/`: read, or set a count / apply a delta (409 if below
    what is reserved)."""

    parser_classes = [BoundedJSONParser]

    def get_permissions(self) -> list[BasePermission]:
        perm = model_perm(CHANGE_STOCK if self.request.method == "PUT" else "inventory.view_stocklevel")
        return [IsAuthenticated(), perm()]

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
        stock = _apply(location=place, product=product, data=dict(body.validated_data), user=request.user)
        return Response(StockOut(stock).data)


class StockAdjustmentBulkView(APIView):
    """`POST /api/v1/stock/adjustments/`: many counts/adjustments, each applied or refused on its own."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm(CHANGE_STOCK)]

    @extend_schema(
        operation_id="stock_adjustments_bulk",
        request=inline_serializer("StockAdjustmentBulkIn", {"adjustments": StockAdjustmentIn(many=True)}),
        responses={200: StockBulkOut, 400: OpenApiResponse(description="Not a list, or too many items.")},
        description='The body is `{"adjustments": [...]}` or the bare list (at most 1000 items). '
        "Each item gets its own result: 200 applied, 400 invalid, 404 location or SKU unknown to the "
        "caller, 409 refused.",
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
            return {"status": 404, "errors": {"location": [f"Unknown location {data['location']}."]}}
        if product is None:
            return {"status": 404, "errors": {"sku": [f"Unknown SKU {data['sku']}."]}}
        try:
            stock = _apply(location=place, product=product, data=data, user=user)
        except DomainError as exc:
            return {
                "status": exc.status_code,
                "errors": {exc.field or "detail": [exc.message], "code": exc.code},
            }
        return {"status": 200, "stock": StockOut(stock).data}
