"""Returns and refunds: what may come back, authorising, receiving (resellable units back in stock),
refunding, cancelling; the pages per role with their scope; the webhook."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from guardian.shortcuts import assign_perm

from inventory.models import MovementKind, StockMovement
from oms.exceptions import InvalidTransition
from oms.models import AuditEvent, WebhookDelivery, WebhookSubscription
from orders.exceptions import ReturnInvalid
from orders.models import OrderEvent, Return, ReturnEntry, ReturnStatus
from orders.services import LineData
from orders.services.fulfilment import (
    fulfilment_confirm_pick,
    fulfilment_hand_over,
    fulfilment_pack,
    fulfilment_ship,
)
from orders.services.returns import (
    delivered_units,
    due_of,
    return_cancel,
    return_create,
    return_entry_reverse,
    return_receive,
    return_refund,
    returnable_units,
)
from tests.factories import (
    ProductFactory,
    StockFactory,
    fulfilment_with_reservations,
    stock_row,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped(make_order, store, store_user, routing_defaults):
    """A home order of 2 shirts (59.90) and 1 cap (30.00), picked, packed and shipped from LJ-SP-01."""
    shirt, cap = ProductFactory(sku="CAM-0001-P"), ProductFactory(sku="BON-0001-U")
    StockFactory(location=store, product=shirt, on_hand=5)
    StockFactory(location=store, product=cap, on_hand=5)
    order = make_order(
        lines=[
            LineData(product=shirt, qty=2, unit_price=Decimal("59.90")),
            LineData(product=cap, qty=1, unit_price=Decimal("30.00")),
        ]
    )
    f = fulfilment_with_reservations(order=order, location=store)
    fulfilment_confirm_pick(fulfilment=f, code=shirt.sku, qty=2, by=store_user)
    fulfilment_confirm_pick(fulfilment=f, code=cap.sku, qty=1, by=store_user)
    fulfilment_pack(fulfilment=f, weights_g=[600], by=store_user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code="LG1BR", by=store_user)
    order.refresh_from_db()
    shirt_line, cap_line = order.lines.order_by("line_no")
    return {"order": order, "shirt": shirt, "cap": cap, "shirt_line": shirt_line, "cap_line": cap_line}


def _ret(shipped, store, cs_user, *, shirts=2, caps=0):
    lines = {shipped["shirt_line"].pk: shirts, shipped["cap_line"].pk: caps}
    return return_create(order=shipped["order"], lines=lines, reason="wrong_size", location=store, by=cs_user)


# --- services ----------------------------------------------------------------------------------------------


def test_only_units_that_reached_the_customer_may_come_back(make_order, store, store_user, routing_defaults):
    shirt = ProductFactory()
    StockFactory(location=store, product=shirt, on_hand=5)
    order = make_order(lines=[LineData(product=shirt, qty=2, unit_price=Decimal("10"))])
    f = fulfilment_with_reservations(order=order, location=store)
    fulfilment_confirm_pick(fulfilment=f, code=shirt.sku, qty=2, by=store_user)
    assert returnable_units(order) == {}  # picked, not shipped
    fulfilment_pack(fulfilment=f, weights_g=[300], by=store_user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code="X1", by=store_user)
    assert returnable_units(order) == {order.lines.get().pk: 2}


def test_a_collected_pickup_may_come_back(make_order, store, store_user):
    shirt = ProductFactory()
    StockFactory(location=store, product=shirt, on_hand=5)
    order = make_order(
        mode="pickup", pickup_location=store, lines=[LineData(product=shirt, qty=1, unit_price=Decimal("10"))]
    )
    f = fulfilment_with_reservations(order=order, location=store, kind="pickup")
    fulfilment_confirm_pick(fulfilment=f, code=shirt.sku, qty=1, by=store_user)
    assert delivered_units(order) == {}
    f.refresh_from_db()
    fulfilment_hand_over(fulfilment=f, code=f.pickup_code, by=store_user)
    assert delivered_units(order) == {order.lines.get().pk: 1}


def test_authorising_writes_the_return_the_timeline_and_the_audit(shipped, store, cs_user):
    ret = _ret(shipped, store, cs_user, shirts=1, caps=1)
    order = shipped["order"]
    assert ret.number == f"{order.number}-D1" and ret.status == ReturnStatus.REQUESTED
    assert {(line.order_line.sku, line.qty) for line in ret.lines.all()} == {
        ("CAM-0001-P", 1),
        ("BON-0001-U", 1),
    }
    event = OrderEvent.objects.get(order=order, kind="return")
    assert event.actor == cs_user and "2 units" in event.message and "LJ-SP-01" in event.message
    assert AuditEvent.objects.filter(action="return.create", actor=cs_user).exists()
    # what is asked for is no longer returnable, until the return is cancelled
    assert returnable_units(order) == {shipped["shirt_line"].pk: 1}
    second = _ret(shipped, store, cs_user, shirts=1)
    assert second.number == f"{order.number}-D2"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"shirts": 3}, "lines"),
        ({"shirts": 0}, "lines"),
        ({"reason": "whim"}, "reason"),
    ],
    ids=["more than delivered", "nothing", "unknown reason"],
)
def test_a_bad_return_names_the_field_and_writes_nothing(shipped, store, cs_user, kwargs, field):
    lines = {shipped["shirt_line"].pk: kwargs.get("shirts", 1)}
    with pytest.raises(ReturnInvalid) as caught:
        return_create(
            order=shipped["order"],
            lines=lines,
            reason=kwargs.get("reason", "defective"),
            location=store,
            by=cs_user,
        )
    assert caught.value.field == field
    assert not Return.objects.exists() and not OrderEvent.objects.filter(kind="return").exists()


def test_a_line_of_another_order_is_refused(shipped, make_order, store, cs_user):
    other = make_order()
    with pytest.raises(ReturnInvalid):
        return_create(
            order=shipped["order"],
            lines={other.lines.get().pk: 1},
            reason="defective",
            location=store,
            by=cs_user,
        )
    assert not Return.objects.exists()


def test_receiving_restocks_the_resellable_units_only(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=2, caps=1)
    shirt_before, cap_before = (
        stock_row(store, shipped["shirt"]).on_hand,
        stock_row(store, shipped["cap"]).on_hand,
    )
    lines = {line.order_line_id: line.pk for line in ret.lines.all()}
    ret = return_receive(
        ret=ret,
        received={lines[shipped["shirt_line"].pk]: (2, 1), lines[shipped["cap_line"].pk]: (1, 1)},
        by=store_user,
    )
    assert ret.status == ReturnStatus.RECEIVED and ret.received_by == store_user
    assert stock_row(store, shipped["shirt"]).on_hand == shirt_before + 1  # one shirt came back damaged
    assert stock_row(store, shipped["cap"]).on_hand == cap_before + 1
    moves = StockMovement.objects.filter(ref=ret.number, kind=MovementKind.RECEIVE)
    assert sorted(m.on_hand_delta for m in moves) == [1, 1]
    event = OrderEvent.objects.get(kind="return_received")
    assert "3 units, 2 back in stock" in event.message and "R$ 149,80 to refund" in event.message
    assert returnable_units(shipped["order"]) == {}


def test_receiving_nothing_or_twice_is_refused(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user)
    line = ret.lines.get()
    with pytest.raises(ReturnInvalid):
        return_receive(ret=ret, received={line.pk: (0, 0)}, by=store_user)
    with pytest.raises(ReturnInvalid):
        return_receive(ret=ret, received={line.pk: (1, 2)}, by=store_user)
    assert not StockMovement.objects.filter(ref=ret.number).exists()
    return_receive(ret=ret, received={line.pk: (2, 2)}, by=store_user)
    with pytest.raises(InvalidTransition):
        return_receive(ret=ret, received={line.pk: (2, 2)}, by=store_user)
    assert StockMovement.objects.filter(ref=ret.number).count() == 1


def test_a_partly_received_return_frees_what_did_not_come(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=2)
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    assert returnable_units(shipped["order"]) == {shipped["shirt_line"].pk: 1, shipped["cap_line"].pk: 1}


def test_the_refund_is_at_most_what_the_received_units_were_paid(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=2)
    with pytest.raises(InvalidTransition):
        return_refund(ret=ret, amount=Decimal("10"), by=cs_user)  # nothing received yet
    return_receive(ret=ret, received={ret.lines.get().pk: (2, 0)}, by=store_user)
    with pytest.raises(ReturnInvalid) as caught:
        return_refund(ret=ret, amount=Decimal("119.81"), by=cs_user)
    assert caught.value.field == "amount" and "entre R$ 0,01 e R$ 119,80" in caught.value.message
    ret = return_refund(ret=ret, amount=Decimal("119.80"), reference="PSP-42", by=cs_user)
    assert (ret.status, ret.refund_amount, ret.refund_reference) == (
        ReturnStatus.REFUNDED,
        Decimal("119.80"),
        "PSP-42",
    )
    assert "R$ 119,80" in OrderEvent.objects.get(kind="refund").message
    with pytest.raises(InvalidTransition):
        return_refund(ret=ret, amount=Decimal("1"), by=cs_user)


def test_a_refund_in_parts_leaves_the_rest_due_and_a_retry_is_recorded_once(
    shipped, store, cs_user, store_user
):
    ret = _ret(shipped, store, cs_user, shirts=2)
    return_receive(ret=ret, received={ret.lines.get().pk: (2, 2)}, by=store_user)
    ret = return_refund(ret=ret, amount=Decimal("100.00"), reference="PSP-1", keep_rest=False, by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.RECEIVED, Decimal("19.80"))  # awaiting the rest
    assert "R$ 19,80" in OrderEvent.objects.get(kind="refund").message
    # the payment system sends the same refund again: nothing more is recorded
    again = return_refund(ret=ret, amount=Decimal("100.00"), reference="PSP-1", keep_rest=False, by=cs_user)
    assert (again.refund_amount, due_of(again)) == (Decimal("100.00"), Decimal("19.80"))
    assert OrderEvent.objects.filter(kind="refund").count() == 1
    with pytest.raises(ReturnInvalid) as caught:  # another amount under a recorded reference
        return_refund(ret=ret, amount=Decimal("19.80"), reference="PSP-1", by=cs_user)
    assert caught.value.field == "reference"
    ret = return_refund(ret=ret, amount=Decimal("19.80"), reference="PSP-2", by=cs_user)
    assert (ret.status, ret.refund_amount, due_of(ret)) == (ReturnStatus.REFUNDED, Decimal("119.80"), 0)
    assert list(ret.entries.values_list("kind", "amount")) == [
        ("refund", Decimal("100.00")),
        ("refund", Decimal("19.80")),
    ]  # nothing kept


def test_a_partial_refund_keeps_the_rest_unless_told(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=2)
    return_receive(ret=ret, received={ret.lines.get().pk: (2, 2)}, by=store_user)
    ret = return_refund(ret=ret, amount=Decimal("100.00"), by=cs_user)
    assert (ret.status, due_of(ret)) == (ReturnStatus.REFUNDED, 0)
    assert list(ret.entries.values_list("kind", "amount")) == [
        ("refund", Decimal("100.00")),
        ("kept", Decimal("19.80")),
    ]


def test_cancelling_frees_the_units_and_needs_a_reason(shipped, store, cs_user):
    ret = _ret(shipped, store, cs_user, shirts=2)
    with pytest.raises(ReturnInvalid):
        return_cancel(ret=ret, reason="  ", by=cs_user)
    return_cancel(ret=ret, reason="cliente desistiu", by=cs_user)
    assert Return.objects.get().status == ReturnStatus.CANCELLED
    assert returnable_units(shipped["order"])[shipped["shirt_line"].pk] == 2


def test_receiving_announces_return_received(shipped, store, cs_user, store_user):
    WebhookSubscription.objects.create(
        name="ERP", url="http://127.0.0.1:9/hook", secret="s3cret", event_types=["return.received"]
    )
    ret = _ret(shipped, store, cs_user, shirts=1)
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    delivery = WebhookDelivery.objects.get(event_type="return.received")
    data = delivery.payload["data"]
    assert (data["return"], data["order"], data["location"], data["refund_due"]) == (
        ret.number,
        shipped["order"].number,
        "LJ-SP-01",
        "59.90",
    )
    assert data["lines"] == [{"sku": "CAM-0001-P", "qty": 1, "received": 1, "restocked": 1}]


# --- pages -------------------------------------------------------------------------------------------------


def test_customer_service_starts_a_return_from_the_order_page(client, shipped, store, cs_user):
    client.force_login(cs_user)
    order = shipped["order"]
    page = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert 'data-testid="return-start"' in page
    url = reverse("orders:return-new", args=[order.number])
    form = client.get(url)
    assert form.status_code == 200 and form.context["form"].initial == {"location": "LJ-SP-01"}
    response = client.post(
        url,
        {
            f"line_{shipped['shirt_line'].pk}": "1",
            f"line_{shipped['cap_line'].pk}": "0",
            "reason": "defective",
            "location": "LJ-SP-01",
            "note": "costura aberta",
        },
    )
    ret = Return.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "returns:detail", args=[ret.number]
    )
    assert (ret.note, ret.lines.get().qty) == ("costura aberta", 1)
    detail = client.get(reverse("returns:detail", args=[ret.number]))
    assert detail.status_code == 200 and 'data-testid="return-cancel-form"' in detail.content.decode()
    assert 'data-testid="receive-form"' not in detail.content.decode()  # customer service does not receive


def _once(html: str) -> str:
    found = re.search(r'name="once" value="([^"]+)"', html)
    assert found, "the form carries no one-submission token"
    return found.group(1)


def test_a_form_sent_twice_is_recorded_once(client, shipped, store, cs_user, store_user):
    """A double click (or a retry) on the new-return and refund forms records once; the repeat is sent where
    the first one led. A refused submission leaves its token free."""
    client.force_login(cs_user)
    order = shipped["order"]
    url = reverse("orders:return-new", args=[order.number])
    token = _once(client.get(url).content.decode())
    data = {
        f"line_{shipped['shirt_line'].pk}": "1",
        f"line_{shipped['cap_line'].pk}": "0",
        "reason": "defective",
        "location": "LJ-SP-01",
        "once": token,
    }
    first, second = client.post(url, data), client.post(url, data)
    ret = Return.objects.get()  # one return
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("returns:detail", args=[ret.number])
    another = _once(client.get(url).content.decode())
    assert client.post(url, {**data, "once": another}).status_code == 302  # a new form: a new return
    assert Return.objects.count() == 2

    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    refund = reverse("returns:action", args=[ret.number, "refund"])
    token = _once(page.split('data-testid="refund-form"')[1])
    too_much = {"amount": "99,00", "once": token}
    assert client.post(refund, too_much).status_code == 400  # refused: nothing recorded, the token stays free
    part = {"amount": "20,00", "once": token}  # keep_rest unticked: the rest stays due
    assert client.post(refund, part).status_code == 302
    assert client.post(refund, part).status_code == 302
    assert list(Return.objects.get(pk=ret.pk).entries.values_list("kind", "amount")) == [
        ("refund", Decimal("20.00"))
    ]
    assert due_of(Return.objects.get(pk=ret.pk)) == Decimal("39.90")


def test_a_form_whose_first_sending_failed_or_still_runs_is_not_said_recorded(
    client, shipped, store, cs_user, store_user, monkeypatch
):
    from django.core.cache import cache

    from oms import once

    ret = _ret(shipped, store, cs_user, shirts=1)
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    client.force_login(cs_user)
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    refund = reverse("returns:action", args=[ret.number, "refund"])
    data = {"amount": "59,90", "keep_rest": "on", "once": _once(page.split('data-testid="refund-form"')[1])}

    def crash(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("orders.return_views.return_refund", crash)
    with pytest.raises(RuntimeError):
        client.post(refund, data)
    monkeypatch.undo()
    assert client.post(refund, data).status_code == 302  # the token was left free: recorded now
    assert Return.objects.get(pk=ret.pk).refund_amount == Decimal("59.90")
    # a first sending still running: the repeat is asked to wait, nothing is said recorded
    pending = {**data, "once": once.new_token()}
    cache.set(f"oms:once:{cs_user.pk}:{pending['once']}", once.PENDING)
    response = client.post(refund, pending, follow=True)
    assert "still being recorded" in response.content.decode() or "ainda está sendo registrado" in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"shirt": "9", "reason": "defective"}, {"line"}),
        ({"shirt": "0", "reason": "defective"}, {"__all__"}),
        ({"shirt": "1", "reason": ""}, {"reason"}),
        ({"shirt": "x", "reason": "defective"}, {"line"}),
    ],
    ids=["too many", "nothing", "no reason", "a word"],
)
def test_a_bad_return_form_is_400_and_writes_nothing(client, shipped, cs_user, data, errors):
    client.force_login(cs_user)
    line_field = f"line_{shipped['shirt_line'].pk}"
    response = client.post(
        reverse("orders:return-new", args=[shipped["order"].number]),
        {line_field: data["shirt"], "reason": data["reason"], "location": "LJ-SP-01"},
    )
    assert response.status_code == 400
    assert {("line" if key == line_field else key) for key in response.context["form"].errors} == errors
    assert not Return.objects.exists()


def test_store_staff_receive_at_their_store_on_the_return_page(client, shipped, store, cs_user, store_user):
    assign_perm("inventory.work_at_location", store_user, store)
    ret = _ret(shipped, store, cs_user, shirts=2)
    line = ret.lines.get()
    client.force_login(store_user)
    listing = client.get(reverse("returns:list"), {"status": "requested"})
    assert [r.number for r in listing.context["page"].items] == [ret.number]
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    assert 'data-testid="receive-form"' in page and 'data-testid="return-cancel-form"' not in page
    url = reverse("returns:action", args=[ret.number, "receive"])
    bad = client.post(url, {f"got_{line.pk}": "1", f"restock_{line.pk}": "2"})
    assert bad.status_code == 400 and f"restock_{line.pk}" in bad.context["receive_form"].errors
    assert client.post(url, {f"got_{line.pk}": "2", f"restock_{line.pk}": "2"}).status_code == 302
    assert Return.objects.get().status == ReturnStatus.RECEIVED
    assert (
        client.post(reverse("returns:action", args=[ret.number, "refund"]), {"amount": "1"}).status_code
        == 403
    )


def test_customer_service_records_the_refund(client, shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=1)
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    client.force_login(cs_user)
    page = client.get(reverse("returns:detail", args=[ret.number]))
    assert page.context["refund_form"].initial == {"amount": Decimal("59.90")}
    url = reverse("returns:action", args=[ret.number, "refund"])
    too_much = client.post(url, {"amount": "60,00"})
    assert too_much.status_code == 400 and Return.objects.get().status == ReturnStatus.RECEIVED
    # the refusal sits beside the amount, and the amount typed is kept
    assert "R$ 59,90" in str(too_much.context["refund_form"].errors["amount"])
    assert 'value="60,00"' in too_much.content.decode()
    assert 'name="keep_rest"' in page.content.decode() and "checked" in str(
        page.context["refund_form"]["keep_rest"]
    )
    # a part now, the box unticked: the rest stays due
    assert client.post(url, {"amount": "50,00", "reference": "PSP-7"}).status_code == 302
    assert (Return.objects.get().status, due_of(Return.objects.get())) == (
        ReturnStatus.RECEIVED,
        Decimal("9.90"),
    )
    assert client.post(url, {"amount": "9,90", "reference": "PSP-8", "keep_rest": "on"}).status_code == 302
    assert Return.objects.get().refund_amount == Decimal("59.90")
    assert Return.objects.get().status == ReturnStatus.REFUNDED


def test_staff_elsewhere_get_404_and_cannot_receive(client, shipped, store, elsewhere, cs_user, store_user):
    assign_perm("inventory.work_at_location", store_user, elsewhere)
    ret = _ret(shipped, store, cs_user)
    client.force_login(store_user)
    assert client.get(reverse("returns:detail", args=[ret.number])).status_code == 404
    line = ret.lines.get()
    url = reverse("returns:action", args=[ret.number, "receive"])
    assert client.post(url, {f"got_{line.pk}": "2", f"restock_{line.pk}": "2"}).status_code == 404
    assert client.get(reverse("returns:list")).context["page"].items == []
    assert client.get(reverse("orders:return-new", args=[shipped["order"].number])).status_code == 403
    assert Return.objects.get().status == ReturnStatus.REQUESTED


def test_a_manager_of_another_region_gets_404(client, shipped, store, cs_user, manager_user):
    ret = _ret(shipped, store, cs_user)
    client.force_login(manager_user)
    assert client.get(reverse("returns:detail", args=[ret.number])).status_code == 404
    assert client.get(reverse("orders:return-new", args=[shipped["order"].number])).status_code == 404
    assert (
        client.post(reverse("returns:action", args=[ret.number, "cancel"]), {"reason": "x"}).status_code
        == 404
    )


def test_the_money_entries_download_for_finance(client, shipped, store, cs_user, store_user, manager_user):
    """Every money entry of the returns the user sees, with its reference, as CSV; another region's manager
    gets none of them; a period not offered is a 400 naming it; one query for the rows however many."""
    ret = _ret(shipped, store, cs_user, shirts=2)
    return_receive(ret=ret, received={ret.lines.get().pk: (2, 2)}, by=store_user)
    ret = return_refund(ret=ret, amount=Decimal("100.00"), reference="PSP-1", by=cs_user)  # 19.80 kept
    refund = ret.entries.get(kind="refund")
    return_entry_reverse(ret=ret, entry=refund.pk, reason="=voltou", by=cs_user)
    url = reverse("returns:money-export")

    def rows(user) -> list[list[str]]:
        client.force_login(user)
        response = client.get(url, {"days": 30})
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        body = b"".join(response.streaming_content).decode("utf-8-sig")
        return [line.split(",") for line in body.strip().splitlines()]

    table = rows(cs_user)
    assert table[0][:8] == ["at", "entry", "return", "order", "channel", "kind", "amount", "reference"]
    got = [(r[2], r[5], r[6], r[7], r[9], r[10], r[11]) for r in table[1:]]
    assert got == [
        (ret.number, "refund", "100.00", "PSP-1", "", "", cs_user.username),
        (ret.number, "kept", "19.80", "", "", "", cs_user.username),
        (ret.number, "reversal", "-100.00", "", str(refund.pk), "'=voltou", cs_user.username),
    ]  # a reason that a spreadsheet would run as a formula is quoted
    assert rows(manager_user) == [table[0]]  # another region's: none
    client.force_login(cs_user)
    bad = client.get(url, {"days": "2"})
    assert bad.status_code == 400 and "days" in bad.content.decode()
    with CaptureQueriesContext(connection) as ctx:
        assert b"".join(client.get(url).streaming_content)
    statements = len(ctx.captured_queries)
    second = _ret(shipped, store, cs_user, shirts=0, caps=1)
    return_receive(ret=second, received={second.lines.get().pk: (1, 1)}, by=store_user)
    return_refund(ret=second, amount=Decimal("30.00"), reference="PSP-2", by=cs_user)  # one row more
    with CaptureQueriesContext(connection) as ctx:
        assert b"".join(client.get(url).streaming_content)
    assert len(ctx.captured_queries) == statements


def test_the_order_page_reads_its_returns_in_a_fixed_number_of_queries(client, shipped, store, cs_user):
    client.force_login(cs_user)
    url = reverse("orders:detail", args=[shipped["order"].number])

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    _ret(shipped, store, cs_user, shirts=1)
    one = queries()
    _ret(shipped, store, cs_user, shirts=1)
    _ret(shipped, store, cs_user, shirts=0, caps=1)
    assert queries() == one


def test_the_returns_list_runs_a_fixed_number_of_queries(
    client, shipped, store, cs_user, django_assert_max_num_queries
):
    _ret(shipped, store, cs_user, shirts=1)
    _ret(shipped, store, cs_user, shirts=1, caps=1)
    client.force_login(cs_user)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("returns:list"))
    assert len(response.context["page"].items) == 2


# --- API ---------------------------------------------------------------------------------------------------


def test_a_shop_front_creates_a_return_and_reads_it(client_for, shipped, cs_user):
    client = client_for(cs_user)
    url = f"/api/v1/orders/{shipped['order'].number}/returns/"
    body = {
        "lines": [{"line_no": 1, "qty": 2}],
        "reason": "wrong_size",
        "location": "LJ-SP-01",
        "note": "M → G",
    }
    response = client.post(url, body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["status"], data["location"], data["refund_due"], data["note"]) == (
        "requested",
        "LJ-SP-01",
        "0.00",
        "M → G",
    )
    assert data["lines"] == [
        {"line_no": 1, "sku": "CAM-0001-P", "qty": 2, "received": 0, "restocked": 0, "unit_price": "59.90"}
    ]
    assert [r["number"] for r in client.get(url).json()] == [data["number"]]
    assert client.get(f"/api/v1/returns/{data['number']}/").json()["number"] == data["number"]
    again = client.post(url, body, format="json")
    assert again.status_code == 400 and "lines" in again.json()  # both shirts are in a return already


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [], "reason": "wrong_size", "location": "LJ-SP-01"}, "lines"),
        ({"lines": [{"line_no": 9, "qty": 1}], "reason": "wrong_size", "location": "LJ-SP-01"}, "lines"),
        ({"lines": [{"line_no": 1, "qty": 1}], "reason": "whim", "location": "LJ-SP-01"}, "reason"),
        ({"lines": [{"line_no": 1, "qty": 1}], "reason": "other", "location": "NOPE"}, "location"),
        ({"lines": [{"line_no": 1, "qty": "x"}], "reason": "other", "location": "LJ-SP-01"}, "lines"),
    ],
    ids=["no lines", "unknown line", "unknown reason", "unknown location", "a word"],
)
def test_bad_return_bodies_are_400_naming_the_field(client_for, shipped, cs_user, body, field):
    response = client_for(cs_user).post(
        f"/api/v1/orders/{shipped['order'].number}/returns/", body, format="json"
    )
    assert response.status_code == 400 and field in response.json()
    assert not Return.objects.exists()


def test_a_return_sent_again_with_its_idempotency_key_is_authorised_once(
    client_for, shipped, cs_user, make_order
):
    client = client_for(cs_user)
    url = f"/api/v1/orders/{shipped['order'].number}/returns/"
    body = {"lines": [{"line_no": 1, "qty": 1}], "reason": "wrong_size", "location": "LJ-SP-01"}
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="erp-42")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="erp-42")  # a retry after a timeout
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"] and Return.objects.count() == 1
    # the key with another return of the same order (the cap, or the shirt for another product): refused, not
    # answered with the shirt's
    cap = {**body, "lines": [{"line_no": 2, "qty": 1}]}
    swap = {**body, "exchange": [{"line": 1, "sku": "BON-0001-U", "qty": 1}]}
    for other_body in (cap, swap, {**body, "note": "outra"}):
        refused = client.post(url, other_body, format="json", HTTP_IDEMPOTENCY_KEY="erp-42")
        assert refused.status_code == 422 and first.json()["number"] in refused.json()["idempotency_key"][0]
    assert Return.objects.count() == 1
    # without a key, a second request is a second return (one more shirt of the two)
    assert client.post(url, body, format="json").status_code == 201 and Return.objects.count() == 2
    # the key sent with another order's return is refused, naming the return it was used for
    other = make_order()
    reused = client.post(
        f"/api/v1/orders/{other.number}/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY="erp-42"
    )
    assert reused.status_code == 422 and first.json()["number"] in reused.json()["idempotency_key"][0]
    assert Return.objects.count() == 2


def test_a_warehouse_system_receives_and_the_payment_system_refunds(
    client_for, shipped, store, cs_user, store_user
):
    assign_perm("inventory.work_at_location", store_user, store)
    ret = _ret(shipped, store, cs_user, shirts=2)
    staff = client_for(store_user)
    expected = staff.get("/api/v1/returns/", {"status": "requested", "location": "LJ-SP-01"}).json()
    assert [r["number"] for r in expected["results"]] == [ret.number]
    received = staff.post(
        f"/api/v1/returns/{ret.number}/receive/",
        {"lines": [{"line_no": 1, "received": 2, "restocked": 1}]},
        format="json",
    )
    assert received.status_code == 200, received.content
    assert (received.json()["status"], received.json()["refund_due"]) == ("received", "119.80")
    assert (
        staff.post(f"/api/v1/returns/{ret.number}/refund/", {"amount": "1"}, format="json").status_code == 403
    )
    cs = client_for(cs_user)
    too_much = cs.post(f"/api/v1/returns/{ret.number}/refund/", {"amount": "119.81"}, format="json")
    assert too_much.status_code == 400 and "amount" in too_much.json()
    done = cs.post(
        f"/api/v1/returns/{ret.number}/refund/", {"amount": "100.00", "reference": "PSP-9"}, format="json"
    )
    assert done.status_code == 200 and done.json()["refund_amount"] == "100.00"
    assert done.json()["status"] == "refunded"  # the rest kept
    other = _ret(shipped, store, cs_user, shirts=0, caps=1)
    got = staff.post(
        f"/api/v1/returns/{other.number}/receive/",
        {"lines": [{"line_no": 2, "received": 1, "restocked": 1}]},
        format="json",
    )
    assert got.status_code == 200, got.content
    part = cs.post(
        f"/api/v1/returns/{other.number}/refund/", {"amount": "10.00", "keep_rest": False}, format="json"
    )
    assert part.status_code == 200 and (part.json()["status"], part.json()["refund_due"]) == (
        "received",
        "20.00",
    )
    again = cs.post(f"/api/v1/returns/{ret.number}/cancel/", {"reason": "x"}, format="json")
    assert again.status_code == 409


def test_returns_api_is_scoped(client_for, shipped, store, elsewhere, cs_user, store_user):
    assign_perm("inventory.work_at_location", store_user, elsewhere)
    ret = _ret(shipped, store, cs_user, shirts=1)
    staff = client_for(store_user)
    assert staff.get(f"/api/v1/returns/{ret.number}/").status_code == 404
    body = {"lines": [{"line_no": 1, "received": 1, "restocked": 1}]}
    assert staff.post(f"/api/v1/returns/{ret.number}/receive/", body, format="json").status_code == 404
    assert staff.get("/api/v1/returns/").json()["results"] == []
    assert staff.get(f"/api/v1/orders/{shipped['order'].number}/returns/").status_code == 404
    assert Return.objects.get().status == ReturnStatus.REQUESTED


def test_the_returns_api_lists_run_the_same_queries_for_more_returns(client_for, shipped, store, cs_user):
    client = client_for(cs_user)
    urls = ("/api/v1/returns/", f"/api/v1/orders/{shipped['order'].number}/returns/")

    def queries() -> list[int]:
        counts = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            counts.append(len(ctx.captured_queries))
        return counts

    _ret(shipped, store, cs_user, shirts=1)
    queries()  # the first request reads what later ones find cached (the caller's roles, the channels)
    few = queries()
    _ret(shipped, store, cs_user, shirts=1, caps=1)
    assert queries() == few  # no query per return (their lines and refund due come prefetched)


# --- corrections ------------------------------------------------------------------------------------------


def test_a_refund_that_bounced_is_corrected_and_due_again(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=2)
    return_receive(ret=ret, received={ret.lines.get().pk: (2, 2)}, by=store_user)
    ret = return_refund(ret=ret, amount=Decimal("100.00"), reference="PSP-1", by=cs_user)  # 19.80 kept
    refund, kept = ret.entries.order_by("pk")
    ret = return_entry_reverse(ret=ret, entry=refund.pk, reason="o PIX voltou", by=cs_user)
    assert (ret.status, due_of(ret), ret.refund_amount) == (ReturnStatus.RECEIVED, Decimal("100.00"), None)
    correction = ret.entries.get(kind="reversal")
    assert (correction.amount, correction.reverses, correction.note, correction.created_by) == (
        Decimal("-100.00"), refund, "o PIX voltou", cs_user,
    )  # fmt: skip
    assert OrderEvent.objects.get(kind="return_correction").message == (
        f"The refund of R$ 100,00 on return {ret.number} is corrected: o PIX voltou. R$ 100,00 is still to "
        "refund."
    )
    assert AuditEvent.objects.filter(action="return.correct", object_id=str(ret.pk)).count() == 1
    # the deduction is given back too: the whole value is due, and refunded in one go
    ret = return_entry_reverse(ret=ret, entry=kept.pk, reason="sem taxa", by=cs_user)
    assert due_of(ret) == Decimal("119.80")
    ret = return_refund(ret=ret, amount=Decimal("119.80"), reference="PSP-2", by=cs_user)
    assert (ret.status, ret.refund_amount, due_of(ret)) == (ReturnStatus.REFUNDED, Decimal("119.80"), 0)


def test_a_bad_correction_names_the_field_and_writes_nothing(shipped, store, cs_user, store_user):
    ret = _ret(shipped, store, cs_user, shirts=1)
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    ret = return_refund(ret=ret, amount=Decimal("59.90"), by=cs_user)
    refund = ret.entries.get()
    other = _ret(shipped, store, cs_user, shirts=1)
    return_receive(ret=other, received={other.lines.get().pk: (1, 1)}, by=store_user)
    elsewhere = return_refund(ret=other, amount=Decimal("59.90"), by=cs_user).entries.get()
    for entry, reason, field in (
        (refund.pk, " ", "reason"),
        (elsewhere.pk, "x", "entry"),
        (10**9, "x", "entry"),
    ):
        with pytest.raises(ReturnInvalid) as caught:
            return_entry_reverse(ret=ret, entry=entry, reason=reason, by=cs_user)
        assert caught.value.field == field
    assert ReturnEntry.objects.filter(kind="reversal").count() == 0
    return_entry_reverse(ret=ret, entry=refund.pk, reason="erro", by=cs_user)
    with pytest.raises(InvalidTransition):  # corrected already
        return_entry_reverse(ret=ret, entry=refund.pk, reason="erro", by=cs_user)
    correction = ret.entries.get(kind="reversal")
    with pytest.raises(ReturnInvalid):  # a correction is not corrected: the entry is recorded again instead
        return_entry_reverse(ret=ret, entry=correction.pk, reason="erro", by=cs_user)


def test_customer_service_corrects_an_entry_on_the_page_and_through_the_api(
    client, client_for, shipped, store, cs_user, store_user
):
    assign_perm("inventory.work_at_location", store_user, store)
    ret = _ret(shipped, store, cs_user, shirts=1)
    return_receive(ret=ret, received={ret.lines.get().pk: (1, 1)}, by=store_user)
    ret = return_refund(ret=ret, amount=Decimal("59.90"), reference="PSP-1", by=cs_user)
    refund = ret.entries.get()
    url = reverse("returns:action", args=[ret.number, "correct"])
    client.force_login(store_user)  # staff receive; they do not touch the money
    assert client.post(url, {"entry": refund.pk, "reason": "x"}).status_code == 403
    client.force_login(cs_user)
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    assert 'data-testid="correct-form"' in page
    empty = client.post(url, {"entry": refund.pk, "reason": ""})
    assert empty.status_code == 400 and 'data-testid="correct-errors"' in empty.content.decode()
    assert client.post(url, {"entry": refund.pk, "reason": "PIX devolvido"}).status_code == 302
    page = client.get(reverse("returns:detail", args=[ret.number])).content.decode()
    assert "data-corrected" in page and "PIX devolvido" in page and 'data-testid="correct-form"' not in page
    assert Return.objects.get(pk=ret.pk).status == ReturnStatus.RECEIVED
    timeline = client.get(reverse("orders:detail", args=[shipped["order"].number])).content.decode()
    assert 'data-kind="return_correction">dinheiro da devolução corrigido<' in timeline  # pt-BR, the default

    api = client_for(cs_user)
    body = api.get(f"/api/v1/returns/{ret.number}/").json()
    entries = {e["kind"]: e for e in body["entries"]}
    assert entries["reversal"]["reverses"] == entries["refund"]["id"] == refund.pk
    assert (entries["reversal"]["amount"], entries["reversal"]["note"]) == ("-59.90", "PIX devolvido")
    again = api.post(
        f"/api/v1/returns/{ret.number}/refund/", {"amount": "59.90", "reference": "PSP-2"}, format="json"
    )
    assert again.status_code == 200 and again.json()["status"] == "refunded"
    second = Return.objects.get(pk=ret.pk).entries.get(reference="PSP-2")
    bad = api.post(f"/api/v1/returns/{ret.number}/correct/", {"entry": second.pk}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()
    done = api.post(
        f"/api/v1/returns/{ret.number}/correct/", {"entry": second.pk, "reason": "estorno"}, format="json"
    )
    assert done.status_code == 200 and (done.json()["status"], done.json()["refund_due"]) == (
        "received",
        "59.90",
    )
    twice = api.post(
        f"/api/v1/returns/{ret.number}/correct/", {"entry": second.pk, "reason": "estorno"}, format="json"
    )
    assert twice.status_code == 409
    assert (
        client_for(store_user)
        .post(f"/api/v1/returns/{ret.number}/correct/", {"entry": second.pk, "reason": "x"}, format="json")
        .status_code
        == 403
    )
