"""The delivery promise API: home and pickup options from the same engine, nothing reserved."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory.models import Reservation, StockLevel, StockMovement
from routing.models import RoutingPolicy

pytestmark = pytest.mark.django_db

URL = "/api/v1/promise/"


@pytest.fixture
def api(client, cs_user):
    client.force_login(cs_user)

    def post(body, **extra):
        return client.post(URL, body, content_type="application/json", **extra)

    return post


def test_url_is_named():
    assert reverse("api:promise") == URL


def test_home_and_pickup_options_without_reserving(api, routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.paulista, w.shirt, 1)
    with CaptureQueriesContext(connection) as ctx:
        resp = api(
            {"lines": [{"sku": "CAM-0001-P", "qty": 2}], "cep": "01310-200", "lat": -23.563, "lon": -46.654}
        )
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["cep"] == "01310200" and body["currency"] == "BRL"
    services = {o["service"]: o for o in body["home"]}
    assert {"express", "economy", "regional-road", "metro-van"} <= set(services)
    # the courier runs from stores only, and no store near enough has both units: not offered
    assert "moto-courier" not in services
    for option in body["home"]:
        assert float(option["price"]) > 0 and option["delivery_date"] >= "2000-01-01"
    assert services["metro-van"]["ships_from"] == ["CD-SP-CAJAMAR"]
    dates = [o["business_days"] for o in body["home"]]
    assert dates == sorted(dates)
    pickup = {o["location"]: o for o in body["pickup"]}
    assert "LJ-SP-01" in pickup and pickup["LJ-SP-01"]["transfer"] is True  # 1 on the shelf, 1 brought in
    assert "LJ-RJ-01" not in pickup  # 360 km away
    assert pickup["LJ-SP-01"]["distance_km"] < 1
    assert Reservation.objects.count() == 0 and StockMovement.objects.filter(kind="reserve").count() == 0
    assert StockLevel.objects.get(location=w.dc, product=w.shirt).reserved == 0
    assert not [q for q in ctx.captured_queries if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]


def test_pickup_store_with_all_units_is_ready_without_transfer(api, routing_world):
    w = routing_world
    w.stock(w.paulista, w.shirt, 5)
    resp = api(
        {"lines": [{"sku": "CAM-0001-P", "qty": 2}], "cep": "01310200", "lat": -23.563, "lon": -46.654}
    )
    pickup = {o["location"]: o for o in resp.json()["pickup"]}
    assert pickup["LJ-SP-01"]["transfer"] is False and pickup["LJ-SP-01"]["business_days"] == 0


def test_no_stock_means_no_options(api, routing_world):
    resp = api(
        {"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "01310200", "lat": -23.563, "lon": -46.654}
    )
    assert resp.status_code == 200
    assert resp.json()["home"] == [] and resp.json()["pickup"] == []


def test_paused_store_is_not_offered_for_pickup(api, routing_world):
    w = routing_world
    w.stock(w.paulista, w.shirt, 5)
    w.stock(w.morumbi, w.shirt, 5)
    RoutingPolicy.objects.get(channel__isnull=True).paused_locations.add(w.paulista)
    resp = api(
        {"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "01310200", "lat": -23.563, "lon": -46.654}
    )
    pickup = [o["location"] for o in resp.json()["pickup"]]
    assert "LJ-SP-01" not in pickup and "LJ-SP-02" in pickup


def test_cep_alone_is_placed_on_the_map(api, routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 3)
    resp = api({"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "01310-200"})
    assert resp.status_code == 200, resp.content
    assert resp.json()["home"] and resp.json()["lat"] < -23


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [{"sku": "NOPE", "qty": 1}], "cep": "01310200"}, "lines"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 0}], "cep": "01310200"}, "lines"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": "two"}], "cep": "01310200"}, "lines"),
        ({"lines": [], "cep": "01310200"}, "lines"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "123"}, "cep"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 1}]}, "cep"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "01310200", "lat": -23.5}, "lat"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "01310200", "lat": 123, "lon": 0}, "lat"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 1}], "cep": "01310200", "channel": "nope"}, "channel"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, routing_world, body, field):
    resp = api(body)
    assert resp.status_code == 400
    assert field in resp.json()


def test_a_body_that_is_not_json_is_a_400(client, cs_user, routing_world):
    client.force_login(cs_user)
    resp = client.post(URL, "{not json", content_type="application/json")
    assert resp.status_code == 400


def test_anonymous_is_refused(client, routing_world):
    resp = client.post(URL, {"lines": [], "cep": "x"}, content_type="application/json")
    assert resp.status_code in (401, 403)
