"""Stock pages: the stock list (scope, search, filter, keyset pages, flat queries) and a row's ledger."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from inventory.models import MovementKind, StockLevel, StockMovement
from inventory.services import stock_adjust, stock_reserve
from oms.roles import Role
from tests.factories import (
    DCFactory,
    LocationFactory,
    ProductFactory,
    RegionFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def shelves(db):
    """Two stores and a DC with stock: LJ-SP-01 holds CAM-AZUL and CAM-VERDE, LJ-RJ-01 holds CAM-AZUL."""
    sp = LocationFactory(code="LJ-SP-01", region="sudeste")
    rj = LocationFactory(code="LJ-RJ-01", region="sudeste")
    dc = DCFactory(code="CD-SUL", region="sul")
    azul = ProductFactory(sku="CAM-AZUL-M", ean="7891000000011", name="Camiseta azul")
    verde = ProductFactory(sku="CAM-VERDE-M", ean="7891000000028", name="Camiseta verde")
    return {
        "sp": sp,
        "rj": rj,
        "dc": dc,
        "sp_azul": StockFactory(location=sp, product=azul, on_hand=10, safety_stock=1),
        "sp_verde": StockFactory(location=sp, product=verde, on_hand=4),
        "rj_azul": StockFactory(location=rj, product=azul, on_hand=7),
        "dc_azul": StockFactory(location=dc, product=azul, on_hand=100),
    }


def _rows(response) -> set[tuple[str, str]]:
    return {(row.location.code, row.product.sku) for row in response.context["page"].items}


def _login(client, user):
    client.force_login(user)
    return client


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("inventory:stock"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_admin_sees_every_location_and_the_stock_nav_item(client, admin_user, shelves):
    response = _login(client, admin_user).get(reverse("inventory:stock"))
    assert response.status_code == 200
    assert len(_rows(response)) == 4
    assert f'href="{reverse("inventory:stock")}"' in response.content.decode()


def test_store_user_sees_only_its_store(client, store_user, shelves):
    assign_perm("inventory.work_at_location", store_user, shelves["sp"])
    response = _login(client, store_user).get(reverse("inventory:stock"))
    assert response.status_code == 200
    assert _rows(response) == {("LJ-SP-01", "CAM-AZUL-M"), ("LJ-SP-01", "CAM-VERDE-M")}
    # Its location filter offers only its own store; another store is refused, not shown.
    assert list(response.context["form"].fields["location"].queryset) == [shelves["sp"]]
    response = client.get(reverse("inventory:stock"), {"location": "LJ-RJ-01"})
    assert response.status_code == 200 and _rows(response) == set()


def test_manager_sees_the_locations_of_its_region(client, manager_user, shelves):
    assign_perm("inventory.manage_region", manager_user, RegionFactory(code="sudeste"))
    response = _login(client, manager_user).get(reverse("inventory:stock"))
    assert response.status_code == 200
    assert {code for code, _ in _rows(response)} == {"LJ-SP-01", "LJ-RJ-01"}


def test_warehouse_user_sees_its_dc(client, warehouse_user, shelves):
    assign_perm("inventory.work_at_location", warehouse_user, shelves["dc"])
    response = _login(client, warehouse_user).get(reverse("inventory:stock"))
    assert _rows(response) == {("CD-SUL", "CAM-AZUL-M")}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("CAM-VERDE", {("LJ-SP-01", "CAM-VERDE-M")}),
        ("7891000000028", {("LJ-SP-01", "CAM-VERDE-M")}),
        ("verde", {("LJ-SP-01", "CAM-VERDE-M")}),
        ("azul", {("LJ-SP-01", "CAM-AZUL-M"), ("LJ-RJ-01", "CAM-AZUL-M"), ("CD-SUL", "CAM-AZUL-M")}),
    ],
)
def test_search_by_sku_ean_or_name(client, admin_user, shelves, query, expected):
    response = _login(client, admin_user).get(reverse("inventory:stock"), {"q": query}, **HTMX)
    assert response.status_code == 200
    assert _rows(response) == expected
    assert "<html" not in response.content.decode()  # HTMX gets only the results


def test_filter_by_location_and_figures(client, admin_user, shelves):
    stock_reserve(
        location=shelves["sp"], product=shelves["sp_azul"].product, qty=3, ref="fl:1", group="00000001"
    )
    response = _login(client, admin_user).get(reverse("inventory:stock"), {"location": "LJ-SP-01"})
    assert _rows(response) == {("LJ-SP-01", "CAM-AZUL-M"), ("LJ-SP-01", "CAM-VERDE-M")}
    azul = next(r for r in response.context["page"].items if r.product.sku == "CAM-AZUL-M")
    assert (azul.on_hand, azul.reserved, azul.safety_stock, azul.available) == (10, 3, 1, 6)


def test_keyset_pages_and_flat_query_count(client, admin_user, django_assert_max_num_queries):
    store = LocationFactory(code="LJ-SP-01")
    for i in range(5):
        StockFactory(location=store, product=ProductFactory(sku=f"SKU-{i:03d}"))
    client = _login(client, admin_user)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("inventory:stock"))
        assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
        return response, len(ctx.captured_queries)

    _, few = queries()
    for i in range(5, 60):
        StockFactory(location=store, product=ProductFactory(sku=f"SKU-{i:03d}"))
    with django_assert_max_num_queries(few):
        response, many = queries()
    assert many == few
    first = [r.product.sku for r in response.context["page"].items]
    assert len(first) == 50 and response.context["next_query"]
    second = client.get(reverse("inventory:stock") + "?" + response.context["next_query"], **HTMX)
    rest = [r.product.sku for r in second.context["page"].items]
    assert first + rest == [f"SKU-{i:03d}" for i in range(60)]
    assert not second.context["next_query"]


# --- ledger -----------------------------------------------------------------------------------------------


def _ledger_url(stock: StockLevel) -> str:
    return reverse("inventory:ledger", args=[stock.location.code, stock.product.sku])


def test_ledger_shows_figures_and_movements(client, admin_user, shelves):
    stock = shelves["sp_azul"]
    stock_adjust(
        location=stock.location, product=stock.product, delta=5, reason="recebimento avulso", by=admin_user
    )
    response = _login(client, admin_user).get(_ledger_url(stock))
    assert response.status_code == 200
    html = response.content.decode()
    assert "recebimento avulso" in html and "+5" in html and "admin1" in html
    assert response.context["row"].on_hand == 15
    assert response.context["can_change"] is True


@pytest.mark.parametrize("role", [Role.STORE_STAFF, Role.MANAGER, Role.ADMIN, Role.CUSTOMER_SERVICE])
def test_ledger_renders_for_each_role_in_scope(client, user_by_role, shelves, role):
    user = user_by_role[role]
    if role == Role.STORE_STAFF:
        assign_perm("inventory.work_at_location", user, shelves["sp"])
    if role == Role.MANAGER:
        assign_perm("inventory.manage_region", user, RegionFactory(code="sudeste"))
    response = _login(client, user).get(_ledger_url(shelves["sp_azul"]))
    assert response.status_code == 200
    can_change = role in (Role.STORE_STAFF, Role.ADMIN)
    assert ('data-testid="count-form"' in response.content.decode()) is can_change


def test_ledger_outside_scope_is_404(client, store_user, shelves):
    assign_perm("inventory.work_at_location", store_user, shelves["sp"])
    client = _login(client, store_user)
    assert client.get(_ledger_url(shelves["rj_azul"])).status_code == 404
    assert client.post(_ledger_url(shelves["rj_azul"]), {"action": "adjust"}).status_code == 404
    assert client.get(reverse("inventory:ledger", args=["LJ-SP-01", "NOPE"])).status_code == 404


def test_store_user_sets_a_count_and_adjusts(client, store_user, shelves):
    assign_perm("inventory.work_at_location", store_user, shelves["sp"])
    stock = shelves["sp_verde"]
    client = _login(client, store_user)
    response = client.post(
        _ledger_url(stock),
        {"action": "count", "count-on_hand": "9", "count-reason": "inventário"},
        follow=True,
    )
    assert response.status_code == 200
    stock.refresh_from_db()
    assert stock.on_hand == 9
    count = StockMovement.objects.get(stock=stock, kind=MovementKind.COUNT)
    assert (count.on_hand_delta, count.actor, count.reason) == (5, store_user, "inventário")
    client.post(_ledger_url(stock), {"action": "adjust", "adjust-delta": "-2", "adjust-reason": "avaria"})
    stock.refresh_from_db()
    assert stock.on_hand == 7
    assert StockMovement.objects.filter(stock=stock, kind=MovementKind.ADJUST, on_hand_delta=-2).exists()


def test_an_adjustment_sent_twice_is_applied_once(client, admin_user, shelves):
    """A double tap on a phone, or a retry on a poor connection: the same form (its one-submission token)
    adjusts once; a new form adjusts again."""
    stock = shelves["sp_azul"]
    client = _login(client, admin_user)
    page = client.get(_ledger_url(stock)).content.decode()
    token = re.search(r'name="once" value="([^"]+)"', page.split('data-testid="adjust-form"')[1]).group(1)
    data = {"action": "adjust", "adjust-delta": "-2", "adjust-reason": "avaria", "once": token}
    assert client.post(_ledger_url(stock), data).status_code == 302
    assert client.post(_ledger_url(stock), data).status_code == 302
    stock.refresh_from_db()
    assert stock.on_hand == 8
    assert StockMovement.objects.filter(stock=stock, kind=MovementKind.ADJUST).count() == 1
    client.post(_ledger_url(stock), {**data, "once": token + "-another-form"})
    stock.refresh_from_db()
    assert stock.on_hand == 6


def test_count_below_reserved_is_an_error_message_and_changes_nothing(client, admin_user, shelves):
    stock = shelves["sp_azul"]
    stock_reserve(location=stock.location, product=stock.product, qty=6, ref="fl:9", group="00000009")
    moves = StockMovement.objects.filter(stock=stock).count()
    client = _login(client, admin_user)
    response = client.post(
        _ledger_url(stock), {"action": "count", "count-on_hand": "2", "count-reason": "contagem"}, follow=True
    )
    assert response.status_code == 200
    assert any("menor que as 6 unidades" in str(m) for m in response.context["messages"])  # pt-BR page
    response = client.post(
        _ledger_url(stock), {"action": "adjust", "adjust-delta": "-9", "adjust-reason": "perda"}, follow=True
    )
    assert any("abaixo das 6 unidades" in str(m) for m in response.context["messages"])
    stock.refresh_from_db()
    assert (stock.on_hand, stock.reserved) == (10, 6)
    assert StockMovement.objects.filter(stock=stock).count() == moves


def test_invalid_count_form_shows_errors(client, admin_user, shelves):
    stock = shelves["sp_azul"]
    client = _login(client, admin_user)
    response = client.post(_ledger_url(stock), {"action": "count", "count-on_hand": "-1", "count-reason": ""})
    assert response.status_code == 400
    response = client.post(
        _ledger_url(stock), {"action": "adjust", "adjust-delta": "0", "adjust-reason": "x"}
    )
    assert response.status_code == 400
    stock.refresh_from_db()
    assert stock.on_hand == 10


def test_manager_may_read_but_not_change(client, manager_user, shelves):
    assign_perm("inventory.manage_region", manager_user, RegionFactory(code="sudeste"))
    stock = shelves["sp_azul"]
    response = _login(client, manager_user).post(
        _ledger_url(stock), {"action": "adjust", "adjust-delta": "5", "adjust-reason": "x"}
    )
    assert response.status_code == 403
    stock.refresh_from_db()
    assert stock.on_hand == 10


def test_ledger_pages_older_movements(client, admin_user, shelves):
    stock = shelves["sp_verde"]
    for i in range(55):
        stock_adjust(location=stock.location, product=stock.product, delta=1, reason=f"r{i}")
    client = _login(client, admin_user)
    first = client.get(_ledger_url(stock))
    assert len(first.context["page"].items) == 50 and first.context["page"].items[0].reason == "r54"
    second = client.get(_ledger_url(stock) + "?" + first.context["next_query"])
    assert [m.reason for m in second.context["page"].items] == [f"r{i}" for i in range(4, -1, -1)]
