"""Safety stock: units of a stock row kept back from orders, set by planners on the row's page and through the
API, written to the ledger, and never reserved."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from inventory.exceptions import InsufficientStock, InvalidQuantity
from inventory.models import MAX_QTY, MovementKind, StockLevel, StockMovement
from inventory.services import stock_reserve, stock_set_safety
from oms.roles import Role
from tests.factories import LocationFactory, ProductFactory, RegionFactory, StockFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shelf(db):
    """A store in the south-east with 10 shirts, 2 of them reserved, and a store elsewhere."""
    store = LocationFactory(code="LJ-SP-01", region="sudeste")
    far = LocationFactory(code="LJ-POA-01", region="sul")
    shirt = ProductFactory(sku="CAM-0001-P")
    row = StockFactory(location=store, product=shirt, on_hand=10)
    stock_reserve(location=store, product=shirt, qty=2, ref="fl:1", group="00000001")
    StockFactory(location=far, product=shirt, on_hand=4)
    return {"store": store, "far": far, "shirt": shirt, "row": row}


def _level(location, product) -> StockLevel:
    return StockLevel.objects.get(location=location, product=product)


# --- the service -------------------------------------------------------------------------------------------


def test_setting_safety_stock_keeps_units_from_reservations_and_writes_the_ledger(shelf, admin_user):
    store, shirt = shelf["store"], shelf["shirt"]
    stock = stock_set_safety(location=store, product=shirt, safety_stock=5, reason="vitrine", by=admin_user)
    assert (stock.on_hand, stock.reserved, stock.safety_stock, stock.available) == (10, 2, 5, 3)
    move = StockMovement.objects.get(stock=stock, kind=MovementKind.SAFETY)
    assert (move.safety_after, move.on_hand_delta, move.reserved_delta) == (5, 0, 0)
    assert (move.actor, move.reason, move.on_hand_after, move.reserved_after) == (
        admin_user,
        "vitrine",
        10,
        2,
    )
    with pytest.raises(InsufficientStock):
        stock_reserve(location=store, product=shirt, qty=4, ref="fl:2", group="00000002")
    stock_reserve(location=store, product=shirt, qty=3, ref="fl:3", group="00000003")
    assert _level(store, shirt).available == 0


def test_the_same_level_again_writes_nothing(shelf):
    store, shirt = shelf["store"], shelf["shirt"]
    stock_set_safety(location=store, product=shirt, safety_stock=3, reason="a")
    stock_set_safety(location=store, product=shirt, safety_stock=3, reason="b")
    assert StockMovement.objects.filter(kind=MovementKind.SAFETY).count() == 1


def test_safety_stock_above_what_is_free_leaves_reservations_alone(shelf):
    store, shirt = shelf["store"], shelf["shirt"]
    stock = stock_set_safety(location=store, product=shirt, safety_stock=50, reason="fechar para pedidos")
    assert (stock.reserved, stock.available) == (2, 0)


def test_a_new_pair_gets_a_row(shelf):
    cap = ProductFactory(sku="BON-0001-U")
    stock = stock_set_safety(location=shelf["store"], product=cap, safety_stock=1, reason="mostruário")
    assert (stock.on_hand, stock.safety_stock, stock.available) == (0, 1, 0)


@pytest.mark.parametrize("units", [-1, MAX_QTY + 1])
def test_out_of_range_names_the_field_and_writes_nothing(shelf, units):
    with pytest.raises(InvalidQuantity) as caught:
        stock_set_safety(location=shelf["store"], product=shelf["shirt"], safety_stock=units, reason="x")
    assert caught.value.field == "safety_stock"
    assert _level(shelf["store"], shelf["shirt"]).safety_stock == 0
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()


# --- the row's page ----------------------------------------------------------------------------------------


def _url(location: str = "LJ-SP-01") -> str:
    return reverse("inventory:ledger", args=[location, "CAM-0001-P"])


def _post(client, units="4", reason="vitrine", location="LJ-SP-01"):
    return client.post(
        _url(location), {"action": "safety", "safety-safety_stock": units, "safety-reason": reason}
    )


def test_a_regional_manager_sets_safety_stock_on_the_page(client, manager_user, shelf):
    assign_perm("inventory.manage_region", manager_user, RegionFactory(code="sudeste"))
    client.force_login(manager_user)
    page = client.get(_url())
    html = page.content.decode()
    assert 'data-testid="safety-form"' in html and 'data-testid="count-form"' not in html
    response = _post(client)
    assert response.status_code == 302
    assert _level(shelf["store"], shelf["shirt"]).safety_stock == 4
    after = client.get(_url())
    assert [m.safety_after for m in after.context["page"].items if m.kind == MovementKind.SAFETY] == [4]
    assert "estoque de segurança 4" in after.content.decode()  # pt-BR by default
    assert any("Estoque de segurança salvo" in str(m) for m in after.context["messages"])


def test_a_manager_elsewhere_gets_404_and_changes_nothing(client, manager_user, shelf):
    assign_perm("inventory.manage_region", manager_user, RegionFactory(code="sudeste"))
    client.force_login(manager_user)
    assert _post(client, location="LJ-POA-01").status_code == 404
    assert _level(shelf["far"], shelf["shirt"]).safety_stock == 0


@pytest.mark.parametrize("role", [Role.STORE_STAFF, Role.CUSTOMER_SERVICE])
def test_floor_staff_and_customer_service_may_not_set_it(client, user_by_role, shelf, role):
    user = user_by_role[role]
    if role == Role.STORE_STAFF:
        assign_perm("inventory.work_at_location", user, shelf["store"])
    client.force_login(user)
    assert 'data-testid="safety-form"' not in client.get(_url()).content.decode()
    assert _post(client).status_code == 403
    assert _level(shelf["store"], shelf["shirt"]).safety_stock == 0


@pytest.mark.parametrize(("units", "reason"), [("-1", "x"), ("muitos", "x"), ("3", "")])
def test_a_bad_form_is_400_with_the_field_and_writes_nothing(client, admin_user, shelf, units, reason):
    client.force_login(admin_user)
    response = _post(client, units=units, reason=reason)
    assert response.status_code == 400
    form = response.context["safety_form"]
    assert set(form.errors) == ({"reason"} if not reason else {"safety_stock"})
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()


# --- the API -----------------------------------------------------------------------------------------------

URL = "/api/v1/stock/LJ-SP-01/CAM-0001-P/"


def test_a_planner_sets_safety_stock_through_the_api(client_for, manager_user, shelf):
    assign_perm("inventory.manage_region", manager_user, RegionFactory(code="sudeste"))
    response = client_for(manager_user).put(URL, {"safety_stock": 6, "reason": "Black Friday"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["on_hand"], body["reserved"], body["safety_stock"], body["available"]) == (10, 2, 6, 2)
    away = client_for(manager_user).put(
        "/api/v1/stock/LJ-POA-01/CAM-0001-P/", {"safety_stock": 1, "reason": "x"}, format="json"
    )
    assert away.status_code == 404


def test_each_change_needs_its_own_permission(client_for, manager_user, store_user, shelf):
    assign_perm("inventory.manage_region", manager_user, RegionFactory(code="sudeste"))
    assign_perm("inventory.work_at_location", store_user, shelf["store"])
    count_and_safety = {"on_hand": 12, "safety_stock": 1, "reason": "x"}
    refused = client_for(manager_user).put(URL, count_and_safety, format="json")
    assert refused.status_code == 403 and "inventory.change_stocklevel" in refused.json()["detail"]
    refused = client_for(store_user).put(URL, {"safety_stock": 1, "reason": "x"}, format="json")
    assert refused.status_code == 403 and "inventory.set_safety_stock" in refused.json()["detail"]
    row = _level(shelf["store"], shelf["shirt"])
    assert (row.on_hand, row.safety_stock) == (10, 0)


def test_a_count_and_safety_stock_are_all_or_nothing(client_for, admin_user, shelf):
    client = client_for(admin_user)
    both = client.put(URL, {"on_hand": 12, "safety_stock": 3, "reason": "inventário"}, format="json")
    assert both.status_code == 200 and (both.json()["on_hand"], both.json()["safety_stock"]) == (12, 3)
    below_reserved = client.put(URL, {"on_hand": 1, "safety_stock": 0, "reason": "x"}, format="json")
    assert below_reserved.status_code == 409
    assert _level(shelf["store"], shelf["shirt"]).safety_stock == 3


@pytest.mark.parametrize(
    "body",
    [{"safety_stock": -1, "reason": "x"}, {"safety_stock": "muitos", "reason": "x"}, {"safety_stock": 2}],
    ids=["negative", "a word", "no reason"],
)
def test_bad_safety_stock_bodies_are_400(client_for, admin_user, shelf, body):
    response = client_for(admin_user).put(URL, body, format="json")
    assert response.status_code == 400
    assert set(response.json()) & {"safety_stock", "reason"}
    assert not StockMovement.objects.filter(kind=MovementKind.SAFETY).exists()


def test_bulk_items_are_checked_one_by_one(client_for, store_user, shelf):
    assign_perm("inventory.work_at_location", store_user, shelf["store"])
    items = [
        {"location": "LJ-SP-01", "sku": "CAM-0001-P", "delta": 1, "reason": "achado"},
        {"location": "LJ-SP-01", "sku": "CAM-0001-P", "safety_stock": 2, "reason": "vitrine"},
    ]
    body = client_for(store_user).post("/api/v1/stock/adjustments/", items, format="json").json()
    assert [r["status"] for r in body["results"]] == [200, 403]
    assert "inventory.set_safety_stock" in body["results"][1]["errors"]["detail"][0]
    row = _level(shelf["store"], shelf["shirt"])
    assert (row.on_hand, row.safety_stock) == (11, 0)
