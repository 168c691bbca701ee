"""Demand forecasts: each location's week and each stock row's units a day from the ledger's last eight
weeks, with a damped trend for a row whose sales rise or fall steadily, checked against the two weeks before
today; replenishment plans with them; the page is scoped to the manager's locations and shows the trends."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from inventory.models import (
    DemandForecast,
    LocationDemandProfile,
    ReplenishmentProposal,
    StockLevel,
    StockMovement,
)
from inventory.services.events import demand_event_save
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


def flat_method(per_age: Callable[[int], int]) -> float:
    """What the forecast was before it had a trend: the units of the last eight weeks, each week's weight
    halving every two weeks, over seven days (`per_age`: the units sold the day so many days ago)."""
    weeks = [sum(per_age(7 * week + day) for day in range(1, 8)) for week in range(8)]
    weights = [0.5 ** (week / 2) for week in range(8)]
    return sum(w * units for w, units in zip(weights, weeks, strict=True)) / (7 * sum(weights))


def sells(code: str, per_age: Callable[[int], int], sku: str = "CAM-0001-P") -> Any:
    """A stock row at a new location `code` that sold `per_age(n)` units the day n days ago (70 days)."""
    row = StockFactory(location=LocationFactory(code=code), product=ProductFactory(sku=sku), on_hand=100)
    shipped_daily(row, lambda day: per_age((TODAY - day).days))
    return row


def rising(age: int) -> int:
    return 12 - (age - 1) // 7  # a unit a day more every week: 12 a day last week, 5 eight weeks before


def falling(age: int) -> int:
    return 5 + (age - 1) // 7  # a unit a day less every week: 5 a day last week, 12 eight weeks before


def test_a_steady_rise_is_forecast_above_the_flat_method_and_a_fall_below(client, admin_user):
    up, down = sells("LJ-UP-01", rising), sells("LJ-DN-01", falling)
    forecast_refresh()
    grows, shrinks = DemandForecast.objects.get(stock=up), DemandForecast.objects.get(stock=down)
    assert flat_method(rising) == pytest.approx(10.12, abs=0.01)  # the weighted weeks lag the rise
    assert float(grows.daily) > flat_method(rising) + 1.5
    assert float(grows.daily) < 13  # damped: not quite the line's 13 a day next week
    assert Decimal("0.5") < grows.trend <= 1  # units a day more each week: 1 in truth, shrunk for the noise
    assert float(shrinks.daily) < flat_method(falling) - 1.5
    assert float(shrinks.daily) > 4  # damped: not quite the line's 4
    assert -1 <= shrinks.trend < Decimal("-0.5")
    assert DemandForecast.objects.get(stock=down).daily == shrinks.daily  # the job's answer, every run
    # the check forecasts its two weeks the same way: without the trend the rise was 29 % under (8.1 a day
    # against 12 and 11 sold) and the fall 61 % over (8.9 against 5 and 6)
    rose = LocationDemandProfile.objects.get(location=up.location)
    fell = LocationDemandProfile.objects.get(location=down.location)
    assert Decimal("-0.15") < rose.bias < 0 and rose.day_wape < Decimal("0.15")
    assert 0 < fell.bias < Decimal("0.35") and fell.day_wape < Decimal("0.35")
    client.force_login(admin_user)
    url = reverse("inventory:forecast")
    with translation.override("en"):  # and back to the default language after the English requests
        page = client.get(url, {"location": "LJ-UP-01"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'data-trend="up"' in page and f"Rising: +{grows.trend:.3f} units a day each week" in page
        page = client.get(url, {"location": "LJ-DN-01"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert 'data-trend="down"' in page and f"Falling: {shrinks.trend:.3f} units a day each week" in page
    page = client.get(url, {"location": "LJ-UP-01"}, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert f"+{grows.trend:.3f}".replace(".", ",") in page  # the reader's decimal comma


def noise(rng: random.Random) -> list[int]:
    return [rng.randint(0, 8) for _age in range(70)]


def test_a_flat_or_noisy_row_keeps_the_flat_forecast(store, client, admin_user):
    """Twenty rows selling 0 to 8 units a day at random: nearly all keep the forecast they had without a
    trend, to the thousandth, and the store's total moves by less than 2 %."""
    draws = {f"RUI-{seed:02d}": noise(random.Random(seed)) for seed in range(20)}
    flat, made = {}, {}
    for sku, units in draws.items():
        row = StockFactory(location=store["store"], product=ProductFactory(sku=sku), on_hand=9)
        shipped_daily(row, lambda day, units=units: units[(TODAY - day).days - 1])
        flat[sku] = flat_method(lambda age, units=units: units[age - 1])
    forecast_refresh()
    for f in DemandForecast.objects.filter(stock__product__sku__in=draws).select_related("stock__product"):
        made[f.stock.product.sku] = f
    kept = [sku for sku, f in made.items() if f.trend == 0 and abs(float(f.daily) - flat[sku]) < 5e-4]
    assert len(kept) >= 18
    assert sum(float(f.daily) for f in made.values()) == pytest.approx(sum(flat.values()), rel=0.02)
    shirt = DemandForecast.objects.get(stock=store["shirt"])  # the same 22 units every week
    assert shirt.trend == 0 and shirt.daily == Decimal(22 / 7).quantize(Decimal("0.001"))
    client.force_login(admin_user)
    page = client.get(reverse("inventory:forecast"), {"location": "LJ-RS-01"}).content.decode()
    assert page.count('data-testid="trend"') == 20 - len(kept)


def handful(age: int) -> int:
    return 1 if age in (1, 3, 6, 9, 12) else 0


def last_twenty_days(age: int) -> int:
    return 1 if age <= 20 else 0


def test_a_row_that_sold_a_handful_keeps_the_flat_forecast(db):
    """Five units, all in the last two weeks, and 20 in the last three: too few to read a trend in, however
    steep they look."""
    rows = {sells("LJ-FEW-01", handful): handful, sells("LJ-FEW-02", last_twenty_days): last_twenty_days}
    forecast_refresh()
    for row, per_age in rows.items():
        made = DemandForecast.objects.get(stock=row)
        assert made.trend == 0
        assert made.daily == Decimal(flat_method(per_age)).quantize(Decimal("0.001"))


def test_a_fall_to_nothing_never_forecasts_below_half_the_level(db):
    """Two units a day fewer every week, none sold last week: the line says below zero; the trend takes off at
    most half of the flat forecast."""
    per_age = lambda age: min(14, 2 * ((age - 1) // 7))  # noqa: E731
    row = sells("LJ-FIM-01", per_age)
    forecast_refresh()
    made = DemandForecast.objects.get(stock=row)
    assert made.trend < 0
    assert float(made.daily) == pytest.approx(flat_method(per_age) / 2, abs=0.002)
    assert LocationDemandProfile.objects.get(location=row.location).bias > 0  # over, never negative


def test_a_planned_promotion_is_not_a_trend(db):
    """Four units a day, and three times that in a promotion over the last two weeks, planned as a demand
    event: each week is read at its normal level, so there is no rise to follow."""
    row = sells("LJ-PRO-01", lambda age: 12 if age <= 14 else 4)
    demand_event_save(
        name="Promo", starts_on=TODAY - dt.timedelta(days=14), ends_on=TODAY - dt.timedelta(days=1),
        factor="3", products=[row.product], locations=[row.location],
    )  # fmt: skip
    forecast_refresh()
    made = DemandForecast.objects.get(stock=row)
    assert made.trend == 0 and made.daily == pytest.approx(Decimal(4), abs=Decimal("0.01"))


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
    # a first request fills the process's content-type cache (three reads when this test runs alone)
    client.get(url)
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
