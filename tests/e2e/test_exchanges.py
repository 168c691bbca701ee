"""A wrong-size exchange end to end in the browser: customer service authorises it from the order page (in
English, on a desktop) asking for the shirt in another size; the store's staff receive the goods on a 360 px
phone (in Portuguese): the list of returns and the return's page fit the screen, nothing cut off inside a
table, and the receive form comes first, its inputs and button in view without scrolling, the exchange
explained after it; the exchange order appears, routed, linked both ways with the return."""

from __future__ import annotations

from decimal import Decimal

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from orders.models import OrderStatus, Return
from orders.services.fulfilment import (
    fulfilment_confirm_pick,
    fulfilment_mark_delivered,
    fulfilment_pack,
    fulfilment_ship,
)
from routing.services.live import order_route
from tests.factories import ProductFactory, fulfilment_with_reservations

from .conftest import fits, login, nothing_hidden, top


@pytest.mark.django_db(transaction=True)
def test_a_wrong_size_exchange_from_the_order_page_to_the_routed_exchange_order(
    desktop_page, phone_page, routing_world, cs_user, store_user
):
    w = routing_world
    bigger = ProductFactory(sku="CAM-0001-M", name="Camiseta M", weight_g=260, price=Decimal("59.90"))
    w.stock(w.paulista, w.shirt, 5)
    w.stock(w.paulista, bigger, 5)
    order = w.make_order([(w.shirt, 1)])
    f = fulfilment_with_reservations(order=order, location=w.paulista)
    fulfilment_confirm_pick(fulfilment=f, code=w.shirt.sku, qty=1, by=store_user)
    fulfilment_pack(fulfilment=f, weights_g=[300], by=store_user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code="LG7BR", by=store_user)
    fulfilment_mark_delivered(fulfilment=f, by=store_user)
    assign_perm("inventory.work_at_location", store_user, w.paulista)
    line = order.lines.get()

    cs = desktop_page
    login(cs, cs_user.username)
    cs.goto(f"/orders/{order.number}/")
    cs.click("[data-testid=return-start]")
    cs.fill(f"#id_line_{line.pk}", "1")
    cs.select_option("#id_reason", "wrong_size")
    cs.fill(f"#id_swap_sku_{line.pk}", "CAM-0001-M")  # offered by the datalist, typed here
    expect(cs.locator("#id_exchange_when_0")).to_be_checked()  # once the goods are back, by default
    cs.click("[data-testid=return-new-form] button[type=submit]")
    expect(cs.locator(".messages")).to_contain_text("authorised")
    expect(cs.locator("[data-testid=exchange]")).to_contain_text("CAM-0001-M")
    expect(cs.locator("[data-testid=exchange]")).to_contain_text("Sent once the goods are back")
    number = Return.objects.get().number
    assert Return.objects.get().exchange_order is None

    staff = phone_page
    login(staff, store_user.username)
    staff.goto("/returns/?status=requested")
    row = staff.locator(f"tr[data-return='{number}']")
    expect(row).to_contain_text("ao voltar")  # its exchange order: sent once the goods are back
    assert fits(staff) and nothing_hidden(staff)
    row.locator("a").click()
    expect(staff.locator("[data-testid=exchange]")).to_contain_text("Enviada quando as mercadorias voltarem")
    ret_line = Return.objects.get().lines.get()
    receive = staff.locator("[data-testid=receive-form]")
    for field in (f"#id_got_{ret_line.pk}", f"#id_restock_{ret_line.pk}", "button[type=submit]"):
        expect(receive.locator(field)).to_be_in_viewport(ratio=1)  # not off to the right, not below the fold
    assert top(staff, "[data-testid=receive-form]") < top(staff, "[data-testid=exchange]")
    assert fits(staff) and nothing_hidden(staff)
    staff.click("[data-testid=receive-form] button[type=submit]")
    expect(staff.locator(".messages")).to_contain_text("Devolução recebida")
    exchange = Return.objects.get().exchange_order
    assert exchange is not None and exchange.external_ref == f"{order.number}-T1"
    expect(staff.locator("[data-testid=exchange-order]")).to_have_text(exchange.number)
    expect(staff.locator("[data-testid=refund-due]")).to_contain_text("R$ 0,00")  # same price: even
    expect(staff.locator("[data-testid=return-lines]")).to_contain_text("CAM-0001-P")
    assert fits(staff) and nothing_hidden(staff)

    order_route(order_id=exchange.pk)  # what the worker does after the commit (idempotent if it did)
    exchange.refresh_from_db()
    assert exchange.status == OrderStatus.ALLOCATED

    cs.reload()
    cs.click("[data-testid=exchange-order]")
    expect(cs.locator("[data-testid=order-number]")).to_have_text(exchange.number)
    expect(cs.locator("[data-testid=order-status]")).to_have_text("Allocated")
    expect(cs.locator("[data-testid=order-lines]")).to_contain_text("CAM-0001-M")
    expect(cs.locator("[data-testid=exchange-for]")).to_contain_text(number)
    expect(cs.locator("[data-testid=timeline]")).to_contain_text(
        f"Exchange order for return {number} of order {order.number}."
    )
    cs.click(f"[data-testid=exchange-for] a:has-text('{number}')")
    expect(cs.locator("[data-testid=return-number]")).to_have_text(number)
