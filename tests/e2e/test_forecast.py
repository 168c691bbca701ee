"""A region manager reads a store's demand forecast on a phone, in Portuguese, from the menu: the next two
weeks as a chart, the busiest products with the days their stock lasts; the page fits the screen."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from inventory.services.forecast import forecast_refresh
from tests.factories import LocationFactory, ProductFactory, RegionFactory, StockFactory, shipped_daily

from .conftest import login


@pytest.mark.django_db(transaction=True)
def test_a_manager_reads_a_stores_forecast_on_a_phone(phone_page, manager_user):
    south = RegionFactory(code="sul")
    store = LocationFactory(code="LJ-RS-01", region=south.code)
    row = StockFactory(location=store, product=ProductFactory(sku="CAM-0001-P"), on_hand=30)
    shipped_daily(row, lambda day: 6 if day.weekday() == 5 else 3, days=56)  # 3 a day, 6 on Saturdays
    forecast_refresh()
    assign_perm("inventory.manage_region", manager_user, south)
    page = phone_page
    login(page, manager_user.username)
    page.click("label.nav-toggle-label")  # the menu, folded on a phone
    page.click("nav.mainnav >> text=Previsão")
    expect(page.locator("h1")).to_have_text("Previsão de demanda")
    expect(page.locator("[data-testid=forecast-chart] rect")).to_have_count(14)
    expect(page.locator("[data-sku='CAM-0001-P'] td").nth(5)).to_have_text("8,7")  # 30 free at 24 a week
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
