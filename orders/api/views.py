"""Orders API: create (one or a bulk), list and read, and the order actions. One view per operation.

Writes validate their input, then call one service; domain errors become JSON through oms.api's handler.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api import ErrorOut, model_perm
from oms.exceptions import DomainError
from oms.parsers import BoundedJSONParser, request_data

from ..carriers import name_carrier_services
from ..models import Channel, Order, OrderLine
from ..selectors import OrderFilters, channel_list, order_get, order_list
from ..services import (
    AddressData,
    CustomerData,
    LineData,
    OrderCreateResult,
    OrderInput,
    order_add_note,
    order_cancel,
    order_change_address,
    order_create,
    order_create_many,
    order_hold,
    order_release_hold,
)
from ..services.lifecycle import refuse_key_reuse
from .serializers import (
    AddressIn,
    BulkOut,
    OrderActionReasonIn,
    OrderCreateIn,
    OrderDetailOut,
    OrderHoldIn,
    OrderListQuery,
    OrderNoteIn,
    OrderOut,
    OrderRefs,
    load_refs,
    load_taken,
    order_out,
    order_summary_out,
    resolving,
    validate_order,
)

BULK_MAX = 500
IDEMPOTENCY_HEADER = "Idempotency-Key"


CanCreateOrders = model_perm("orders.add_order")
CanViewOrders = model_perm("orders.view_order")
CanChangeOrders = model_perm("orders.change_order")


class OrderCursor(CursorPagination):
    ordering = ("-placed_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > 128:
        raise ValidationError({IDEMPOTENCY_HEADER: ["At most 128 characters."]})
    return key or None


def _known(refs: OrderRefs, payload: Any, key: str | None) -> Order | None:
    """The order already taken for this payload's (channel, external_ref) or idempotency key, if any."""
    channel = ref = None
    if isinstance(payload, dict):
        channel, ref = payload.get("channel"), payload.get("external_ref")
    if isinstance(channel, str) and isinstance(ref, str) and (channel, ref) in refs.existing:
        return refs.existing[(channel, ref)]
    if key and key in refs.existing_keys:
        order = refs.existing_keys[key]
        if order.channel.code != channel or order.external_ref != ref:
            refuse_key_reuse(order, -1, "")  # the key names another order
        return order
    return None


def _order_input(data: dict[str, Any], *, key: str | None) -> OrderInput:
    customer, delivery = data["customer"], data["delivery"]
    address = delivery.get("address")
    return OrderInput(
        channel=data["channel"],
        external_ref=data["external_ref"],
        placed_at=data["placed_at"],
        customer=CustomerData(
            name=customer["name"], email=customer["email"], document=customer["cpf"], phone=customer["phone"]
        ),
        delivery_mode=delivery["mode"],
        deadline_days=delivery["deadline_days"],
        lines=[
            LineData(product=ln["sku"], qty=ln["qty"], unit_price=ln["unit_price"]) for ln in data["lines"]
        ],
        address=AddressData(**address) if address else None,
        pickup_location=delivery.get("pickup_location"),
        shipping_price=data["shipping_price"],
        idempotency_key=key,
    )


def _create(data: dict[str, Any], *, key: str | None, by: Any) -> OrderCreateResult:
    order_input = _order_input(data, key=key)
    return order_create(by=by, **{f.name: getattr(order_input, f.name) for f in fields(order_input)})


def _with_lines(orders: list[Order]) -> list[Order]:
    """The orders with their lines, read in one query and attached as each order's prefetched `lines`.

    Django's `Prefetch` builds a queryset per order to hold its lines (about a fifth of a page of 50); a list
    in the prefetch cache is read the same way (`order.lines.all()`), as `_fresh_lines` does.
    """
    by_order: dict[int, list[OrderLine]] = {order.pk: [] for order in orders}
    for line in OrderLine.objects.filter(order__in=list(by_order)).order_by("order_id", "line_no"):
        by_order[line.order_id].append(line)
    for order in orders:
        order._prefetched_objects_cache = {"lines": by_order[order.pk]}  # type: ignore[attr-defined]
    return orders


def _fresh_lines(order: Order, data: dict[str, Any]) -> Order:
    """The lines just written, rebuilt from the input in the service's order (saves a query per create)."""
    lines = [
        OrderLine(
            order=order,
            line_no=no,
            product=ln["sku"],
            sku=ln["sku"].sku,
            qty=ln["qty"],
            unit_price=ln["unit_price"],
        )
        for no, ln in enumerate(data["lines"], start=1)
    ]
    order._prefetched_objects_cache = {"lines": lines}  # type: ignore[attr-defined]
    return order


def _domain_errors(exc: DomainError) -> dict[str, Any]:
    return {exc.field or "detail": [exc.message], "code": exc.code}


class OrderListCreateView(generics.GenericAPIView):
    """`GET /api/v1/orders/` (scoped, filtered, cursor-paginated) and `POST` (create one order)."""

    parser_classes = [BoundedJSONParser]
    pagination_class = OrderCursor
    serializer_class = OrderOut
    filter_backends: list[Any] = []

    def get_permissions(self) -> list[BasePermission]:
        perm = CanCreateOrders if self.request.method == "POST" else CanViewOrders
        return [IsAuthenticated(), perm()]

    def get_queryset(self) -> QuerySet[Order]:
        query = OrderListQuery(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return order_list(user=self.request.user, filters=OrderFilters(**query.validated_data))

    @extend_schema(
        operation_id="orders_list",
        parameters=[OrderListQuery],
        responses={200: OrderOut(many=True)},
        summary="Orders the caller may see, newest first",
    )
    def get(self, request: Request) -> Response:
        page = _with_lines(self.paginate_queryset(self.get_queryset()) or [])
        return self.get_paginated_response([order_out(order) for order in page])

    @extend_schema(
        operation_id="orders_create",
        request=OrderCreateIn,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Optional; the same key again answers 200 with the order it created.",
            )
        ],
        responses={
            201: OrderOut,
            200: OpenApiResponse(OrderOut, description="Already taken: the existing order, nothing written."),
            400: OpenApiResponse(description="Field-by-field errors; nothing written."),
            413: ErrorOut,
            422: OpenApiResponse(
                ErrorOut, description="The Idempotency-Key was sent before with another order."
            ),
        },
        summary="Take one order in (idempotent)",
    )
    def post(self, request: Request) -> Response:
        key = _idempotency_key(request)
        keys = [key] if key else []
        payload = request_data(request)
        # Insert first: a repeat is caught by the unique keys (order_create answers with the first order), so
        # a new order, the common case, is not looked up beforehand.
        refs = load_refs([payload])
        try:
            with resolving(refs):
                data = validate_order(payload)
        except ValidationError:
            # A repeat of an order taken when it was valid (a SKU retired since, say) still gets that order.
            existing = _known(load_taken(refs, [payload], keys), payload, key)
            if existing is None:
                raise
            return Response(order_out(_with_lines([existing])[0]), status=status.HTTP_200_OK)
        result = _create(data, key=key, by=request.user)
        if not result.created:  # a concurrent twin won: answer with what it wrote
            return Response(order_out(_with_lines([result.order])[0]), status=status.HTTP_200_OK)
        return Response(order_out(_fresh_lines(result.order, data)), status=status.HTTP_201_CREATED)


class OrderBulkCreateView(APIView):
    """`POST /api/v1/orders/bulk/`: up to 500 orders, each taken or refused on its own."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, CanCreateOrders]

    @extend_schema(
        operation_id="orders_bulk_create",
        request=inline_serializer(
            "OrderBulkIn",
            {
                "orders": OrderCreateIn(many=True),
            },
        ),
        responses={200: BulkOut, 400: OpenApiResponse(description="Not a list, or more than 500 orders.")},
        summary="Take up to 500 orders in; per-item results (201/200/400)",
        description='The body is `{"orders": [...]}` or the bare list. Each item may carry an '
        "`idempotency_key`. The answer lists, per index, the status and the order or the errors.",
    )
    def post(self, request: Request) -> Response:
        body = request_data(request)
        payloads = body.get("orders") if isinstance(body, dict) else body
        if not isinstance(payloads, list):
            raise ValidationError({"orders": ["Send a list of orders."]})
        if len(payloads) > BULK_MAX:
            raise ValidationError(
                {"orders": [f"At most {BULK_MAX} orders per request; got {len(payloads)}."]}
            )
        keys = [_item_key(p) for p in payloads]
        # Orders already taken are found by order_create_many, which looks them up anyway: only a repeat that
        # no longer validates (a SKU retired since, say) is looked up here, to answer it with its order.
        refs = load_refs(payloads)
        results: list[dict[str, Any]] = [{} for _ in payloads]
        valid: list[tuple[int, OrderInput]] = []
        refused: list[int] = []
        with resolving(refs):
            for index, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
                try:
                    valid.append((index, _order_input(validate_order(payload), key=key)))
                except serializers.ValidationError as exc:
                    detail = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
                    results[index] = {"status": 400, "errors": detail}
                    refused.append(index)
        if refused:
            load_taken(refs, [payloads[i] for i in refused], [k for i in refused if (k := keys[i])])
            for index in refused:
                try:
                    existing = _known(refs, payloads[index], keys[index])
                except DomainError as exc:  # its key names another order: that, not the fields, is wrong
                    results[index] = {"status": exc.status_code, "errors": _domain_errors(exc)}
                    continue
                if existing is not None:
                    results[index] = {"status": 200, "order": order_summary_out(existing)}
        # One set-based write for every valid order (a few statements, one commit).
        created = order_create_many(inputs=[data for _, data in valid], by=request.user)
        for (index, _data), result in zip(valid, created, strict=True):
            if isinstance(result, DomainError):
                results[index] = {"status": result.status_code, "errors": _domain_errors(result)}
            else:
                status_code = 201 if result.created else 200
                results[index] = {"status": status_code, "order": order_summary_out(result.order)}
        counts = {"created": 0, "existing": 0, "failed": 0}
        for index, item in enumerate(results):
            item["index"] = index
            counts[{201: "created", 200: "existing"}.get(item["status"], "failed")] += 1
        return Response({"results": results, **counts}, status=status.HTTP_200_OK)


def _item_key(payload: Any) -> str | None:
    if isinstance(payload, dict):
        key = payload.get("idempotency_key")
        if isinstance(key, str) and 0 < len(key) <= 128:
            return key
    return None


def _get_in_scope(request: Request, number: str) -> Order:
    try:
        return order_get(user=request.user, number=number)
    except Order.DoesNotExist:
        raise Http404 from None


def _scope_check(request: Request, number: str) -> Order:
    """The bare order if the caller sees it (404 otherwise): the actions' services re-read it under a lock,
    so the lines, fulfilments and timeline `order_get` prefetches would be loaded for nothing."""
    try:
        return order_list(user=request.user).get(number=number)
    except Order.DoesNotExist:
        raise Http404 from None


class OrderDetailView(APIView):
    """`GET /api/v1/orders/{number}/`: lines, fulfilments and the timeline; 404 outside the caller's scope."""

    permission_classes = [IsAuthenticated, CanViewOrders]

    @extend_schema(operation_id="orders_retrieve", responses={200: OrderDetailOut, 404: ErrorOut})
    def get(self, request: Request, number: str) -> Response:
        order = _get_in_scope(request, number)
        lines = sorted(order.lines.all(), key=lambda ln: ln.line_no)
        by_id = {line.pk: line for line in lines}
        for fulfilment in order.fulfilments.all():
            for fl in fulfilment.lines.all():
                fl.order_line = by_id[fl.order_line_id]  # already loaded: no query per line
        name_carrier_services(order.fulfilments.all())  # one query for all of them
        order._prefetched_objects_cache["lines"] = lines  # type: ignore[attr-defined]
        return Response(OrderDetailOut(order).data)


class _OrderActionView(APIView):
    """Base of the order actions: `orders.change_order` (403), the order in scope (404), one service."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, CanChangeOrders]
    input_serializer: type[serializers.Serializer] | None = None

    def act(self, order: Order, data: dict[str, Any], user: Any) -> Any:
        raise NotImplementedError

    def post(self, request: Request, number: str) -> Response:
        data: dict[str, Any] = {}
        if self.input_serializer is not None:
            body = self.input_serializer(data=request_data(request))
            body.is_valid(raise_exception=True)
            data = dict(body.validated_data)
        order = _scope_check(request, number)
        self.act(order, data, request.user)
        return Response(
            order_out(
                _with_lines(
                    [Order.objects.select_related("channel", "customer", "pickup_location").get(pk=order.pk)]
                )[0]
            )
        )


_ACTION_RESPONSES = {
    200: OrderOut,
    403: ErrorOut,
    404: ErrorOut,
    409: OpenApiResponse(ErrorOut, description="Not allowed in the order's current status."),
}


class OrderCancelView(_OrderActionView):
    input_serializer = OrderActionReasonIn

    @extend_schema(operation_id="orders_cancel", request=OrderActionReasonIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        return super().post(request, number)

    def act(self, order: Order, data: dict[str, Any], user: Any) -> Any:
        return order_cancel(order=order, by=user, reason=data["reason"])


class OrderHoldView(_OrderActionView):
    input_serializer = OrderHoldIn

    @extend_schema(operation_id="orders_hold", request=OrderHoldIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        return super().post(request, number)

    def act(self, order: Order, data: dict[str, Any], user: Any) -> Any:
        return order_hold(order=order, by=user, reason=data["reason"])


class OrderReleaseView(_OrderActionView):
    @extend_schema(operation_id="orders_release", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        return super().post(request, number)

    def act(self, order: Order, data: dict[str, Any], user: Any) -> Any:
        return order_release_hold(order=order, by=user)


class OrderNoteView(_OrderActionView):
    input_serializer = OrderNoteIn

    @extend_schema(operation_id="orders_add_note", request=OrderNoteIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        return super().post(request, number)

    def act(self, order: Order, data: dict[str, Any], user: Any) -> Any:
        return order_add_note(order=order, text=data["text"], by=user)


class OrderAddressView(_OrderActionView):
    input_serializer = AddressIn

    @extend_schema(operation_id="orders_change_address", request=AddressIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        return super().post(request, number)

    def act(self, order: Order, data: dict[str, Any], user: Any) -> Any:
        return order_change_address(order=order, address=AddressData(**data), by=user)


# --- reference data: channels -------------------------------------------------------------------------


class ChannelOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    active = serializers.BooleanField()


class CodeCursor(CursorPagination):
    ordering = "code"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500


class ChannelListView(generics.ListAPIView):
    """`GET /api/v1/channels/`: the channels the caller sees (all for admins and CS, managed ones for
    managers). Filter: `kind`."""

    serializer_class = ChannelOut
    pagination_class = CodeCursor
    permission_classes = [IsAuthenticated, model_perm("orders.view_channel")]
    filterset_fields = ["kind", "active"]

    def get_queryset(self) -> QuerySet[Channel]:
        return channel_list(user=self.request.user)
