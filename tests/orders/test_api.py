"""The orders API as integrations see it: create (contract, bad input, idempotency), bulk, list, detail,
actions, scoping and query counts."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from inventory.models import Product
from oms.cache import RedisCache
from oms.models import ApiKey
from orders.models import Customer, Fulfilment, Order, OrderEvent, OrderLine, OrderStatus
from orders.selectors import CHANNELS_KEY, channels_by_code
from tests.factories import ChannelFactory, DCFactory, LocationFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


DROP = object()
ORDERS = "/api/v1/orders/"
BULK = "/api/v1/orders/bulk/"


def base_payload(ref: str = "WEB-100023", skus: tuple[str, ...] = ("CAM-0001-P",)) -> dict[str, Any]:
    return {
        "channel": "web",
        "external_ref": ref,
        "placed_at": "2026-11-25T10:00:00-03:00",
        "customer": {
            "name": "Ana Souza",
            "email": "Ana@Example.com",
            "cpf": "529.982.247-25",
            "phone": "(11) 91234-5678",
        },
        "delivery": {
            "mode": "home",
            "deadline_days": 2,
            "address": {
                "street": "Av. Paulista",
                "number": "1578",
                "district": "Bela Vista",
                "city": "São Paulo",
                "state": "SP",
                "cep": "01310-200",
                "lat": -23.5614,
                "lon": -46.6559,
            },
        },
        "lines": [{"sku": sku, "qty": 2, "unit_price": "59.90"} for sku in skus],
        "shipping_price": "0.00",
    }


def with_change(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DROP:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def error_at(errors: Any, path: str) -> Any:
    """The error under `path` ('delivery.address.cep'); list levels (lines) are searched item by item."""
    node = errors
    for part in path.split("."):
        if isinstance(node, dict) and part not in node and all(str(k).isdigit() for k in node):
            node = next(item[part] for item in node.values() if part in item)  # errors by line index
        elif isinstance(node, list) and node and isinstance(node[0], dict):
            node = next(item[part] for item in node if part in item)
        else:
            node = node[part]
    assert node, f"no error at {path}: {errors}"
    return node


def counts() -> tuple[int, ...]:
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        OrderEvent.objects.count(),
    )


@pytest.fixture
def catalogue(db):
    channel = ChannelFactory(code="web", name="Site", kind="site")
    products = [ProductFactory(sku=f"CAM-000{i}-P") for i in range(1, 5)]
    store = LocationFactory(code="LJ-SP-01", offers_pickup=True)
    dc = DCFactory(code="CD-SP")
    return {"channel": channel, "products": products, "store": store, "dc": dc}


@pytest.fixture
def integration(roles):
    """An integration's user: it may take orders in and read them."""
    user: Any = UserFactory(username="integration-web")
    from django.contrib.auth.models import Permission

    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="orders", codename__in=["add_order", "view_order", "view_channel"]
        )
    )
    return user


@pytest.fixture
def api(client_for, integration, catalogue):
    return client_for(integration)


# --- create: the contract ------------------------------------------------------------------------------


def test_create_answers_201_with_the_order(api, catalogue):
    response = api.post(ORDERS, base_payload(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    order = Order.objects.get()
    assert body["number"] == order.number and body["status"] == OrderStatus.AWAITING_ROUTING
    assert body["channel"] == "web" and body["external_ref"] == "WEB-100023"
    assert body["lines"] == [
        {"line_no": 1, "sku": "CAM-0001-P", "qty": 2, "unit_price": "59.90", "status": "pending"}
    ]
    assert body["total"] == "119.80"
    assert body["links"]["self"] == reverse("api:order-detail", args=[order.number])
    assert body["links"]["cancel"].endswith(f"/orders/{order.number}/cancel/")
    assert body["customer"] == {
        "name": "Ana Souza",
        "email": "ana@example.com",
        "cpf": "52998224725",
        "phone": "+5511912345678",
    }
    assert body["delivery"]["address"]["cep"] == "01310200"
    assert body["delivery"]["address"]["lat"] == pytest.approx(-23.5614)
    assert order.ship_cep == "01310200" and order.customer.document == "52998224725"


def test_create_takes_the_same_statements_for_a_new_or_a_returning_customer(
    api, catalogue, django_assert_max_num_queries
):
    api.post(ORDERS, base_payload("WEB-100001"), format="json")  # warm the caches (key, channels)
    new_customer = with_change(base_payload("WEB-100002"), "customer.cpf", "11144477735")
    new_customer = with_change(new_customer, "customer.email", "nova@example.com")
    # SKUs, customers with the new ids, one insert for everything (the channels are cached; the answer reads
    # nothing more: the new customer is the instance written, not fetched again), the savepoint pair of the
    # test's transaction
    for body in (new_customer, base_payload("WEB-100003")):
        with django_assert_max_num_queries(5):
            response = api.post(ORDERS, body, format="json")
        assert response.status_code == 201, response.json()
    assert response.json()["customer"]["cpf"] == "52998224725"


def test_an_api_key_request_reads_the_channels_and_subscribers_with_its_key(
    client, integration, catalogue, monkeypatch
):
    _obj, key = ApiKey.objects.create_key(name="web", user=integration)

    def create(ref: str) -> Any:
        body = json.dumps(base_payload(ref))
        return client.post(ORDERS, body, content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {key}")

    assert create("WEB-100001").status_code == 201  # fills the cache: the key, the channels, the subscribers
    reads: list[str] = []
    real_get = RedisCache.get

    def get(self: Any, key: str, *args: Any, **kwargs: Any) -> Any:
        reads.append(key)
        return real_get(self, key, *args, **kwargs)

    monkeypatch.setattr(RedisCache, "get", get)
    assert create("WEB-100002").status_code == 201
    assert reads == []  # both came in the round trip that read the key's entry
    assert "web" in channels_by_code()  # outside a request: a read of its own
    assert reads == [CHANNELS_KEY]


def test_a_channel_saved_is_seen_by_the_next_create(api, catalogue):
    assert api.post(ORDERS, base_payload("WEB-100001"), format="json").status_code == 201  # channels cached
    catalogue["channel"].active = False
    catalogue["channel"].save()
    response = api.post(ORDERS, base_payload("WEB-100002"), format="json")
    assert response.status_code == 400
    assert "web" in str(error_at(response.json(), "channel"))
    ChannelFactory(code="app", name="App", kind="app")
    response = api.post(ORDERS, with_change(base_payload("APP-1"), "channel", "app"), format="json")
    assert response.status_code == 201, response.json()


def test_create_without_coordinates_places_the_address_from_its_cep(api, catalogue):
    body = with_change(
        with_change(base_payload(), "delivery.address.lat", DROP), "delivery.address.lon", DROP
    )
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 201
    order = Order.objects.get()
    # CEP 01310-200 is in São Paulo capital: placed at the city, within a few km of Av. Paulista.
    assert order.ship_lat == pytest.approx(-23.56, abs=0.1)
    assert order.ship_lon == pytest.approx(-46.65, abs=0.1)


def test_create_pickup_order(api, catalogue):
    body = with_change(
        base_payload(), "delivery", {"mode": "pickup", "pickup_location": "LJ-SP-01", "deadline_days": 1}
    )
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["delivery"]["pickup_location"] == "LJ-SP-01"
    assert response.json()["delivery"]["address"] is None
    assert Order.objects.get().pickup_location == catalogue["store"]


def test_create_accepts_a_cnpj_and_no_placed_at(api, catalogue):
    body = with_change(with_change(base_payload(), "customer.cpf", "11.222.333/0001-81"), "placed_at", DROP)
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.json()
    order = Order.objects.get()
    assert order.customer.document == "11222333000181"
    assert abs((order.placed_at - timezone.now()).total_seconds()) < 60


# --- create: idempotency ------------------------------------------------------------------------------


def test_same_channel_and_reference_answers_200_and_writes_nothing(api, catalogue):
    first = api.post(ORDERS, base_payload(), format="json")
    before = counts()
    again = api.post(ORDERS, with_change(base_payload(), "lines.0.qty", 5), format="json")
    assert again.status_code == 200
    assert again.json()["number"] == first.json()["number"]
    assert again.json()["lines"][0]["qty"] == 2
    assert counts() == before


def test_same_idempotency_key_answers_200_with_the_first_order(api, catalogue):
    first = api.post(ORDERS, base_payload("WEB-1"), format="json", HTTP_IDEMPOTENCY_KEY="k-42")
    assert first.status_code == 201
    before = counts()
    again = api.post(ORDERS, base_payload("WEB-1"), format="json", HTTP_IDEMPOTENCY_KEY="k-42")
    assert again.status_code == 200 and again.json()["number"] == first.json()["number"]
    assert counts() == before
    assert Order.objects.get().idempotency_key == "k-42"


def test_an_idempotency_key_sent_with_another_order_is_422(api, catalogue):
    first = api.post(ORDERS, base_payload("WEB-1"), format="json", HTTP_IDEMPOTENCY_KEY="k-42")
    before = counts()
    reused = api.post(ORDERS, base_payload("WEB-2"), format="json", HTTP_IDEMPOTENCY_KEY="k-42")
    assert reused.status_code == 422, reused.content
    body = reused.json()
    assert body["code"] == "idempotency_key_reused" and body["order"] == first.json()["number"]
    assert "idempotency_key" in body
    assert counts() == before
    # the same, when the second order would not even validate
    broken = with_change(base_payload("WEB-3"), "lines.0.sku", "XXX-404")
    assert api.post(ORDERS, broken, format="json", HTTP_IDEMPOTENCY_KEY="k-42").status_code == 422


def test_a_repeat_gets_its_order_even_when_it_would_no_longer_validate(api, catalogue):
    first = api.post(ORDERS, base_payload(), format="json")
    assert first.status_code == 201
    Product.objects.filter(sku="CAM-0001-P").update(active=False)
    before = counts()
    again = api.post(ORDERS, base_payload(), format="json")
    assert again.status_code == 200, again.json()
    assert again.json()["number"] == first.json()["number"]
    assert counts() == before
    fresh = api.post(ORDERS, base_payload("WEB-NEW"), format="json")
    assert fresh.status_code == 400 and "lines" in fresh.json()


def test_overlong_idempotency_key_is_refused(api, catalogue):
    response = api.post(ORDERS, base_payload(), format="json", HTTP_IDEMPOTENCY_KEY="k" * 129)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()
    assert Order.objects.count() == 0


# --- create: bad input, field by field, nothing written -----------------------------------------------

BAD_INPUT = [
    ("unknown channel", "channel", "nope", "channel"),
    ("unknown sku", "lines.0.sku", "XXX-404", "lines.sku"),
    ("qty zero", "lines.0.qty", 0, "lines.qty"),
    ("qty negative", "lines.0.qty", -3, "lines.qty"),
    ("qty a string", "lines.0.qty", "two", "lines.qty"),
    ("qty a float", "lines.0.qty", 1.5, "lines.qty"),
    ("negative price", "lines.0.unit_price", "-1.00", "lines.unit_price"),
    ("price a word", "lines.0.unit_price", "cheap", "lines.unit_price"),
    ("negative shipping", "shipping_price", "-5", "shipping_price"),
    ("bad cpf", "customer.cpf", "123.456.789-00", "customer.cpf"),
    ("bad phone", "customer.phone", "12", "customer.phone"),
    ("bad email", "customer.email", "not-an-email", "customer.email"),
    ("bad cep", "delivery.address.cep", "0131", "delivery.address.cep"),
    ("zero cep", "delivery.address.cep", "00000-000", "delivery.address.cep"),
    ("bad state", "delivery.address.state", "São", "delivery.address.state"),
    ("not a brazilian state", "delivery.address.state", "ZZ", "delivery.address.state"),
    ("lat out of range", "delivery.address.lat", 123.0, "delivery.address.lat"),
    ("deadline a string", "delivery.deadline_days", "soon", "delivery.deadline_days"),
    ("unknown mode", "delivery.mode", "drone", "delivery.mode"),
    ("missing customer", "customer", DROP, "customer"),
    ("missing customer name", "customer.name", DROP, "customer.name"),
    ("missing lines", "lines", DROP, "lines"),
    ("empty lines", "lines", [], "lines"),
    ("lines not a list", "lines", {"sku": "CAM-0001-P"}, "lines"),
    ("missing channel", "channel", DROP, "channel"),
    ("missing reference", "external_ref", DROP, "external_ref"),
    ("missing address", "delivery.address", DROP, "delivery.address"),
    ("missing street", "delivery.address.street", DROP, "delivery.address.street"),
    ("bad placed_at", "placed_at", "yesterday", "placed_at"),
    ("customer a string", "customer", "Ana", "customer"),
]


@pytest.mark.parametrize(("case", "path", "value", "error_path"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_refused_field_by_field_and_writes_nothing(
    api, catalogue, case, path, value, error_path
):
    before = counts()
    response = api.post(ORDERS, with_change(base_payload(), path, value), format="json")
    assert response.status_code == 400, response.content
    error_at(response.json(), error_path)
    assert counts() == before


def test_pickup_at_a_location_without_pickup_is_refused(api, catalogue):
    body = with_change(
        base_payload(), "delivery", {"mode": "pickup", "pickup_location": "CD-SP", "deadline_days": 1}
    )
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 400
    # errors speak the request's language, pt-BR by default
    assert "não oferece retirada" in str(error_at(response.json(), "delivery.pickup_location"))
    assert counts() == (0, 0, 0, 0)


def test_pickup_without_a_location_is_refused(api, catalogue):
    body = with_change(base_payload(), "delivery", {"mode": "pickup", "deadline_days": 1})
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 400
    error_at(response.json(), "delivery.pickup_location")


def test_the_same_sku_twice_is_refused(api, catalogue):
    body = base_payload(skus=("CAM-0001-P", "CAM-0002-P", "CAM-0001-P"))
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 400
    assert "duas vezes" in str(error_at(response.json(), "lines"))
    assert counts() == (0, 0, 0, 0)


def test_an_inactive_sku_is_unknown(api, catalogue):
    catalogue["products"][0].active = False
    catalogue["products"][0].save()
    response = api.post(ORDERS, base_payload(), format="json")
    assert response.status_code == 400
    error_at(response.json(), "lines.sku")


def test_reference_must_match_the_channel_pattern(api, catalogue):
    catalogue["channel"].ref_pattern = r"WEB-\d{6}"
    catalogue["channel"].save()
    assert api.post(ORDERS, base_payload("WEB-12"), format="json").status_code == 400
    response = api.post(ORDERS, base_payload("WEB-12"), format="json")
    assert "WEB-12" in str(error_at(response.json(), "external_ref"))
    assert api.post(ORDERS, base_payload("WEB-123456"), format="json").status_code == 201


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"channel": NaN}', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b"", "application/json"),
        (b"channel=web", "application/x-www-form-urlencoded"),
        (b"[" * 100_000, "application/json"),
    ],
    ids=["broken", "nan", "a list", "empty", "a form", "deep nesting"],
)
def test_a_body_that_is_not_an_order_is_a_json_error(api, catalogue, body, content_type):
    response = api.generic("POST", ORDERS, body, content_type=content_type)
    assert response.status_code in (400, 415), response.content
    assert response["Content-Type"].startswith("application/json")
    assert Order.objects.count() == 0


def test_a_10_mb_body_is_refused_with_json(api, catalogue):
    body = base_payload()
    body["customer"]["name"] = "A" * (10 * 1024 * 1024)
    response = api.generic("POST", ORDERS, json.dumps(body), content_type="application/json")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert Order.objects.count() == 0


# --- who may create --------------------------------------------------------------------------------------


def test_creating_needs_the_add_order_permission(client_for, store_user, catalogue):
    response = client_for(store_user).post(ORDERS, base_payload(), format="json")
    assert response.status_code == 403
    assert Order.objects.count() == 0


def test_anonymous_callers_are_refused(catalogue):
    response = APIClient().post(ORDERS, base_payload(), format="json")
    assert response.status_code in (401, 403)
    assert APIClient().get(ORDERS).status_code in (401, 403)


# --- bulk -------------------------------------------------------------------------------------------------


def test_bulk_takes_each_order_on_its_own(api, catalogue):
    api.post(ORDERS, base_payload("WEB-OLD"), format="json")
    before_orders = Order.objects.count()
    items = [
        base_payload("WEB-B1"),
        with_change(base_payload("WEB-B2"), "lines.0.sku", "XXX-404"),
        base_payload("WEB-B3", skus=("CAM-0002-P", "CAM-0003-P")),
        base_payload("WEB-OLD"),
        with_change(base_payload("WEB-B5"), "customer.cpf", "123.456.789-00"),
        base_payload("WEB-B1"),  # the same as item 0, in the same batch
        "not an order",
        {**base_payload("WEB-B8"), "idempotency_key": "bulk-key-8"},
    ]
    response = api.post(BULK, {"orders": items}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [201, 400, 201, 200, 400, 200, 400, 201]
    assert [r["index"] for r in body["results"]] == list(range(8))
    assert (body["created"], body["existing"], body["failed"]) == (3, 2, 3)
    assert body["results"][5]["order"]["number"] == body["results"][0]["order"]["number"]
    error_at(body["results"][1]["errors"], "lines.sku")
    error_at(body["results"][4]["errors"], "customer.cpf")
    assert Order.objects.count() == before_orders + 3
    assert not Order.objects.filter(external_ref__in=["WEB-B2", "WEB-B5"]).exists()
    assert Order.objects.get(external_ref="WEB-B8").idempotency_key == "bulk-key-8"
    assert OrderLine.objects.filter(order__external_ref="WEB-B3").count() == 2


def test_bulk_answers_repeats_with_their_orders_even_when_they_no_longer_validate(api, catalogue):
    items = [base_payload("WEB-R1"), base_payload("WEB-R2", skus=("CAM-0002-P",))]
    first = api.post(BULK, items, format="json").json()
    assert [r["status"] for r in first["results"]] == [201, 201]
    Product.objects.filter(sku="CAM-0002-P").update(active=False)  # retired since
    orders = Order.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        again = api.post(BULK, items, format="json").json()
    assert [r["status"] for r in again["results"]] == [200, 200]
    assert [r["order"]["number"] for r in again["results"]] == [
        r["order"]["number"] for r in first["results"]
    ]
    assert again["existing"] == 2 and Order.objects.count() == orders
    # channels, SKUs, the taken order that no longer validates, the taken ones that do: none per order
    assert len(ctx.captured_queries) <= 4


def test_bulk_refuses_a_key_taken_by_another_order_without_reading_its_channel(api, catalogue):
    ChannelFactory(code="app", name="App", kind="app")
    web = [{**base_payload(f"WEB-K{i}"), "idempotency_key": f"key-{i}"} for i in range(3)]
    assert [r["status"] for r in api.post(BULK, web, format="json").json()["results"]] == [201] * 3
    app = [{**item, "channel": "app", "external_ref": f"APP-K{i}"} for i, item in enumerate(web)]
    with CaptureQueriesContext(connection) as ctx:
        results = api.post(BULK, app, format="json").json()["results"]
    assert [r["status"] for r in results] == [422] * 3
    assert all("idempotency_key" in r["errors"] for r in results)
    assert not [q for q in ctx.captured_queries if 'FROM "orders_channel"' in q["sql"]]
    assert not Order.objects.filter(channel__code="app").exists()
    again = api.post(BULK, web, format="json").json()["results"]  # the same orders with their keys: 200
    assert [r["status"] for r in again] == [200] * 3


def test_bulk_accepts_a_bare_list_and_refuses_more_than_500(api, catalogue):
    assert api.post(BULK, [base_payload("WEB-L1")], format="json").json()["created"] == 1
    response = api.post(BULK, [base_payload(f"WEB-{i}") for i in range(501)], format="json")
    assert response.status_code == 400 and "500" in str(response.json()["orders"])
    assert api.post(BULK, {"orders": "x"}, format="json").status_code == 400
    assert Order.objects.count() == 1


def test_bulk_resolves_references_in_a_fixed_number_of_queries(api, catalogue):
    small = [base_payload(f"WEB-S{i}") for i in range(2)]
    large = [base_payload(f"WEB-L{i}", skus=("CAM-0001-P", "CAM-0002-P", "CAM-0003-P")) for i in range(20)]
    with CaptureQueriesContext(connection) as few:
        api.post(BULK, small, format="json")
    with CaptureQueriesContext(connection) as many:
        api.post(BULK, large, format="json")
    lookups = [q["sql"] for q in many.captured_queries if 'FROM "inventory_product"' in q["sql"]]
    assert len(lookups) == 1  # one SKU lookup for the whole batch, none per line
    per_order_small = len(few.captured_queries) / 2
    assert len(many.captured_queries) / 20 <= per_order_small  # the batch's fixed cost is shared


# --- list and detail --------------------------------------------------------------------------------------


@pytest.fixture
def cs_api(client_for, cs_user):
    return client_for(cs_user)


@pytest.fixture
def some_orders(api, catalogue):
    numbers = []
    for i in range(6):
        body = base_payload(f"WEB-{i:03d}", skus=("CAM-0001-P", "CAM-0002-P"))
        body["placed_at"] = (timezone.now() - dt.timedelta(hours=i)).isoformat()
        numbers.append(api.post(ORDERS, body, format="json").json()["number"])
    return numbers


def test_list_is_paginated_newest_first(cs_api, some_orders):
    response = cs_api.get(ORDERS, {"page_size": 4})
    assert response.status_code == 200
    body = response.json()
    assert [o["number"] for o in body["results"]] == some_orders[:4]
    assert body["next"] and len(body["results"][0]["lines"]) == 2
    rest = cs_api.get(body["next"]).json()
    assert [o["number"] for o in rest["results"]] == some_orders[4:]


def test_list_filters(cs_api, some_orders, catalogue):
    Order.objects.filter(number=some_orders[1]).update(status=OrderStatus.ON_HOLD)
    assert [o["number"] for o in cs_api.get(ORDERS, {"status": "on_hold"}).json()["results"]] == [
        some_orders[1]
    ]
    assert cs_api.get(ORDERS, {"channel": "other"}).json()["results"] == []
    assert len(cs_api.get(ORDERS, {"channel": "web"}).json()["results"]) == 6
    after = (timezone.now() - dt.timedelta(hours=2, minutes=30)).isoformat()
    assert len(cs_api.get(ORDERS, {"placed_after": after}).json()["results"]) == 3
    assert len(cs_api.get(ORDERS, {"placed_before": after}).json()["results"]) == 3
    assert cs_api.get(ORDERS, {"status": "nonsense"}).status_code == 400
    assert cs_api.get(ORDERS, {"placed_after": "yesterday"}).status_code == 400


@pytest.mark.parametrize(
    "query",
    ["{number}", "WEB-003", "ana@example.com", "529.982.247-25", "01310-200", "(11) 91234-5678", "Ana Sou"],
    ids=["number", "reference", "email", "cpf", "cep", "phone", "name prefix"],
)
def test_search_box(cs_api, some_orders, query):
    results = cs_api.get(ORDERS, {"q": query.format(number=some_orders[3])}).json()["results"]
    numbers = [o["number"] for o in results]
    if query in ("{number}", "WEB-003"):
        assert numbers == [some_orders[3]]
    else:
        assert numbers == some_orders
    assert cs_api.get(ORDERS, {"q": "nobody@example.com"}).json()["results"] == []


@pytest.mark.parametrize(
    ("query", "found"),
    [("Ana Sou", True), ("ana sou", True), ("An", True), ("Ana Souza", True), ("Ana Z", False), ("B", False)],
)
def test_a_name_prefix_matches_the_name_on_the_order_in_any_case(cs_api, some_orders, query, found):
    numbers = [o["number"] for o in cs_api.get(ORDERS, {"q": query}).json()["results"]]
    assert numbers == (some_orders if found else [])


def test_list_takes_the_same_queries_whatever_the_page_size(
    cs_api, some_orders, django_assert_max_num_queries
):
    cs_api.get(ORDERS)  # warm the permission cache of the user object
    with django_assert_max_num_queries(6):
        assert len(cs_api.get(ORDERS, {"page_size": 2}).json()["results"]) == 2
    with django_assert_max_num_queries(6):
        assert len(cs_api.get(ORDERS, {"page_size": 50}).json()["results"]) == 6


def _fulfil(number: str, location: Any, **fields: Any) -> Fulfilment:
    from orders.models import FulfilmentLine

    order = Order.objects.get(number=number)
    fulfilment = Fulfilment.objects.create(order=order, location=location, kind="ship", **fields)
    for line in order.lines.all():
        FulfilmentLine.objects.create(fulfilment=fulfilment, order_line=line, qty=line.qty)
    return fulfilment


def test_detail_has_lines_fulfilments_and_timeline(
    cs_api, some_orders, catalogue, django_assert_max_num_queries, routing_defaults
):
    number = some_orders[0]
    _fulfil(number, catalogue["dc"], carrier_service="economy", tracking_code="BR123", status="shipped")
    cs_api.get(ORDERS)
    with django_assert_max_num_queries(8):  # the carrier services' names: one query for all fulfilments
        response = cs_api.get(f"{ORDERS}{number}/")
    assert response.status_code == 200
    body = response.json()
    assert body["number"] == number and len(body["lines"]) == 2
    (fulfilment,) = body["fulfilments"]
    assert fulfilment["location"] == "CD-SP" and fulfilment["status"] == "shipped"
    assert fulfilment["carrier_service"] == "economy" and fulfilment["tracking_code"] == "BR123"
    assert fulfilment["carrier_service_name"] == "Econômico (Correios)"
    assert [ln["line_no"] for ln in fulfilment["lines"]] == [1, 2]
    assert [e["kind"] for e in body["timeline"]] == ["created", "status"]
    assert body["timeline"][0]["actor"] == "integration-web"


def test_detail_of_an_unknown_order_is_404(cs_api, some_orders):
    assert cs_api.get(f"{ORDERS}99999999/").status_code == 404


# --- scoping ---------------------------------------------------------------------------------------------


def test_store_staff_see_only_orders_at_their_store(client_for, store_user, some_orders, catalogue):
    mine = LocationFactory(code="LJ-SP-09")
    assign_perm("inventory.work_at_location", store_user, mine)
    _fulfil(some_orders[0], mine)
    _fulfil(some_orders[1], catalogue["dc"])
    Order.objects.filter(number=some_orders[2]).update(delivery_mode="pickup", pickup_location=mine)
    client = client_for(store_user)
    listed = [o["number"] for o in client.get(ORDERS).json()["results"]]
    assert sorted(listed) == sorted([some_orders[0], some_orders[2]])
    assert client.get(f"{ORDERS}{some_orders[0]}/").status_code == 200
    assert client.get(f"{ORDERS}{some_orders[1]}/").status_code == 404
    assert client.get(f"{ORDERS}{some_orders[3]}/").status_code == 404


def test_managers_see_only_their_channels(client_for, manager_user, some_orders, api, catalogue):
    app = ChannelFactory(code="app", name="App", kind="app")
    app_order = api.post(ORDERS, {**base_payload("APP-1"), "channel": "app"}, format="json").json()["number"]
    assign_perm("orders.manage_channel", manager_user, app)
    client = client_for(manager_user)
    assert [o["number"] for o in client.get(ORDERS).json()["results"]] == [app_order]
    assert client.get(f"{ORDERS}{app_order}/").status_code == 200
    assert client.get(f"{ORDERS}{some_orders[0]}/").status_code == 404
    assert [c["code"] for c in client.get("/api/v1/channels/").json()["results"]] == ["app"]


# --- actions ---------------------------------------------------------------------------------------------


def test_cancel_then_cancel_again_is_a_409(cs_api, some_orders):
    number = some_orders[0]
    response = cs_api.post(f"{ORDERS}{number}/cancel/", {"reason": "customer asked"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled"
    assert Order.objects.get(number=number).status == OrderStatus.CANCELLED
    again = cs_api.post(f"{ORDERS}{number}/cancel/", {}, format="json")
    assert again.status_code == 409
    assert "não pode mais ser cancelado" in again.json()["detail"]


def test_hold_needs_a_reason_then_release(cs_api, some_orders):
    number = some_orders[0]
    refused = cs_api.post(f"{ORDERS}{number}/hold/", {}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    held = cs_api.post(f"{ORDERS}{number}/hold/", {"reason": "fraud check"}, format="json")
    assert held.status_code == 200 and held.json()["status"] == "on_hold"
    assert cs_api.post(f"{ORDERS}{number}/hold/", {"reason": "again"}, format="json").status_code == 409
    released = cs_api.post(f"{ORDERS}{number}/release/")
    assert released.status_code == 200 and released.json()["status"] == "awaiting_routing"
    assert cs_api.post(f"{ORDERS}{number}/release/").status_code == 409


def test_note_and_address_change(cs_api, some_orders):
    number = some_orders[0]
    assert cs_api.post(f"{ORDERS}{number}/notes/", {"text": "  "}, format="json").status_code == 400
    assert (
        cs_api.post(f"{ORDERS}{number}/notes/", {"text": "called the customer"}, format="json").status_code
        == 200
    )
    assert OrderEvent.objects.filter(
        order__number=number, kind="note", message="called the customer"
    ).exists()
    address = {
        "street": "Rua Augusta",
        "number": "10",
        "city": "São Paulo",
        "state": "sp",
        "cep": "01305-000",
    }
    bad = cs_api.post(f"{ORDERS}{number}/address/", {**address, "cep": "1"}, format="json")
    assert bad.status_code == 400 and "cep" in bad.json()
    bad = cs_api.post(f"{ORDERS}{number}/address/", {**address, "state": "ZZ"}, format="json")
    assert bad.status_code == 400 and list(bad.json()) == ["state"], bad.content
    assert Order.objects.get(number=number).ship_state == "SP"
    response = cs_api.post(f"{ORDERS}{number}/address/", address, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["delivery"]["address"]["street"] == "Rua Augusta"
    order = Order.objects.get(number=number)
    assert (order.ship_cep, order.ship_state) == ("01305000", "SP")
    assert order.ship_lat == pytest.approx(-23.55, abs=0.1)  # placed from the new CEP


def test_actions_need_change_order_and_scope(client_for, store_user, manager_user, some_orders):
    number = some_orders[0]
    assert client_for(store_user).post(f"{ORDERS}{number}/cancel/", {}, format="json").status_code == 403
    assert client_for(manager_user).post(f"{ORDERS}{number}/cancel/", {}, format="json").status_code == 404
    assert Order.objects.get(number=number).status == OrderStatus.AWAITING_ROUTING


def test_reference_lists_for_channels(cs_api, catalogue):
    ChannelFactory(code="app", name="App", kind="app")
    body = cs_api.get("/api/v1/channels/").json()
    assert body["results"] == [
        {"code": "app", "name": "App", "kind": "app", "active": True},
        {"code": "web", "name": "Site", "kind": "site", "active": True},
    ]
    assert [c["code"] for c in cs_api.get("/api/v1/channels/", {"kind": "app"}).json()["results"]] == ["app"]


def test_the_schema_describes_the_endpoints(cs_api):
    response = cs_api.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    for path in [
        "/api/v1/orders/",
        "/api/v1/orders/bulk/",
        "/api/v1/orders/{number}/",
        "/api/v1/orders/{number}/cancel/",
        "/api/v1/channels/",
    ]:
        assert path in paths, path
    create = paths["/api/v1/orders/"]["post"]
    assert {"201", "200", "400"} <= set(create["responses"])
    components = schema["components"]["schemas"]
    assert "OrderCreateIn" in components
    # Money travels as decimal strings ("59.90"), never as floats.
    assert components["OrderCreateIn"]["properties"]["shipping_price"]["type"] == "string"


def test_the_text_backslash_u0000_is_not_a_nul_character(api, catalogue):
    body = with_change(base_payload(), "customer.name", "Ana \\u0000 Souza")  # a backslash, then "u0000"
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["customer"]["name"] == "Ana \\u0000 Souza"


def test_a_nul_character_anywhere_in_the_body_is_a_400(api, catalogue):
    body = with_change(base_payload(), "external_ref", "WEB-1\u0000")
    before = Order.objects.count()
    response = api.post(ORDERS, body, format="json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert Order.objects.count() == before
