"""Input and output shapes of the inventory API: locations, products with stock, stock counts/adjustments."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..models import EVENT_FACTOR_MAX, EVENT_FACTOR_MIN, MAX_QTY


class LocationOut(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    region = serializers.CharField()
    cep = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    ships = serializers.BooleanField()
    offers_pickup = serializers.BooleanField()
    active = serializers.BooleanField()


class StockFiguresOut(serializers.Serializer):
    location = serializers.CharField(source="location.code")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    safety_stock = serializers.IntegerField()
    available = serializers.IntegerField()


class ProductOut(serializers.Serializer):
    sku = serializers.CharField()
    ean = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    weight_g = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    active = serializers.BooleanField()
    stock = serializers.SerializerMethodField(
        help_text="Only with ?location=CODE or ?with_stock=1: figures per location the caller sees."
    )

    def get_stock(self, product: Any) -> list[dict[str, Any]] | None:
        rows = getattr(product, "stock_rows", None)
        return None if rows is None else list(StockFiguresOut(rows, many=True).data)


class ProductListQuery(serializers.Serializer):
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=120, default="", help_text="SKU prefix, EAN or name."
    )
    location = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    with_stock = serializers.BooleanField(required=False, default=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class StockChangeIn(serializers.Serializer):
    """`on_hand` (a count that replaces on-hand) or `delta` (an adjustment), and/or `safety_stock` (units kept
    back from orders), with a reason."""

    on_hand = serializers.IntegerField(required=False, min_value=0, max_value=MAX_QTY)
    delta = serializers.IntegerField(required=False, min_value=-MAX_QTY, max_value=MAX_QTY)
    safety_stock = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_QTY,
        help_text="Units kept back from orders (needs the permission inventory.set_safety_stock).",
    )
    reason = serializers.CharField(max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_count, has_delta = "on_hand" in attrs, "delta" in attrs
        if has_count and has_delta:
            raise serializers.ValidationError(
                {"on_hand": [_("Send either on_hand (a count) or delta (an adjustment), not both.")]}
            )
        if not (has_count or has_delta or "safety_stock" in attrs):
            raise serializers.ValidationError(
                {"on_hand": [_("Send on_hand (a count), delta (an adjustment) or safety_stock.")]}
            )
        if has_delta and attrs["delta"] == 0:
            raise serializers.ValidationError({"delta": [_("An adjustment must change the quantity.")]})
        return attrs


class StockAdjustmentIn(StockChangeIn):
    location = serializers.CharField(max_length=32)
    sku = serializers.CharField(max_length=40)


class StockOut(serializers.Serializer):
    location = serializers.CharField(source="location.code")
    sku = serializers.CharField(source="product.sku")
    on_hand = serializers.IntegerField()
    reserved = serializers.IntegerField()
    safety_stock = serializers.IntegerField()
    available = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class StockBulkItemOut(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField(
        help_text="200 applied; 400 invalid; 403 not yours to change; 404 unknown here; 409 refused."
    )
    stock = StockOut(required=False)
    errors = serializers.DictField(required=False)  # type: ignore[assignment]


class StockBulkOut(serializers.Serializer):
    results = StockBulkItemOut(many=True)
    applied = serializers.IntegerField()
    failed = serializers.IntegerField()


# --- stock transfers ----------------------------------------------------------------------------------------


class TransferLineOut(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    qty = serializers.IntegerField(help_text="Units reserved at the source when the transfer was opened.")
    sent = serializers.IntegerField(source="qty_sent")
    received = serializers.IntegerField(source="qty_received")


class TransferOut(serializers.Serializer):
    number = serializers.CharField()
    source = serializers.CharField(source="source.code")  # type: ignore[assignment]
    destination = serializers.CharField(source="destination.code")
    origin = serializers.CharField(help_text="replenishment, rebalancing or manual.")
    status = serializers.CharField(help_text="open (to dispatch), dispatched, received or cancelled.")
    note = serializers.CharField(
        help_text="The note it was opened with, then the receipt's note or the cancellation's reason "
        "after ' · ' (200 characters at most)."
    )
    tracking = serializers.CharField()
    created_at = serializers.DateTimeField()
    dispatched_at = serializers.DateTimeField(allow_null=True)
    expected_at = serializers.DateTimeField(allow_null=True, help_text="When it is due at the destination.")
    closed_at = serializers.DateTimeField(allow_null=True, help_text="When it was received or cancelled.")
    lines = TransferLineOut(many=True)


class TransferLineIn(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    qty = serializers.IntegerField(min_value=0, max_value=MAX_QTY)


def _unique_skus(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    skus = [line["sku"] for line in lines]
    if len(skus) != len(set(skus)):
        raise serializers.ValidationError(_("Each SKU once per transfer."))
    return lines


class TransferIn(serializers.Serializer):
    source = serializers.CharField(max_length=32, help_text="One of the caller's locations.")  # type: ignore[assignment]
    destination = serializers.CharField(max_length=32)
    lines = TransferLineIn(many=True, allow_empty=False, max_length=500)  # type: ignore[call-arg]
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if any(line["qty"] < 1 for line in lines):
            raise serializers.ValidationError(_("Each quantity must be at least 1."))
        return _unique_skus(lines)


class TransferStepIn(serializers.Serializer):
    """Dispatch or receive: the units per SKU (every line's reserved, or sent, units when `lines` is left out;
    a line left out of `lines` counts all its units too), and a text (the carrier and tracking when
    dispatching, a note when receiving, the reason when cancelling)."""

    lines = TransferLineIn(many=True, required=False, max_length=500)  # type: ignore[call-arg]
    text = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate_lines(self, lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return _unique_skus(lines)


# --- demand events ------------------------------------------------------------------------------------------


class DemandEventOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(help_text="The last day of the event (inclusive).")
    factor = serializers.DecimalField(
        max_digits=5, decimal_places=2, help_text="Demand on those days against a normal day (2.00: twice)."
    )
    locations = serializers.SerializerMethodField(
        help_text="Location codes (those of the caller's locations); empty: every location."
    )
    products = serializers.SerializerMethodField(help_text="SKUs; empty: every product.")
    note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_locations(self, event: Any) -> list[str]:
        visible = self.context.get("visible")  # the caller's locations (None: every one)
        return [loc.code for loc in event.locations.all() if visible is None or loc.pk in visible]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_products(self, event: Any) -> list[str]:
        return [product.sku for product in event.products.all()]


class DemandEventIn(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(help_text="The last day (inclusive); at most 92 days after the first.")
    factor = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=EVENT_FACTOR_MIN, max_value=EVENT_FACTOR_MAX
    )
    locations = serializers.ListField(
        child=serializers.CharField(max_length=32),
        max_length=2000,
        required=False,
        default=list,
        help_text="Location codes, all among the caller's; empty or left out: every location (for callers "
        "who see every location only).",
    )
    products = serializers.ListField(
        child=serializers.CharField(max_length=40),
        max_length=5000,
        required=False,
        default=list,
        help_text="SKUs; empty or left out: every product.",
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
