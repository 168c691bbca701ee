"""Stock transfers between locations: reserved at the source when opened, out of its stock when dispatched,
into the destination's when received, released when cancelled; each step with its ledger rows, audit row and
webhook; the pages scoped to the user's locations; a received transfer lets backorders be routed."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from guardian.shortcuts import assign_perm

from inventory.exceptions import InsufficientStock
from inventory.models import (
    MovementKind,
    StockMovement,
    StockTransfer,
    TransferStatus,
)
from inventory.services.transfers import transfer_cancel, transfer_create, transfer_dispatch, transfer_receive
from oms.exceptions import DomainError
from oms.models import AuditEvent, WebhookDelivery, WebhookSubscription
from tests.factories import DCFactory, LocationFactory, ProductFactory, StockFactory, stock_row
from tests.worker import wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def places(db):
    """A DC with 100 shirts and 20 shoes, a store with 3 shirts, another store."""
    dc = DCFactory(code="CD-SP-01")
    store = LocationFactory(code="LJ-SP-01")
    other = LocationFactory(code="LJ-RJ-01")
    shirt = ProductFactory(sku="CAM-0001-P", ean="7891000000011")
    shoe = ProductFactory(sku="TEN-0001-42")
    StockFactory(location=dc, product=shirt, on_hand=100)
    StockFactory(location=dc, product=shoe, on_hand=20)
    StockFactory(location=store, product=shirt, on_hand=3)
    return {"dc": dc, "store": store, "other": other, "shirt": shirt, "shoe": shoe}


def _open(places, by, shirts=10, shoes=4) -> StockTransfer:
    return transfer_create(
        source=places["dc"],
        destination=places["store"],
        lines=[(places["shirt"], shirts), (places["shoe"], shoes)],
        by=by,
    )


def test_the_whole_journey_moves_the_units_once_with_a_ledger_row_per_step(places, admin_user):
    WebhookSubscription.objects.create(name="WMS", url="https://wms.example.com/hook", secret="s" * 32)
    t = _open(places, admin_user)
    assert t.status == TransferStatus.OPEN and t.number == f"TR-{t.pk:06d}"
    dc_shirt = stock_row(places["dc"], places["shirt"])
    assert (dc_shirt.on_hand, dc_shirt.reserved) == (100, 10)  # held for the store: no order takes them

    sent = {line.pk: (8 if line.product == places["shirt"] else 4) for line in t.lines.all()}
    transfer_dispatch(transfer=t, by=admin_user, sent=sent, tracking="Jadlog 123")
    dc_shirt.refresh_from_db()
    assert (dc_shirt.on_hand, dc_shirt.reserved) == (92, 0)  # 8 left, the 2 not sent are free again
    assert stock_row(places["store"], places["shirt"]).on_hand == 3  # not there yet

    shirt_line = t.lines.get(product=places["shirt"])
    transfer_receive(transfer=t, by=admin_user, received={shirt_line.pk: 7})  # one fell off the truck
    assert stock_row(places["store"], places["shirt"]).on_hand == 3 + 7
    assert stock_row(places["store"], places["shoe"]).on_hand == 4  # the row is made on arrival
    t.refresh_from_db()
    shirt_line.refresh_from_db()
    assert (t.status, t.tracking, t.closed_by) == (TransferStatus.RECEIVED, "Jadlog 123", admin_user)
    assert (shirt_line.qty, shirt_line.qty_sent, shirt_line.qty_received, shirt_line.missing) == (10, 8, 7, 1)

    kinds = list(
        StockMovement.objects.filter(ref=t.number, stock__product=places["shirt"])
        .order_by("id")
        .values_list("stock__location__code", "kind", "on_hand_delta", "reserved_delta")
    )
    assert kinds == [
        ("CD-SP-01", MovementKind.RESERVE, 0, 10),
        ("CD-SP-01", MovementKind.TRANSFER_OUT, -8, -8),
        ("CD-SP-01", MovementKind.RELEASE, 0, -2),
        ("LJ-SP-01", MovementKind.TRANSFER_IN, 7, 0),
    ]
    assert set(StockMovement.objects.filter(ref=t.number).values_list("actor", flat=True)) == {admin_user.pk}
    actions = list(
        AuditEvent.objects.filter(object_id=str(t.pk)).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["transfer.created", "transfer.dispatched", "transfer.received"]
    assert "1 missing" in AuditEvent.objects.get(action="transfer.received").summary
    events = list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))
    assert events == ["transfer.created", "transfer.dispatched", "transfer.received"]
    received = WebhookDelivery.objects.get(event_type="transfer.received").payload["data"]
    assert received["lines"][0] == {"sku": "CAM-0001-P", "qty": 10, "sent": 8, "received": 7}


def test_opening_is_all_or_nothing_and_names_what_is_short(places, admin_user):
    with pytest.raises(InsufficientStock) as short:
        _open(places, admin_user, shirts=10, shoes=21)
    assert short.value.shortages == [("CD-SP-01", "TEN-0001-42", 21, 20)]
    assert not StockTransfer.objects.exists()
    assert stock_row(places["dc"], places["shirt"]).reserved == 0
    t = transfer_create(
        source=places["dc"],
        destination=places["store"],
        lines=[(places["shirt"], 10), (places["shoe"], 21)],
        by=admin_user,
        allow_partial=True,
    )
    assert sorted(t.lines.values_list("product__sku", "qty")) == [("CAM-0001-P", 10), ("TEN-0001-42", 20)]


@pytest.mark.parametrize(
    ("source", "destination", "lines", "field"),
    [
        ("dc", "dc", [("shirt", 1)], "destination"),
        ("dc", "store", [], "lines"),
        ("dc", "store", [("shirt", 0)], "lines"),
        ("other", "store", [("shirt", 1)], "lines"),  # nothing there at all
    ],
)
def test_bad_transfers_are_refused_naming_the_field_and_write_nothing(
    places, admin_user, source, destination, lines, field
):
    with pytest.raises(DomainError) as refused:
        transfer_create(
            source=places[source],
            destination=places[destination],
            lines=[(places[p], q) for p, q in lines],
            by=admin_user,
            allow_partial=True,
        )
    assert refused.value.field == field
    assert not StockTransfer.objects.exists() and not StockMovement.objects.exists()


def test_each_step_only_once_and_in_order(places, admin_user):
    t = _open(places, admin_user)
    with pytest.raises(DomainError) as refused:
        transfer_receive(transfer=t, by=admin_user)  # not dispatched yet
    assert refused.value.field == "status"
    line = t.lines.get(product=places["shirt"])
    with pytest.raises(DomainError) as refused:
        transfer_dispatch(transfer=t, by=admin_user, sent={line.pk: 11})  # more than were reserved
    assert refused.value.field == "qty"
    with pytest.raises(DomainError) as refused:
        transfer_dispatch(transfer=t, by=admin_user, sent={line.pk: 0, line.pk + 1: 0})  # nothing leaves
    assert refused.value.field == "qty"
    assert stock_row(places["dc"], places["shirt"]).on_hand == 100  # the refusals changed nothing
    transfer_dispatch(transfer=t, by=admin_user)
    for step in (transfer_dispatch, transfer_cancel):
        with pytest.raises(DomainError) as refused:
            step(transfer=t, by=admin_user)
        assert refused.value.field == "status"
    with pytest.raises(DomainError) as refused:
        transfer_receive(transfer=t, by=admin_user, received={line.pk: 11})  # more than were sent
    assert refused.value.field == "qty"
    transfer_receive(transfer=t, by=admin_user)
    for step in (transfer_receive, transfer_cancel):
        with pytest.raises(DomainError) as refused:
            step(transfer=t, by=admin_user)
        assert refused.value.field == "status"
    assert stock_row(places["store"], places["shirt"]).on_hand == 13
    assert stock_row(places["dc"], places["shirt"]).on_hand == 90


def test_cancelling_gives_the_units_back_to_the_source(places, manager_user):
    t = _open(places, manager_user)
    transfer_cancel(transfer=t, by=manager_user, reason="store closed for works")
    t.refresh_from_db()
    assert (t.status, t.note) == (TransferStatus.CANCELLED, "store closed for works")
    assert stock_row(places["dc"], places["shirt"]).reserved == 0
    assert stock_row(places["dc"], places["shoe"]).reserved == 0


# --- pages ------------------------------------------------------------------------------------------------


def test_store_staff_receive_what_the_dc_dispatched(client, store_user, warehouse_user, places):
    assign_perm("inventory.work_at_location", store_user, places["store"])
    assign_perm("inventory.work_at_location", warehouse_user, places["dc"])
    t = _open(places, warehouse_user)
    url = reverse("inventory:transfer", args=[t.pk])

    client.force_login(store_user)
    html = client.get(reverse("inventory:transfers")).content.decode()
    assert f'data-transfer="{t.number}"' in html and 'data-testid="to-receive"' not in html  # not sent yet
    assert (
        'data-testid="dispatch"' not in client.get(url).content.decode()
    )  # the DC dispatches, not the store
    resp = client.post(reverse("inventory:transfer-act", args=[t.pk, "dispatch"]), follow=True)
    assert "msg-error" in resp.content.decode()
    assert StockTransfer.objects.get().status == TransferStatus.OPEN

    client.force_login(warehouse_user)
    html = client.get(reverse("inventory:transfers"), {"direction": "out"}).content.decode()
    assert 'data-testid="to-dispatch"' in html
    line = t.lines.get(product=places["shirt"])
    resp = client.post(
        reverse("inventory:transfer-act", args=[t.pk, "dispatch"]),
        {f"sent-{line.pk}": "9", "text": "Frota própria"},
        follow=True,
    )
    assert resp.status_code == 200 and "msg-success" in resp.content.decode()
    assert t.lines.get(pk=line.pk).qty_sent == 9

    client.force_login(store_user)
    assert 'data-testid="to-receive"' in client.get(reverse("inventory:transfers")).content.decode()
    resp = client.post(
        reverse("inventory:transfer-act", args=[t.pk, "receive"]), {f"received-{line.pk}": "x"}
    )
    assert StockTransfer.objects.get().status == TransferStatus.DISPATCHED  # not a number: refused
    resp = client.post(reverse("inventory:transfer-act", args=[t.pk, "receive"]), follow=True)
    html = resp.content.decode()
    assert (
        'data-testid="transfer-status"' in html
        and StockTransfer.objects.get().status == TransferStatus.RECEIVED
    )
    assert stock_row(places["store"], places["shirt"]).on_hand == 3 + 9
    # the ledger of both places: shirts reserved, 9 sent, 1 released, 9 in; shoes reserved, sent, in
    assert [m.kind for m in resp.context["ledger"]].count(MovementKind.TRANSFER_IN) == 2
    assert len(resp.context["ledger"]) == 7


def test_a_transfer_between_other_locations_is_a_404(client, store_user, places, admin_user):
    assign_perm("inventory.work_at_location", store_user, places["other"])
    t = _open(places, admin_user)  # DC -> LJ-SP-01: neither is theirs
    client.force_login(store_user)
    assert client.get(reverse("inventory:transfer", args=[t.pk])).status_code == 404
    assert client.post(reverse("inventory:transfer-act", args=[t.pk, "cancel"])).status_code == 404
    assert 'data-testid="no-transfers"' in client.get(reverse("inventory:transfers")).content.decode()
    assert client.get(reverse("inventory:transfers"), {"location": "LJ-SP-01"}).status_code == 404
    assert StockTransfer.objects.get().status == TransferStatus.OPEN


def test_opening_a_transfer_by_hand(client, store_user, places):
    assign_perm("inventory.work_at_location", store_user, places["store"])
    client.force_login(store_user)
    url = reverse("inventory:transfer-new")
    page = client.get(url).content.decode()
    assert 'value="LJ-SP-01"' in page and 'value="CD-SP-01"' in page  # from mine, to anywhere
    bad = client.post(url, {"source": "CD-SP-01", "destination": "LJ-SP-01", "lines": "CAM-0001-P 1"})
    assert bad.status_code == 400 and 'data-testid="error-source"' in bad.content.decode()  # not theirs
    bad = client.post(
        url, {"source": "LJ-SP-01", "destination": "LJ-RJ-01", "lines": "NOPE-1 2\nCAM-0001-P x"}
    )
    assert bad.status_code == 400 and "(CAM-0001-P x)" in bad.content.decode()  # the line that is wrong
    bad = client.post(url, {"source": "LJ-SP-01", "destination": "LJ-RJ-01", "lines": "NOPE-1 2"})
    assert 'data-testid="error-lines"' in bad.content.decode() and "NOPE-1" in bad.content.decode()
    bad = client.post(url, {"source": "LJ-SP-01", "destination": "LJ-RJ-01", "lines": "CAM-0001-P 4"})
    assert bad.status_code == 400 and "available 3" in bad.content.decode()  # the stock service's refusal
    assert not StockTransfer.objects.exists()
    # sent twice (a double tap: the form's one-submission token): one transfer, the repeat sent to it
    token = re.search(r'name="once" value="([^"]+)"', client.get(url).content.decode()).group(1)
    data = {"source": "LJ-SP-01", "destination": "LJ-RJ-01", "lines": "7891000000011 3", "once": token}
    resp, again = client.post(url, data), client.post(url, data)
    t = StockTransfer.objects.get()
    assert resp.status_code == 302 and resp["Location"] == reverse("inventory:transfer", args=[t.pk])
    assert again.status_code == 302 and again["Location"] == resp["Location"]
    assert (t.source, t.destination, t.created_by) == (places["store"], places["other"], store_user)
    assert stock_row(places["store"], places["shirt"]).reserved == 3


def test_customer_service_has_no_transfer_pages(client, cs_user, places):
    client.force_login(cs_user)
    assert client.get(reverse("inventory:transfers")).status_code == 403


def test_the_list_query_count_does_not_grow_with_transfers(
    client, admin_user, places, django_assert_max_num_queries
):
    for _ in range(15):
        _open(places, admin_user, shirts=1, shoes=1)
    client.force_login(admin_user)
    with django_assert_max_num_queries(8):
        html = client.get(reverse("inventory:transfers")).content.decode()
    assert html.count("data-transfer=") == 15
    t = StockTransfer.objects.first()
    with django_assert_max_num_queries(10):
        assert client.get(reverse("inventory:transfer", args=[t.pk])).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_received_transfer_lets_the_worker_route_a_backorder(routing_world, needs_worker, admin_user):
    from orders.models import OrderStatus
    from routing.models import RoutingDecision

    w = routing_world
    back_dc = DCFactory(code="CD-RESERVA", ships=False)  # feeds the stores, never ships to customers
    w.stock(back_dc, w.shirt, 10)
    with transaction.atomic():
        order = w.make_order([(w.shirt, 2)])
    assert wait_for(lambda: RoutingDecision.objects.filter(order=order).exists(), timeout=20)
    order.refresh_from_db()
    assert order.status == OrderStatus.BACKORDERED
    t = transfer_create(source=back_dc, destination=w.paulista, lines=[(w.shirt, 5)], by=admin_user)
    transfer_dispatch(transfer=t, by=admin_user)
    transfer_receive(transfer=t, by=admin_user)

    def allocated() -> bool:
        order.refresh_from_db()
        return order.status == OrderStatus.ALLOCATED

    assert wait_for(allocated, timeout=30)
    assert order.fulfilments.get().location == w.paulista


def test_a_manager_of_the_destination_cancels_its_staff_cannot(client, manager_user, store_user, places):
    from tests.factories import RegionFactory

    region = RegionFactory(code="sudeste")
    places["store"].region = region.code
    places["store"].save(update_fields=["region"])
    assign_perm("inventory.manage_region", manager_user, region)
    assign_perm("inventory.work_at_location", store_user, places["store"])
    t = _open(places, manager_user)
    cancel = reverse("inventory:transfer-act", args=[t.pk, "cancel"])
    client.force_login(store_user)
    assert (
        'data-testid="cancel"' not in client.get(reverse("inventory:transfer", args=[t.pk])).content.decode()
    )
    assert "msg-error" in client.post(cancel, follow=True).content.decode()
    assert StockTransfer.objects.get().status == TransferStatus.OPEN
    client.force_login(manager_user)
    resp = client.post(cancel, {"text": "promo cancelled"}, follow=True)
    assert "msg-success" in resp.content.decode()
    assert StockTransfer.objects.get().status == TransferStatus.CANCELLED
    assert stock_row(places["dc"], places["shirt"]).reserved == 0


@pytest.mark.parametrize("value", ["²", "1" * 5000, "-1", "3.5"])
def test_odd_numbers_are_refused_with_a_message_not_a_500(client, warehouse_user, places, value):
    assign_perm("inventory.work_at_location", warehouse_user, places["dc"])
    t = _open(places, warehouse_user)
    line = t.lines.get(product=places["shirt"])
    client.force_login(warehouse_user)
    resp = client.post(
        reverse("inventory:transfer-act", args=[t.pk, "dispatch"]), {f"sent-{line.pk}": value}, follow=True
    )
    assert "msg-error" in resp.content.decode() and StockTransfer.objects.get().status == TransferStatus.OPEN
    bad = client.post(
        reverse("inventory:transfer-new"),
        {"source": "CD-SP-01", "destination": "LJ-SP-01", "lines": f"CAM-0001-P {value}"},
    )
    assert bad.status_code == 400 and 'data-testid="error-lines"' in bad.content.decode()
    assert StockTransfer.objects.count() == 1


def test_staff_home_counts_the_transfers_to_handle(
    client, store_user, warehouse_user, places, django_assert_max_num_queries
):
    assign_perm("inventory.work_at_location", store_user, places["store"])
    assign_perm("inventory.work_at_location", warehouse_user, places["dc"])
    transfer_dispatch(transfer=_open(places, warehouse_user), by=warehouse_user)
    _open(places, warehouse_user, shirts=1, shoes=1)  # still to dispatch
    client.force_login(store_user)
    assert 'data-testid="transfers-loading"' in client.get(reverse("home")).content.decode()
    with django_assert_max_num_queries(8):
        resp = client.get(reverse("inventory:transfer-summary"))
    assert (resp.context["to_dispatch"], resp.context["to_receive"]) == (0, 1)
    client.force_login(warehouse_user)
    resp = client.get(reverse("inventory:transfer-summary"))
    assert (resp.context["to_dispatch"], resp.context["to_receive"]) == (1, 0)


def test_a_stock_rows_page_shows_its_transfers(client, admin_user, places):
    t = _open(places, admin_user)
    client.force_login(admin_user)
    dc_page = client.get(reverse("inventory:ledger", args=["CD-SP-01", "CAM-0001-P"]))
    assert [(line.transfer, line.qty_on_way) for line in dc_page.context["moving"]] == [(t, 10)]
    assert f'href="{reverse("inventory:transfer", args=[t.pk])}"' in dc_page.content.decode()
    line = t.lines.get(product=places["shirt"])
    transfer_dispatch(transfer=t, by=admin_user, sent={line.pk: 7})
    store_page = client.get(reverse("inventory:ledger", args=["LJ-SP-01", "CAM-0001-P"]))
    assert [(m.transfer, m.qty_on_way) for m in store_page.context["moving"]] == [(t, 7)]  # on its way
    assert client.get(reverse("inventory:ledger", args=["CD-SP-01", "CAM-0001-P"])).context["moving"] == []


def test_a_transfer_late_on_the_road_is_announced_once(client, admin_user, places):
    import datetime as dt

    from django.utils import timezone

    from inventory.services.transfers import TRANSIT_DAYS, transfer_flag_overdue, transfers_overdue
    from inventory.tasks import flag_overdue_transfers

    WebhookSubscription.objects.create(name="WMS", url="https://wms.example.com/hook", secret="s" * 32)
    t = transfer_dispatch(transfer=_open(places, admin_user), by=admin_user)
    assert t.expected_at == t.dispatched_at + dt.timedelta(days=TRANSIT_DAYS)
    later = t.expected_at + dt.timedelta(hours=1)
    assert transfers_overdue(now=t.expected_at - dt.timedelta(hours=1)) == []
    assert transfers_overdue(now=later) == [t.pk]
    assert transfer_flag_overdue(transfer=t, now=later) is True
    assert transfer_flag_overdue(transfer=t, now=later) is False  # once
    assert AuditEvent.objects.filter(action="transfer.overdue", object_id=str(t.pk)).count() == 1
    assert WebhookDelivery.objects.filter(event_type="transfer.overdue").count() == 1
    StockTransfer.objects.filter(pk=t.pk).update(
        expected_at=timezone.now() - dt.timedelta(hours=1), overdue_alerted_at=None
    )
    client.force_login(admin_user)
    assert 'data-testid="overdue"' in client.get(reverse("inventory:transfers")).content.decode()
    assert flag_overdue_transfers.apply().get() == 1
    transfer_receive(transfer=t, by=admin_user)
    assert transfers_overdue(now=later + dt.timedelta(days=9)) == []  # arrived: nothing to say


def test_the_receipt_note_is_added_after_the_creation_note(places, admin_user):
    t = transfer_create(
        source=places["dc"], destination=places["store"], lines=[(places["shirt"], 2)], by=admin_user,
        note="rev2",
    )  # fmt: skip
    transfer_dispatch(transfer=t, by=admin_user)
    transfer_receive(transfer=t, by=admin_user, note="  one missing ")
    t.refresh_from_db()
    assert t.note == "rev2 · one missing"
    assert AuditEvent.objects.get(action="transfer.received").after == {"note": "one missing"}


def test_a_receipt_without_a_note_keeps_the_creation_note(places, admin_user):
    t = transfer_create(
        source=places["dc"], destination=places["store"], lines=[(places["shirt"], 2)], by=admin_user,
        note="rev2",
    )  # fmt: skip
    transfer_dispatch(transfer=t, by=admin_user)
    transfer_receive(transfer=t, by=admin_user, note="  ")
    t.refresh_from_db()
    assert t.note == "rev2"


def test_the_cancellation_reason_is_added_and_a_long_note_is_cut_to_the_field(places, admin_user):
    t = transfer_create(
        source=places["dc"], destination=places["store"], lines=[(places["shirt"], 2)], by=admin_user,
        note="a" * 190,
    )  # fmt: skip
    reason = "store closed for works, " * 8
    transfer_cancel(transfer=t, by=admin_user, reason=reason)
    t.refresh_from_db()
    assert len(t.note) == 200 and t.note.startswith("a" * 190 + " · store") and t.note.endswith("…")
    assert AuditEvent.objects.get(action="transfer.cancelled").after == {"note": reason.strip()}


def test_transfer_pages_print_times_in_the_readers_format(client, warehouse_user, places):
    assign_perm("inventory.work_at_location", warehouse_user, places["dc"])
    t = _open(places, warehouse_user)
    client.force_login(warehouse_user)
    for language in ("pt-br", "en"):
        client.post(reverse("set_language"), {"language": language})
        with translation.override(language):
            opened = date_format(timezone.localtime(t.created_at), "SHORT_DATETIME_FORMAT")
        for url in (reverse("inventory:transfers"), reverse("inventory:transfer", args=[t.pk])):
            assert opened in client.get(url).content.decode(), (language, url)
