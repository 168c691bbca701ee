"""A manager reads the KPI dashboard in a real browser: from the menu, a period and a channel picked, the
chart and the tables of their scope only; and the page fits a phone in Portuguese."""

from __future__ import annotations

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from reporting.services import kpi_rollup
from routing.services.live import order_route
from tests.factories import ChannelFactory

from .conftest import login


@pytest.fixture
def rolled_up(routing_world):
    """Orders of today on two channels, routed, and today's rollup."""
    w = routing_world
    w.stock(w.dc, w.shirt, 20)
    app = ChannelFactory(code="app", name="App")
    for channel, n in ((w.channel, 3), (app, 2)):
        for _ in range(n):
            order_route(order_id=w.make_order([(w.shirt, 1)], channel=channel).pk)
    kpi_rollup(day=timezone.localdate())
    return w, app


@pytest.mark.django_db(transaction=True)
def test_a_manager_reads_the_kpis_of_their_channel(desktop_page, manager_user, rolled_up):
    w, _app = rolled_up
    assign_perm("orders.manage_channel", manager_user, w.channel)
    page = desktop_page
    login(page, manager_user.username)
    expect(page.locator("[data-testid=today-orders]")).to_have_text("3")  # the home page's summary (HTMX)
    page.click("nav.mainnav >> text=KPIs")
    expect(page.locator("h1")).to_have_text("KPIs")
    expect(page.locator("[data-testid=kpi-orders]")).to_have_text("3")  # the app channel is not theirs
    expect(page.locator("[data-testid=kpi-channels] tbody tr")).to_have_count(1)
    page.select_option("#kpi-days", "7")
    page.select_option("#kpi-channel", w.channel.code)
    page.click("[data-testid=kpi-filters] button[type=submit]")
    page.wait_for_url("**/reporting/?days=7*")
    bars = page.locator("[data-testid=kpi-chart] rect[data-value]")
    expect(bars).to_have_count(7)
    expect(bars.last).to_have_attribute("data-value", "3")  # today, the last bar
    expect(page.locator("[data-testid=kpi-orders]")).to_have_text("3")
    assert page.locator("#kpi-channel option").all_inner_texts() == ["All my channels", w.channel.name]


@pytest.mark.django_db(transaction=True)
def test_the_kpis_fit_a_phone_in_portuguese(phone_page, admin_user, rolled_up):
    page = phone_page
    login(page, admin_user.username)
    page.goto("/reporting/")
    expect(page.locator("h1")).to_have_text("Indicadores")
    expect(page.locator("[data-testid=kpi-orders]")).to_have_text("5")
    expect(page.locator("[data-testid=kpi-locations] tr[data-location=CD-SP-CAJAMAR]")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
