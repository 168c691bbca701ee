"""`oms.api.representer` gives what DRF's `to_representation` gives, field type by field type."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db.models import Prefetch
from rest_framework import serializers

from oms.api import representer
from orders.api.serializers import OrderOut, OrderSummaryOut
from orders.models import Order, OrderLine


class Upper(serializers.CharField):
    def to_representation(self, value):
        return str(value).upper()


class Inner(serializers.Serializer):
    code = serializers.CharField()
    size = serializers.IntegerField()


class Custom(serializers.Serializer):
    code = serializers.CharField()

    def to_representation(self, instance):
        return {"custom": instance.code}


class NullWhenEmpty(serializers.Serializer):
    code = serializers.CharField()

    def get_attribute(self, instance):
        return instance if instance.code else None


class Sample(serializers.Serializer):
    text = serializers.CharField()
    count = serializers.IntegerField()
    ratio = serializers.FloatField(allow_null=True)
    price = serializers.DecimalField(max_digits=8, decimal_places=2)
    at = serializers.DateTimeField()
    day = serializers.DateField(allow_null=True)
    shout = Upper(source="text")
    inner = Inner()
    inner_code = serializers.CharField(source="inner.code", allow_null=True)
    items = Inner(many=True)
    custom = Custom(source="inner")
    maybe = NullWhenEmpty(source="*")
    called = serializers.CharField(source="label")
    optional = serializers.CharField(required=False)
    fallback = serializers.CharField(source="nothing.here", default="none")
    method = serializers.SerializerMethodField()
    secret = serializers.CharField(write_only=True)

    def get_method(self, obj):
        return f"{obj.text}-{obj.count}"


def sample(**overrides):
    values = {
        "text": "Ana",
        "count": 3,
        "ratio": 0.5,
        "price": Decimal("59.9"),
        "at": dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC),
        "day": dt.date(2026, 11, 28),
        "inner": SimpleNamespace(code="X1", size=7),
        "items": [SimpleNamespace(code="A", size=1), SimpleNamespace(code="B", size=2)],
        "code": "K",
        "label": lambda: "from a callable",
        "secret": "s",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    "instance",
    [
        sample(),
        sample(ratio=None, day=None, code=""),
        sample(inner=None, items=[]),
        sample(optional="given"),
        sample(nothing=SimpleNamespace(here="deep")),
    ],
    ids=["full", "nulls", "no-inner", "optional", "dotted-default"],
)
def test_same_as_drf_for_every_field_kind(instance):
    expected = Sample().to_representation(instance)
    got = representer(Sample)(instance)
    assert got == expected
    assert list(got) == list(expected)  # the same keys in the same order


def test_mappings_are_read_by_key():
    data = {"code": "M", "size": 4}
    assert representer(Inner)(data) == Inner().to_representation(data) == {"code": "M", "size": 4}


def test_missing_required_attribute_raises_like_drf():
    broken = SimpleNamespace(code="X")
    with pytest.raises(AttributeError):
        Inner().to_representation(broken)
    with pytest.raises(AttributeError):
        representer(Inner)(broken)


@pytest.mark.django_db
def test_orders_home_and_pickup(make_order):
    from tests.factories import LocationFactory

    store = LocationFactory(offers_pickup=True)
    orders = [make_order(), make_order(mode="pickup", pickup_location=store)]
    fetched = list(
        Order.objects.filter(pk__in=[o.pk for o in orders])
        .select_related("channel", "customer", "pickup_location")
        .prefetch_related(Prefetch("lines", queryset=OrderLine.objects.order_by("line_no")))
        .order_by("pk")
    )
    for order in fetched:
        for shape in (OrderOut, OrderSummaryOut):
            assert representer(shape)(order) == shape().to_representation(order)
    home, pickup = (representer(OrderOut)(o) for o in fetched)
    assert home["delivery"]["address"]["cep"] == "01310200"
    assert home["delivery"]["pickup_location"] is None
    assert pickup["delivery"]["address"] is None
    assert pickup["delivery"]["pickup_location"] == store.code
    assert len(home["lines"]) == 1


class Raising:
    @property
    def code(self):
        raise KeyError("code")

    size = 1


def test_an_attribute_raising_key_error_follows_drf_rules():
    class WithDefault(serializers.Serializer):
        code = serializers.CharField(default="fallback")
        size = serializers.IntegerField()

    assert representer(WithDefault)(Raising()) == WithDefault().to_representation(Raising())
    assert representer(WithDefault)(Raising()) == {"code": "fallback", "size": 1}
