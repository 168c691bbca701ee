"""Browser tests of the store work queue on a 360 px phone: pick by scanning, short pick, pack, ship,
hand over a pickup, and another store's fulfilment is a 404."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from inventory.models import StockLevel
from orders.models import FulfilmentStatus
from orders.services import AddressData, CustomerData, LineData, order_create
from orders.services.fulfilment import fulfilment_confirm_pick
from tests.factories import (
    ChannelFactory,
    LocationFactory,
    ProductFactory,
    StockFactory,
    fulfilment_with_reservations,
)

from .conftest import fits, login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADDRESS = AddressData(
    street="Av. Paulista", number="1578", district="Bela Vista", city="São Paulo", state="SP", cep="01310200"
)


@pytest.fixture(autouse=True)
def no_routing(monkeypatch):
    # These tests create fulfilments themselves; the routing task must not race them.
    monkeypatch.setattr("oms.queue.send_task_now", lambda *args, **kwargs: None)


@pytest.fixture
def store(store_user):
    store = LocationFactory(code="LJ-SP-01", name="Loja Paulista")
    assign_perm("inventory.work_at_location", store_user, store)
    return store


def make_order(ref, product, qty, *, mode="home", pickup_location=None):
    return order_create(
        channel=ChannelFactory(),
        external_ref=ref,
        placed_at=timezone.now() - dt.timedelta(minutes=5),
        customer=CustomerData(name="Ana Souza", email="ana@example.com", document="52998224725"),
        delivery_mode=mode,
        deadline_days=2,
        lines=[LineData(product=product, qty=qty, unit_price=Decimal("10"))],
        address=ADDRESS if mode == "home" else None,
        pickup_location=pickup_location,
    ).order


def test_store_user_picks_by_scanning_reports_short_packs_and_ships(
    phone_page, store_user, store, routing_defaults
):
    product = ProductFactory(sku="CAM-0001-P", ean="7890000000017")
    StockFactory(location=store, product=product, on_hand=10)
    order = make_order("E2E-1", product, 3)
    f = fulfilment_with_reservations(order=order, location=store)
    page = phone_page
    login(page, "store1")
    page.goto("/fulfilment/")
    item = page.locator("[data-testid=queue-item]")
    expect(item).to_have_count(1)
    assert fits(page)
    item.locator("a").click()
    scan = page.locator("#id_code")
    expect(scan).to_be_focused()
    # A scanner that sends Enter twice: while the first pick is on its way (held here) the second is not sent
    # (the form drops it, and the panel it came from is replaced by the answer), so one unit is picked.
    held = []
    page.route("**/pick/", lambda route: held.append(route))
    scan.fill("7890000000017")
    scan.press("Enter")
    page.wait_for_timeout(200)
    scan.press("Enter")
    page.wait_for_timeout(300)
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/pick/")
    expect(page.locator("[data-testid=line-picked]")).to_have_text("1")
    # A scanner types the EAN and presses Enter.
    page.locator("#id_code").fill("7890000000017")
    page.fill("#id_qty", "1")
    page.locator("#id_code").press("Enter")
    expect(page.locator("[data-testid=message]")).to_contain_text("CAM-0001-P")
    expect(page.locator("[data-testid=line-picked]")).to_have_text("2")
    expect(page.locator("#id_code")).to_be_focused()  # focus comes back after the HTMX swap
    page.locator("#id_code").fill("9999999999999")
    page.locator("#id_code").press("Enter")
    expect(page.locator("[data-testid=message]")).to_contain_text("9999999999999")
    # The last unit is not on the shelf.
    page.locator(".ff-short summary").click()
    page.select_option(".ff-short select[name=reason]", "not_found")
    page.locator(".ff-short button[type=submit]").click()
    expect(page.locator("[data-testid=fulfilment-panel]")).to_have_attribute("data-status", "picked")
    page.fill("#id_weight", "750")
    page.locator("form[action$='/pack/'] button[type=submit]").click()
    expect(page.locator("[data-testid=fulfilment-panel]")).to_have_attribute("data-status", "packed")
    page.check("#id_generate")
    page.locator("form[action$='/ship/'] button[type=submit]").click()
    expect(page.locator("[data-testid=fulfilment-panel]")).to_have_attribute("data-status", "shipped")
    expect(page.locator("[data-testid=tracking-code]")).to_contain_text("OMS")
    assert fits(page)
    f.refresh_from_db()
    assert f.status == FulfilmentStatus.SHIPPED
    level = StockLevel.objects.get(location=store, product=product)
    assert (level.on_hand, level.reserved) == (7, 0)  # 2 shipped, 1 short
    page.locator("[data-testid=label-link]").click()
    expect(page.locator("[data-testid=label] svg.barcode")).to_be_visible()


def test_store_user_hands_over_a_pickup(phone_page, store_user, store):
    product = ProductFactory(sku="TEN-0001-42")
    StockFactory(location=store, product=product, on_hand=4)
    order = make_order("E2E-2", product, 1, mode="pickup", pickup_location=store)
    f = fulfilment_with_reservations(order=order, location=store, kind="pickup")
    fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
    f.refresh_from_db()
    assert f.status == FulfilmentStatus.READY_FOR_PICKUP
    page = phone_page
    login(page, "store1")
    page.goto(f"/fulfilment/{f.pk}/")
    page.fill("#id_pickup_code", "WRONG9")
    page.locator("form[action$='/hand_over/'] button[type=submit]").click()
    expect(page.locator("[data-testid=message]")).to_be_visible()
    expect(page.locator("[data-testid=fulfilment-panel]")).to_have_attribute(
        "data-status", "ready_for_pickup"
    )
    page.fill("#id_pickup_code", f.pickup_code)
    page.locator("form[action$='/hand_over/'] button[type=submit]").click()
    expect(page.locator("[data-testid=fulfilment-panel]")).to_have_attribute("data-status", "collected")
    f.refresh_from_db()
    assert f.collected_by == store_user
    level = StockLevel.objects.get(location=store, product=product)
    assert (level.on_hand, level.reserved) == (3, 0)


def test_store_a_user_gets_404_for_store_b(phone_page, store_user, store):
    other = LocationFactory(code="LJ-RJ-01", name="Loja Rio")
    product = ProductFactory()
    StockFactory(location=other, product=product, on_hand=5)
    theirs = fulfilment_with_reservations(order=make_order("E2E-3", product, 1), location=other)
    page = phone_page
    login(page, "store1")
    page.wait_for_url("**/")
    response = page.goto(f"/fulfilment/{theirs.pk}/")
    assert response is not None and response.status == 404
    response = page.goto(f"/fulfilment/?location={other.code}")
    assert response is not None and response.status == 404
