"""The live path prices stock from recent demand: the picture it draws, and the decisions it changes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from inventory.models import Location
from inventory.services.events import demand_event_save
from oms.phrases import english
from orders.models import Fulfilment, FulfilmentStatus, Order, OrderStatus
from routing.models import LocationDayCapacity, RoutingDecision, RoutingPolicy
from routing.services.demand import DemandPicture, demand_forget, demand_picture, demand_refresh
from routing.services.live import order_route
from routing.services.maintenance import order_reoptimise
from routing.services.snapshot import network_changed
from tests.worker import wait_for

pytestmark = pytest.mark.django_db


def test_the_picture_counts_recent_orders_and_samples_where_they_go(routing_world):
    w = routing_world
    w.make_order([(w.shirt, 2), (w.shoe, 1)], lat=-23.60, lon=-46.70, deadline_days=2)
    w.make_order([(w.shirt, 1)], mode="pickup", pickup_location=w.paulista, deadline_days=0)
    old = w.make_order([(w.shirt, 5)])
    cancelled = w.make_order([(w.shoe, 4)])
    Order.objects.filter(pk=old.pk).update(placed_at=timezone.now() - dt.timedelta(days=40))
    Order.objects.filter(pk=cancelled.pk).update(status=OrderStatus.CANCELLED)

    picture = demand_refresh()

    # the order from 40 days ago is outside the window; the cancelled one is not demand
    assert picture.orders == 2
    assert picture.units == {"CAM-0001-P": 3.0, "TEN-0001-42": 1.0}
    assert picture.span_days == 1.0  # minutes of history count as one day
    # newest first: the pickup at its store's pk, the home order at its coordinates, each with its lines
    assert picture.points == (
        (False, None, None, w.paulista.pk, 0, 1),
        (True, -23.60, -46.70, None, 2, 2),
    )
    forecast = picture.forecast(["CAM-0001-P"], 7)
    assert forecast.sku_units == {"CAM-0001-P": 21.0} and forecast.orders == 14.0


def test_demand_events_for_every_location_scale_the_horizon(routing_world):
    """Black Friday (×3) from tomorrow for a week, shoes ×2 more, and a store's own fair (left to its
    forecast): the week ahead expects 19/7 times the history's rate, shoes 37/7 times."""
    w = routing_world
    w.make_order([(w.shirt, 2), (w.shoe, 1)], lat=-23.60, lon=-46.70, deadline_days=2)
    plain = demand_refresh().forecast(["CAM-0001-P", "TEN-0001-42"], 7)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    week = {"starts_on": tomorrow, "ends_on": tomorrow + dt.timedelta(days=6)}
    demand_event_save(name="Black Friday", factor="3", **week)
    demand_event_save(name="Shoes", factor="2", products=[w.shoe], **week)
    demand_event_save(name="Fair", factor="5", locations=[w.paulista], **week)
    forecast = demand_refresh().forecast(["CAM-0001-P", "TEN-0001-42"], 7)
    assert forecast.sku_units["CAM-0001-P"] == pytest.approx(plain.sku_units["CAM-0001-P"] * 19 / 7)
    assert forecast.sku_units["TEN-0001-42"] == pytest.approx(plain.sku_units["TEN-0001-42"] * 37 / 7)
    assert forecast.orders == pytest.approx(plain.orders * 19 / 7)
    # a history with a promotion in it (×2 two days ago; the history runs from then): its rate is lower
    old = w.make_order([(w.shirt, 2)])
    Order.objects.filter(pk=old.pk).update(placed_at=timezone.now() - dt.timedelta(days=2))
    two_days_ago = timezone.localdate() - dt.timedelta(days=2)
    demand_event_save(name="Past", factor="2", starts_on=two_days_ago, ends_on=two_days_ago)
    picture = demand_refresh()
    assert picture.event_scale == pytest.approx((19 / 7) / (4 / 3))  # the history's 3 days: 2, 1, 1


def test_every_process_shares_the_published_picture_until_it_is_rebuilt(routing_world):
    w = routing_world
    w.make_order([(w.shirt, 1)])
    first = demand_picture()
    w.make_order([(w.shirt, 1)])
    assert demand_picture() is first  # the copy stands while the published version is unchanged
    rebuilt = demand_refresh()  # what the beat does
    assert rebuilt.version != first.version and rebuilt.orders == 2
    again = demand_picture()
    assert again.version == rebuilt.version and again.orders == 2
    demand_forget()
    assert demand_picture().version not in (first.version, rebuilt.version)


def _local(days_ago: int, hour: int, minute: int = 0) -> dt.datetime:
    day = timezone.localdate() - dt.timedelta(days=days_ago)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def test_a_picture_published_by_an_older_release_is_not_read(routing_world):
    """A release reads only pictures of its own format (an older one's, unpickled, would lack today's fields):
    while both run, each builds and publishes its own."""
    w = routing_world
    w.make_order([(w.shirt, 1)])
    older = {"version": "older", "units": {}}  # stands in for a picture of another format
    cache.set_many({"routing:demand-picture": older, "routing:demand-version": "older"}, None)
    picture = demand_picture()
    assert isinstance(picture, DemandPicture) and picture.orders == 1 and picture.weekday_units == {}
    assert cache.get("routing:demand-picture") == older  # left to the release that wrote it


def test_the_picture_keeps_each_locations_working_day_per_weekday_and_when_a_days_orders_come(routing_world):
    w = routing_world
    morning, afternoon = w.make_order([(w.shirt, 1)]), w.make_order([(w.shirt, 1)])
    Order.objects.filter(pk=morning.pk).update(placed_at=_local(1, 9, 30))
    Order.objects.filter(pk=afternoon.pk).update(placed_at=_local(1, 15, 10))
    today = timezone.localdate()
    for location, days_ago, units in (
        (w.rio, 1, 10),
        (w.rio, 3, 20),
        (w.dc, 1, 6),
        (w.rio, 0, 7),
        (w.rio, 40, 99),
    ):
        LocationDayCapacity.objects.create(
            location=location, day=today - dt.timedelta(days=days_ago), units_used=units
        )

    picture = demand_refresh()

    # two working days before today: 40 days ago is outside the window, and today is not over
    assert picture.capacity_units == {"LJ-RJ-01": 15.0, "CD-SP-CAJAMAR": 3.0}
    assert picture.hourly[9] == picture.hourly[15] == 0.5 and sum(picture.hourly) == 1.0
    # at noon half of a day's orders are still to come; at 9:30 half of the 9 o'clock hour too; at 16:00 none
    assert picture.capacity_demand(_local(0, 12)) == {"LJ-RJ-01": 7.5, "CD-SP-CAJAMAR": 1.5}
    assert picture.capacity_demand(_local(0, 9, 30)) == {"LJ-RJ-01": 11.25, "CD-SP-CAJAMAR": 2.25}
    assert picture.capacity_demand(_local(0, 16)) == {"LJ-RJ-01": 0.0, "CD-SP-CAJAMAR": 0.0}
    # today's day of the week has no working day in the history: the average of all of them, as above; on the
    # day of the week of yesterday (six days from now) or of three days ago, what those days were given
    assert picture.weekday_units == {
        _local(1, 0).weekday(): {"LJ-RJ-01": 10.0, "CD-SP-CAJAMAR": 6.0},
        _local(3, 0).weekday(): {"LJ-RJ-01": 20.0},
    }
    assert picture.capacity_demand(_local(-6, 12)) == {"LJ-RJ-01": 5.0, "CD-SP-CAJAMAR": 3.0}
    assert picture.capacity_demand(_local(-4, 12)) == {"LJ-RJ-01": 10.0}


def _eight_in_the_morning(settings) -> None:
    """Run at about 08:00 local time, in the whole-hour UTC offset that makes it so: how much of today's
    capacity later orders will still want depends on the hour."""
    offset = (8 - dt.datetime.now(dt.UTC).hour + 12) % 24 - 12  # -12 to 11 hours
    settings.TIME_ZONE = f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-3 is three hours ahead of UTC


@pytest.mark.parametrize(
    ("used_today", "history_hour", "chosen"),
    [
        (39, 18, "CD-SP-CAJAMAR"),  # one unit of the store's capacity left, ten wanted before the day ends
        (39, 3, "LJ-RJ-01"),  # the same usage, but the store's orders come at night: none after 08:00
        (0, 18, "LJ-RJ-01"),  # forty units left for the ten wanted
    ],
)
def test_a_live_decision_keeps_a_stores_capacity_for_the_rest_of_the_days_orders(
    routing_world, settings, used_today, history_hour, chosen
):
    _eight_in_the_morning(settings)
    settings.ROUTING_DEMAND_MIN_ORDERS = 3
    w = routing_world
    Location.objects.filter(pk=w.rio.pk).update(daily_capacity=40)
    w.stock(w.rio, w.shirt, 500)  # stock is plentiful: only the store's capacity can be short
    w.stock(w.dc, w.shirt, 500)
    for _ in range(5):  # customers in Copacabana who want their shirt in two days: only stores make it
        w.make_order([(w.shirt, 1)], deadline_days=2, lat=-22.9680, lon=-43.1850, cep="22070011")
    Order.objects.update(status=OrderStatus.DELIVERED, placed_at=_local(1, history_hour))
    today = timezone.localdate()
    for days_ago in (1, 2):  # the store is given ten units a day
        LocationDayCapacity.objects.create(
            location=w.rio, day=today - dt.timedelta(days=days_ago), units_used=10
        )
    if used_today:
        LocationDayCapacity.objects.create(location=w.rio, day=today, units_used=used_today)
    demand_refresh()  # what the beat does, before the order comes
    order = _home_in_copacabana(w)

    decision = order_route(order_id=order.pk)

    assert Fulfilment.objects.get(order=order).location.code == chosen
    assert decision.candidates["priced"] is True
    if chosen == "CD-SP-CAJAMAR":
        # dearer in real cost than the store, cheaper once the store's last unit of capacity is priced
        costs = {c["location"]: c["cost"] for c in decision.candidates["candidates"]}
        assert costs["LJ-RJ-01"] is None or costs["LJ-RJ-01"] > costs["CD-SP-CAJAMAR"]
        assert "stock and picking capacity are worth to the orders expected next" in decision.summary


def _same_day_pickups_in_rio(w, n: int) -> None:
    """Recent demand: `n` customers who collected a shirt at the Copacabana store the same day (only that
    store's own shelf can serve such an order)."""
    for _ in range(n):
        w.make_order([(w.shirt, 1)], mode="pickup", pickup_location=w.rio, deadline_days=0)
    # history, not orders to route now
    Order.objects.filter(status=OrderStatus.AWAITING_ROUTING).update(status=OrderStatus.COLLECTED)


def _home_in_copacabana(w) -> Order:
    """A home order a few hundred metres from the Copacabana store, due in 3 days (the DC in São Paulo
    makes it by road too, for a few reais more: the store's handling is made cheap)."""
    Location.objects.filter(pk=w.rio.pk).update(handling_cost=Decimal("1.00"), pick_cost=Decimal("0.50"))
    network_changed()
    return w.make_order([(w.shirt, 1)], deadline_days=3, lat=-22.9680, lon=-43.1850, cep="22070011")


@pytest.mark.parametrize(
    ("min_orders", "use_forecast", "chosen"),
    [
        (3, True, "CD-SP-CAJAMAR"),  # the store's last shirt is kept for its pickup customers
        (3, False, "LJ-RJ-01"),  # the policy routes on real costs: the store is cheaper
        (100, True, "LJ-RJ-01"),  # five orders are too little history to price on
    ],
)
def test_a_live_decision_keeps_a_stores_last_unit_for_the_demand_around_it(
    routing_world, settings, min_orders, use_forecast, chosen
):
    settings.ROUTING_DEMAND_MIN_ORDERS = min_orders
    RoutingPolicy.objects.filter(channel__isnull=True).update(use_forecast=use_forecast)
    network_changed()
    w = routing_world
    w.stock(w.rio, w.shirt, 1)
    w.stock(w.dc, w.shirt, 10)
    _same_day_pickups_in_rio(w, 5)
    order = _home_in_copacabana(w)

    decision = order_route(order_id=order.pk)

    assert Fulfilment.objects.get(order=order).location.code == chosen
    costs = {c["location"]: c["cost"] for c in decision.candidates["candidates"]}
    assert decision.candidates["priced"] is (min_orders == 3 and use_forecast)
    if decision.candidates["priced"]:
        # dearer in real cost than the store, cheaper once the store's shirt is priced for its customers
        kept = float(decision.total_cost) + decision.candidates["opportunity_cost"]
        assert costs["CD-SP-CAJAMAR"] == pytest.approx(kept, abs=0.01)
        # the store priced dearer, or cut by the search's bound before it was priced in full
        assert costs["LJ-RJ-01"] is None or costs["LJ-RJ-01"] > costs["CD-SP-CAJAMAR"]
        assert "worth to the orders expected next" in decision.summary
    else:
        assert costs["CD-SP-CAJAMAR"] is None or costs["CD-SP-CAJAMAR"] > costs["LJ-RJ-01"]
        assert "worth to the orders expected next" not in decision.summary


def test_the_decision_page_tells_managers_that_costs_count_the_value_of_stock(
    client, manager_user, cs_user, routing_world, settings
):
    from django.urls import reverse
    from guardian.shortcuts import assign_perm

    settings.ROUTING_DEMAND_MIN_ORDERS = 3
    w = routing_world
    w.stock(w.rio, w.shirt, 1)
    w.stock(w.dc, w.shirt, 10)
    _same_day_pickups_in_rio(w, 5)
    priced = _home_in_copacabana(w)
    order_route(order_id=priced.pk)
    settings.ROUTING_DEMAND_MIN_ORDERS = 100
    demand_forget()
    plain = _home_in_copacabana(w)
    order_route(order_id=plain.pk)
    assign_perm("orders.manage_channel", manager_user, w.channel)

    client.force_login(manager_user)
    html = client.get(reverse("routing:decision", args=[priced.number])).content.decode()
    assert 'data-testid="decision-priced"' in html
    assert (
        'data-testid="decision-priced"'
        not in client.get(reverse("routing:decision", args=[plain.number])).content.decode()
    )
    client.force_login(cs_user)  # customer service sees why, never what it costs
    resp = client.get(reverse("routing:decision", args=[priced.number]))
    assert resp.status_code == 200 and 'data-testid="candidates"' in resp.content.decode()
    assert 'data-testid="decision-priced"' not in resp.content.decode()


def test_re_optimisation_keeps_what_the_prices_kept(routing_world, settings):
    settings.ROUTING_DEMAND_MIN_ORDERS = 3
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    _same_day_pickups_in_rio(w, 5)
    order = _home_in_copacabana(w)
    first = order_route(order_id=order.pk)
    assert Fulfilment.objects.get(order=order).location == w.dc
    w.stock(w.rio, w.shirt, 1)  # a shirt arrives at the store next door: cheaper in real cost

    # priced like the live path, the store's only shirt stays for the customers who collect there
    assert order_reoptimise(order_id=order.pk) is None
    assert Fulfilment.objects.exclude(status=FulfilmentStatus.CANCELLED).get(order=order).location == w.dc
    assert RoutingDecision.objects.filter(order=order).count() == 1 and first is not None


def test_prices_never_leave_a_unit_unserved_that_real_costs_would_serve(routing_world, settings):
    settings.ROUTING_DEMAND_MIN_ORDERS = 3
    w = routing_world
    w.stock(w.rio, w.shirt, 1)  # the only shirt is in Rio, wanted by its same-day pickup customers
    _same_day_pickups_in_rio(w, 5)
    order = w.make_order([(w.shirt, 1)], deadline_days=3)  # a customer in São Paulo, who can wait for it

    decision = order_route(order_id=order.pk)

    # priced, the shirt is worth more to Rio than the penalty of backordering this order: it is served anyway
    assert Fulfilment.objects.get(order=order).location == w.rio
    assert decision.units_backordered == 0
    assert any("served on real costs" in english([note]) for note in decision.candidates["notes"])


@pytest.mark.django_db(transaction=True)
def test_the_worker_prices_from_the_picture_this_process_published(routing_world, needs_worker):
    from django.db import transaction

    w = routing_world
    w.stock(w.rio, w.shirt, 1)
    w.stock(w.dc, w.shirt, 10)
    with transaction.atomic():  # history: collected before it commits, so nothing routes it
        _same_day_pickups_in_rio(w, 100)  # the worker runs with the settings' 100 orders at least
    demand_refresh()  # what the beat does: the worker reads the picture from the cache
    with transaction.atomic():
        order = _home_in_copacabana(w)

    def allocated() -> bool:
        order.refresh_from_db()
        return order.status == OrderStatus.ALLOCATED

    assert wait_for(allocated, timeout=20)
    assert Fulfilment.objects.get(order=order).location == w.dc  # the store's shirt kept for Rio's pickups
    assert RoutingDecision.objects.get(order=order).candidates["priced"] is True
