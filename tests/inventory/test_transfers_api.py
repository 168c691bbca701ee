"""The transfer API: a WMS or POS opens, dispatches and receives transfers; bad input is refused naming the
field and writes nothing; each step only from the side it belongs to; all scoped to the caller's locations."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from inventory.models import StockLevel, StockTransfer, TransferStatus
from tests.factories import DCFactory, LocationFactory, ProductFactory, StockFactory, stock_row

pytestmark = pytest.mark.django_db
URL = "/api/v1/transfers/"


@pytest.fixture
def places(db, store_user, warehouse_user):
    dc = DCFactory(code="CD-SP-01")
    store = LocationFactory(code="LJ-SP-01")
    other = LocationFactory(code="LJ-RJ-01")
    shirt, cap = ProductFactory(sku="CAM-0001-P"), ProductFactory(sku="BON-0001-U")
    for product in (shirt, cap):
        StockFactory(location=dc, product=product, on_hand=50)
    StockFactory(location=store, product=shirt, on_hand=1)
    assign_perm("inventory.work_at_location", warehouse_user, dc)
    assign_perm("inventory.work_at_location", store_user, store)
    return {"dc": dc, "store": store, "other": other, "shirt": shirt, "cap": cap}


def _open(client, **body):
    payload = {
        "source": "CD-SP-01",
        "destination": "LJ-SP-01",
        "lines": [{"sku": "CAM-0001-P", "qty": 10}, {"sku": "BON-0001-U", "qty": 5}],
        **body,
    }
    return client.post(URL, payload, format="json")


def test_a_transfer_through_the_api(client_for, warehouse_user, store_user, places):
    dc_side, store_side = client_for(warehouse_user), client_for(store_user)
    resp = _open(dc_side, note="reposição semanal")
    assert resp.status_code == 201, resp.json()
    body = resp.json()
    number = body["number"]
    assert (body["source"], body["destination"], body["status"], body["origin"]) == (
        "CD-SP-01", "LJ-SP-01", "open", "manual",
    )  # fmt: skip
    assert body["lines"] == [
        {"sku": "BON-0001-U", "qty": 5, "sent": 0, "received": 0},
        {"sku": "CAM-0001-P", "qty": 10, "sent": 0, "received": 0},
    ]
    assert StockLevel.objects.get(location=places["dc"], product=places["shirt"]).reserved == 10

    assert (
        store_side.post(f"{URL}{number}/dispatch/", {}, format="json").status_code == 403
    )  # not theirs to send
    resp = dc_side.post(
        f"{URL}{number}/dispatch/",
        {"lines": [{"sku": "CAM-0001-P", "qty": 9}], "text": "Jadlog 77"},
        format="json",
    )
    assert resp.status_code == 200 and resp.json()["status"] == "dispatched"
    assert resp.json()["tracking"] == "Jadlog 77"
    assert [line["sent"] for line in resp.json()["lines"]] == [5, 9]  # the cap's left out: all of them
    assert dc_side.post(f"{URL}{number}/dispatch/", {}, format="json").status_code == 409  # once

    assert dc_side.post(f"{URL}{number}/receive/", {}, format="json").status_code == 403
    resp = store_side.post(
        f"{URL}{number}/receive/", {"lines": [{"sku": "CAM-0001-P", "qty": 8}]}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["status"] == "received"
    assert stock_row(places["store"], places["shirt"]).on_hand == 1 + 8
    assert stock_row(places["store"], places["cap"]).on_hand == 5
    assert store_side.get(f"{URL}{number}/").json()["lines"][1] == {
        "sku": "CAM-0001-P", "qty": 10, "sent": 9, "received": 8,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"lines": []}, 400, "lines"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 0}]}, 400, "lines"),
        ({"lines": [{"sku": "CAM-0001-P", "qty": 1}, {"sku": "CAM-0001-P", "qty": 1}]}, 400, "lines"),
        ({"lines": [{"sku": "NOPE", "qty": 1}]}, 400, "lines"),
        ({"destination": "XX-00"}, 400, "destination"),
        ({"destination": "CD-SP-01"}, 409, "destination"),  # to itself
        ({"lines": [{"sku": "CAM-0001-P", "qty": 51}]}, 409, "shortages"),
        ({"source": "LJ-RJ-01"}, 404, "detail"),  # not one of theirs
    ],
)
def test_bad_transfers_are_refused_naming_the_field(client_for, warehouse_user, places, body, status, field):
    resp = _open(client_for(warehouse_user), **body)
    assert resp.status_code == status and field in resp.json(), resp.json()
    assert not StockTransfer.objects.exists()
    assert StockLevel.objects.get(location=places["dc"], product=places["shirt"]).reserved == 0


def test_steps_name_what_is_wrong(client_for, warehouse_user, places):
    client = client_for(warehouse_user)
    number = _open(client).json()["number"]
    resp = client.post(f"{URL}{number}/dispatch/", {"lines": [{"sku": "TEN-9", "qty": 1}]}, format="json")
    assert resp.status_code == 400 and "TEN-9" in resp.json()["lines"][0]
    resp = client.post(
        f"{URL}{number}/dispatch/", {"lines": [{"sku": "CAM-0001-P", "qty": 11}]}, format="json"
    )
    assert resp.status_code == 409 and "qty" in resp.json()
    assert client.post(f"{URL}{number}/teleport/", {}, format="json").status_code == 404
    assert client.post(f"{URL}TR-999999/cancel/", {}, format="json").status_code == 404
    assert client.get(f"{URL}not-a-number/").status_code == 404
    resp = client.post(f"{URL}{number}/cancel/", {"text": "wrong store"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert StockTransfer.objects.get().status == TransferStatus.CANCELLED


def test_receiving_keeps_the_note_the_transfer_was_opened_with(
    client_for, warehouse_user, store_user, places
):
    dc_side, store_side = client_for(warehouse_user), client_for(store_user)
    number = _open(dc_side, note="rev2").json()["number"]
    assert dc_side.post(f"{URL}{number}/dispatch/", {}, format="json").status_code == 200
    resp = store_side.post(f"{URL}{number}/receive/", {"text": "one missing"}, format="json")
    assert resp.status_code == 200 and resp.json()["note"] == "rev2 · one missing"
    assert StockTransfer.objects.get().note == "rev2 · one missing"


def test_the_list_is_scoped_and_flat(
    client_for, warehouse_user, store_user, places, django_assert_max_num_queries
):
    dc_side = client_for(warehouse_user)
    for _ in range(12):
        _open(dc_side, lines=[{"sku": "CAM-0001-P", "qty": 1}, {"sku": "BON-0001-U", "qty": 1}])
    rio = LocationFactory(code="LJ-RJ-02")
    StockFactory(location=places["other"], product=places["shirt"], on_hand=5)
    from inventory.services.transfers import transfer_create

    elsewhere = transfer_create(
        source=places["other"], destination=rio, lines=[(places["shirt"], 1)], by=None
    )
    with django_assert_max_num_queries(9):
        body = client_for(store_user).get(URL).json()
    assert len(body["results"]) == 12 and elsewhere.number not in {t["number"] for t in body["results"]}
    assert client_for(store_user).get(f"{URL}{elsewhere.number}/").status_code == 404
    assert client_for(store_user).get(URL, {"status": "received"}).json()["results"] == []
    assert client_for(store_user).get(URL, {"status": "lost"}).status_code == 400
    assert client_for(store_user).get(URL, {"location": "LJ-RJ-01"}).status_code == 404


def test_customer_service_has_no_transfers(client_for, cs_user, places):
    assert client_for(cs_user).get(URL).status_code == 403
