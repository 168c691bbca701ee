"""A region manager plans a promotion on a phone, in Portuguese: from the forecast page to a new demand event
for their stores' T-shirts, which the forecast chart then shows on its days, and removes it again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from inventory.models import DemandEvent
from inventory.services.forecast import forecast_refresh
from tests.factories import LocationFactory, ProductFactory, RegionFactory, StockFactory, shipped_daily

from .conftest import fits, login


@pytest.mark.django_db(transaction=True)
def test_a_manager_plans_a_promotion_on_a_phone(phone_page, manager_user):
    south = RegionFactory(code="sul")
    store = LocationFactory(code="LJ-RS-01", region=south.code)
    LocationFactory(code="LJ-PA-01", region=RegionFactory(code="norte").code)
    shirt = StockFactory(location=store, product=ProductFactory(sku="CAM-0001-P"), on_hand=90)
    shipped_daily(shirt, lambda day: 4, days=56)
    forecast_refresh()
    assign_perm("inventory.manage_region", manager_user, south)
    start = timezone.localdate() + dt.timedelta(days=2)
    page = phone_page
    login(page, manager_user.username)
    page.goto("/inventory/forecast/")
    expect(page.locator("[data-testid=forecast-chart] rect[data-marked]")).to_have_count(0)
    page.click("[data-testid=events-link]")
    expect(page.locator("h1")).to_have_text("Eventos de demanda")
    page.click("[data-testid=event-new]")
    page.fill("#id_name", "Liquidação de camisetas")
    page.fill("#id_starts_on", start.isoformat())
    page.fill("#id_ends_on", (start + dt.timedelta(days=2)).isoformat())
    page.fill("#id_factor", "2.5")
    page.fill("#id_products", "CAM-0001-P")
    page.click("[data-testid=event-save]")
    expect(page.locator("[data-testid=error-locations]")).to_contain_text("Escolha os locais")
    expect(page.locator("[data-testid=event-locations] label")).to_have_count(1)  # only theirs: LJ-RS-01
    page.check("#id_everywhere")
    assert fits(page)
    page.click("[data-testid=event-save]")
    expect(page.locator(".messages")).to_contain_text("Liquidação de camisetas")
    row = page.locator("[data-testid=events-ahead] tr[data-event]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("×2,50")  # in Portuguese
    expect(row).to_contain_text("1 local")
    event = DemandEvent.objects.get()
    assert list(event.locations.values_list("code", flat=True)) == ["LJ-RS-01"]
    page.goto("/inventory/forecast/")
    bars = page.locator("[data-testid=forecast-chart] rect[data-marked]")
    expect(bars).to_have_count(3)
    expect(bars.first).to_have_attribute("data-value", "10")  # 4 a day × 2.5
    expect(page.locator("[data-testid=forecast-events]")).to_contain_text("Liquidação de camisetas")
    page.goto(f"/inventory/forecast/events/{event.pk}/")
    expect(page.locator("#id_starts_on")).to_have_value(start.isoformat())  # the dates come back to edit
    page.click("[data-testid=event-delete]")  # not confirmed: kept
    expect(page.locator(".messages")).to_contain_text("confirmar")
    page.check("[data-testid=event-delete-confirm]")
    page.click("[data-testid=event-delete]")
    expect(page.locator("[data-testid=events-ahead-none]")).to_be_visible()
    assert not DemandEvent.objects.exists()
