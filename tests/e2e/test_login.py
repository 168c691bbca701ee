from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import expect

from oms.roles import Role
from tests.factories import UserFactory

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


@pytest.mark.django_db(transaction=True)
def test_a_long_username_leaves_the_phone_header_usable(phone_page, roles):
    """Store and warehouse logins are long (`warehouse.cd-sp-cajamar`): on a phone the name gives way (cut
    with an ellipsis), not the language selector nor the log-out button."""
    name = "warehouse.cd-sp-cajamar-extrema"
    UserFactory(username=name).groups.add(Group.objects.get(name=Role.WAREHOUSE_STAFF))
    login(phone_page, name)
    phone_page.wait_for_selector("[data-testid=dashboard-title]")
    select = phone_page.locator("select[name=language]").bounding_box()
    username = phone_page.locator("[data-testid=username]")
    log_out = phone_page.get_by_role("button", name="Sair").bounding_box()
    assert select is not None and log_out is not None
    # the selector keeps the width of its longest option ("PT-BR"), the button stays on the screen
    assert select["width"] >= 70
    assert log_out["x"] + log_out["width"] <= 360
    assert username.evaluate("el => el.scrollWidth > el.clientWidth")  # the name is the one cut
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360
