"""A manager runs a routing what-if in a real browser: the progress bar (HTMX polling) reaches done and the
comparison of the live policy and the draft appears. The real worker runs the replay."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from routing.models import WhatIfRun, WhatIfStatus

from .conftest import login


@pytest.mark.django_db(transaction=True)
def test_manager_runs_a_what_if_and_sees_the_comparison(
    desktop_page, manager_user, routing_world, needs_worker
):
    w = routing_world
    w.stock(w.dc, w.shirt, 30)
    w.stock(w.paulista, w.shirt, 10)
    for _ in range(5):
        w.make_order([(w.shirt, 1)])
    assign_perm("orders.manage_channel", manager_user, w.channel)
    page = desktop_page
    login(page, manager_user.username)
    page.goto("/routing/whatif/")
    page.select_option("select[name=channel]", value=str(w.channel.pk))
    page.fill("input[name=days]", "7")
    page.uncheck("input[name=allowed_kinds][value=store]")
    page.uncheck("input[name=allowed_kinds][value=dark_store]")
    page.check("input[name=allowed_kinds][value=dc]")
    page.click("[data-testid=whatif-form] button[type=submit]")
    page.wait_for_url("**/routing/whatif/*/")
    status = page.locator("[data-testid=whatif-status]")
    expect(status).to_have_attribute("data-status", "done", timeout=30_000)
    expect(page.locator("[data-testid=whatif-progress]")).to_have_attribute("value", "100")
    table = page.locator("[data-testid=whatif-comparison]")
    expect(table).to_be_visible()
    expect(table.locator("tr[data-metric=store_share] td").nth(1)).to_have_text("0.0 %")
    expect(page.locator("[data-testid=whatif-chart] rect[data-bar=draft]")).to_have_count(1)
    run = WhatIfRun.objects.get()
    assert run.status == WhatIfStatus.DONE and run.orders_count == 5


@pytest.mark.django_db(transaction=True)
def test_the_what_if_pages_fit_a_phone_in_portuguese(phone_page, admin_user, routing_world):
    from routing import tasks
    from routing.services.whatif import whatif_run_start

    w = routing_world
    w.stock(w.dc, w.shirt, 5)
    w.make_order([(w.shirt, 1)])
    run = whatif_run_start(by=admin_user, channel=w.channel, days=1, draft_values={"allowed_kinds": ["dc"]})
    tasks.whatif_run.apply(args=(run.pk,))
    page = phone_page
    login(page, admin_user.username)
    page.goto("/routing/whatif/")
    expect(page.locator("h1")).to_have_text("Simulação de roteamento")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.goto(f"/routing/whatif/{run.pk}/")
    expect(
        page.locator("[data-testid=whatif-comparison] tr[data-metric=on_time_rate] td").first
    ).to_have_text("100,0 %")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
