"""Input and output of the delivery-promise endpoint."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.models import Product
from oms.brazil import normalize_cep
from orders.models import Channel


class PromiseLineSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    qty = serializers.IntegerField(min_value=1, max_value=999)


class PromiseRequestSerializer(serializers.Serializer):
    lines = serializers.ListField(child=PromiseLineSerializer(), allow_empty=False, max_length=100)
    cep = serializers.CharField(max_length=12)
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    channel = serializers.CharField(required=False, allow_blank=True, max_length=32)

    def validate_cep(self, value: str) -> str:
        try:
            return normalize_cep(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc

    def validate_lines(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        skus = {line["sku"] for line in value}
        products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
        errors: list[dict[str, Any]] = []
        for line in value:
            if line["sku"] in products:
                line["product"] = products[line["sku"]]
                errors.append({})
            else:
                errors.append({"sku": [_("Unknown SKU %(sku)s.") % {"sku": line["sku"]}]})
        if any(errors):
            raise serializers.ValidationError(errors)
        return value

    def validate_channel(self, value: str) -> Channel | None:
        if not value:
            return None
        channel = Channel.objects.filter(code=value).first()
        if channel is None:
            raise serializers.ValidationError(_("Unknown channel."))
        return channel

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        lat, lon = attrs.get("lat"), attrs.get("lon")
        if (lat is None) != (lon is None):
            raise serializers.ValidationError({"lat": [_("Give both lat and lon, or neither.")]})
        return attrs


class HomeOptionSerializer(serializers.Serializer):
    service = serializers.CharField()
    service_name = serializers.CharField()
    carrier = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    delivery_date = serializers.DateField()
    business_days = serializers.IntegerField()
    packages = serializers.IntegerField()
    ships_from = serializers.ListField(child=serializers.CharField())


class PickupOptionSerializer(serializers.Serializer):
    location = serializers.CharField()
    name = serializers.CharField()
    city = serializers.CharField()
    distance_km = serializers.FloatField()
    ready_date = serializers.DateField()
    business_days = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    transfer = serializers.BooleanField()


class PromiseResponseSerializer(serializers.Serializer):
    cep = serializers.CharField()
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    currency = serializers.CharField()
    home = HomeOptionSerializer(many=True)
    pickup = PickupOptionSerializer(many=True)
    computed_ms = serializers.FloatField()
