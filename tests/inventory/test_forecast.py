"""Demand forecasts: each location's week and each stock row's units a day from the ledger's last eight
weeks, checked against the two weeks before today; replenishment plans with them; the page is scoped to the
manager's locations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from inventory.models import (
    DemandForecast,
    LocationDemandProfile,
    ReplenishmentProposal,
    StockLevel,
    StockMovement,
)
from inventory.services.forecast import HISTORY_DAYS, forecast_refresh, week_shape
from inventory.services.replenishment import replenishment_propose
from inventory.tasks import refresh_forecast
from oms.roles import Role
from tests.factories import LocationFactory, ProductFactory, RegionFactory, StockFactory, shipped_daily
from tests.worker import wait_for

pytestmark = pytest.mark.django_db
SATURDAY = 5
TODAY = timezone.localdate()


@pytest.fixture
def store(db):
    """A store selling 10 shirts every Saturday and 2 on other days, and shoes it stopped selling 9 weeks
    ago."""
    south = RegionFactory(code="sul")
    store = LocationFactory(code="LJ-RS-01", region=south.code)
    shirt = StockFactory(location=store, product=ProductFactory(sku="CAM-0001-P"), on_hand=40)
    shoe = StockFactory(location=store, product=ProductFactory(sku="TEN-0001-42"), on_hand=5)
    shipped_daily(shirt, lambda day: 10 if day.weekday() == SATURDAY else 2)
    shipped_daily(shoe, lambda day: 1 if (TODAY - day).days > 63 else 0)
    return {"region": south, "store": store, "shirt": shirt, "shoe": shoe}


def test_a_week_shape_averages_one_and_stays_flat_without_sales():
    assert week_shape([0.0] * 7) == [1.0] * 7
    shape = week_shape([2, 2, 2, 2, 2, 80, 2])
    assert sum(shape) == pytest.approx(7) and shape[SATURDAY] > 3
    thin = week_shape([0, 0, 0, 0, 0, 4, 0])  # four units are little evidence of a Saturday store
    assert thin[SATURDAY] < 2.5  # 7 if taken at face value


def test_the_forecast_follows_the_week_and_checks_itself(store):
    assert forecast_refresh() == {"locations": 1, "forecasts": 1, "dropped": 0}
    profile = LocationDemandProfile.objects.get(location=store["store"])
    saturday = profile.weekday_factors[SATURDAY]
    assert sum(profile.weekday_factors) == pytest.approx(7, abs=0.01)
    assert 2.7 < saturday < 3.18  # 10 against an average day of 22/7, pulled a little towards flat
    shirt = DemandForecast.objects.get(stock=store["shirt"])
    assert shirt.daily == pytest.approx(Decimal(22) / 7, rel=Decimal("0.03"))
    assert shirt.recent_units == 4 * 22
    assert profile.checked_units == 2 * 22
    assert profile.wape < Decimal("0.1") and abs(profile.bias) < Decimal("0.05")  # a steady week is foreseen
    assert not DemandForecast.objects.filter(stock=store["shoe"]).exists()  # nothing in eight weeks
    assert forecast_refresh() == {"locations": 1, "forecasts": 1, "dropped": 0}  # again: the same
    assert DemandForecast.objects.get(stock=store["shirt"]).daily == shirt.daily


def test_whole_days_are_checked_apart_from_products(store):
    """Two products that swap days (one sells on even days, the other on odd ones) are each far off every day,
    but the store's days are exact."""
    even = StockFactory(location=store["store"], product=ProductFactory(sku="PAR-0001"), on_hand=9)
    odd = StockFactory(location=store["store"], product=ProductFactory(sku="IMP-0001"), on_hand=9)
    StockMovement.objects.filter(stock__in=[store["shirt"], store["shoe"]]).delete()
    shipped_daily(even, lambda day: 4 if day.toordinal() % 2 == 0 else 0)
    shipped_daily(odd, lambda day: 4 if day.toordinal() % 2 else 0)
    forecast_refresh()
    profile = LocationDemandProfile.objects.get(location=store["store"])
    assert profile.wape > Decimal("0.9")  # each product: 2 a day forecast, 0 or 4 sold
    assert profile.day_wape < Decimal("0.1")  # the store: 4 a day, 4 sold


def test_recent_weeks_count_most(store):
    bag = StockFactory(location=store["store"], product=ProductFactory(sku="BOL-0001"), on_hand=50)
    shipped_daily(bag, lambda day: 5 if (TODAY - day).days <= 14 else 1)  # a campaign the last two weeks
    forecast_refresh()
    daily = DemandForecast.objects.get(stock=bag).daily
    plain_average = Decimal(14 * 5 + 42 * 1) / HISTORY_DAYS  # 2.0
    assert daily > plain_average + Decimal("0.3")
    assert daily < 5


def test_a_row_that_stops_selling_loses_its_forecast(store):
    forecast_refresh()
    StockMovement.objects.filter(stock=store["shirt"]).delete()
    assert forecast_refresh() == {"locations": 0, "forecasts": 0, "dropped": 1}
    assert not LocationDemandProfile.objects.exists()  # nothing sold there in eight weeks: no week either


def test_replenishment_plans_with_the_forecast(store):
    assert replenishment_propose()["created"] == 0  # 40 free at 22/7 a day: enough for the lead time
    StockLevel.objects.filter(pk=store["shirt"].pk).update(on_hand=9)
    replenishment_propose()
    plain = ReplenishmentProposal.objects.get()
    assert plain.daily_demand == Decimal("3.14")  # 88 in 28 days, no forecast yet
    forecast_refresh()
    replenishment_propose()
    planned = ReplenishmentProposal.objects.get()
    shirt = DemandForecast.objects.get(stock=store["shirt"])
    assert planned.daily_demand == shirt.daily.quantize(Decimal("0.01"))
    week = LocationDemandProfile.objects.get(location=store["store"]).weekday_factors
    lead = sum(float(shirt.daily) * week[(TODAY + dt.timedelta(days=k)).weekday()] for k in range(3))
    assert planned.reorder_point == pytest.approx(lead, abs=1)  # the next three days as their weekdays bring
    assert planned.target == pytest.approx(lead + float(shirt.daily) * 14, abs=1)
    DemandForecast.objects.update(updated_at=timezone.now() - dt.timedelta(days=3))  # the job stopped
    replenishment_propose()
    assert ReplenishmentProposal.objects.get().daily_demand == Decimal("3.14")


def test_a_region_manager_reads_their_locations_forecast(
    client, manager_user, store, django_assert_max_num_queries
):
    other = LocationFactory(code="LJ-PA-01", region=RegionFactory(code="norte").code)
    shipped_daily(StockFactory(location=other, product=store["shirt"].product, on_hand=3), lambda day: 1)
    for n in range(12):  # more products must not mean more queries
        row = StockFactory(location=store["store"], product=ProductFactory(sku=f"SKU-{n:02d}"), on_hand=9)
        shipped_daily(row, lambda day, n=n: 1 if day.day % (n + 2) == 0 else 0)
    forecast_refresh()
    assign_perm("inventory.manage_region", manager_user, store["region"])
    client.force_login(manager_user)
    url = reverse("inventory:forecast")
    with django_assert_max_num_queries(11):
        html = client.get(url).content.decode()
    assert 'data-sku="CAM-0001-P"' in html and 'data-testid="forecast-chart"' in html
    assert html.count("data-sku=") == 13
    assert html.count("<rect") == 14  # the next two weeks
    assert client.get(url, {"location": "LJ-PA-01"}).status_code == 404


def test_a_location_without_forecast_says_so(client, admin_user):
    LocationFactory(code="LJ-RS-01")
    client.force_login(admin_user)
    html = client.get(reverse("inventory:forecast"), {"location": "LJ-RS-01"}).content.decode()
    assert 'data-testid="no-forecast"' in html


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.STORE_STAFF, Role.WAREHOUSE_STAFF])
def test_other_roles_have_no_forecast_page(client, user_by_role, role):
    client.force_login(user_by_role[role])
    assert client.get(reverse("inventory:forecast")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_the_forecast(store, needs_worker):
    refresh_forecast.delay()
    assert wait_for(lambda: DemandForecast.objects.filter(stock=store["shirt"]).exists(), timeout=30)
