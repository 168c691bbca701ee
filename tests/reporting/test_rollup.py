"""The KPI rollups: each day's figures per channel and per location, recomputed whole and idempotently."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from orders.models import Fulfilment, FulfilmentLine, Order, Return, ReturnEntry, ReturnLine
from orders.services import order_cancel
from reporting.models import ChannelDay, LocationDay
from reporting.services import day_bounds, kpi_rollup, kpi_rollup_recent
from reporting.tasks import rollup
from routing.models import RoutingDecision
from routing.services.live import order_route
from tests.factories import ChannelFactory
from tests.worker import wait_for

pytestmark = pytest.mark.django_db


def _spent(order: Order) -> Decimal:
    total = 0.0
    for d in RoutingDecision.objects.filter(order=order):
        total += sum(d.cost_breakdown[k] for k in ("handling", "picking", "shipping", "transfer"))
    return Decimal(str(round(total, 2)))


@pytest.fixture
def day_of_orders(routing_world):
    """Today: on the web channel a two-location order (split), a one-line order, an order nobody has stock
    for (backordered) and a cancelled one; on the app channel one order. All routed by the live path."""
    w = routing_world
    w.stock(w.dc, w.shirt, 50)
    w.stock(w.paulista, w.shoe, 5)
    app = ChannelFactory(code="app", name="App")
    from tests.factories import ProductFactory

    rare = ProductFactory(sku="RARE-0001", price=Decimal("99.90"))
    orders = {
        "split": w.make_order([(w.shirt, 2), (w.shoe, 1)]),
        "one": w.make_order([(w.shirt, 1)]),
        "back": w.make_order([(rare, 1)]),
        "cancelled": w.make_order([(w.shirt, 1)]),
        "app": w.make_order([(w.shirt, 3)], channel=app),
    }
    for order in orders.values():
        order_route(order_id=order.pk)
    order_cancel(order=orders["cancelled"], by=None, reason="test")
    for order in orders.values():
        order.refresh_from_db()
    return w, app, orders


def test_a_days_orders_are_rolled_up_per_channel(day_of_orders):
    w, app, orders = day_of_orders
    today = timezone.localdate()
    assert Fulfilment.objects.filter(order=orders["split"]).count() == 2  # the scenario holds

    assert kpi_rollup(day=today)[0] == 2
    web = ChannelDay.objects.get(day=today, channel=w.channel)
    mine = [orders[k] for k in ("split", "one", "back", "cancelled")]
    assert web.orders == 4
    assert web.units == 3 + 1 + 1 + 1
    assert web.revenue == sum((o.total for o in mine), Decimal("0"))
    assert web.cancelled_orders == 1
    assert web.split_orders == 1
    assert web.fulfilled_orders == 2  # the cancelled order's fulfilment went with it; "back" has none
    assert web.backordered_orders == 1
    assert web.routed_orders == 4
    assert web.pickup_orders == 0
    assert web.fulfilment_cost == sum((_spent(o) for o in mine), Decimal("0"))
    assert web.fulfilment_cost > 0
    other = ChannelDay.objects.get(day=today, channel=app)
    assert (other.orders, other.units, other.revenue) == (1, 3, orders["app"].total)


def test_an_exchange_order_is_not_a_sale(day_of_orders):
    """The order an exchange sends out is after-sales: the channel's orders, units, revenue and fulfilment
    cost leave it out; the locations' work keeps it."""
    w, _app, orders = day_of_orders
    today = timezone.localdate()
    kpi_rollup(day=today)
    work = sorted(LocationDay.objects.values_list("location", "assigned", "units"))
    Return.objects.create(
        number=f"{orders['app'].number}-D1", order=orders["app"], location=w.paulista, reason="wrong_size",
        status="received", exchange_order=orders["split"],
    )  # fmt: skip
    kpi_rollup(day=today)
    web = ChannelDay.objects.get(channel=w.channel)
    sales = [orders[k] for k in ("one", "back", "cancelled")]
    assert (web.orders, web.units) == (3, 1 + 1 + 1)
    assert web.revenue == sum((o.total for o in sales), Decimal("0"))
    assert web.fulfilment_cost == sum((_spent(o) for o in sales), Decimal("0")) != 0
    assert _spent(orders["split"]) > 0  # what the exchange order's fulfilment cost is left out
    assert sorted(LocationDay.objects.values_list("location", "assigned", "units")) == work  # its work counts


def _returned(order: Order, location, *, units: int, at: dt.datetime, number: str) -> Return:
    ret = Return.objects.create(
        number=number, order=order, location=location, reason="wrong_size", status="received", received_at=at
    )
    line = order.lines.first()
    assert line is not None
    ReturnLine.objects.create(ret=ret, order_line=line, qty=units, qty_received=units)
    return ret


def _entry(ret: Return, kind: str, amount: str, at: dt.datetime, reverses=None) -> ReturnEntry:
    entry = ReturnEntry.objects.create(ret=ret, kind=kind, amount=Decimal(amount), reverses=reverses)
    ReturnEntry.objects.filter(pk=entry.pk).update(created_at=at)
    return entry


def test_returns_count_on_the_day_they_happen_for_the_orders_channel(day_of_orders):
    """Units received back, money refunded and money collected count on their own day, for the channel of
    the returned order, whatever day it was placed: a channel with returns and no sale that day gets a row
    of its own. Kept and waived amounts move no money and do not count."""
    w, app, orders = day_of_orders
    today = timezone.localdate()
    start, _end = day_bounds(today)
    now = timezone.now()
    yesterday = start - dt.timedelta(hours=3)
    Order.objects.filter(pk=orders["app"].pk).update(placed_at=yesterday)
    web_ret = _returned(orders["split"], w.paulista, units=2, at=now, number="R-1")
    _entry(web_ret, "refund", "40.00", now)
    _entry(web_ret, "refund", "9.90", now)
    bounced = _entry(web_ret, "refund", "30.00", now)
    _entry(web_ret, "reversal", "-30.00", now, reverses=bounced)  # it bounced: corrected the same day
    _entry(web_ret, "kept", "5.00", now)
    old = _returned(orders["one"], w.paulista, units=1, at=yesterday, number="R-2")  # received yesterday ...
    _entry(old, "refund", "19.90", now)  # ... refunded today
    app_ret = _returned(orders["app"], w.paulista, units=1, at=now, number="R-3")
    _entry(app_ret, "charge", "-12.50", now)
    back = _entry(app_ret, "charge", "-7.00", yesterday)
    _entry(app_ret, "reversal", "7.00", now, reverses=back)  # charged back today: less collected today
    _entry(app_ret, "waived", "-3.00", now)

    kpi_rollup(day=today)
    web = ChannelDay.objects.get(day=today, channel=w.channel)
    assert (web.orders, web.returned_units, web.refunded, web.collected) == (
        4, 2, Decimal("69.80"), Decimal("0.00"),
    )  # fmt: skip
    app_day = ChannelDay.objects.get(day=today, channel=app)
    assert (app_day.orders, app_day.revenue) == (0, Decimal("0.00"))  # its order was placed yesterday
    assert (app_day.returned_units, app_day.refunded, app_day.collected) == (
        1,
        Decimal("0.00"),
        Decimal("5.50"),  # 12.50 paid, 7.00 of yesterday's charged back
    )

    kpi_rollup(day=today - dt.timedelta(days=1))
    before = ChannelDay.objects.get(day=today - dt.timedelta(days=1), channel=w.channel)
    assert (before.orders, before.returned_units, before.refunded) == (0, 1, Decimal("0.00"))
    app_before = ChannelDay.objects.get(day=today - dt.timedelta(days=1), channel=app)
    assert (app_before.orders, app_before.collected) == (1, Decimal("7.00"))


def test_orders_count_on_their_own_day_in_sao_paulo_time(day_of_orders):
    w, _app, orders = day_of_orders
    today = timezone.localdate()
    start, _end = day_bounds(today)
    # one minute before midnight in São Paulo is yesterday, whatever the server's clock says
    Order.objects.filter(pk=orders["one"].pk).update(placed_at=start - dt.timedelta(minutes=1))
    Order.objects.filter(pk=orders["split"].pk).update(placed_at=start)
    kpi_rollup(day=today)
    kpi_rollup(day=today - dt.timedelta(days=1))
    assert ChannelDay.objects.get(day=today, channel=w.channel).orders == 3
    yesterday = ChannelDay.objects.get(day=today - dt.timedelta(days=1), channel=w.channel)
    assert (yesterday.orders, yesterday.units) == (1, 1)


def test_a_locations_work_of_the_day(day_of_orders):
    w, _app, orders = day_of_orders
    today = timezone.localdate()
    now = timezone.now()
    at_dc = Fulfilment.objects.filter(location=w.dc).exclude(order=orders["cancelled"]).order_by("pk")
    first, second = at_dc[0], at_dc[1]
    Fulfilment.objects.filter(pk=first.pk).update(shipped_at=now, ship_by=now + dt.timedelta(hours=1))
    Fulfilment.objects.filter(pk=second.pk).update(shipped_at=now, ship_by=now - dt.timedelta(hours=1))
    FulfilmentLine.objects.filter(fulfilment=first).update(qty_short=1)
    kpi_rollup(day=today)
    dc = LocationDay.objects.get(day=today, location=w.dc)
    assert dc.assigned == Fulfilment.objects.filter(location=w.dc).count() == 4  # split, one, cancelled, app
    assert dc.cancelled == 1
    assert dc.units == 2 + 1 + 1 + 3
    assert dc.short_units == 1
    assert (dc.done, dc.done_on_time) == (2, 1)
    store = LocationDay.objects.get(day=today, location=w.paulista)
    assert (store.assigned, store.units, store.done) == (1, 1, 0)


def test_rolling_a_day_again_gives_the_same_rows_and_follows_changes(day_of_orders):
    w, _app, orders = day_of_orders
    today = timezone.localdate()
    kpi_rollup(day=today)
    before = sorted(
        ChannelDay.objects.values_list("channel", "orders", "units", "revenue", "cancelled_orders")
    )
    kpi_rollup(day=today)
    after = sorted(
        ChannelDay.objects.values_list("channel", "orders", "units", "revenue", "cancelled_orders")
    )
    assert before == after and ChannelDay.objects.count() == 2
    assert LocationDay.objects.filter(day=today).count() == 2
    order_cancel(order=orders["one"], by=None, reason="changed mind")
    kpi_rollup(day=today)
    assert ChannelDay.objects.get(day=today, channel=w.channel).cancelled_orders == 2


def test_recent_days_and_the_command(day_of_orders):
    w, _app, orders = day_of_orders
    today = timezone.localdate()
    three_days_ago = today - dt.timedelta(days=3)
    start, _end = day_bounds(three_days_ago)
    Order.objects.filter(pk=orders["one"].pk).update(placed_at=start + dt.timedelta(hours=10))
    assert kpi_rollup_recent(days=3, today=today) == 2 + 2  # today's channels and locations only
    assert not ChannelDay.objects.filter(day=three_days_ago).exists()
    call_command("kpi_rollup", "--days", "4")
    assert ChannelDay.objects.get(day=three_days_ago, channel=w.channel).orders == 1
    with pytest.raises(Exception, match="--days must be between"):
        call_command("kpi_rollup", "--days", "0")


@pytest.mark.django_db(transaction=True)
def test_the_worker_refreshes_what_a_reader_finds_stale(client, admin_user, routing_world, needs_worker):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    with transaction.atomic():
        w.make_order([(w.shirt, 1)])
    _forget_refresh_requests()
    client.force_login(admin_user)
    assert client.get("/reporting/").status_code == 200  # nothing rolled up today: the worker is asked
    today = timezone.localdate()
    assert wait_for(
        lambda: ChannelDay.objects.filter(day=today, channel=w.channel, orders=1).exists(), timeout=30
    )


@pytest.mark.django_db(transaction=True)
def test_the_worker_rolls_up_the_kpis(routing_world, needs_worker):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    with transaction.atomic():
        order = w.make_order([(w.shirt, 2)])
    rollup.delay()
    today = timezone.localdate()
    assert wait_for(
        lambda: ChannelDay.objects.filter(day=today, channel=w.channel, orders=1).exists(), timeout=30
    )
    assert ChannelDay.objects.get(day=today, channel=w.channel).revenue == order.total


def _forget_refresh_requests():
    from django.core.cache import cache

    from reporting.services import REFRESH_KEY

    cache.delete(REFRESH_KEY)


def test_a_reader_refreshes_stale_figures_where_tasks_run_inline(
    client, admin_user, day_of_orders, monkeypatch
):
    """`make run` has no beat: the dashboard asks for today's rollup when it is missing or stale, and with
    tasks inline it is there before the page reads it; fresh rows are not recomputed; requests are
    rate-limited."""
    from oms.celery import app

    w, _app, _orders = day_of_orders
    _forget_refresh_requests()
    monkeypatch.setitem(app.conf, "task_always_eager", True)
    client.force_login(admin_user)
    assert not ChannelDay.objects.exists()
    html = client.get("/reporting/").content.decode()
    today = timezone.localdate()
    assert ChannelDay.objects.get(day=today, channel=w.channel).orders == 4
    assert 'data-testid="kpi-orders">5<' in html
    rolled = ChannelDay.objects.get(day=today, channel=w.channel).rolled_at
    client.get("/reporting/")  # fresh: left alone
    assert ChannelDay.objects.get(day=today, channel=w.channel).rolled_at == rolled
    ChannelDay.objects.update(rolled_at=timezone.now() - dt.timedelta(minutes=20))
    client.get("/reporting/")  # stale, but asked for less than a minute ago
    assert ChannelDay.objects.get(day=today, channel=w.channel).rolled_at < rolled
    _forget_refresh_requests()
    client.get("/reporting/")
    assert ChannelDay.objects.get(day=today, channel=w.channel).rolled_at > rolled
