"""Returns through the API: what a shop front or marketplace pushes when a customer asks to return goods, what
a warehouse system confirms when they arrive, what the payment system confirms when the money goes back.

Scoped like the pages (`orders.selectors.return_list`, `_get_in_scope`): another scope's order or return is a
404. Creating, refunding and cancelling need `orders.change_order`; receiving, `return_receivable_by`. Lines
are named by the order line's number (`line_no`; in `exchange`, `line`).

A return may be an exchange: `exchange` names, per returned line, the SKU and units to send instead of money,
and `exchange_when` when (`received`, the default, or `now`); the return then shows its `exchange_order`.

What is due is the return's value (units received, shipping refunded, less the exchange order) less its
`entries`: refunds, what was kept of a partial refund, the customer's payments of what they owe
(`POST …/collect/`), what was waived, and offsets against the same order's other returns.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from oms.api import ErrorOut, model_perm
from oms.parsers import BoundedJSONParser, request_data

from ..models import EntryKind, ExchangeWhen, Return, ReturnReason, ReturnStatus, ShippingDecision
from ..selectors import return_get, return_list, return_receivable_by, returns_with_status
from ..services.returns import (
    REFUND_MAX,
    return_cancel,
    return_collect,
    return_create,
    return_create_once,
    return_due,
    return_entry_reverse,
    return_exchange_send,
    return_locations,
    return_receive,
    return_refund,
)
from .views import IDEMPOTENCY_HEADER, _get_in_scope, _idempotency_key

MAX_LINES = 200


class ReturnLineIn(serializers.Serializer):
    line_no = serializers.IntegerField(min_value=1, max_value=32767)
    qty = serializers.IntegerField(min_value=1, max_value=1_000_000)


class ExchangeIn(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, max_value=32767, help_text="The returned line's number.")
    sku = serializers.CharField(max_length=40, help_text="The product sent instead (an active SKU).")
    qty = serializers.IntegerField(
        min_value=1, max_value=1_000_000, help_text="At most the units of the line that come back."
    )


class ReturnIn(serializers.Serializer):
    lines = serializers.ListField(child=ReturnLineIn(), allow_empty=False, max_length=MAX_LINES)
    reason = serializers.ChoiceField(choices=ReturnReason.choices)
    location = serializers.CharField(max_length=32, help_text="Code of the location the goods come back to.")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    exchange = serializers.ListField(
        child=ExchangeIn(),
        required=False,
        default=list,
        max_length=MAX_LINES,
        help_text="Replacement items instead of money, per returned line: an exchange order sends them.",
    )
    exchange_when = serializers.ChoiceField(
        choices=ExchangeWhen.choices,
        default=ExchangeWhen.RECEIVED,
        help_text="When the exchange order is created: once the goods are received, or now (advance).",
    )


class ReceiveLineIn(serializers.Serializer):
    line_no = serializers.IntegerField(min_value=1, max_value=32767)
    received = serializers.IntegerField(min_value=0, max_value=1_000_000)
    restocked = serializers.IntegerField(
        min_value=0,
        max_value=1_000_000,
        help_text="Of the units received, the resellable ones (back to stock).",
    )


class ReceiveIn(serializers.Serializer):
    lines = serializers.ListField(child=ReceiveLineIn(), allow_empty=False, max_length=MAX_LINES)


class RefundIn(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=REFUND_MAX
    )
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    keep_rest = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Below what is due: keep the rest (a restocking fee, an agreed deduction) or, false, "
        "leave it due for a later refund.",
    )


class CancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class CollectIn(serializers.Serializer):
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.00"),
        max_value=REFUND_MAX,
        help_text="What the payment system collected from the customer (0 with waive_rest: waive it all).",
    )
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    waive_rest = serializers.BooleanField(
        required=False, default=False, help_text="Let the customer off what they still owe after it."
    )


class CorrectIn(serializers.Serializer):
    entry = serializers.IntegerField(min_value=1, help_text="The id of the entry recorded by mistake.")
    reason = serializers.CharField(max_length=200)


class EntryOut(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=EntryKind.choices)
    amount = serializers.DecimalField(
        max_digits=12,
        decimal_places=2,
        help_text="What it settled: positive of what was due to the customer, negative of what they owed.",
    )
    other_return = serializers.CharField(source="other.number", allow_null=True, default=None)
    reverses = serializers.IntegerField(
        source="reverses_id",
        allow_null=True,
        help_text="A correction: the id of the entry it reverses (neither counts any more).",
    )
    note = serializers.CharField(help_text="Why a correction was made.")
    reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class ReturnLineOut(serializers.Serializer):
    line_no = serializers.IntegerField(source="order_line.line_no")
    sku = serializers.CharField(source="order_line.sku")
    qty = serializers.IntegerField()
    received = serializers.IntegerField(source="qty_received")
    restocked = serializers.IntegerField(source="qty_restocked")
    unit_price = serializers.DecimalField(source="order_line.unit_price", max_digits=10, decimal_places=2)


class ExchangeOut(serializers.Serializer):
    line_no = serializers.IntegerField()
    sku = serializers.CharField()
    qty = serializers.IntegerField()


class ReturnOut(serializers.Serializer):
    number = serializers.CharField()
    order = serializers.CharField(source="order.number")
    location = serializers.CharField(source="location.code")
    status = serializers.CharField()
    reason = serializers.CharField()
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    received_at = serializers.DateTimeField(allow_null=True)
    refund_due = serializers.SerializerMethodField()
    refund_amount = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    refund_reference = serializers.CharField()
    refunded_at = serializers.DateTimeField(allow_null=True)
    lines = ReturnLineOut(many=True, source="lines.all")
    exchange = ExchangeOut(many=True, source="exchange_lines")
    exchange_when = serializers.ChoiceField(choices=[("", ""), *ExchangeWhen.choices])
    exchange_order = serializers.SerializerMethodField()
    shipping_refund = serializers.DecimalField(max_digits=10, decimal_places=2)
    shipping_decision = serializers.ChoiceField(
        choices=[("", ""), *ShippingDecision.choices],
        help_text="Whether the order's shipping is refunded with this return, and why (once received).",
    )
    customer_owes = serializers.SerializerMethodField()
    entries = EntryOut(many=True, source="entries.all")

    def _due(self, ret: Return) -> Decimal:
        # lines prefetched with their order lines, entries with their other return, exchange order joined,
        # by every caller
        return return_due(ret, ret.lines.all(), ret.entries.all())

    def get_refund_due(self, ret: Return) -> str:
        """What is still to refund: the received units, the shipping refunded, less the exchange order, less
        the entries."""
        return str(max(self._due(ret), Decimal("0.00")))

    def get_customer_owes(self, ret: Return) -> str:
        """What the customer still owes (an exchange order worth more than what came back, or sent ahead for
        goods that never did), less what they paid or were let off."""
        return str(max(-self._due(ret), Decimal("0.00")))

    def get_exchange_order(self, ret: Return) -> str | None:
        """The exchange order's number, once sent."""
        return ret.exchange_order.number if ret.exchange_order else None


def _return(request: Request, number: str) -> Return:
    try:
        return return_get(user=request.user, number=number)
    except Return.DoesNotExist:
        raise Http404 from None


def _out(ret: Return) -> dict[str, Any]:
    """The return as saved, with its lines."""
    fresh = (
        Return.objects.select_related("order", "location", "exchange_order")
        .prefetch_related("lines__order_line", "entries__other")
        .get(pk=ret.pk)
    )
    return dict(ReturnOut(fresh).data)


class ReturnCursor(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ReturnListView(generics.GenericAPIView):
    """`GET /api/v1/returns/`: returns in the caller's scope, newest first; `?status=`, `?location=CODE`
    (e.g. what a warehouse system should expect: `?status=requested&location=CD-SP-CAJAMAR`)."""

    permission_classes = [IsAuthenticated, model_perm("orders.view_order")]
    pagination_class = ReturnCursor
    serializer_class = ReturnOut
    queryset = Return.objects.none()  # for the schema; the list is `return_list`, scoped to the caller

    @extend_schema(
        operation_id="returns_list",
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=ReturnStatus.values,
                description="owed also lists the cancelled returns whose exchange order went out and that "
                "the customer has not paid yet.",
            ),
            OpenApiParameter("location", str, description="Code of the location the goods come back to."),
        ],
        responses={200: ReturnOut(many=True), 400: OpenApiResponse(description="An unknown status.")},
    )
    def get(self, request: Request) -> Response:
        returns = (
            return_list(user=request.user)
            .select_related("exchange_order")
            .prefetch_related("lines__order_line", "entries__other")
        )
        wanted = request.query_params.get("status", "")
        if wanted:
            if wanted not in ReturnStatus.values:
                raise ValidationError({"status": [f"One of: {', '.join(ReturnStatus.values)}."]})
            returns = returns_with_status(returns, wanted)
        code = request.query_params.get("location", "")
        if code:
            returns = returns.filter(location__code=code[:32])
        page = self.paginate_queryset(returns)
        return self.get_paginated_response(ReturnOut(page, many=True).data)


class OrderReturnsView(APIView):
    """`GET|POST /api/v1/orders/{number}/returns/`: an order's returns; authorise a new one."""

    parser_classes = [BoundedJSONParser]

    def get_permissions(self) -> list[Any]:
        perm = "orders.change_order" if self.request.method == "POST" else "orders.view_order"
        return [IsAuthenticated(), model_perm(perm)()]

    @extend_schema(operation_id="order_returns_list", responses={200: ReturnOut(many=True), 404: ErrorOut})
    def get(self, request: Request, number: str) -> Response:
        order = _get_in_scope(request, number)
        returns = order.returns.select_related("order", "location", "exchange_order").prefetch_related(
            "lines__order_line", "entries__other"
        )
        return Response(ReturnOut(returns.order_by("created_at", "id"), many=True).data)

    @extend_schema(
        operation_id="order_returns_create",
        request=ReturnIn,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                location=OpenApiParameter.HEADER,
                required=False,
                description="Send the same key when retrying: the return it authorised comes back (200).",
            )
        ],
        responses={
            200: OpenApiResponse(ReturnOut, description="Already authorised with this Idempotency-Key."),
            201: ReturnOut,
            400: OpenApiResponse(description="Field-by-field errors: more units than may come back, …"),
            403: ErrorOut,
            404: ErrorOut,
            422: OpenApiResponse(ErrorOut, description="The Idempotency-Key was sent with another return."),
        },
    )
    def post(self, request: Request, number: str) -> Response:
        body = ReturnIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        order = _get_in_scope(request, number)
        by_no = {line.line_no: line.pk for line in order.lines.all()}
        units: dict[int, int] = {}
        for item in data["lines"]:
            if item["line_no"] not in by_no:
                raise ValidationError(
                    {
                        "lines": [
                            _("Order %(n)s has no line %(no)s.") % {"n": order.number, "no": item["line_no"]}
                        ]
                    }
                )
            if by_no[item["line_no"]] in units:
                raise ValidationError({"lines": [_("Line %(no)s is named twice.") % {"no": item["line_no"]}]})
            units[by_no[item["line_no"]]] = item["qty"]
        exchange: dict[int, tuple[str, int]] = {}
        for item in data["exchange"]:
            pk = by_no.get(item["line"])
            if pk is None or pk in exchange:
                raise ValidationError(
                    {
                        "exchange": [
                            _("Line %(no)s is not on order %(n)s, or named twice.")
                            % {"no": item["line"], "n": order.number}
                        ]
                    }
                )
            exchange[pk] = (item["sku"], item["qty"])
        location = return_locations(request.user).filter(code=data["location"]).first()
        if location is None:
            raise ValidationError(
                {"location": [_("No location %(code)s takes returns for you.") % {"code": data["location"]}]}
            )
        fields = {
            "lines": units,
            "reason": data["reason"],
            "location": location,
            "note": data["note"],
            "exchange": exchange,
            "exchange_when": data["exchange_when"],
            "by": request.user,
        }
        key = _idempotency_key(request)
        if key is None:
            ret, created = return_create(order=order, **fields), True
        else:
            ret, created = return_create_once(idempotency_key=key, order=order, **fields)
        return Response(_out(ret), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class ReturnDetailView(APIView):
    """`GET /api/v1/returns/{number}/`."""

    permission_classes = [IsAuthenticated, model_perm("orders.view_order")]

    @extend_schema(operation_id="returns_retrieve", responses={200: ReturnOut, 404: ErrorOut})
    def get(self, request: Request, number: str) -> Response:
        return Response(_out(_return(request, number)))


_ACTION_RESPONSES = {
    200: ReturnOut,
    400: OpenApiResponse(description="Field-by-field errors."),
    403: ErrorOut,
    404: ErrorOut,
    409: OpenApiResponse(ErrorOut, description="Not allowed in the return's current status."),
}


class ReturnReceiveView(APIView):
    """`POST /api/v1/returns/{number}/receive/`: the goods arrived (lines not named came back empty)."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm("orders.change_fulfilment")]

    @extend_schema(operation_id="returns_receive", request=ReceiveIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        body = ReceiveIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        ret = _return(request, number)
        if not return_receivable_by(user=request.user, ret=ret):
            raise PermissionDenied(_("Only the staff of the location the goods come back to receive them."))
        by_no = {line.order_line.line_no: line.pk for line in ret.lines.all()}
        received: dict[int, tuple[int, int]] = {}
        for item in body.validated_data["lines"]:
            pk = by_no.get(item["line_no"])
            if pk is None or pk in received:
                raise ValidationError(
                    {
                        "lines": [
                            _("Line %(no)s is not on return %(n)s, or twice.")
                            % {"no": item["line_no"], "n": ret.number}
                        ]
                    }
                )
            received[pk] = (item["received"], item["restocked"])
        return Response(_out(return_receive(ret=ret, received=received, by=request.user)))


class ReturnRefundView(APIView):
    """`POST /api/v1/returns/{number}/refund/`: the money went back (at most what the received units were
    paid)."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm("orders.change_order")]

    @extend_schema(operation_id="returns_refund", request=RefundIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        body = RefundIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        ret = return_refund(
            ret=_return(request, number),
            amount=data["amount"],
            reference=data["reference"],
            keep_rest=data["keep_rest"],
            by=request.user,
        )
        return Response(_out(ret))


class ReturnCancelView(APIView):
    """`POST /api/v1/returns/{number}/cancel/`: the goods will not come back."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm("orders.change_order")]

    @extend_schema(operation_id="returns_cancel", request=CancelIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        body = CancelIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        ret = return_cancel(
            ret=_return(request, number), reason=body.validated_data["reason"], by=request.user
        )
        return Response(_out(ret))


class ReturnCollectView(APIView):
    """`POST /api/v1/returns/{number}/collect/`: the customer paid what they owe on the return (the payment
    system charged it; the OMS records it), or part of it; `waive_rest` lets them off the rest."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm("orders.change_order")]

    @extend_schema(operation_id="returns_collect", request=CollectIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        body = CollectIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        ret = return_collect(
            ret=_return(request, number),
            amount=data["amount"],
            reference=data["reference"],
            waive_rest=data["waive_rest"],
            by=request.user,
        )
        return Response(_out(ret))


class ReturnCorrectView(APIView):
    """`POST /api/v1/returns/{number}/correct/`: an entry was recorded by mistake (a refund that bounced, a
    payment charged back): a correction reverses it, and what is due follows."""

    parser_classes = [BoundedJSONParser]
    permission_classes = [IsAuthenticated, model_perm("orders.change_order")]

    @extend_schema(operation_id="returns_correct", request=CorrectIn, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        body = CorrectIn(data=request_data(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        ret = return_entry_reverse(
            ret=_return(request, number), entry=data["entry"], reason=data["reason"], by=request.user
        )
        return Response(_out(ret))


class ReturnSendExchangeView(APIView):
    """`POST /api/v1/returns/{number}/send-exchange/`: create the exchange order that could not be created
    when the goods arrived."""

    permission_classes = [IsAuthenticated, model_perm("orders.change_order")]

    @extend_schema(operation_id="returns_send_exchange", request=None, responses=_ACTION_RESPONSES)
    def post(self, request: Request, number: str) -> Response:
        return Response(_out(return_exchange_send(ret=_return(request, number), by=request.user)))
