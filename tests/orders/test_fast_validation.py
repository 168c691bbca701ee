"""validate_order's fast path answers exactly as DRF would, or leaves the payload to DRF.

Payloads are a valid order with random changes at random places (values of every JSON type and of awkward
shapes, keys dropped, keys added); for each, the fast path must either decline (None) or return what
OrderCreateIn returns, which must then accept the payload. No database: the references are unsaved instances.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from inventory.models import Product
from orders.api.serializers import OrderRefs, _order_in, _plainly_valid, resolving, validate_order
from orders.models import Channel

REFS = OrderRefs(
    channels={
        "web": Channel(code="web", name="Site", kind="site", active=True),
        "mkt": Channel(
            code="mkt", name="Marketplace", kind="marketplace", active=True, ref_pattern=r"MLB-\d+"
        ),
        "old": Channel(code="old", name="Old", kind="site", active=False),
    },
    products={
        "SKU-1": Product(sku="SKU-1", active=True, price=Decimal("10.00")),
        "SKU-2": Product(sku="SKU-2", active=True, price=Decimal("20.00")),
        "SKU-OFF": Product(sku="SKU-OFF", active=False, price=Decimal("5.00")),
    },
)


def base() -> dict[str, Any]:
    return {
        "channel": "web",
        "external_ref": "WEB-1",
        "customer": {"name": "Ana Souza", "email": "Ana@Example.com", "cpf": "529.982.247-25",
                     "phone": "(11) 91234-5678"},
        "delivery": {"mode": "home", "deadline_days": 2,
                     "address": {"street": "Av. Paulista", "number": "1578", "district": "Bela Vista",
                                 "city": "São Paulo", "state": "SP", "cep": "01310-200", "lat": -23.56,
                                 "lon": -46.65}},
        "lines": [{"sku": "SKU-1", "qty": 2, "unit_price": "59.90"},
                  {"sku": "SKU-2", "qty": 1, "unit_price": 7}],
        "shipping_price": "12.5",
    }  # fmt: skip


PATHS = [
    ("channel",), ("external_ref",), ("shipping_price",), ("placed_at",), ("extra",),
    ("customer", "name"), ("customer", "email"), ("customer", "cpf"), ("customer", "phone"), ("customer",),
    ("delivery", "mode"), ("delivery", "deadline_days"), ("delivery", "pickup_location"), ("delivery",),
    ("delivery", "address", "street"), ("delivery", "address", "number"),
    ("delivery", "address", "complement"), ("delivery", "address", "district"),
    ("delivery", "address", "city"), ("delivery", "address", "state"),
    ("delivery", "address", "cep"), ("delivery", "address", "lat"), ("delivery", "address", "lon"),
    ("lines", 0, "sku"), ("lines", 0, "qty"), ("lines", 0, "unit_price"), ("lines", 1, "sku"),
    ("lines", 1, "unit_price"), ("lines",), ("lines", 0),
]  # fmt: skip
DROP = object()

values = st.one_of(
    st.just(DROP),
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "  ",
            " web ",
            "mkt",
            "old",
            "MLB-123",
            "MLB-x",
            "web",
            "SKU-1",
            "SKU-2",
            "SKU-OFF",
            "nope",
            "home",
            "pickup",
            "0.00",
            "-1.00",
            "1.005",
            "12345678.99",
            "123456789.00",
            "1e3",
            " 49.90 ",
            "49,90",
            "SP",
            "sp",
            "S1",
            "SPX",
            "01310200",
            "0131020",
            "00000000",
            "ana@example.com",
            "not-an-email",
            "111.111.111-11",
            "11.222.333/0001-81",
            "+5511912345678",
            "12",
            "x" * 121,
            "\ud800",
            "Zoë",
            "2026-11-25T10:00:00-03:00",
            "2026-11-25",
            "LJ-1",
            -23.5,
            91,
            181,
            0,
            1,
            60,
            61,
            100_000,
            100_001,
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["sku", "qty", "unit_price", "x"]), st.integers(), max_size=3),
)


def mutate(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = payload
    for key in path[:-1]:
        in_dict = isinstance(node, dict) and key in node
        if not in_dict and not (isinstance(node, list) and isinstance(key, int) and key < len(node)):
            return
        node = node[key]
    last = path[-1]
    if isinstance(node, dict):
        if value is DROP:
            node.pop(last, None)
        else:
            node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        if value is DROP:
            node.pop(last)
        else:
            node[last] = value


def drf(payload: Any) -> dict[str, Any] | None:
    try:
        with resolving(REFS):
            return dict(_order_in().run_validation(payload))
    except ValidationError:
        return None


def plain(data: Any, *, stamped: bool = True) -> Any:
    """Validated data as plain dicts and lists; without `placed_at` when each path stamped its own now."""
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items() if k != "placed_at" or not stamped}
    if isinstance(data, list):
        return [plain(v) for v in data]
    return data


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_the_fast_path_agrees_with_drf_or_declines(changes):
    payload = copy.deepcopy(base())
    for path, value in changes:
        mutate(payload, path, value)
    fast = _plainly_valid(copy.deepcopy(payload), REFS)
    if fast is not None:
        slow = drf(payload)
        assert slow is not None, f"fast path accepted what DRF refuses: {payload!r}"
        assert plain(fast, stamped="placed_at" not in payload) == plain(
            slow, stamped="placed_at" not in payload
        )
        assert all(type(fast["lines"][i]["unit_price"]) is Decimal for i in range(len(fast["lines"])))


def test_a_plain_valid_order_takes_the_fast_path_with_drfs_answer():
    fast = _plainly_valid(base(), REFS)
    assert fast is not None and plain(fast) == plain(drf(base()))
    assert fast["customer"]["cpf"] == "52998224725" and fast["customer"]["email"] == "ana@example.com"
    assert fast["lines"][1]["unit_price"] == Decimal("7.00") and fast["shipping_price"] == Decimal("12.50")
    with resolving(REFS):
        assert plain(validate_order(base())) == plain(fast)


def test_what_the_fast_path_declines_gets_drfs_errors():
    payload = base()
    payload["lines"][0]["sku"] = "SKU-OFF"
    assert _plainly_valid(payload, REFS) is None
    with resolving(REFS):
        try:
            validate_order(payload)
        except ValidationError as exc:
            assert "lines" in exc.detail
        else:
            raise AssertionError("a retired SKU was accepted")
