"""A region manager decides replenishment proposals on a phone, in Portuguese: ticks one, approves it, and it
leaves the list with a message naming the transfer it opened; the page fits the screen."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from inventory.models import ProposalStatus, ReplenishmentProposal, Reservation
from inventory.services import stock_commit, stock_reserve
from inventory.services.replenishment import replenishment_propose
from tests.factories import DCFactory, LocationFactory, ProductFactory, RegionFactory, StockFactory

from .conftest import login


@pytest.mark.django_db(transaction=True)
def test_a_manager_approves_a_proposal_on_a_phone(phone_page, manager_user):
    south = RegionFactory(code="sul")
    dc = DCFactory(code="CD-SP-01")
    store = LocationFactory(code="LJ-RS-01", region=south.code)
    for sku in ("CAM-0001-P", "CAM-0002-M"):
        product = ProductFactory(sku=sku)
        StockFactory(location=dc, product=product, on_hand=300)
        StockFactory(location=store, product=product, on_hand=30)
        stock_reserve(location=store, product=product, qty=28, ref=f"sale-{sku}")
        stock_commit(ref=f"sale-{sku}", location=store, product=product, qty=28, reason="shipped")
    replenishment_propose()
    first, second = ReplenishmentProposal.objects.order_by("product__sku")
    assign_perm("inventory.manage_region", manager_user, south)
    page = phone_page
    login(page, manager_user.username)
    page.goto("/inventory/replenishment/")
    expect(page.locator("h1")).to_have_text("Reposição")
    expect(page.locator("[data-testid=proposals] tbody tr")).to_have_count(2)
    page.check(f"#rp-{first.pk}")
    page.fill("#rp-note", "campanha")
    page.click("[data-testid=approve]")
    expect(page.locator(".msg-success")).to_contain_text("1 proposta aprovada")
    expect(page.locator(".msg-info")).to_contain_text(
        "Transferências abertas"
    )  # from the DC, units held there
    expect(page.locator("[data-testid=proposals] tbody tr")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.note) == (ProposalStatus.APPROVED, "campanha")
    assert second.status == ProposalStatus.PROPOSED
    assert first.transfer is not None and first.transfer.source == dc
    expect(page.locator(".msg-info")).to_contain_text(first.transfer.number)
    assert Reservation.objects.get(ref=first.transfer.number).stock.location == dc  # the units held there
