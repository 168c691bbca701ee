"""Input and output shapes of the inventory API: locations, products with stock, stock counts/adjustments."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

MAX_QTY = 10_000_000


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
    """Either `on_hand` (a count that replaces on-hand) or `delta` (an adjustment), with a reason."""

    on_hand = serializers.IntegerField(required=False, min_value=0, max_value=MAX_QTY)
    delta = serializers.IntegerField(required=False, min_value=-MAX_QTY, max_value=MAX_QTY)
    reason = serializers.CharField(max_length=200)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_count, has_delta = "on_hand" in attrs, "delta" in attrs
        if has_count == has_delta:
            raise serializers.ValidationError(
                {"on_hand": [_("Send either on_hand (a count) or delta (an adjustment), not both.")]}
                if has_count
                else {"on_hand": [_("Send on_hand (a count) or delta (an adjustment).")]}
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
    status = serializers.IntegerField(help_text="200 applied; 400 invalid; 404 unknown here; 409 refused.")
    stock = StockOut(required=False)
    errors = serializers.DictField(required=False)  # type: ignore[assignment]


class StockBulkOut(serializers.Serializer):
    results = StockBulkItemOut(many=True)
    applied = serializers.IntegerField()
    failed = serializers.IntegerField()
