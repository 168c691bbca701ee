"""Browser tests of the access pages: an admin invites a user, ties them to a store, issues an API key,
and finds all of it in the audit log; the pages fit a phone."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from oms.models import ApiKey
from tests.factories import LocationFactory

from .conftest import login

User = get_user_model()


@pytest.mark.django_db(transaction=True)
def test_admin_invites_ties_to_a_store_and_issues_a_key(desktop_page, admin_user):
    LocationFactory(code="LJ-SP-07", name="Loja Pinheiros")
    page = desktop_page
    login(page, "admin1")
    page.goto("/access/users/invite/")
    page.fill("#id_username", "joana")
    page.fill("#id_email", "joana@example.com")
    page.fill("#id_first_name", "Joana")
    page.check("input[name=roles][value=store_staff]")
    page.click("[data-testid=invite-form] button[type=submit]")
    expect(page.locator("[data-testid=user-title]")).to_contain_text("joana")

    page.select_option("#id_kind", "location")
    page.fill("#id_code", "LJ-SP-07")
    page.click("[data-testid=scope-form] button[type=submit]")
    expect(page.locator("[data-testid=remove-location-LJ-SP-07]")).to_be_visible()

    page.fill("#id_name", "PDV Pinheiros")
    page.click("[data-testid=key-form] button[type=submit]")
    raw = page.locator("[data-testid=raw-key]").inner_text()
    joana = User.objects.get(username="joana")
    assert ApiKey.objects.get_from_key(raw).user == joana
    store = LocationFactory(code="LJ-SP-07")
    assert User.objects.get(pk=joana.pk).has_perm("inventory.work_at_location", store)
    page.goto("/access/audit/?actor=admin1")
    rows = page.locator("[data-testid=audit] tbody")
    for action in ("user.invite", "scope.grant", "api_key.issue"):
        expect(rows).to_contain_text(action)


@pytest.mark.django_db(transaction=True)
def test_access_pages_fit_a_phone(phone_page, admin_user, cs_user):
    login(phone_page, "admin1")
    for url in ("/access/users/", f"/access/users/{cs_user.pk}/", "/access/audit/"):
        phone_page.goto(url)
        assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360, url


@pytest.mark.django_db(transaction=True)
def test_non_admins_are_refused(desktop_page, cs_user):
    login(desktop_page, "cs1")
    response = desktop_page.goto("/access/users/")
    assert response is not None and response.status == 403
