"""The inventory API: locations and products (scoped reference data) and stock counts/adjustments."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from inventory.models import StockLevel, StockMovement
from inventory.services import stock_reserve
from tests.factories import DCFactory, LocationFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(db):
    store = LocationFactory(code="LJ-SP-01", offers_pickup=True)
    other = LocationFactory(code="LJ-RJ-01", city="Rio de Janeiro", state="RJ", cep="20040002")
    dc = DCFactory(code="CD-SP")
    shirt, cap = ProductFactory(sku="CAM-0001-P"), ProductFactory(sku="BON-0001-U", name="Boné")
    for location in (store, other, dc):
        StockFactory(location=location, product=shirt, on_hand=10)
    return {"store": store, "other": other, "dc": dc, "shirt": shirt, "cap": cap}


def test_locations_have_the_contract_fields_and_filters(client_for, cs_user, network):
    client = client_for(cs_user)
    body = client.get("/api/v1/locations/").json()
    assert [loc["code"] for loc in body["results"]] == ["CD-SP", "LJ-RJ-01", "LJ-SP-01"]
    first = body["results"][0]
    assert {"code", "name", "kind", "cep", "city", "state", "lat", "lon", "ships", "offers_pickup"} <= set(
        first
    )
    assert first["kind"] == "dc" and first["offers_pickup"] is False
    picked = client.get("/api/v1/locations/", {"offers_pickup": "true", "state": "SP"}).json()["results"]
    assert [loc["code"] for loc in picked] == ["LJ-SP-01"]


def test_store_staff_see_only_their_locations(client_for, store_user, network):
    assign_perm("inventory.work_at_location", store_user, network["store"])
    body = client_for(store_user).get("/api/v1/locations/").json()
    assert [loc["code"] for loc in body["results"]] == ["LJ-SP-01"]


def test_products_with_and_without_stock(client_for, cs_user, network, django_assert_max_num_queries):
    client = client_for(cs_user)
    plain = client.get("/api/v1/products/").json()["results"]
    assert [p["sku"] for p in plain] == ["BON-0001-U", "CAM-0001-P"]
    assert plain[1] | {"stock": None} == {
        "sku": "CAM-0001-P",
        "ean": network["shirt"].ean,
        "name": network["shirt"].name,
        "weight_g": 250,
        "price": "59.90",
        "active": True,
        "stock": None,
    }
    stock_reserve(location=network["store"], product=network["shirt"], qty=3, ref="t:1")
    at_store = client.get("/api/v1/products/", {"location": "LJ-SP-01", "q": "CAM"}).json()["results"]
    assert at_store[0]["stock"] == [
        {"location": "LJ-SP-01", "on_hand": 10, "reserved": 3, "safety_stock": 0, "available": 7}
    ]
    client.get("/api/v1/products/", {"with_stock": "1"})
    with django_assert_max_num_queries(5):
        everywhere = client.get("/api/v1/products/", {"with_stock": "1"}).json()["results"]
    assert [s["location"] for s in everywhere[1]["stock"]] == ["CD-SP", "LJ-RJ-01", "LJ-SP-01"]
    assert everywhere[0]["stock"] == []
    assert client.get("/api/v1/products/", {"location": "NOPE"}).status_code == 404


def test_product_stock_is_scoped_to_the_callers_locations(client_for, store_user, network):
    assign_perm("inventory.work_at_location", store_user, network["store"])
    client = client_for(store_user)
    rows = client.get("/api/v1/products/", {"with_stock": "1", "q": "CAM"}).json()["results"][0]["stock"]
    assert [r["location"] for r in rows] == ["LJ-SP-01"]
    assert client.get("/api/v1/products/", {"location": "LJ-RJ-01"}).status_code == 404


@pytest.fixture
def stock_admin(client_for, admin_user):
    return client_for(admin_user)


def test_put_a_count_writes_the_ledger(stock_admin, network):
    url = "/api/v1/stock/LJ-SP-01/CAM-0001-P/"
    response = stock_admin.put(url, {"on_hand": 12, "reason": "cycle count"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() | {"updated_at": None} == {
        "location": "LJ-SP-01",
        "sku": "CAM-0001-P",
        "on_hand": 12,
        "reserved": 0,
        "safety_stock": 0,
        "available": 12,
        "updated_at": None,
    }
    movement = StockMovement.objects.get(stock__location__code="LJ-SP-01", kind="count")
    assert (movement.on_hand_delta, movement.reason) == (2, "cycle count")


def test_put_a_delta_and_a_new_row(stock_admin, network):
    response = stock_admin.put(
        "/api/v1/stock/LJ-SP-01/BON-0001-U/", {"delta": 5, "reason": "receipt"}, format="json"
    )
    assert response.status_code == 200 and response.json()["on_hand"] == 5
    response = stock_admin.put(
        "/api/v1/stock/LJ-SP-01/BON-0001-U/", {"delta": -2, "reason": "damaged"}, format="json"
    )
    assert response.json()["on_hand"] == 3
    assert stock_admin.get("/api/v1/stock/LJ-SP-01/BON-0001-U/").json()["on_hand"] == 3


def test_a_count_below_reserved_is_a_409_that_says_so(stock_admin, network):
    stock_reserve(location=network["store"], product=network["shirt"], qty=6, ref="t:1")
    response = stock_admin.put(
        "/api/v1/stock/LJ-SP-01/CAM-0001-P/", {"on_hand": 4, "reason": "count"}, format="json"
    )
    assert response.status_code == 409
    # the default language is pt-BR
    assert "6 unidades já reservadas" in response.json()["detail"] and response.json()["reserved"] == 6
    too_far = stock_admin.put(
        "/api/v1/stock/LJ-SP-01/CAM-0001-P/", {"delta": -5, "reason": "x"}, format="json"
    )
    assert too_far.status_code == 409
    assert StockLevel.objects.get(location=network["store"], product=network["shirt"]).on_hand == 10


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "nothing to do"},
        {"on_hand": 3, "delta": 1, "reason": "both"},
        {"on_hand": -1, "reason": "negative"},
        {"on_hand": "many", "reason": "a word"},
        {"delta": 0, "reason": "zero"},
        {"on_hand": 3},
    ],
    ids=["neither", "both", "negative", "a word", "zero delta", "no reason"],
)
def test_bad_stock_bodies_are_400(stock_admin, network, body):
    response = stock_admin.put("/api/v1/stock/LJ-SP-01/CAM-0001-P/", body, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()) & {"on_hand", "delta", "reason"}
    assert not StockMovement.objects.exists()


def test_unknown_location_or_sku_is_404(stock_admin, network):
    assert (
        stock_admin.put(
            "/api/v1/stock/NOPE/CAM-0001-P/", {"on_hand": 1, "reason": "x"}, format="json"
        ).status_code
        == 404
    )
    assert (
        stock_admin.put(
            "/api/v1/stock/LJ-SP-01/NOPE/", {"on_hand": 1, "reason": "x"}, format="json"
        ).status_code
        == 404
    )


def test_changing_stock_needs_the_permission(client_for, cs_user, network):
    response = client_for(cs_user).put(
        "/api/v1/stock/LJ-SP-01/CAM-0001-P/", {"on_hand": 1, "reason": "x"}, format="json"
    )
    assert response.status_code == 403
    assert client_for(cs_user).post("/api/v1/stock/adjustments/", [], format="json").status_code == 403


def test_store_staff_change_stock_only_at_their_store(client_for, store_user, network):
    assign_perm("inventory.work_at_location", store_user, network["store"])
    client = client_for(store_user)
    assert (
        client.put(
            "/api/v1/stock/LJ-SP-01/CAM-0001-P/", {"on_hand": 8, "reason": "count"}, format="json"
        ).status_code
        == 200
    )
    assert (
        client.put(
            "/api/v1/stock/LJ-RJ-01/CAM-0001-P/", {"on_hand": 8, "reason": "count"}, format="json"
        ).status_code
        == 404
    )
    assert StockLevel.objects.get(location=network["other"], product=network["shirt"]).on_hand == 10


def test_bulk_adjustments_each_on_its_own(stock_admin, network):
    stock_reserve(location=network["dc"], product=network["shirt"], qty=9, ref="t:1")
    items = [
        {"location": "LJ-SP-01", "sku": "CAM-0001-P", "on_hand": 15, "reason": "count"},
        {"location": "LJ-RJ-01", "sku": "CAM-0001-P", "delta": -3, "reason": "damaged"},
        {"location": "CD-SP", "sku": "CAM-0001-P", "on_hand": 2, "reason": "count"},
        {"location": "NOPE", "sku": "CAM-0001-P", "on_hand": 2, "reason": "count"},
        {"location": "LJ-SP-01", "sku": "NOPE", "on_hand": 2, "reason": "count"},
        {"location": "LJ-SP-01", "sku": "CAM-0001-P", "reason": "nothing"},
        "junk",
    ]
    response = stock_admin.post("/api/v1/stock/adjustments/", {"adjustments": items}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [200, 200, 409, 404, 404, 400, 400]
    assert (body["applied"], body["failed"]) == (2, 5)
    assert body["results"][0]["stock"]["on_hand"] == 15
    assert "já reservadas" in body["results"][2]["errors"]["on_hand"][0]
    levels = {
        s.location.code: s.on_hand
        for s in StockLevel.objects.filter(product=network["shirt"]).select_related("location")
    }
    assert levels == {"LJ-SP-01": 15, "LJ-RJ-01": 7, "CD-SP": 10}
    too_many = stock_admin.post("/api/v1/stock/adjustments/", [items[0]] * 1001, format="json")
    assert too_many.status_code == 400
