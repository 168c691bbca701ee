"""Exchanges (replacement items instead of money, sent as an exchange order once the goods are back or at
once) and refunding the order's shipping with a return (every unit back, and the retailer's fault or the
right of regret); through the services, the pages and the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from oms.celery import app
from oms.exceptions import InvalidTransition
from oms.models import AuditEvent, WebhookDelivery, WebhookSubscription
from orders.exceptions import ReturnInvalid
from orders.models import EntryKind, Fulfilment, Order, OrderEvent, OrderStatus, Return, ReturnStatus
from orders.services import LineData, order_cancel
from orders.services.fulfilment import (
    fulfilment_confirm_pick,
    fulfilment_hand_over,
    fulfilment_mark_delivered,
    fulfilment_pack,
    fulfilment_ship,
)
from orders.services.returns import (
    due_of,
    exchanges_cancelled_unsettled,
    refund_due,
    return_balance,
    return_cancel,
    return_collect,
    return_create,
    return_entry_reverse,
    return_exchange_cancelled,
    return_exchange_send,
    return_receive,
    return_refund,
)
from orders.tasks import exchange_cancelled, settle_cancelled_exchanges
from tests.factories import (
    ChannelFactory,
    ProductFactory,
    StockFactory,
    fulfilment_with_reservations,
)

pytestmark = pytest.mark.django_db

SHIPPING = Decimal("15.00")


@pytest.fixture
def catalogue(store):
    """Shirts P (59.90, bought) and M (69.90, the usual exchange) and G (inactive), a cap (30.00)."""
    products = {
        "P": ProductFactory(sku="CAM-0001-P", name="Camiseta P", price=Decimal("59.90")),
        # another model (a polo): a swap to it costs its price now
        "M": ProductFactory(sku="POL-0001-M", name="Polo M", price=Decimal("69.90")),
        # the same shirt in another size: a swap to it is even, at the price paid
        "shirt M": ProductFactory(sku="CAM-0001-M", name="Camiseta M", price=Decimal("69.90")),
        "G": ProductFactory(sku="CAM-0001-G", name="Camiseta G", price=Decimal("69.90"), active=False),
        "cap": ProductFactory(sku="BON-0001-U", name="Boné", price=Decimal("30.00")),
    }
    for product in products.values():
        StockFactory(location=store, product=product, on_hand=10)
    return products


def _deliver(order, store, user, *, lines=None, delivered=True):
    f = fulfilment_with_reservations(order=order, location=store, lines=lines)
    for fl in f.lines.select_related("order_line"):
        fulfilment_confirm_pick(fulfilment=f, code=fl.order_line.sku, qty=fl.qty, by=user)
    fulfilment_pack(fulfilment=f, weights_g=[600], by=user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code=f"LG{f.pk}BR", by=user)
    if delivered:
        fulfilment_mark_delivered(fulfilment=Fulfilment.objects.get(pk=f.pk), by=user)
    return f


@pytest.fixture
def bought(make_order, catalogue, store, store_user, routing_defaults):
    """A web order of 2 shirts P and 1 cap (149.80 + 15.00 shipping), delivered from LJ-SP-01 today."""
    order = make_order(
        lines=[
            LineData(product=catalogue["P"], qty=2, unit_price=Decimal("59.90")),
            LineData(product=catalogue["cap"], qty=1, unit_price=Decimal("30.00")),
        ],
        shipping_price=SHIPPING,
    )
    _deliver(order, store, store_user)
    order.refresh_from_db()
    shirts, cap = order.lines.order_by("line_no")
    return {**catalogue, "order": order, "shirts": shirts, "cap": cap}  # "cap": the order line


def _return(bought, store, user, *, shirts=1, caps=0, reason="wrong_size", exchange=None, when="received"):
    return return_create(
        order=bought["order"],
        lines={bought["shirts"].pk: shirts, bought["cap"].pk: caps},
        reason=reason,
        location=store,
        exchange=exchange,
        exchange_when=when,
        by=user,
    )


def _receive_all(ret, user, got=None):
    """Receive every unit asked for (or `got`: order line pk → units received), all resellable."""
    received = {}
    for line in ret.lines.all():
        n = (got or {}).get(line.order_line_id, line.qty)
        received[line.pk] = (n, n)
    return return_receive(ret=ret, received=received, by=user)


def _fresh(ret):
    ret = Return.objects.select_related("exchange_order").get(pk=ret.pk)
    return ret, list(ret.lines.select_related("order_line"))


# --- exchanges: services -----------------------------------------------------------------------------------


def test_a_wrong_size_goes_out_as_an_exchange_order_once_the_goods_are_back(
    bought, store, cs_user, store_user
):
    order = bought["order"]
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)})
    assert ret.exchange_order is None and ret.exchange_when == "received"
    assert [(row["sku"], row["qty"]) for row in ret.exchange_lines] == [("POL-0001-M", 1)]
    assert Order.objects.count() == 1  # nothing goes out before the goods are back
    assert "1 replacement unit, sent once the goods are back" in OrderEvent.objects.get(kind="return").message

    ret = _receive_all(ret, store_user)
    exchange = ret.exchange_order
    assert exchange is not None
    assert (exchange.channel, exchange.customer, exchange.external_ref) == (
        order.channel,
        order.customer,
        f"{order.number}-T1",
    )
    assert (exchange.delivery_mode, exchange.ship_street, exchange.ship_number, exchange.ship_cep) == (
        order.delivery_mode,
        order.ship_street,
        order.ship_number,
        order.ship_cep,
    )
    assert [(line.sku, line.qty, line.unit_price) for line in exchange.lines.all()] == [
        ("POL-0001-M", 1, Decimal("69.90"))
    ]
    assert (exchange.shipping_price, exchange.total, exchange.status) == (
        Decimal("0.00"),
        Decimal("69.90"),
        OrderStatus.AWAITING_ROUTING,  # queued for routing like any order
    )
    # each order's timeline names the other
    assert OrderEvent.objects.filter(
        order=order, message__contains=f"Exchange order {exchange.number}"
    ).exists()
    assert OrderEvent.objects.filter(
        order=exchange, message__contains=f"return {ret.number} of order {order.number}"
    ).exists()
    assert AuditEvent.objects.filter(action="return.exchange", actor=store_user).exists()
    # 59.90 came back, 69.90 went out: the customer owes 10.00, nothing is refunded
    ret, lines = _fresh(ret)
    assert return_balance(ret, lines) == Decimal("-10.00") and refund_due(ret, lines, ret.entries.all()) == 0
    received = OrderEvent.objects.get(kind="return_received").message
    assert received.endswith("back in stock; the customer owes R$ 10,00.")
    assert ret.status == ReturnStatus.OWED  # off the "received" list, on the one of payments to collect
    with pytest.raises(ReturnInvalid) as caught:
        return_refund(ret=ret, amount=Decimal("0.01"), by=cs_user)
    assert caught.value.field == "amount"
    # the exchange falls through (cancelled before it went out): what came back is refunded after all
    order_cancel(order=exchange, by=cs_user, reason="sem estoque")
    ret, lines = _fresh(ret)
    assert refund_due(ret, lines, ret.entries.all()) == Decimal("59.90")
    assert return_refund(ret=ret, amount=Decimal("59.90"), by=cs_user).status == ReturnStatus.REFUNDED


def test_a_cheaper_replacement_leaves_the_difference_to_refund(bought, store, cs_user, store_user):
    ret = _return(
        bought, store, cs_user, caps=1, reason="changed_mind", exchange={bought["cap"].pk: ("POL-0001-M", 1)}
    )
    ret = _receive_all(ret, store_user)
    ret, lines = _fresh(ret)
    # a shirt (59.90) and a cap (30.00) back, a shirt M (69.90) out: 20.00 due
    assert refund_due(ret, lines, ret.entries.all()) == Decimal("20.00")
    with pytest.raises(ReturnInvalid):
        return_refund(ret=ret, amount=Decimal("20.01"), by=cs_user)
    assert return_refund(ret=ret, amount=Decimal("20.00"), by=cs_user).status == ReturnStatus.REFUNDED


def test_an_advance_exchange_goes_out_at_once_and_a_cancelled_one_counts_for_nothing(
    bought, store, cs_user, store_user
):
    order = bought["order"]
    ret = _return(
        bought, store, cs_user, shirts=2, exchange={bought["shirts"].pk: ("POL-0001-M", 2)}, when="now"
    )
    exchange = ret.exchange_order
    assert exchange is not None and exchange.total == Decimal("139.80")
    assert exchange.external_ref == f"{order.number}-T1"
    ret = _receive_all(ret, store_user)
    assert Order.objects.count() == 2  # receiving sends no second exchange
    ret, lines = _fresh(ret)
    assert return_balance(ret, lines) == Decimal("119.80") - Decimal("139.80")
    order_cancel(order=exchange, by=cs_user, reason="sem estoque")
    ret, lines = _fresh(ret)
    assert refund_due(ret, lines, ret.entries.all()) == Decimal("119.80")  # as if there were no exchange
    assert return_refund(ret=ret, amount=Decimal("119.80"), by=cs_user).refund_amount == Decimal("119.80")


def test_cancelling_a_return_cancels_its_advance_exchange_while_it_has_not_left(bought, store, cs_user):
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    return_cancel(ret=ret, reason="cliente desistiu", by=cs_user)
    ret, lines = _fresh(ret)
    assert ret.exchange_order.status == OrderStatus.CANCELLED and return_balance(ret, lines) == 0
    event = OrderEvent.objects.get(kind="return_cancelled")
    assert event.message == (
        f"Return {ret.number} cancelled: cliente desistiu. Its exchange order {ret.exchange_order.number} is "
        "cancelled with it."
    )


def test_cancelling_a_return_whose_exchange_is_already_out_says_what_the_customer_owes(
    bought, store, cs_user
):
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    Order.objects.filter(pk=ret.exchange_order.pk).update(status=OrderStatus.SHIPPED)  # on its way
    return_cancel(ret=ret, reason="cliente ficou com as duas", by=cs_user)
    ret, lines = _fresh(ret)
    assert return_balance(ret, lines) == Decimal("-69.90")
    event = OrderEvent.objects.get(kind="return_cancelled")
    assert f"exchange order {ret.exchange_order.number} has already gone out" in event.message
    assert "owes R$ 69,90" in event.message


def test_a_swap_for_the_same_model_is_even_at_the_price_paid(bought, store, cs_user, store_user):
    # the shirt was bought at 59.90 and its M costs 69.90 now: another size of it costs the customer nothing
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: (" cam-0001-m ", 1)})  # as typed
    ret = _receive_all(ret, store_user, {})
    assert [(ln.sku, ln.unit_price) for ln in ret.exchange_order.lines.all()] == [
        ("CAM-0001-M", Decimal("59.90"))
    ]
    ret, lines = _fresh(ret)
    assert return_balance(ret, lines) == ret.shipping_refund  # the shirt's value, less its even swap


def test_only_what_came_back_is_replaced(bought, store, cs_user, store_user):
    ret = _return(
        bought,
        store,
        cs_user,
        shirts=2,
        caps=1,
        exchange={bought["shirts"].pk: ("POL-0001-M", 2), bought["cap"].pk: ("POL-0001-M", 1)},
    )
    ret = _receive_all(ret, store_user, {bought["shirts"].pk: 1})
    # one shirt and the cap came back: two shirts M (one line, the same product) go out
    assert [(line.sku, line.qty) for line in ret.exchange_order.lines.all()] == [("POL-0001-M", 2)]


def test_nothing_to_exchange_came_back_so_nothing_goes_out(bought, store, cs_user, store_user):
    ret = _return(bought, store, cs_user, caps=1, exchange={bought["cap"].pk: ("POL-0001-M", 1)})
    lines = {line.order_line_id: line.pk for line in ret.lines.all()}
    ret = return_receive(
        ret=ret, received={lines[bought["shirts"].pk]: (1, 1), lines[bought["cap"].pk]: (0, 0)}, by=store_user
    )
    assert ret.exchange_order is None and Order.objects.count() == 1
    assert "none of the units to exchange came back" in OrderEvent.objects.get(kind="return_received").message
    ret, lines = _fresh(ret)
    assert refund_due(ret, lines, ret.entries.all()) == Decimal("59.90")


def test_a_second_exchange_of_the_order_takes_the_next_reference(bought, store, cs_user):
    first = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    second = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    number = bought["order"].number
    assert (first.exchange_order.external_ref, second.exchange_order.external_ref) == (
        f"{number}-T1",
        f"{number}-T2",
    )


def _collected_pickup(make_order, catalogue, store, store_user):
    """A pickup of one shirt P at `store`, picked and handed over."""
    order = make_order(
        mode="pickup",
        pickup_location=store,
        lines=[LineData(product=catalogue["P"], qty=1, unit_price=Decimal("59.90"))],
    )
    f = fulfilment_with_reservations(order=order, location=store, kind="pickup")
    fulfilment_confirm_pick(fulfilment=f, code="CAM-0001-P", qty=1, by=store_user)
    f.refresh_from_db()
    fulfilment_hand_over(fulfilment=f, code=f.pickup_code, by=store_user)
    return order


def test_a_collected_pickup_is_exchanged_at_the_same_store(make_order, catalogue, store, cs_user, store_user):
    order = _collected_pickup(make_order, catalogue, store, store_user)
    ret = return_create(
        order=order,
        lines={order.lines.get().pk: 1},
        reason="wrong_size",
        location=store,
        exchange={order.lines.get().pk: ("POL-0001-M", 1)},
        exchange_when="now",
        by=cs_user,
    )
    exchange = ret.exchange_order
    assert (exchange.delivery_mode, exchange.pickup_location, exchange.customer) == (
        "pickup",
        store,
        order.customer,
    )


@pytest.mark.parametrize(
    ("exchange", "when", "field"),
    [
        ({"shirts": ("NOPE-1", 1)}, "received", "exchange"),
        ({"shirts": ("CAM-0001-G", 1)}, "received", "exchange"),  # inactive
        ({"shirts": ("POL-0001-M", 0)}, "received", "exchange"),
        ({"shirts": ("POL-0001-M", 2)}, "received", "exchange"),  # one shirt comes back
        ({"cap": ("POL-0001-M", 1)}, "received", "exchange"),  # the cap is not being returned
        ({"shirts": ("POL-0001-M", 1)}, "tomorrow", "exchange_when"),
    ],
    ids=["unknown sku", "inactive sku", "no units", "more than come back", "line not returned", "bad when"],
)
def test_a_bad_exchange_names_its_field_and_writes_nothing(bought, store, cs_user, exchange, when, field):
    swaps = {bought[key].pk: value for key, value in exchange.items()}
    with pytest.raises(ReturnInvalid) as caught:
        _return(bought, store, cs_user, exchange=swaps, when=when)
    assert caught.value.field == field
    assert not Return.objects.exists() and Order.objects.count() == 1
    assert not OrderEvent.objects.filter(kind__in=("return", "exchange")).exists()


def test_an_advance_exchange_that_cannot_be_created_writes_nothing(
    make_order, catalogue, store, cs_user, store_user
):
    order = _collected_pickup(make_order, catalogue, store, store_user)
    store.offers_pickup = False
    store.save(update_fields=["offers_pickup"])
    with pytest.raises(ReturnInvalid) as caught:
        return_create(
            order=order,
            lines={order.lines.get().pk: 1},
            reason="wrong_size",
            location=store,
            exchange={order.lines.get().pk: ("POL-0001-M", 1)},
            exchange_when="now",
            by=cs_user,
        )
    assert caught.value.field == "exchange" and "LJ-SP-01" in caught.value.message
    assert not Return.objects.exists() and Order.objects.count() == 1


def test_receiving_announces_the_exchange_and_the_shipping(bought, store, cs_user, store_user):
    WebhookSubscription.objects.create(
        name="ERP", url="http://127.0.0.1:9/hook", secret="s3cret", event_types=["return.received"]
    )
    ret = _return(bought, store, cs_user, shirts=2, caps=1, reason="defective",
                  exchange={bought["shirts"].pk: ("POL-0001-M", 1)})  # fmt: skip
    ret = _receive_all(ret, store_user)
    data = WebhookDelivery.objects.get(event_type="return.received").payload["data"]
    # 149.80 back + 15.00 shipping − 69.90 out
    assert (data["exchange_order"], data["shipping_refund"], data["refund_due"], data["customer_owes"]) == (
        ret.exchange_order.number,
        "15.00",
        "94.90",
        "0.00",
    )


# --- shipping ----------------------------------------------------------------------------------------------


def test_every_unit_back_by_the_retailers_fault_refunds_the_shipping(bought, store, cs_user, store_user):
    ret = _receive_all(_return(bought, store, cs_user, shirts=2, caps=1, reason="defective"), store_user)
    assert (ret.shipping_refund, ret.shipping_decision) == (SHIPPING, "fault")
    ret, lines = _fresh(ret)
    assert refund_due(ret, lines, ret.entries.all()) == Decimal("164.80")
    assert "Shipping of R$ 15,00 refunded" in OrderEvent.objects.get(kind="return_received").message
    with pytest.raises(ReturnInvalid):
        return_refund(ret=ret, amount=Decimal("164.81"), by=cs_user)
    assert return_refund(ret=ret, amount=Decimal("164.80"), by=cs_user).status == ReturnStatus.REFUNDED


@pytest.mark.parametrize(
    ("days_since_delivery", "decision", "shipping"),
    [(0, "regret", SHIPPING), (7, "regret", SHIPPING), (8, "late", Decimal("0.00"))],
)
def test_the_right_of_regret_lasts_7_days_from_delivery(
    bought, store, cs_user, store_user, days_since_delivery, decision, shipping
):
    Fulfilment.objects.filter(order=bought["order"]).update(
        delivered_at=timezone.now() - dt.timedelta(days=days_since_delivery)
    )
    ret = _receive_all(_return(bought, store, cs_user, shirts=2, caps=1, reason="changed_mind"), store_user)
    assert (ret.shipping_decision, ret.shipping_refund) == (decision, shipping)


def test_an_order_bought_in_a_store_has_no_right_of_regret(make_order, catalogue, store, cs_user, store_user):
    counter = ChannelFactory(code="loja", name="Loja física", kind="store")
    order = make_order(
        channel=counter,
        lines=[LineData(product=catalogue["P"], qty=1, unit_price=Decimal("59.90"))],
        shipping_price=SHIPPING,
    )
    _deliver(order, store, store_user)
    ret = return_create(
        order=order, lines={order.lines.get().pk: 1}, reason="changed_mind", location=store, by=cs_user
    )
    ret = _receive_all(ret, store_user)
    assert (ret.shipping_decision, ret.shipping_refund) == ("in_store", Decimal("0.00"))


def test_shipping_waits_for_the_last_unit_and_is_refunded_once(
    make_order, catalogue, store, cs_user, store_user, routing_defaults
):
    order = make_order(
        lines=[
            LineData(product=catalogue["P"], qty=2, unit_price=Decimal("59.90")),
            LineData(product=catalogue["cap"], qty=1, unit_price=Decimal("30.00")),
        ],
        shipping_price=SHIPPING,
    )
    shirts, cap = order.lines.order_by("line_no")
    _deliver(order, store, store_user, lines=[(shirts, 2)])  # the cap comes later
    first = return_create(order=order, lines={shirts.pk: 1}, reason="defective", location=store, by=cs_user)
    first = _receive_all(first, store_user)
    assert (first.shipping_decision, first.shipping_refund) == ("partial", 0)
    second = return_create(order=order, lines={shirts.pk: 1}, reason="defective", location=store, by=cs_user)
    second = _receive_all(second, store_user)
    assert (second.shipping_decision, second.shipping_refund) == (
        "fault",
        SHIPPING,
    )  # every delivered unit back
    _deliver(order, store, store_user, lines=[(cap, 1)])
    third = return_create(order=order, lines={cap.pk: 1}, reason="defective", location=store, by=cs_user)
    third = _receive_all(third, store_user)
    assert (third.shipping_decision, third.shipping_refund) == ("already", 0)


def test_an_order_without_shipping_has_none_to_refund(make_order, catalogue, store, cs_user, store_user):
    order = make_order(lines=[LineData(product=catalogue["P"], qty=1, unit_price=Decimal("59.90"))])
    _deliver(order, store, store_user)
    ret = return_create(
        order=order, lines={order.lines.get().pk: 1}, reason="defective", location=store, by=cs_user
    )
    assert _receive_all(ret, store_user).shipping_decision == "free"


# --- pages -------------------------------------------------------------------------------------------------


def _new_return_post(bought, **extra):
    shirts, cap = bought["shirts"].pk, bought["cap"].pk
    return {
        f"line_{shirts}": "1",
        f"line_{cap}": "0",
        "reason": "wrong_size",
        "location": "LJ-SP-01",
        **extra,
    }


def test_customer_service_asks_for_an_exchange_on_the_new_return_page(client, bought, cs_user):
    client.force_login(cs_user)
    url = reverse("orders:return-new", args=[bought["order"].number])
    form = client.get(url).content.decode()
    # the other sizes of the shirt are offered (the inactive one is not)
    assert '<option value="CAM-0001-M">' in form and "CAM-0001-G" not in form
    shirts = bought["shirts"].pk
    response = client.post(
        url, _new_return_post(bought, **{f"swap_sku_{shirts}": " cam-0001-m ", "exchange_when": "now"})
    )  # typed in lower case, as the API takes it
    ret = Return.objects.get()
    assert response.status_code == 302
    assert [(row["sku"], row["qty"]) for row in ret.exchange_lines] == [("CAM-0001-M", 1)]  # one per unit
    exchange = ret.exchange_order
    assert exchange is not None
    detail = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    assert f'href="{reverse("orders:detail", args=[exchange.number])}" data-testid="exchange-order"' in detail
    # the exchange order's page links back to the return, the order's page to the exchange order
    exchange_page = client.get(reverse("orders:detail", args=[exchange.number])).content.decode()
    assert 'data-testid="exchange-for"' in exchange_page
    assert f'href="{reverse("returns:detail", args=[ret.number])}"' in exchange_page
    order_page = client.get(reverse("orders:detail", args=[bought["order"].number])).content.decode()
    assert f'data-testid="return-exchange-order">{exchange.number}<' in order_page


@pytest.mark.parametrize(
    ("swap", "field"),
    [
        ({"sku": "NOPE-1"}, "swap_sku"),
        ({"sku": "CAM-0001-G"}, "swap_sku"),
        ({"sku": "POL-0001-M", "qty": "2"}, "swap_qty"),
        ({"sku": "", "qty": "1"}, "swap_sku"),
        ({"sku": "POL-0001-M", "line": "cap"}, "swap_sku"),  # the cap is not being returned
    ],
    ids=["unknown", "inactive", "more than returned", "units without sku", "line not returned"],
)
def test_a_bad_exchange_on_the_page_is_a_field_error_and_writes_nothing(client, bought, cs_user, swap, field):
    client.force_login(cs_user)
    pk = bought[swap.get("line", "shirts")].pk
    data = _new_return_post(bought, **{f"swap_sku_{pk}": swap["sku"], f"swap_qty_{pk}": swap.get("qty", "")})
    response = client.post(reverse("orders:return-new", args=[bought["order"].number]), data)
    assert response.status_code == 400
    assert f"{field}_{pk}" in response.context["form"].errors
    assert not Return.objects.exists() and Order.objects.count() == 1


def test_the_return_page_says_why_shipping_is_refunded_in_the_readers_language(
    client, bought, store, cs_user, store_user
):
    ret = _receive_all(_return(bought, store, cs_user, shirts=2, caps=1, reason="defective"), store_user)
    client.force_login(cs_user)
    url = reverse("returns:detail", args=[ret.number])
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "the reason is the retailer&#x27;s fault" in english
    assert 'data-testid="refund-due">R$ 164,80<' in english
    with translation.override("pt-br"):
        portuguese = client.get(url, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "culpa do lojista" in portuguese


def test_the_return_page_says_what_the_customer_owes(client, bought, store, cs_user, store_user):
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)})
    ret = _receive_all(ret, store_user)
    client.force_login(cs_user)
    page = client.get(reverse("returns:detail", args=[ret.number]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert 'data-testid="customer-owes">R$ 10,00' in html and 'data-testid="collect-form"' in html
    assert 'data-testid="refund-form"' not in html and 'data-testid="nothing-due"' not in html


def test_staff_of_another_store_get_404_for_an_exchange(
    client, bought, store, elsewhere, cs_user, store_user
):
    assign_perm("inventory.work_at_location", store_user, elsewhere)
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    client.force_login(store_user)
    assert client.get(reverse("returns:detail", args=[ret.number])).status_code == 404
    assert client.get(reverse("orders:detail", args=[ret.exchange_order.number])).status_code == 404


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_returns_lists_run_the_same_queries_with_exchange_orders(
    client, client_for, bought, store, cs_user
):
    client.force_login(cs_user)
    api = client_for(cs_user)
    order = bought["order"]
    urls = (reverse("returns:list"), "/api/v1/returns/", f"/api/v1/orders/{order.number}/returns/")

    def queries() -> list[int]:
        return [
            _count(client, urls[0]),
            *(_count_api(api, url) for url in urls[1:]),
        ]

    _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    queries()  # caches warmed
    few = queries()
    _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    _return(bought, store, cs_user, caps=1, shirts=0)
    assert queries() == few
    listing = client.get(urls[0]).content.decode()
    assert listing.count('data-testid="exchange-order"') == 2


def _count_api(api, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert api.get(url).status_code == 200
    return len(ctx.captured_queries)


# --- API ---------------------------------------------------------------------------------------------------


def test_a_shop_front_asks_for_an_advance_exchange(client_for, bought, cs_user):
    client = client_for(cs_user)
    url = f"/api/v1/orders/{bought['order'].number}/returns/"
    body = {
        "lines": [{"line_no": 1, "qty": 1}],
        "reason": "wrong_size",
        "location": "LJ-SP-01",
        "exchange": [{"line": 1, "sku": "POL-0001-M", "qty": 1}],
        "exchange_when": "now",
    }
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    ret = Return.objects.get()
    assert data["exchange_order"] == ret.exchange_order.number
    assert (data["exchange"], data["exchange_when"]) == (
        [{"line_no": 1, "sku": "POL-0001-M", "qty": 1}],
        "now",
    )
    assert (data["refund_due"], data["customer_owes"], data["shipping_decision"]) == ("0.00", "0.00", "")
    listed = client.get(url).json()
    assert [r["exchange_order"] for r in listed] == [ret.exchange_order.number]


def test_an_exchange_received_through_the_api_shows_the_money(client_for, bought, store, cs_user, store_user):
    assign_perm("inventory.work_at_location", store_user, store)
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)})
    received = client_for(store_user).post(
        f"/api/v1/returns/{ret.number}/receive/",
        {"lines": [{"line_no": 1, "received": 1, "restocked": 1}]},
        format="json",
    )
    assert received.status_code == 200, received.content
    data = received.json()
    assert data["exchange_order"] == Return.objects.get().exchange_order.number
    assert (data["refund_due"], data["customer_owes"], data["shipping_decision"]) == (
        "0.00",
        "10.00",
        "partial",
    )


@pytest.mark.parametrize(
    ("exchange", "field"),
    [
        ([{"line": 1, "sku": "NOPE-1", "qty": 1}], "exchange"),
        ([{"line": 1, "sku": "CAM-0001-G", "qty": 1}], "exchange"),
        ([{"line": 1, "sku": "POL-0001-M", "qty": 2}], "exchange"),
        ([{"line": 1, "sku": "POL-0001-M", "qty": 0}], "exchange"),
        ([{"line": 2, "sku": "POL-0001-M", "qty": 1}], "exchange"),
        ([{"line": 9, "sku": "POL-0001-M", "qty": 1}], "exchange"),
        ([{"line": 1, "sku": "POL-0001-M", "qty": 1}] * 2, "exchange"),
        ([{"line": 1, "sku": "POL-0001-M"}], "exchange"),
    ],
    ids=["unknown", "inactive", "too many", "zero", "not returned", "no such line", "twice", "no qty"],
)
def test_bad_exchanges_are_400_naming_the_field_and_write_nothing(
    client_for, bought, cs_user, exchange, field
):
    body = {"lines": [{"line_no": 1, "qty": 1}], "reason": "wrong_size", "location": "LJ-SP-01",
            "exchange": exchange, "exchange_when": "now"}  # fmt: skip
    response = client_for(cs_user).post(
        f"/api/v1/orders/{bought['order'].number}/returns/", body, format="json"
    )
    assert response.status_code == 400 and field in response.json(), response.content
    assert not Return.objects.exists() and Order.objects.count() == 1


def test_a_bad_exchange_when_is_400(client_for, bought, cs_user):
    body = {"lines": [{"line_no": 1, "qty": 1}], "reason": "wrong_size", "location": "LJ-SP-01",
            "exchange": [{"line": 1, "sku": "POL-0001-M", "qty": 1}], "exchange_when": "later"}  # fmt: skip
    response = client_for(cs_user).post(
        f"/api/v1/orders/{bought['order'].number}/returns/", body, format="json"
    )
    assert response.status_code == 400 and "exchange_when" in response.json()
    assert not Return.objects.exists()


# --- what is still due: refunds, the customer's payments, offsets between returns ------------------------


def _entries(ret):
    return [(e.kind, e.amount, e.other.number if e.other else None) for e in ret.entries.order_by("pk")]


def test_a_unit_sent_back_later_pays_for_the_replacement_that_went_out_ahead(
    bought, store, cs_user, store_user
):
    # two shirts (59.90 each) to be exchanged for two polos (69.90 each), sent at once; one shirt comes back
    first = _return(
        bought, store, cs_user, shirts=2, exchange={bought["shirts"].pk: ("POL-0001-M", 2)}, when="now"
    )
    first = _receive_all(first, store_user, got={bought["shirts"].pk: 1})
    assert (first.status, due_of(first)) == (ReturnStatus.OWED, Decimal("59.90") - Decimal("139.80"))
    # the other shirt comes back on a second return: its value pays what the customer owed, not a refund
    second = _return(bought, store, cs_user, shirts=1)
    second = _receive_all(second, store_user)
    first.refresh_from_db()
    assert (second.status, due_of(second)) == (ReturnStatus.CLOSED, 0)
    assert (first.status, due_of(first)) == (ReturnStatus.OWED, Decimal("-20.00"))  # the polos' difference
    assert _entries(second) == [(EntryKind.OFFSET, Decimal("59.90"), first.number)]
    assert _entries(first) == [(EntryKind.OFFSET, Decimal("-59.90"), second.number)]
    # the first return moved too: an audit row of its own
    offsets = AuditEvent.objects.filter(action="return.offset", object_id=str(first.pk), actor=store_user)
    assert offsets.count() == 1
    received = OrderEvent.objects.filter(kind="return_received").latest("pk").message
    assert (
        f"R$ 59,90 due to the customer on return {second.number} pays what they owed on return "
        f"{first.number}." in received
    )
    with pytest.raises(ReturnInvalid) as caught:
        return_refund(ret=second, amount=Decimal("0.01"), by=cs_user)
    assert caught.value.field == "amount"


def test_what_the_customer_owes_is_paid_in_parts_or_waived(bought, store, cs_user, store_user):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    assert (ret.status, due_of(ret)) == (ReturnStatus.OWED, Decimal("-10.00"))
    ret = return_collect(ret=ret, amount=Decimal("4.00"), reference="PIX-1", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.OWED, Decimal("-6.00"))
    for amount, waive in ((Decimal("6.01"), False), (Decimal("0.00"), False), (Decimal("-1"), True)):
        with pytest.raises(ReturnInvalid) as caught:
            return_collect(ret=ret, amount=amount, waive_rest=waive, by=cs_user)
        assert caught.value.field == "amount"
    assert ret.entries.count() == 1  # the refusals wrote nothing
    ret = return_collect(ret=ret, amount=Decimal("5.00"), waive_rest=True, by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.CLOSED, 0)
    assert _entries(ret) == [
        (EntryKind.CHARGE, Decimal("-4.00"), None),
        (EntryKind.CHARGE, Decimal("-5.00"), None),
        (EntryKind.WAIVED, Decimal("-1.00"), None),
    ]
    assert ret.entries.get(reference="PIX-1").created_by == cs_user
    messages = list(OrderEvent.objects.filter(kind="return_payment").values_list("message", flat=True))
    assert messages == [
        f"Payment of R$ 4,00 from the customer recorded for return {ret.number} (reference PIX-1).",
        f"Payment of R$ 5,00 from the customer recorded for return {ret.number}. R$ 1,00 the customer owed "
        f"on return {ret.number} waived.",
    ]
    with pytest.raises(InvalidTransition):  # closed, nothing owed: not even a waiver
        return_collect(ret=ret, amount=Decimal("0.00"), waive_rest=True, by=cs_user)


def test_a_payment_charged_back_or_a_waiver_given_back_is_owed_again(bought, store, cs_user, store_user):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    ret = return_collect(ret=ret, amount=Decimal("4.00"), reference="PIX-1", waive_rest=True, by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.CLOSED, 0)
    charge = ret.entries.get(kind=EntryKind.CHARGE)
    waiver = ret.entries.get(kind=EntryKind.WAIVED)
    ret = return_entry_reverse(ret=ret, entry=charge.pk, reason="chargeback do cartão", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.OWED, Decimal("-4.00"))
    ret = return_entry_reverse(ret=ret, entry=waiver.pk, reason="gerente reviu", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.OWED, Decimal("-10.00"))
    assert _entries(ret)[2:] == [
        (EntryKind.REVERSAL, Decimal("4.00"), None),
        (EntryKind.REVERSAL, Decimal("6.00"), None),
    ]
    messages = list(OrderEvent.objects.filter(kind="return_correction").values_list("message", flat=True))
    assert messages == [
        f"The customer's payment of R$ 4,00 on return {ret.number} is corrected: chargeback do cartão. The "
        "customer owes R$ 4,00.",
        f"The R$ 6,00 waived on return {ret.number} is corrected: gerente reviu. The customer owes R$ 10,00.",
    ]
    # paid again under a new reference: settled
    ret = return_collect(ret=ret, amount=Decimal("10.00"), reference="PIX-2", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.CLOSED, 0)


def test_a_correction_settles_again_with_the_orders_other_returns(bought, store, cs_user, store_user):
    """A payment charged back makes the customer owe again: another return of the order that is owed money
    pays it first, as at receipt, instead of one return owing while the other is refunded."""
    first = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    first = return_collect(ret=first, amount=Decimal("10.00"), reference="PIX-1", by=cs_user)  # settled
    second = _receive_all(_return(bought, store, cs_user, shirts=0, caps=1), store_user)
    assert due_of(second) == Decimal("30.00")  # nothing owed elsewhere: no offset
    charge = first.entries.get(kind=EntryKind.CHARGE)
    first = return_entry_reverse(ret=first, entry=charge.pk, reason="chargeback", by=cs_user)
    second.refresh_from_db()
    assert (first.status, due_of(first)) == (ReturnStatus.CLOSED, 0)  # the cap's value paid it
    assert (second.status, due_of(second)) == (ReturnStatus.RECEIVED, Decimal("20.00"))
    message = OrderEvent.objects.get(kind="return_correction").message
    assert f"R$ 10,00 due to the customer on return {second.number} pays what they owed on return" in message


def test_a_waiver_lapsed_with_its_exchange_does_not_cover_a_chargeback(bought, store, cs_user, store_user):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    ret = return_collect(ret=ret, amount=Decimal("4.00"), reference="PIX-1", waive_rest=True, by=cs_user)
    Order.objects.filter(pk=ret.exchange_order.pk).update(status=OrderStatus.CANCELLED)  # the polo never left
    ret = return_exchange_cancelled(ret=Return.objects.get(pk=ret.pk), by=cs_user)
    assert due_of(ret) == Decimal("63.90")  # the shirt, and the 4.00 paid: the waiver lapsed with the debt
    ret = return_refund(ret=ret, amount=Decimal("63.90"), reference="PSP-1", by=cs_user)
    charge = ret.entries.get(kind=EntryKind.CHARGE)
    ret = return_entry_reverse(ret=ret, entry=charge.pk, reason="chargeback", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.OWED, Decimal("-4.00"))  # not covered by the old waiver


def test_a_reference_recorded_is_a_retry_for_systems_and_refused_for_people(
    bought, store, cs_user, store_user
):
    ret = _receive_all(_return(bought, store, cs_user, shirts=0, caps=1), store_user)
    ret = return_refund(ret=ret, amount=Decimal("10.00"), reference="PSP-1", keep_rest=False, by=cs_user)
    with pytest.raises(ReturnInvalid) as caught:  # a person typing it again is told
        return_refund(
            ret=ret, amount=Decimal("10.00"), reference="PSP-1", keep_rest=False, retry=False, by=cs_user
        )
    assert caught.value.field == "reference" and "PSP-1" in caught.value.message
    refund = ret.entries.get(reference="PSP-1")
    return_entry_reverse(ret=ret, entry=refund.pk, reason="voltou", by=cs_user)
    with pytest.raises(InvalidTransition, match="PSP-1"):  # corrected: a new payment needs a new reference
        return_refund(ret=ret, amount=Decimal("10.00"), reference="PSP-1", by=cs_user)
    assert due_of(Return.objects.get(pk=ret.pk)) == Decimal("30.00")


def test_a_cancelled_return_paid_for_an_exchange_cancelled_since_is_refunded(bought, store, cs_user):
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    Order.objects.filter(pk=ret.exchange_order.pk).update(status=OrderStatus.SHIPPED)  # gone out
    ret = return_cancel(ret=ret, reason="cliente ficou com as duas", by=cs_user)
    ret = return_collect(ret=ret, amount=Decimal("69.90"), reference="PSP-9", by=cs_user)
    Order.objects.filter(pk=ret.exchange_order.pk).update(status=OrderStatus.CANCELLED)  # cancelled since
    ret = return_exchange_cancelled(ret=Return.objects.get(pk=ret.pk), by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.CANCELLED, Decimal("69.90"))  # the payment is due back
    ret = return_refund(ret=ret, amount=Decimal("69.90"), reference="PSP-10", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.CANCELLED, 0)
    plain = _return(bought, store, cs_user, caps=1)  # cancelled with no money moved: nothing to settle
    plain = return_cancel(ret=plain, reason="desistiu", by=cs_user)
    assert return_exchange_cancelled(ret=plain, by=cs_user).status == ReturnStatus.CANCELLED
    assert not OrderEvent.objects.filter(kind="return_payment", data__return=plain.number).exists()


def test_a_cancelled_return_whose_exchange_went_out_collects_what_the_customer_owes(bought, store, cs_user):
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    Order.objects.filter(pk=ret.exchange_order.pk).update(status=OrderStatus.SHIPPED)  # on its way
    ret = return_cancel(ret=ret, reason="cliente ficou com as duas", by=cs_user)
    assert due_of(ret) == Decimal("-69.90")
    ret = return_collect(ret=ret, amount=Decimal("69.90"), reference="PSP-9", by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.CANCELLED, 0)


def test_a_cancelled_return_the_customer_owes_on_is_listed_as_owed_until_paid(
    bought, store, cs_user, client, client_for
):
    """The returns list's "customer owes" (page and API) takes in a cancelled return whose exchange went out,
    until what it is worth is paid or waived; a cancelled one with nothing owed stays out."""
    ret = _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}, when="now")
    Order.objects.filter(pk=ret.exchange_order.pk).update(status=OrderStatus.SHIPPED)  # on its way
    ret = return_cancel(ret=ret, reason="cliente ficou com as duas", by=cs_user)
    plain = _return(bought, store, cs_user, caps=1)  # no exchange: cancelled, nothing owed
    return_cancel(ret=plain, reason="desistiu", by=cs_user)
    client.force_login(cs_user)
    api = client_for(cs_user)

    def owed() -> tuple[list[str], list[str]]:
        page = client.get(reverse("returns:list"), {"status": "owed"})
        body = api.get("/api/v1/returns/", {"status": "owed"})
        assert page.status_code == 200 and body.status_code == 200
        return [r.number for r in page.context["page"].items], [r["number"] for r in body.json()["results"]]

    assert owed() == ([ret.number], [ret.number])
    return_collect(ret=ret, amount=Decimal("50.00"), reference="PSP-1", by=cs_user)
    assert owed() == ([ret.number], [ret.number])  # 19.90 still owed
    return_collect(ret=ret, amount=Decimal("9.90"), waive_rest=True, by=cs_user)
    assert owed() == ([], [])
    # the first payment bounces: owed again
    bounced = ret.entries.get(reference="PSP-1")
    return_entry_reverse(ret=ret, entry=bounced.pk, reason="estornado", by=cs_user)
    assert owed() == ([ret.number], [ret.number])
    cancelled = client.get(reverse("returns:list"), {"status": "cancelled"}).context["page"].items
    assert {r.number for r in cancelled} == {ret.number, plain.number}


def _cancel_exchange(ret, by, monkeypatch, capture):
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # no worker: the settling task runs inline
    with capture(execute=True):
        order_cancel(order=Return.objects.get(pk=ret.pk).exchange_order, by=by, reason="sem estoque")
    return Return.objects.select_related("exchange_order").get(pk=ret.pk)


def test_the_beat_settles_an_exchange_cancelled_whose_task_was_lost(bought, store, cs_user, store_user):
    """The settling task is queued on commit; here it never runs (as when a worker dies with it). The beat's
    sweep finds the return and settles it, once; a return whose exchange stands, or was settled, is left."""
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    assert ret.status == ReturnStatus.OWED  # the polo costs 10.00 more than the shirt
    assert exchanges_cancelled_unsettled() == [] and settle_cancelled_exchanges() == 0  # its exchange stands
    order_cancel(order=Return.objects.get(pk=ret.pk).exchange_order, by=cs_user, reason="sem estoque")
    assert Return.objects.get(pk=ret.pk).status == ReturnStatus.OWED  # the task did not run: not settled
    assert exchanges_cancelled_unsettled() == [ret.pk]
    assert settle_cancelled_exchanges() == 1
    ret = Return.objects.get(pk=ret.pk)
    assert (ret.status, due_of(ret)) == (ReturnStatus.RECEIVED, Decimal("59.90"))  # the shirt's value is due
    assert OrderEvent.objects.filter(kind="return_payment").count() == 1
    assert exchanges_cancelled_unsettled() == [] and settle_cancelled_exchanges() == 0


def test_an_exchange_cancelled_after_the_refund_is_refunded_too(
    bought, store, cs_user, store_user, monkeypatch, django_capture_on_commit_callbacks
):
    ret = _return(
        bought, store, cs_user, caps=1, reason="changed_mind", exchange={bought["cap"].pk: ("POL-0001-M", 1)}
    )
    ret = _receive_all(ret, store_user)
    ret = return_refund(ret=ret, amount=Decimal("15.00"), reference="PSP-1", by=cs_user)  # 5.00 kept
    assert (ret.status, due_of(ret)) == (ReturnStatus.REFUNDED, 0)
    # the polo never leaves: its 69.90 is due again, on the return's page and in the refunds to make
    ret = _cancel_exchange(ret, cs_user, monkeypatch, django_capture_on_commit_callbacks)
    assert (ret.status, due_of(ret)) == (ReturnStatus.RECEIVED, Decimal("69.90"))
    event = OrderEvent.objects.filter(order=bought["order"], kind="return_payment").get()
    assert event.message == (
        f"Exchange order {ret.exchange_order.number} cancelled: R$ 69,90 is due to the customer for return "
        f"{ret.number}."
    )
    assert event.actor == cs_user
    exchange_cancelled(ret.pk, cs_user.pk)  # the task again: nothing more
    assert OrderEvent.objects.filter(kind="return_payment").count() == 1
    ret = return_refund(ret=ret, amount=Decimal("69.90"), reference="PSP-2", by=cs_user)
    assert (ret.status, ret.refund_amount, ret.refund_reference) == (
        ReturnStatus.REFUNDED,
        Decimal("84.90"),
        "PSP-2",
    )
    assert [kind for kind, _amount, _other in _entries(ret)] == ["refund", "kept", "refund"]


def test_an_exchange_that_failed_at_receipt_is_sent_again(make_order, catalogue, store, cs_user, store_user):
    order = _collected_pickup(make_order, catalogue, store, store_user)
    line = order.lines.get()
    ret = return_create(
        order=order, lines={line.pk: 1}, reason="wrong_size", location=store,
        exchange={line.pk: ("POL-0001-M", 1)}, by=cs_user,
    )  # fmt: skip
    store.offers_pickup = False
    store.save(update_fields=["offers_pickup"])
    ret = _receive_all(ret, store_user)
    assert ret.exchange_order is None and (ret.status, due_of(ret)) == (
        ReturnStatus.RECEIVED,
        Decimal("59.90"),
    )
    with pytest.raises(ReturnInvalid) as caught:  # still no pickup there: refused, nothing written
        return_exchange_send(ret=ret, by=cs_user)
    assert caught.value.field == "exchange" and Order.objects.count() == 1
    store.offers_pickup = True
    store.save(update_fields=["offers_pickup"])
    ret = return_exchange_send(ret=ret, by=cs_user)
    assert ret.exchange_order is not None and ret.exchange_order.total == Decimal("69.90")
    assert (ret.status, due_of(ret)) == (ReturnStatus.OWED, Decimal("-10.00"))
    with pytest.raises(InvalidTransition):  # sent: nothing waits any more
        return_exchange_send(ret=ret, by=cs_user)


def test_no_exchange_is_sent_again_once_the_money_went_back(
    make_order, catalogue, store, cs_user, store_user
):
    order = _collected_pickup(make_order, catalogue, store, store_user)
    line = order.lines.get()
    ret = return_create(
        order=order, lines={line.pk: 1}, reason="wrong_size", location=store,
        exchange={line.pk: ("POL-0001-M", 1)}, by=cs_user,
    )  # fmt: skip
    store.offers_pickup = False
    store.save(update_fields=["offers_pickup"])
    ret = return_refund(ret=_receive_all(ret, store_user), amount=Decimal("59.90"), by=cs_user)
    store.offers_pickup = True
    store.save(update_fields=["offers_pickup"])
    with pytest.raises(ReturnInvalid) as caught:
        return_exchange_send(ret=ret, by=cs_user)
    assert caught.value.field == "exchange" and Order.objects.count() == 1


def test_the_return_page_records_the_customers_payment(client, bought, store, cs_user, store_user):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    client.force_login(cs_user)
    url = reverse("returns:action", args=[ret.number, "collect"])
    refused = client.post(url, {"amount": "10,01", "reference": "PIX-7"}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert refused.status_code == 400 and not ret.entries.exists()
    assert 'value="PIX-7"' in refused.content.decode()  # what was typed is kept beside the error
    done = client.post(url, {"amount": "10,00", "reference": "PIX-7"}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert done.status_code == 302
    page = client.get(
        reverse("returns:detail", args=[ret.number]), HTTP_ACCEPT_LANGUAGE="pt-br"
    ).content.decode()
    assert "Pago pelo cliente" in page and "PIX-7" in page and 'data-testid="nothing-due"' in page
    assert 'data-testid="collect-form"' not in page
    assert Return.objects.get(pk=ret.pk).status == ReturnStatus.CLOSED


def test_store_staff_cannot_record_payments(client, bought, store, cs_user, store_user):
    assign_perm("inventory.work_at_location", store_user, store)
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    client.force_login(store_user)
    response = client.post(reverse("returns:action", args=[ret.number, "collect"]), {"amount": "10,00"})
    assert response.status_code == 403 and not ret.entries.exists()
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    assert 'data-testid="collect-form"' not in page


def test_a_payment_system_records_the_customers_payment_through_the_api(
    client_for, bought, store, cs_user, store_user
):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    api = client_for(cs_user)
    url = f"/api/v1/returns/{ret.number}/collect/"
    refused = api.post(url, {"amount": "10.01"}, format="json")
    assert refused.status_code == 400 and "amount" in refused.json() and not ret.entries.exists()
    paid = api.post(url, {"amount": "10.00", "reference": "PSP-77"}, format="json")
    assert paid.status_code == 200, paid.content
    data = paid.json()
    assert (data["status"], data["refund_due"], data["customer_owes"]) == ("closed", "0.00", "0.00")
    assert [(e["kind"], e["amount"], e["reference"]) for e in data["entries"]] == [
        ("charge", "-10.00", "PSP-77")
    ]
    again = api.post(url, {"amount": "1.00"}, format="json")
    assert again.status_code == 409


def test_the_return_page_reads_its_ledger_in_a_fixed_number_of_queries(
    client, bought, store, cs_user, store_user, django_assert_max_num_queries
):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    client.force_login(cs_user)
    url = reverse("returns:detail", args=[ret.number])

    def pay(n: int) -> None:  # each payment recorded by another user than the one before
        return_collect(
            ret=ret, amount=Decimal("1.00"), reference=f"PIX-{n}", by=cs_user if n % 2 else store_user
        )

    pay(0)
    client.get(url)  # caches warmed
    with django_assert_max_num_queries(12) as one:
        client.get(url)
    for n in range(1, 4):
        pay(n)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = client.get(url).content.decode()
    assert page.count('data-testid="entry"') == 4


def test_a_waiver_lapses_with_the_debt_when_the_exchange_is_cancelled(
    bought, store, cs_user, store_user, monkeypatch, django_capture_on_commit_callbacks
):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    ret = return_collect(ret=ret, amount=Decimal("0.00"), waive_rest=True, by=cs_user)  # 10.00 let off
    assert (ret.status, due_of(ret)) == (ReturnStatus.CLOSED, 0)
    ret = _cancel_exchange(ret, cs_user, monkeypatch, django_capture_on_commit_callbacks)
    # the shirt's 59.90 is due, not 69.90: the 10.00 waived was a debt, never money of the customer's
    assert (ret.status, due_of(ret)) == (ReturnStatus.RECEIVED, Decimal("59.90"))


def test_an_exchange_cancelled_with_the_status_unchanged_is_still_on_the_timeline(
    bought, store, cs_user, store_user, monkeypatch, django_capture_on_commit_callbacks
):
    ret = _return(
        bought, store, cs_user, caps=1, reason="changed_mind", exchange={bought["cap"].pk: ("POL-0001-M", 1)}
    )
    ret = _receive_all(ret, store_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.RECEIVED, Decimal("20.00"))
    ret = _cancel_exchange(ret, cs_user, monkeypatch, django_capture_on_commit_callbacks)
    assert (ret.status, due_of(ret)) == (ReturnStatus.RECEIVED, Decimal("89.90"))
    event = OrderEvent.objects.get(kind="return_payment")
    assert "R$ 89,90 is due to the customer" in event.message
    assert AuditEvent.objects.filter(action="return.exchange_cancelled", actor=cs_user).count() == 1
    exchange_cancelled(ret.pk, cs_user.pk)  # again: nothing more
    assert OrderEvent.objects.filter(kind="return_payment").count() == 1


def test_a_payment_sent_again_with_its_reference_is_recorded_once(bought, store, cs_user, store_user):
    ret = _receive_all(
        _return(bought, store, cs_user, exchange={bought["shirts"].pk: ("POL-0001-M", 1)}), store_user
    )
    return_collect(ret=ret, amount=Decimal("4.00"), reference="PSP-1", by=cs_user)
    return_collect(
        ret=ret, amount=Decimal("4.00"), reference="PSP-1", by=cs_user
    )  # the payment system retries
    assert due_of(ret) == Decimal("-6.00") and ret.entries.count() == 1
    with pytest.raises(ReturnInvalid) as caught:
        return_collect(ret=ret, amount=Decimal("5.00"), reference="PSP-1", by=cs_user)
    assert caught.value.field == "reference" and ret.entries.count() == 1


def test_the_send_exchange_button_waits_for_units_to_exchange(client, bought, store, cs_user, store_user):
    ret = _return(bought, store, cs_user, shirts=1, caps=1, exchange={bought["shirts"].pk: ("POL-0001-M", 1)})
    ret = _receive_all(ret, store_user, got={bought["shirts"].pk: 0})  # only the cap came back
    assert ret.exchange_order is None
    client.force_login(cs_user)
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    assert 'data-testid="send-exchange-form"' not in page
