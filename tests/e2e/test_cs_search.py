"""Customer service in a real browser: find an order by CPF (HTMX live results), open it, add a note."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from orders.services import AddressData, CustomerData, LineData, lifecycle, order_create
from tests.factories import ChannelFactory, ProductFactory

from .conftest import login

ADDRESS = AddressData(
    street="Av. Paulista", number="1578", district="Bela Vista", city="São Paulo", state="SP", cep="01310200"
)


def _orders(monkeypatch):
    """Ana's order (CPF 529.982.247-25) and Bruno's, created without queueing routing (not under test)."""
    monkeypatch.setattr(lifecycle, "enqueue_on_commit", lambda *args, **kwargs: None)
    channel, product = ChannelFactory(), ProductFactory()
    made = []
    for ref, customer in (
        ("WEB-ANA", CustomerData(name="Ana Souza", email="ana@example.com", document="52998224725")),
        ("WEB-BRUNO", CustomerData(name="Bruno Lima", email="bruno@example.com", document="11144477735")),
    ):
        made.append(
            order_create(
                channel=channel,
                external_ref=ref,
                placed_at=timezone.now(),
                customer=customer,
                delivery_mode="home",
                deadline_days=2,
                lines=[LineData(product=product, qty=1, unit_price=Decimal("59.90"))],
                address=ADDRESS,
            ).order
        )
    return made


@pytest.mark.django_db(transaction=True)
def test_cs_finds_an_order_by_cpf_and_adds_a_note(desktop_page, cs_user, monkeypatch):
    ana, bruno = _orders(monkeypatch)
    page = desktop_page
    login(page, "cs1")
    page.wait_for_selector("[data-testid=dashboard-title]")
    page.goto("/orders/")
    rows = page.locator("[data-testid=order-row]")
    expect(rows).to_have_count(2)
    # A marker on the window survives an HTMX swap but not a page load: the results refresh in place.
    page.evaluate("window.__stillHere = true")
    page.locator("[data-testid=order-search]").press_sequentially("529.982.247-25", delay=20)
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(ana.number)
    expect(rows.first).to_contain_text("Ana Souza")
    assert page.evaluate("window.__stillHere") is True
    expect(page).to_have_url(re.compile(r"q=529\.982\.247-25"))  # hx-push-url: the search is bookmarkable
    assert bruno.number not in page.locator("#order-results").inner_text()

    rows.first.locator("a.order-link").click()
    expect(page.locator("[data-testid=order-number]")).to_have_text(ana.number)
    expect(page.locator("[data-testid=customer-document]")).to_have_text("529.982.247-25")
    page.locator("summary", has_text="Add a note").click()
    page.fill("[data-testid=note-form] textarea", "Cliente pediu entrega pela manhã.")
    page.locator("[data-testid=note-form] button[type=submit]").click()
    expect(page.locator("[data-testid=timeline]")).to_contain_text("Cliente pediu entrega pela manhã.")
    expect(page.locator(".messages")).to_contain_text("Note added.")
    assert ana.events.filter(kind="note", actor=cs_user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_order_pages_fit_a_phone(phone_page, cs_user, monkeypatch):
    ana, _bruno = _orders(monkeypatch)
    login(phone_page, "cs1")
    phone_page.wait_for_selector("[data-testid=dashboard-title]")
    for url in ("/orders/", f"/orders/{ana.number}/"):
        phone_page.goto(url)
        phone_page.wait_for_load_state("networkidle")
        assert phone_page.evaluate("document.documentElement.scrollWidth") <= 360, url
