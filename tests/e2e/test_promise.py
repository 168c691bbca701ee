"""Customer service quotes a delivery promise in a real browser, on a 360 px phone (HTMX results)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inventory.models import Reservation

from .conftest import login


@pytest.mark.django_db(transaction=True)
def test_cs_quotes_home_and_pickup_options_on_a_phone(phone_page, cs_user, routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.paulista, w.shirt, 5)
    page = phone_page
    login(page, cs_user.username)
    page.goto("/routing/promise/")
    page.fill("textarea[name=lines]", "CAM-0001-P 2")
    page.fill("input[name=cep]", "01310-200")
    page.click("[data-testid=promise-form] button[type=submit]")
    home = page.locator("[data-testid=promise-home]")
    expect(home).to_be_visible()
    expect(home).to_contain_text("CD-SP-CAJAMAR")
    expect(page.locator("[data-testid=promise-pickup]")).to_contain_text("Loja Paulista")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    # a bad line is named, and the page stays usable
    page.fill("textarea[name=lines]", "NOPE 1")
    page.click("[data-testid=promise-form] button[type=submit]")
    expect(page.locator("[data-testid=promise-errors]")).to_contain_text("NOPE")
    assert Reservation.objects.count() == 0
