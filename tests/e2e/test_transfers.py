"""Transfers in a browser: on phones in Portuguese, the DC's staff dispatch (one unit fewer than reserved)
and the store's staff count in what arrived, typed or scanned; on a desktop in English, a manager opens one
by hand and cancels it."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from inventory.models import StockLevel, StockTransfer
from inventory.services.transfers import transfer_create
from tests.factories import DCFactory, LocationFactory, ProductFactory, StockFactory

from .conftest import fits, login


@pytest.mark.django_db(transaction=True)
def test_the_dc_dispatches_and_the_store_receives_on_phones(
    phone_page, warehouse_user, store_user, manager_user
):
    dc = DCFactory(code="CD-SP-01")
    store = LocationFactory(code="LJ-SP-01")
    shirt = ProductFactory(sku="CAM-0001-P", name="Camiseta básica")
    StockFactory(location=dc, product=shirt, on_hand=50)
    StockFactory(location=store, product=shirt, on_hand=2)
    assign_perm("inventory.work_at_location", warehouse_user, dc)
    assign_perm("inventory.work_at_location", store_user, store)
    t = transfer_create(source=dc, destination=store, lines=[(shirt, 10)], by=manager_user)
    line = t.lines.get()
    page = phone_page

    login(page, warehouse_user.username)
    page.goto("/inventory/transfers/")
    expect(page.locator("h1")).to_have_text("Transferências")
    row = page.locator(f"[data-transfer='{t.number}']")
    expect(row.locator("[data-testid=to-dispatch]")).to_have_text("a enviar")
    assert fits(page)
    row.locator("a").click()
    page.fill(f"#q-{line.pk}", "9")  # one was not found on the shelf
    page.fill("#tr-text", "Frota própria 42")
    page.click("[data-testid=dispatch]")
    expect(page.locator(".msg-success")).to_contain_text(f"Transferência {t.number} enviada")
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("Em trânsito")
    expect(page.locator("[data-testid=transfer-tracking]")).to_have_text("Frota própria 42")
    assert fits(page)

    page.context.clear_cookies()
    login(page, store_user.username)
    page.goto("/inventory/transfers/?direction=in")
    page.locator(f"[data-transfer='{t.number}'] a").click()
    expect(page.locator(f"#q-{line.pk}")).to_have_value("9")
    page.fill(f"#q-{line.pk}", "8")
    page.click("[data-testid=receive]")
    expect(page.locator(".msg-success")).to_contain_text(f"Transferência {t.number} recebida")
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("Recebida")
    expect(page.locator("[data-testid=missing]")).to_have_text("1 faltando")
    assert fits(page)
    assert StockLevel.objects.get(location=store, product=shirt).on_hand == 2 + 8
    assert StockLevel.objects.get(location=dc, product=shirt).on_hand == 50 - 9
    assert StockTransfer.objects.get().dispatched_by == warehouse_user


@pytest.mark.django_db(transaction=True)
def test_a_manager_opens_a_transfer_by_hand_then_cancels_it(desktop_page, manager_user):
    from tests.factories import RegionFactory

    south = RegionFactory(code="sul")
    poa = LocationFactory(code="LJ-RS-01", region=south.code)
    canoas = LocationFactory(code="LJ-RS-02", region=south.code)
    shirt = ProductFactory(sku="CAM-0001-P")
    StockFactory(location=poa, product=shirt, on_hand=12)
    assign_perm("inventory.manage_region", manager_user, south)
    page = desktop_page
    login(page, manager_user.username)
    page.goto("/inventory/transfers/")
    page.click("[data-testid=transfer-new]")
    page.select_option("#id_source", "LJ-RS-01")
    page.select_option("#id_destination", "LJ-RS-02")
    page.fill("#id_lines", "CAM-0001-P 13")  # one more than there is
    page.click("[data-testid=transfer-new-form] button[type=submit]")
    expect(page.locator("[data-testid=transfer-new-form]")).to_contain_text("available 12")
    page.fill("#id_lines", "CAM-0001-P 5")
    page.click("[data-testid=transfer-new-form] button[type=submit]")
    expect(page.locator(".msg-success")).to_contain_text("its units are reserved")
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("To dispatch")
    assert StockLevel.objects.get(location=poa, product=shirt).reserved == 5
    page.click("details.card summary")
    page.fill("#tr-reason", "wrong store")
    page.click("[data-testid=cancel]")
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("Cancelled")
    assert StockLevel.objects.get(location=poa, product=shirt).reserved == 0
    assert StockTransfer.objects.get().destination == canoas


@pytest.mark.django_db(transaction=True)
def test_the_store_counts_a_delivery_by_scanning(phone_page, store_user, manager_user):
    from inventory.services.transfers import transfer_dispatch

    dc, store = DCFactory(code="CD-SP-01"), LocationFactory(code="LJ-SP-01")
    shirt = ProductFactory(sku="CAM-0001-P", ean="7891000000011")
    cap = ProductFactory(sku="BON-0001-U", ean="7891000000028")
    for product in (shirt, cap):
        StockFactory(location=dc, product=product, on_hand=10)
    assign_perm("inventory.work_at_location", store_user, store)
    t = transfer_create(source=dc, destination=store, lines=[(shirt, 2), (cap, 1)], by=manager_user)
    transfer_dispatch(transfer=t, by=manager_user)
    page = phone_page
    login(page, store_user.username)
    page.goto(f"/inventory/transfers/{t.pk}/")
    page.click("[data-testid=count-start]")
    shirt_qty = page.locator("input[data-sku='CAM-0001-P']")
    expect(shirt_qty).to_have_value("0")
    scan = page.locator("#tr-scan")
    for code in ("7891000000011", "cam-0001-p", "7891000000011", "9999"):
        scan.fill(code)
        scan.press("Enter")
    expect(page.locator("[data-testid=scan-result]")).to_contain_text("9999")  # not on this transfer
    expect(shirt_qty).to_have_value("2")  # the third shirt was one too many: refused
    expect(page.locator("input[data-sku='BON-0001-U']")).to_have_value("0")  # the cap did not come
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("Em trânsito")  # Enter did not submit
    page.click("[data-testid=receive]")
    expect(page.locator("[data-testid=transfer-status]")).to_have_text("Recebida")
    expect(page.locator("[data-testid=missing]")).to_have_text("1 faltando")
    assert StockLevel.objects.get(location=store, product=shirt).on_hand == 2
