from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import login


@pytest.mark.django_db(transaction=True)
def test_login_in_a_real_browser_shows_the_dashboard(desktop_page, cs_user):
    login(desktop_page, "cs1")
    desktop_page.wait_for_selector("[data-testid=dashboard-title]")
    assert desktop_page.locator("[data-testid=username]").inner_text() == "cs1"


@pytest.mark.django_db(transaction=True)
def test_phone_menu_and_language_switch(phone_page, cs_user):
    login(phone_page, "cs1")
    phone_page.wait_for_selector("[data-testid=dashboard-title]")
    assert phone_page.locator("[data-testid=dashboard-title]").inner_text() == "Painel"
    phone_page.select_option("select[name=language]", "en")
    expect(phone_page.locator("[data-testid=dashboard-title]")).to_have_text("Dashboard")
    # The page fits a 360 px screen: nothing scrolls sideways.
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360
