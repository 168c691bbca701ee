"""What-if runs: the service, the replay and the task (in-process, and once on the real worker)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.db import transaction
from guardian.shortcuts import assign_perm

from inventory.models import Location, Reservation, StockLevel
from oms.exceptions import NotFoundInScope
from orders.models import Fulfilment
from routing import tasks
from routing.models import RoutingDecision, WhatIfRun, WhatIfStatus
from routing.services import whatif
from routing.services.live import order_route
from routing.services.snapshot import network_changed
from routing.services.whatif import WhatIfForbidden, WhatIfInvalid, whatif_run_start
from tests.factories import ChannelFactory

pytestmark = pytest.mark.django_db

ALL_KINDS = {"allowed_kinds": ["dc", "store", "dark_store"]}
DC_ONLY = {"allowed_kinds": ["dc"]}


def run_now(run: WhatIfRun) -> WhatIfRun:
    assert tasks.whatif_run.apply(args=(run.pk,)).get() == WhatIfStatus.DONE
    run.refresh_from_db()
    return run


@pytest.fixture
def world(routing_world):
    """Shirts in the DC and at Av. Paulista; three home orders to Av. Paulista, one pickup at Morumbi."""
    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    w.stock(w.paulista, w.shirt, 10)
    w.stock(w.morumbi, w.shirt, 2)
    w.stock(w.dc, w.shoe, 5)
    w.orders = [w.make_order([(w.shirt, 1)]) for _ in range(3)]
    w.orders.append(w.make_order([(w.shirt, 1)], mode="pickup", pickup_location=w.morumbi))
    return w


def test_both_policies_are_replayed_and_their_figures_stored(world, admin_user):
    w = world
    run = run_now(whatif_run_start(by=admin_user, channel=w.channel, days=7, draft_values=DC_ONLY))
    assert run.status == WhatIfStatus.DONE and run.progress == 100 and run.error == ""
    assert run.orders_count == 4
    live, draft = run.result["live"], run.result["draft"]
    for figures in (live, draft):
        assert figures["orders"] == 4
        assert figures["backordered_units"] == 0
        assert figures["on_time_rate"] == 1.0
        assert figures["total_cost"] > 0
        assert figures["cost_per_order"] == pytest.approx(figures["total_cost"] / 4, abs=0.01)
        assert figures["packages_per_order"] >= 1
        assert 0 <= figures["split_rate"] <= 1
    # live: the pickup store hands over its own unit (and Paulista is next door); draft: DCs only
    assert live["store_share"] > 0
    assert draft["store_share"] == 0
    assert draft["units_sent"] == 4
    assert live["policy"] == whatif.live_policy(w.channel).name  # the channel has none: the default
    # a replay writes nothing: no reservation, fulfilment or decision
    assert not Reservation.objects.exists()
    assert not Fulfilment.objects.exists()
    assert not RoutingDecision.objects.exists()


def test_the_draft_with_the_live_values_gives_the_live_figures(world, admin_user):
    w = world
    initial = whatif.draft_initial(whatif.live_policy(w.channel))
    run = run_now(whatif_run_start(by=admin_user, channel=w.channel, days=7, draft_values=initial))
    live, draft = dict(run.result["live"]), dict(run.result["draft"])
    for figures in (live, draft):
        figures.pop("policy"), figures.pop("version")
    assert live == draft


def test_stock_is_rewound_to_the_start_of_the_window(routing_world, admin_user):
    """Orders routed live hold every unit now; the replay still finds the units they took."""
    w = routing_world
    w.stock(w.dc, w.shoe, 2)
    orders = [w.make_order([(w.shoe, 1)], lat=-22.97, lon=-43.18, cep="22070011") for _ in range(2)]
    for order in orders:
        order_route(order_id=order.pk)
    assert StockLevel.objects.get(location=w.dc, product=w.shoe).reserved == 2
    run = run_now(whatif_run_start(by=admin_user, channel=w.channel, days=1, draft_values=ALL_KINDS))
    assert run.result["live"]["backordered_units"] == 0
    assert run.result["live"]["units_sent"] == 2


def test_a_transfer_in_the_window_is_replayed_when_it_happened(routing_world, admin_user):
    """The DC's two shoes were reserved for a transfer to a store before the order came: the replay must not
    sell them (the transfer's reservation is replayed when it happened)."""
    import datetime as dt

    from django.utils import timezone

    from inventory.models import StockMovement
    from inventory.services.transfers import transfer_create

    w = routing_world
    w.stock(w.dc, w.shoe, 2)
    transfer = transfer_create(source=w.dc, destination=w.rio, lines=[(w.shoe, 2)], by=admin_user)
    StockMovement.objects.filter(ref=transfer.number).update(at=timezone.now() - dt.timedelta(minutes=10))
    order = w.make_order([(w.shoe, 1)], lat=-23.56, lon=-46.65)
    order_route(order_id=order.pk)
    assert not Fulfilment.objects.filter(order=order).exists()  # live: nothing free anywhere it could ship
    run = run_now(whatif_run_start(by=admin_user, channel=w.channel, days=1, draft_values=ALL_KINDS))
    assert run.result["live"]["units_sent"] == 0
    assert run.result["live"]["backordered_units"] == 1


def test_progress_is_written_every_five_per_cent_and_ends_at_100(routing_world, admin_user, monkeypatch):
    w = routing_world
    w.stock(w.dc, w.shirt, 100)
    for _ in range(40):
        w.make_order([(w.shirt, 1)])
    seen: list[int] = []
    real = whatif._progress
    monkeypatch.setattr(whatif, "_progress", lambda run, pct: (seen.append(pct), real(run, pct)))
    run = run_now(whatif_run_start(by=admin_user, channel=w.channel, days=1, draft_values=DC_ONLY))
    assert seen == list(range(5, 100, 5))
    assert run.progress == 100 and run.result["live"]["orders"] == 40


def test_orders_are_the_managers_own(world, manager_user, admin_user):
    w = world
    other = ChannelFactory(code="mkt", name="Marketplace", kind="marketplace")
    w.make_order([(w.shirt, 1)], channel=other)
    assign_perm("orders.manage_channel", manager_user, w.channel)
    mine = run_now(whatif_run_start(by=manager_user, channel=None, days=7, draft_values=DC_ONLY))
    everyone = run_now(whatif_run_start(by=admin_user, channel=None, days=7, draft_values=DC_ONLY))
    assert mine.orders_count == 4  # the marketplace's order is outside the manager's scope
    assert everyone.orders_count == 5
    with pytest.raises(NotFoundInScope):
        whatif_run_start(by=manager_user, channel=other, days=7, draft_values=DC_ONLY)
    assert list(whatif.whatif_run_list(user=manager_user)) == [mine]
    assert set(whatif.whatif_run_list(user=admin_user)) == {mine, everyone}


def test_orders_older_than_the_window_are_left_out(world, admin_user):
    import datetime as dt

    from django.utils import timezone

    from orders.models import Order

    Order.objects.filter(pk=world.orders[0].pk).update(placed_at=timezone.now() - dt.timedelta(days=3))
    run = run_now(whatif_run_start(by=admin_user, channel=world.channel, days=2, draft_values=DC_ONLY))
    assert run.orders_count == 3


@pytest.mark.parametrize(
    ("days", "draft", "error"),
    [
        (0, DC_ONLY, WhatIfInvalid),
        (91, DC_ONLY, WhatIfInvalid),
        (7, {"allowed_kinds": []}, WhatIfInvalid),
        (7, {"allowed_kinds": ["moon"]}, WhatIfInvalid),
        (7, {"store_walkin_share": "1.5"}, WhatIfInvalid),
        (7, {"max_packages": 0}, WhatIfInvalid),
        (7, {"speed_value": "abc"}, WhatIfInvalid),
        (7, {"paused_locations": ["NOPE"]}, WhatIfInvalid),
        (7, {"colour": "blue"}, WhatIfInvalid),
    ],
)
def test_bad_input_is_refused(routing_world, admin_user, days, draft, error):
    with pytest.raises(error):
        whatif_run_start(by=admin_user, channel=routing_world.channel, days=days, draft_values=draft)
    assert not WhatIfRun.objects.exists()


def test_only_managers_and_admins_start_runs(routing_world, cs_user, store_user):
    for user in (cs_user, store_user):
        with pytest.raises(WhatIfForbidden):
            whatif_run_start(by=user, channel=None, days=7, draft_values=DC_ONLY)


def test_the_task_is_queued_on_commit_and_is_idempotent(
    world, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = whatif_run_start(by=admin_user, channel=world.channel, days=7, draft_values=DC_ONLY)
    assert len(callbacks) == 1
    assert tasks.whatif_run.acks_late is True
    run = run_now(run)
    finished, result = run.finished_at, run.result
    assert tasks.whatif_run.apply(args=(run.pk,)).get() == WhatIfStatus.DONE  # again: nothing changes
    run.refresh_from_db()
    assert run.finished_at == finished and run.result == result
    assert tasks.whatif_run.apply(args=(999999,)).get() is None


def test_a_failing_run_records_its_error(world, admin_user, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(whatif, "plan_order", boom)
    run = whatif_run_start(by=admin_user, channel=world.channel, days=7, draft_values=DC_ONLY)
    assert tasks.whatif_run.apply(args=(run.pk,)).get() == WhatIfStatus.FAILED
    run.refresh_from_db()
    assert run.status == WhatIfStatus.FAILED and "engine exploded" in run.error
    assert run.finished_at is not None and run.result == {}


def test_a_run_whose_user_is_gone_fails_with_a_message(world, manager_user):
    assign_perm("orders.manage_channel", manager_user, world.channel)
    run = whatif_run_start(by=manager_user, channel=world.channel, days=7, draft_values=DC_ONLY)
    manager_user.delete()
    assert tasks.whatif_run.apply(args=(run.pk,)).get() == WhatIfStatus.FAILED
    run.refresh_from_db()
    assert "no longer exists" in run.error


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_a_what_if(routing_world, admin_user, needs_worker):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    for _ in range(3):
        w.make_order([(w.shirt, 1)])
    with transaction.atomic():
        run = whatif_run_start(by=admin_user, channel=w.channel, days=1, draft_values=DC_ONLY)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.finished:
            break
        time.sleep(0.2)
    assert run.status == WhatIfStatus.DONE, run.error
    assert run.progress == 100
    assert run.result["draft"]["orders"] == 3 and run.result["draft"]["store_share"] == 0


def test_a_policy_that_weighs_future_demand_is_replayed_with_the_live_prices(
    routing_world, admin_user, settings
):
    # a home order next to the Copacabana store (cheap to ship from it), then five customers who collect a
    # shirt there the same day (only its own shelf can serve them); the store holds one shirt, the DC ten
    settings.ROUTING_DEMAND_MIN_ORDERS = 3
    w = routing_world
    Location.objects.filter(pk=w.rio.pk).update(handling_cost=Decimal("1.00"), pick_cost=Decimal("0.50"))
    network_changed()
    w.stock(w.rio, w.shirt, 1)
    w.stock(w.dc, w.shirt, 10)
    w.make_order([(w.shirt, 1)], deadline_days=3, lat=-22.9680, lon=-43.1850, cep="22070011")
    for _ in range(5):
        w.make_order([(w.shirt, 1)], mode="pickup", pickup_location=w.rio, deadline_days=0)
    real_costs = {**whatif.draft_initial(whatif.live_policy(w.channel)), "use_forecast": False}
    assert whatif.live_policy(w.channel).use_forecast

    run = run_now(whatif_run_start(by=admin_user, channel=w.channel, days=1, draft_values=real_costs))

    live, draft = run.result["live"], run.result["draft"]
    # live: the home order ships from the DC and the store's shirt goes to a pickup; on real costs alone the
    # home order takes it and every pickup waits
    assert live["backordered_units"] == 4 and draft["backordered_units"] == 5
    assert live["store_share"] == 0.5 and draft["store_share"] == 1.0
    assert live["units_sent"] == 2 and draft["units_sent"] == 1
