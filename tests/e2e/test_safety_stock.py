"""A manager sets safety stock by rule on a phone, in Portuguese: 7 days of demand, previewed with each row's
units a day, applied; the preview, the run's page and the list of rules applied lately fit the screen, with
nothing to scroll sideways (not even inside a table's wrapper)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from inventory.models import DemandForecast, SafetyRunStatus, SafetyStockRun, StockLevel
from tests.factories import LocationFactory, ProductFactory, RegionFactory, StockFactory

from .conftest import fits, login

# Every table wrapper shows all of its table, and no cell reaches past the screen's right edge.
NOTHING_HIDDEN = """() =>
  [...document.querySelectorAll('.table-wrap')].every(w => w.scrollWidth <= w.clientWidth)
  && [...document.querySelectorAll('td')].every(td => td.getBoundingClientRect().right <= 360)"""


@pytest.mark.django_db(transaction=True)
def test_a_manager_applies_days_of_demand_on_a_phone(phone_page, manager_user):
    south_east = RegionFactory(code="sudeste", name="Sudeste")
    store = LocationFactory(code="LJ-SP-PAULISTA-01", region=south_east.code, state="SP")
    for n, daily in enumerate(["1.25", "0.004", "12.5"]):
        product = ProductFactory(sku=f"TEN-CORRIDA-{n:04d}-42")
        stock = StockFactory(location=store, product=product, on_hand=30)
        DemandForecast.objects.create(stock=stock, daily=Decimal(daily), updated_at=timezone.now())
    display = StockLevel.objects.get(product__sku="TEN-CORRIDA-0002-42")
    StockLevel.objects.filter(pk=display.pk).update(safety_stock=200)  # set on purpose: kept
    assign_perm("inventory.manage_region", manager_user, south_east)

    page = phone_page
    login(page, manager_user.username)
    page.goto("/inventory/safety/")
    expect(page.locator("h1")).to_have_text("Estoque de segurança por regra")
    expect(page.locator("#id_only_raise")).to_be_checked()
    page.fill("#id_days", "7")  # ticks "days of demand"
    expect(page.locator("input[name=level][value=days]")).to_be_checked()
    page.fill("#id_note", "vitrine da campanha de inverno")
    page.click("[data-testid=safety-preview-button]")
    sample = page.locator("[data-testid=safety-sample]")
    expect(sample.locator("tbody tr")).to_have_count(2)
    expect(page.locator("[data-testid=safety-preview-lower]")).to_contain_text(
        "1 item de estoque tem mais estoque de segurança do que esta regra define: ele fica como está"
    )
    expect(sample.locator("[data-testid=safety-daily]").first).to_be_visible()
    assert fits(page) and page.evaluate(NOTHING_HIDDEN)

    page.click("[data-testid=safety-apply-button]")
    page.wait_for_url("**/inventory/safety/*/")
    expect(page.locator("[data-testid=safety-run-status]")).to_have_attribute("data-status", "done")
    expect(page.locator("[data-testid=safety-run-rule]")).to_have_text("7 dias de demanda")
    expect(page.locator("[data-testid=safety-run-note]")).to_have_text("vitrine da campanha de inverno")
    assert fits(page)

    page.goto("/inventory/safety/")
    runs = page.locator("[data-testid=safety-runs]")
    expect(runs.locator("tbody tr")).to_have_count(1)
    expect(runs.locator("[data-testid=safety-run-rule]")).to_have_text(
        "7 dias de demanda — vitrine da campanha de inverno"
    )
    expect(runs.locator(".badge")).to_be_visible()
    assert fits(page) and page.evaluate(NOTHING_HIDDEN)
    run = SafetyStockRun.objects.get()
    assert (run.status, run.changed) == (SafetyRunStatus.DONE, 2)
    display.refresh_from_db()
    assert display.safety_stock == 200
