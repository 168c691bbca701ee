"""A return end to end in the browser: customer service authorises it from the order page (in English, on a
desktop), the store's staff receive the goods on a phone (in Portuguese; one unit back in stock, one damaged),
the list and the return's page fitting the screen with nothing cut off inside a table, and customer service
records the refund; and what a customer owes on an exchange, recorded as paid from a phone."""

from __future__ import annotations

from decimal import Decimal

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from orders.models import Return, ReturnStatus
from orders.services.fulfilment import fulfilment_confirm_pick, fulfilment_pack, fulfilment_ship
from orders.services.returns import return_create, return_receive
from tests.factories import ProductFactory, fulfilment_with_reservations, stock_row

from .conftest import fits, login, nothing_hidden


@pytest.mark.django_db(transaction=True)
def test_a_return_from_the_order_page_to_the_refund(
    desktop_page, phone_page, routing_world, cs_user, store_user
):
    w = routing_world
    w.stock(w.paulista, w.shirt, 5)
    order = w.make_order([(w.shirt, 2)])
    f = fulfilment_with_reservations(order=order, location=w.paulista)
    fulfilment_confirm_pick(fulfilment=f, code=w.shirt.sku, qty=2, by=store_user)
    fulfilment_pack(fulfilment=f, weights_g=[500], by=store_user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code="LG9BR", by=store_user)
    assign_perm("inventory.work_at_location", store_user, w.paulista)
    on_shelf = stock_row(w.paulista, w.shirt).on_hand

    cs = desktop_page
    login(cs, cs_user.username)
    cs.goto(f"/orders/{order.number}/")
    cs.click("[data-testid=return-start]")
    cs.fill(f"#id_line_{order.lines.get().pk}", "2")
    cs.select_option("#id_reason", "wrong_size")
    cs.click("[data-testid=return-new-form] button[type=submit]")
    expect(cs.locator(".messages")).to_contain_text("authorised")
    expect(cs.locator("[data-testid=return-status]")).to_have_text("Awaiting the goods")
    number = Return.objects.get().number

    staff = phone_page
    login(staff, store_user.username)
    staff.goto("/returns/?status=requested")
    assert fits(staff) and nothing_hidden(staff)
    staff.click(f"tr[data-return='{number}'] a")
    expect(staff.locator("h1")).to_contain_text(number)
    line = Return.objects.get().lines.get()
    expect(staff.locator(f"#id_got_{line.pk}")).to_be_in_viewport(ratio=1)
    staff.fill(f"#id_restock_{line.pk}", "1")
    assert fits(staff) and nothing_hidden(staff)
    staff.click("[data-testid=receive-form] button[type=submit]")
    expect(staff.locator(".messages")).to_contain_text("Devolução recebida")
    expect(staff.locator("[data-testid=return-status]")).to_have_text("Recebida")
    assert fits(staff) and nothing_hidden(staff)
    assert stock_row(w.paulista, w.shirt).on_hand == on_shelf + 1

    cs.reload()
    expect(cs.locator("[data-testid=refund-due]")).to_contain_text("R$ 119,80")
    # a part now, the rest left due, clicked twice: after the first submit the button is disabled, so one
    # request goes (the form answers into a frame here, so that the page stays to be looked at)
    cs.fill("[data-testid=refund-form] input[name=amount]", "100.00")
    cs.uncheck("[data-testid=refund-form] input[name=keep_rest]")
    cs.evaluate(
        """() => { const sink = document.createElement("iframe"); sink.name = "sink";
                   document.body.append(sink);
                   document.querySelector("[data-testid=refund-form]").target = "sink"; }"""
    )
    sent = []
    cs.on("request", lambda r: r.method == "POST" and r.url.endswith("/refund/") and sent.append(r.url))
    submit = "[data-testid=refund-form] button[type=submit]"
    cs.click(submit)
    expect(cs.locator(submit)).to_be_disabled()
    cs.click(submit, force=True)
    cs.wait_for_timeout(500)
    assert len(sent) == 1
    cs.reload()
    expect(cs.locator("[data-testid=refund-due]")).to_contain_text("R$ 19,80")
    assert list(Return.objects.get().entries.values_list("kind", "amount")) == [("refund", Decimal("100.00"))]
    cs.click("[data-testid=refund-form] button[type=submit]")  # the rest
    expect(cs.locator("[data-testid=return-status]")).to_have_text("Refunded")
    ret = Return.objects.get()
    assert (ret.status, str(ret.refund_amount)) == (ReturnStatus.REFUNDED, "119.80")
    cs.goto(f"/orders/{order.number}/")
    expect(cs.locator("[data-testid=timeline]")).to_contain_text(
        f"Refund of R$ 19,80 recorded for return {number}"
    )


@pytest.mark.django_db(transaction=True)
def test_customer_service_records_what_the_customer_owes_on_a_phone(
    phone_page, routing_world, cs_user, store_user
):
    """A shirt (59.90) exchanged for a polo (69.90) sent ahead; the shirt comes back: the customer owes 10.00,
    which customer service records as paid through PIX from a phone, in Portuguese."""
    w = routing_world
    polo = ProductFactory(sku="POL-0001-M", name="Polo M", price=Decimal("69.90"))
    w.stock(w.paulista, w.shirt, 5)
    w.stock(w.paulista, polo, 5)
    order = w.make_order([(w.shirt, 1)])
    f = fulfilment_with_reservations(order=order, location=w.paulista)
    fulfilment_confirm_pick(fulfilment=f, code=w.shirt.sku, qty=1, by=store_user)
    fulfilment_pack(fulfilment=f, weights_g=[500], by=store_user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code="LG10BR", by=store_user)
    line = order.lines.get()
    ret = return_create(
        order=order, lines={line.pk: 1}, reason="wrong_size", location=w.paulista,
        exchange={line.pk: ("POL-0001-M", 1)}, exchange_when="now", by=cs_user,
    )  # fmt: skip
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)

    cs = phone_page
    login(cs, cs_user.username)
    cs.goto("/returns/?status=owed")
    assert fits(cs) and nothing_hidden(cs)
    cs.click(f"tr[data-return='{ret.number}'] a")
    expect(cs.locator("[data-testid=return-status]")).to_have_text("Cliente deve")
    expect(cs.locator("[data-testid=customer-owes]")).to_contain_text("R$ 10,00")
    assert fits(cs) and nothing_hidden(cs)
    cs.fill("#id_amount", "10,01")
    cs.fill("#id_reference", "PIX-123")
    cs.click("[data-testid=collect-form] button[type=submit]")
    expect(cs.locator("[data-testid=collect-form] .errorlist")).to_contain_text("R$ 10,00")
    cs.fill("#id_amount", "10,00")
    cs.click("[data-testid=collect-form] button[type=submit]")
    expect(cs.locator("[data-testid=return-status]")).to_have_text("Encerrada")
    expect(cs.locator("[data-testid=entry]")).to_contain_text("PIX-123")
    assert fits(cs) and nothing_hidden(cs)
    assert Return.objects.get(pk=ret.pk).status == ReturnStatus.CLOSED
