"""Input and output shapes of the orders API (see the integration contract, API.md).

Input serializers never query the database: the view resolves every channel, SKU and location a request
names in a few queries (`load_refs`) and validates under them (`validate_order`), so a bulk of 500 orders
costs the same handful of lookups as one.

Building a serializer is dear (DRF deep-copies every declared field of every nested serializer: about 70
fields for an order in and out, more than the validation itself), so each request shape has one instance per
process, built on first use and shared by every request and thread: `run_validation` and `to_representation`
keep no state on the instance. The references a validation resolves against travel in a context variable,
not in the serializer's context.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from inventory.models import Location, Product
from oms.api import representer
from oms.brazil import UFS, normalize_cep, normalize_document, normalize_phone, normalize_uf
from oms.db import fetch_in

from ..models import Channel, DeliveryMode, Order, OrderStatus
from ..selectors import channels_by_code

MAX_LINES = 200


@dataclass
class OrderRefs:
    """Everything a batch of order payloads names, loaded up front (one query per kind)."""

    channels: dict[str, Channel] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    # Orders already taken, by (channel code, external_ref) and by idempotency key.
    existing: dict[tuple[str, str], Order] = field(default_factory=dict)
    existing_keys: dict[str, Order] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def load_refs(payloads: Iterable[Any]) -> OrderRefs:
    """Resolve the channels, SKUs and pickup locations named by `payloads` (orders already taken under them:
    `load_taken`, only where needed).

    Tolerates any shape (bad input is reported later by the serializers): at most two queries.
    """
    channel_codes: set[str] = set()
    skus: set[str] = set()
    location_codes: set[str] = set()
    for payload in payloads:
        if not isinstance(payload, dict):
            continue
        if channel := _text(payload.get("channel")):
            channel_codes.add(channel)
        lines = payload.get("lines")
        if isinstance(lines, list):
            skus.update(sku for line in lines if isinstance(line, dict) and (sku := _text(line.get("sku"))))
        delivery = payload.get("delivery")
        if isinstance(delivery, dict) and (code := _text(delivery.get("pickup_location"))):
            location_codes.add(code)
    known = channels_by_code()  # kept in the cache (read with the API key)
    refs = OrderRefs(channels={code: known[code] for code in channel_codes if code in known})
    # A plain lookup by key on every create: without the ORM's query compiler (oms.db.fetch_in)
    refs.products = {p.sku: p for p in fetch_in(Product, "sku", skus)}
    if location_codes:
        refs.locations = {loc.code: loc for loc in Location.objects.filter(code__in=location_codes)}
    return refs


def load_taken(refs: OrderRefs, payloads: Iterable[Any], keys: Iterable[str] = ()) -> OrderRefs:
    """Fill `refs.existing` and `refs.existing_keys`: the orders already taken under the payloads' (channel,
    reference) pairs (channels as resolved in `refs`) or under `keys`. One query; returns `refs`."""
    pairs = {
        (channel, ref)
        for payload in payloads
        if isinstance(payload, dict)
        and (channel := _text(payload.get("channel"))) in refs.channels
        and (ref := _text(payload.get("external_ref")))
    }
    keys = {k for k in keys if k}
    match = Q()
    if pairs:
        # Every (channel, reference) combination of the batch, narrowed to its pairs below: one flat
        # condition instead of an OR of 500 pairs, which Django takes tens of milliseconds to compile.
        match |= Q(
            channel__in=[refs.channels[code] for code, _ in pairs], external_ref__in={ref for _, ref in pairs}
        )
    if keys:
        match |= Q(idempotency_key__in=keys)
    if match:
        for order in Order.objects.filter(match).select_related("channel", "customer", "pickup_location"):
            pair = (order.channel.code, order.external_ref)
            if pair in pairs:
                refs.existing[pair] = order
            if order.idempotency_key in keys:
                refs.existing_keys[order.idempotency_key] = order
    return refs


_REFS: ContextVar[OrderRefs | None] = ContextVar("order_refs", default=None)


@contextmanager
def resolving(refs: OrderRefs) -> Iterator[None]:
    """Validate order payloads against `refs` (from `load_refs`) inside this block."""
    token = _REFS.set(refs)
    try:
        yield
    finally:
        _REFS.reset(token)


def _refs() -> OrderRefs:
    refs = _REFS.get()
    if refs is None:
        raise RuntimeError("order payloads are validated inside resolving(refs) (see load_refs)")
    return refs


# --- input ----------------------------------------------------------------------------------------------


class CustomerIn(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254, default="")
    cpf = serializers.CharField(
        required=False, allow_blank=True, max_length=20, default="", help_text="CPF or CNPJ."
    )
    phone = serializers.CharField(required=False, allow_blank=True, max_length=30, default="")

    def validate_email(self, value: str) -> str:
        return value.strip().lower()

    def validate_cpf(self, value: str) -> str:
        return normalize_document(value)[0] if value else ""

    def validate_phone(self, value: str) -> str:
        return normalize_phone(value) if value else ""


class AddressIn(serializers.Serializer):
    street = serializers.CharField(max_length=120)
    number = serializers.CharField(max_length=16)
    complement = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    district = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=80)
    state = serializers.CharField(min_length=2, max_length=2)
    cep = serializers.CharField(max_length=9, help_text="8 digits, with or without the dash.")
    lat = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90, default=None)
    lon = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180, default=None)

    def validate_state(self, value: str) -> str:
        return normalize_uf(value)

    def validate_cep(self, value: str) -> str:
        return normalize_cep(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if (attrs.get("lat") is None) != (attrs.get("lon") is None):
            raise serializers.ValidationError({"lat": [_("Give both lat and lon, or neither.")]})
        return attrs


class DeliveryIn(serializers.Serializer):
    mode = serializers.ChoiceField(choices=DeliveryMode.choices)
    deadline_days = serializers.IntegerField(min_value=0, max_value=60)
    address = AddressIn(required=False)
    pickup_location = serializers.CharField(required=False, max_length=32)

    def validate_pickup_location(self, value: str) -> Location:
        location = _refs().locations.get(value)
        if location is None or not location.active:
            raise serializers.ValidationError(_("Unknown location %(code)s.") % {"code": value})
        if not location.offers_pickup:
            raise serializers.ValidationError(
                _("%(code)s does not offer pickup.") % {"code": value}, code="pickup_not_offered"
            )
        return location

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["mode"] == DeliveryMode.HOME and not attrs.get("address"):
            raise serializers.ValidationError({"address": [_("A home delivery needs an address.")]})
        if attrs["mode"] == DeliveryMode.PICKUP and not attrs.get("pickup_location"):
            raise serializers.ValidationError({"pickup_location": [_("A pickup needs a pickup_location.")]})
        return attrs


class LineIn(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    qty = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0"))

    def validate_sku(self, value: str) -> Product:
        product = _refs().products.get(value)
        if product is None or not product.active:
            raise serializers.ValidationError(_("Unknown SKU %(sku)s.") % {"sku": value}, code="unknown_sku")
        return product


class OrderCreateIn(serializers.Serializer):
    """The body of `POST /api/v1/orders/` (and one item of a bulk)."""

    channel = serializers.CharField(max_length=32)
    external_ref = serializers.CharField(max_length=64)
    placed_at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    customer = CustomerIn()
    delivery = DeliveryIn()
    lines = LineIn(many=True, allow_empty=False, max_length=MAX_LINES)  # type: ignore[call-arg]
    shipping_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=Decimal("0"), required=False, default=Decimal("0.00")
    )

    def validate_channel(self, value: str) -> Channel:
        channel = _refs().channels.get(value)
        if channel is None or not channel.active:
            raise serializers.ValidationError(_("Unknown channel %(code)s.") % {"code": value})
        return channel

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel: Channel = attrs["channel"]
        if channel.ref_pattern and not re.fullmatch(channel.ref_pattern, attrs["external_ref"]):
            raise serializers.ValidationError(
                {
                    "external_ref": [
                        _("%(ref)s is not a %(channel)s reference (expected %(pattern)s).")
                        % {
                            "ref": attrs["external_ref"],
                            "channel": channel.code,
                            "pattern": channel.ref_pattern,
                        }
                    ]
                }
            )
        seen: set[str] = set()
        for line in attrs["lines"]:
            sku = line["sku"].sku
            if sku in seen:
                raise serializers.ValidationError(
                    {
                        "lines": [
                            _("SKU %(sku)s appears twice; send one line with the total qty.") % {"sku": sku}
                        ]
                    }
                )
            seen.add(sku)
        attrs.setdefault("placed_at", timezone.now())
        return attrs


@functools.cache
def _order_in() -> OrderCreateIn:
    return OrderCreateIn()


def validate_order(payload: Any) -> dict[str, Any]:
    """One order payload validated (inside `resolving(refs)`); a ValidationError names each bad field.

    A payload that `_plainly_valid` accepts is not run through DRF, whose generic machinery costs about
    0.15 ms an order (most of a bulk's CPU); anything else is, and DRF's answer, errors included, is the
    answer.
    """
    data = _plainly_valid(payload, _refs())
    if data is None:
        data = _order_in().run_validation(payload)
    return data


# --- the fast path of validate_order ------------------------------------------------------------------------
# It accepts only payloads of the plainest shape (strings where DRF takes strings, ints for counts, decimal
# strings for money, numbers for coordinates; a date goes through DRF's own field) that it can check
# completely, and returns exactly what OrderCreateIn would; on anything else, or any doubt, it returns None
# and DRF decides. A property test (tests/orders/test_fast_validation.py) holds the two to that over
# generated and mutated payloads.

_MONEY = re.compile(r"\d{1,8}(?:\.\d{1,2})?")
_CENT = Decimal("0.01")


def _text_ok(value: Any, max_length: int, *, blank: bool = False) -> str | None:
    """DRF's CharField on a str: stripped, not blank (unless allowed), within max_length; else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if (not value and not blank) or len(value) > max_length or "\x00" in value:
        return None
    if any("\ud800" <= char <= "\udfff" for char in value):
        return None
    return value


def _money_ok(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return Decimal(text).quantize(_CENT) if _MONEY.fullmatch(text) else None


def _int_ok(value: Any, low: int, high: int) -> int | None:
    return value if type(value) is int and low <= value <= high else None


def _coordinate_ok(value: Any, limit: float) -> float | bool | None:
    """A coordinate as DRF's FloatField takes it (None allowed); False when not plainly valid."""
    if value is None:
        return None
    if type(value) not in (int, float) or not -limit <= value <= limit:
        return False
    return float(value)


def _plainly_valid(payload: Any, refs: OrderRefs) -> dict[str, Any] | None:
    if not isinstance(payload, dict):
        return None
    customer, delivery, lines = payload.get("customer"), payload.get("delivery"), payload.get("lines")
    if not (isinstance(customer, dict) and isinstance(delivery, dict) and isinstance(lines, list)):
        return None
    if not 0 < len(lines) <= MAX_LINES:
        return None
    placed_at = timezone.now()
    if "placed_at" in payload:
        try:  # DRF's own field (formats, time zones): one field is cheap, the serializer around it is not
            placed_at = _order_in().fields["placed_at"].run_validation(payload["placed_at"])
        except serializers.ValidationError:
            return None
    code, ref = _text_ok(payload.get("channel"), 32), _text_ok(payload.get("external_ref"), 64)
    channel = refs.channels.get(code or "")
    if channel is None or not channel.active or ref is None:
        return None
    if channel.ref_pattern and not re.fullmatch(channel.ref_pattern, ref):
        return None
    shipping = _money_ok(payload.get("shipping_price", "0.00"))
    if shipping is None:
        return None
    # customer
    name = _text_ok(customer.get("name"), 120)
    email = _text_ok(customer.get("email", ""), 254, blank=True)
    document = _text_ok(customer.get("cpf", ""), 20, blank=True)
    phone = _text_ok(customer.get("phone", ""), 30, blank=True)
    if name is None or email is None or document is None or phone is None:
        return None
    try:
        if email:
            validate_email(email)
        document = normalize_document(document)[0] if document else ""
        phone = normalize_phone(phone) if phone else ""
    except DjangoValidationError:
        return None
    # delivery
    mode, days = delivery.get("mode"), _int_ok(delivery.get("deadline_days"), 0, 60)
    if days is None or "pickup_location" in delivery:
        return None  # a pickup: DRF checks the location
    if mode != DeliveryMode.HOME or not isinstance(address := delivery.get("address"), dict):
        return None
    fields = {
        key: _text_ok(address.get(key), size) for key, size in (("street", 120), ("number", 16), ("city", 80))
    }
    fields["complement"] = _text_ok(address.get("complement", ""), 80, blank=True)
    fields["district"] = _text_ok(address.get("district", ""), 80, blank=True)
    state, cep = _text_ok(address.get("state"), 2), _text_ok(address.get("cep"), 9)
    if None in fields.values() or state is None or state.upper() not in UFS or cep is None:
        return None  # DRF says what is wrong
    lat, lon = _coordinate_ok(address.get("lat"), 90), _coordinate_ok(address.get("lon"), 180)
    if lat is False or lon is False or (lat is None) != (lon is None):
        return None
    try:
        cep = normalize_cep(cep)
    except DjangoValidationError:
        return None
    # lines
    out_lines, seen = [], set()
    for line in lines:
        if not isinstance(line, dict):
            return None
        sku = _text_ok(line.get("sku"), 40)
        product = refs.products.get(sku or "")
        qty, price = _int_ok(line.get("qty"), 1, 100_000), _money_ok(line.get("unit_price"))
        if product is None or not product.active or qty is None or price is None or product.sku in seen:
            return None
        seen.add(product.sku)
        out_lines.append({"sku": product, "qty": qty, "unit_price": price})
    return {
        "channel": channel,
        "external_ref": ref,
        "customer": {"name": name, "email": email.lower(), "cpf": document, "phone": phone},
        "delivery": {
            "mode": mode,
            "deadline_days": days,
            "address": {**fields, "state": state.upper(), "cep": cep, "lat": lat, "lon": lon},
        },
        "lines": out_lines,
        "shipping_price": shipping,
        "placed_at": placed_at,
    }


class OrderActionReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class OrderHoldIn(serializers.Serializer):
    reason = serializers.CharField(max_length=300)


class OrderNoteIn(serializers.Serializer):
    text = serializers.CharField(max_length=500)


class OrderListQuery(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    status = serializers.ChoiceField(
        choices=OrderStatus.choices, required=False, allow_blank=True, default=""
    )
    channel = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    location = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")
    placed_after = serializers.DateTimeField(required=False, allow_null=True, default=None)
    placed_before = serializers.DateTimeField(required=False, allow_null=True, default=None)


# --- output ---------------------------------------------------------------------------------------------


class CustomerOut(serializers.Serializer):
    name = serializers.CharField()
    email = serializers.CharField()
    cpf = serializers.CharField(source="document", help_text="CPF or CNPJ digits.")
    phone = serializers.CharField()


class AddressOut(serializers.Serializer):
    """The address of a home delivery, from the order's `ship_*` fields; null for a pickup."""

    def get_attribute(self, instance: Order) -> Order | None:
        return instance if instance.delivery_mode == DeliveryMode.HOME else None

    street = serializers.CharField(source="ship_street")
    number = serializers.CharField(source="ship_number")
    complement = serializers.CharField(source="ship_complement")
    district = serializers.CharField(source="ship_district")
    city = serializers.CharField(source="ship_city")
    state = serializers.CharField(source="ship_state")
    cep = serializers.CharField(source="ship_cep")
    lat = serializers.FloatField(source="ship_lat", allow_null=True)
    lon = serializers.FloatField(source="ship_lon", allow_null=True)


class DeliveryOut(serializers.Serializer):
    mode = serializers.CharField(source="delivery_mode")
    deadline_days = serializers.IntegerField()
    promised_date = serializers.DateField(allow_null=True)
    pickup_location = serializers.CharField(source="pickup_location.code", allow_null=True)
    address = AddressOut(source="*", allow_null=True)


class LineOut(serializers.Serializer):
    line_no = serializers.IntegerField()
    sku = serializers.CharField()
    qty = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    status = serializers.CharField()


@functools.cache
def _detail_url(script_prefix: str) -> str:
    # reverse() once per prefix (it takes longer than the rest of an order's serialisation); "0" is a number
    return reverse("api:order-detail", args=["0"])[: -len("0/")]


def order_links(number: str) -> dict[str, str]:
    base = f"{_detail_url(get_script_prefix())}{number}/"
    return {
        "self": base,
        "cancel": base + "cancel/",
        "hold": base + "hold/",
        "release": base + "release/",
        "notes": base + "notes/",
        "address": base + "address/",
    }


class OrderSummaryOut(serializers.Serializer):
    """An order without its lines: what a bulk answer carries per item."""

    number = serializers.CharField()
    status = serializers.CharField()
    channel = serializers.CharField(source="channel.code")
    external_ref = serializers.CharField()
    links = serializers.SerializerMethodField()

    def get_links(self, order: Order) -> dict[str, str]:
        return order_links(order.number or "")


class OrderOut(OrderSummaryOut):
    """An order with its customer, delivery, lines and amounts (list items and create answers)."""

    placed_at = serializers.DateTimeField()
    customer = CustomerOut()
    delivery = DeliveryOut(source="*")
    lines = LineOut(many=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    shipping_price = serializers.DecimalField(max_digits=10, decimal_places=2)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def order_out(order: Order) -> dict[str, Any]:
    """`OrderOut` of an order whose lines are prefetched (`oms.api.representer`: compiled once)."""
    data: dict[str, Any] = representer(OrderOut)(order)
    return data


def order_summary_out(order: Order) -> dict[str, Any]:
    data: dict[str, Any] = representer(OrderSummaryOut)(order)
    return data


class FulfilmentLineOut(serializers.Serializer):
    line_no = serializers.IntegerField(source="order_line.line_no")
    sku = serializers.CharField(source="order_line.sku")
    qty = serializers.IntegerField()
    qty_picked = serializers.IntegerField()
    qty_short = serializers.IntegerField()


class FulfilmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    location = serializers.CharField(source="location.code")
    kind = serializers.CharField()
    status = serializers.CharField()
    carrier_service = serializers.CharField(
        help_text="The carrier service's code (routing's, see its admin)."
    )
    carrier_service_name = serializers.CharField(
        help_text="Its name, as the pages and the tracking page show it."
    )
    tracking_code = serializers.CharField()
    ship_by = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    lines = FulfilmentLineOut(many=True)


class EventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    message = serializers.CharField()
    actor = serializers.CharField(source="actor.username", allow_null=True)
    data = serializers.JSONField()  # type: ignore[assignment]


class OrderDetailOut(OrderOut):
    fulfilments = FulfilmentOut(many=True)
    timeline = EventOut(many=True, source="events")


class BulkItemOut(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.IntegerField(help_text="201 created, 200 already there, 400 refused.")
    order = OrderSummaryOut(required=False)
    errors = serializers.DictField(required=False)  # type: ignore[assignment]


class BulkOut(serializers.Serializer):
    results = BulkItemOut(many=True)
    created = serializers.IntegerField()
    existing = serializers.IntegerField()
    failed = serializers.IntegerField()
