"""Fulfilment pages: scoping (404 elsewhere), queue and pick list (flat query counts), HTMX actions, label."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from guardian.shortcuts import assign_perm

from inventory.models import StockLevel
from orders.fulfilment_views import code128_svg, code128_values
from orders.models import Fulfilment, FulfilmentStatus
from orders.services import LineData
from orders.services.fulfilment import fulfilment_confirm_pick, fulfilment_dispatch, fulfilment_receive
from tests.factories import (
    DCFactory,
    LocationFactory,
    ProductFactory,
    StockFactory,
    fulfilment_with_reservations,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Messages are asserted in English (the default language is pt-BR)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


FS = FulfilmentStatus


@pytest.fixture
def store():
    return LocationFactory(code="LJ-SP-01")


@pytest.fixture
def other_store():
    return LocationFactory(code="LJ-RJ-02")


@pytest.fixture
def staff(client, store_user, store):
    assign_perm("inventory.work_at_location", store_user, store)
    client.force_login(store_user)
    return client


def make_fulfilments(make_order, location, n, *, start=0):
    product = ProductFactory()
    StockFactory(location=location, product=product, on_hand=10_000)
    made = []
    for i in range(n):
        order = make_order(
            ref=f"Q-{location.code}-{start + i}",
            lines=[LineData(product=product, qty=2, unit_price=Decimal("10"))],
        )
        made.append(
            fulfilment_with_reservations(
                order=order, location=location, ship_by=timezone.now() + dt.timedelta(hours=n - i)
            )
        )
    return made


def test_queue_lists_my_location_due_first(staff, make_order, store, other_store):
    mine = make_fulfilments(make_order, store, 3)
    make_fulfilments(make_order, other_store, 2, start=10)
    response = staff.get(reverse("fulfilment:queue"))
    assert response.status_code == 200
    body = response.content.decode()
    numbers = [f.order.number for f in mine]
    # Due first: the last one made has the earliest ship-by.
    positions = [body.index(n) for n in reversed(numbers)]
    assert positions == sorted(positions)
    assert body.count('data-testid="queue-item"') == 3
    assert 'data-testid="count-assigned"' in body


def test_queue_filters_by_status_and_mode(staff, make_order, store, store_user):
    made = make_fulfilments(make_order, store, 3)
    staff.post(reverse("fulfilment:act", args=[made[0].pk, "start"]))
    body = staff.get(reverse("fulfilment:queue"), {"status": "picking"}).content.decode()
    assert body.count('data-testid="queue-item"') == 1 and made[0].order.number in body
    body = staff.get(reverse("fulfilment:queue"), {"mode": "pickup"}).content.decode()
    assert 'data-testid="queue-empty"' in body


def test_queue_of_another_location_is_404(staff, other_store):
    assert staff.get(reverse("fulfilment:queue"), {"location": other_store.code}).status_code == 404


def test_customer_service_cannot_act(client, cs_user):
    client.force_login(cs_user)
    assert client.get(reverse("fulfilment:queue")).status_code == 403


def test_another_locations_fulfilment_is_404_everywhere(staff, make_order, other_store):
    theirs = make_fulfilments(make_order, other_store, 1)[0]
    assert staff.get(reverse("fulfilment:detail", args=[theirs.pk])).status_code == 404
    assert staff.get(reverse("fulfilment:label", args=[theirs.pk])).status_code == 404
    assert staff.post(reverse("fulfilment:act", args=[theirs.pk, "start"])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == FS.ASSIGNED


def _queries(client, url, params=None):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_queue_and_picklist_query_counts_stay_flat(staff, make_order, store):
    few = make_fulfilments(make_order, store, 5)
    url = reverse("fulfilment:queue")
    small_queue = _queries(staff, url)
    small_pick = _queries(staff, reverse("fulfilment:picklist"), {"f": [f.pk for f in few]})
    many = few + make_fulfilments(make_order, store, 195, start=100)
    big_queue = _queries(staff, url)
    big_pick = _queries(staff, reverse("fulfilment:picklist"), {"f": [f.pk for f in many]})
    assert small_queue == big_queue
    assert small_pick == big_pick
    assert big_queue <= 15


def test_picklist_groups_by_sku(staff, make_order, store):
    a, b = ProductFactory(sku="AAA-1"), ProductFactory(sku="BBB-2")
    for p in (a, b):
        StockFactory(location=store, product=p, on_hand=50)
    o1 = make_order(
        ref="P1",
        lines=[
            LineData(product=b, qty=1, unit_price=Decimal("1")),
            LineData(product=a, qty=2, unit_price=Decimal("1")),
        ],
    )
    o2 = make_order(ref="P2", lines=[LineData(product=a, qty=3, unit_price=Decimal("1"))])
    f1 = fulfilment_with_reservations(order=o1, location=store)
    f2 = fulfilment_with_reservations(order=o2, location=store)
    response = staff.get(reverse("fulfilment:picklist"), {"f": [f1.pk, f2.pk]})
    groups = response.context["groups"]
    assert [(g["sku"], g["qty"]) for g in groups] == [("AAA-1", 5), ("BBB-2", 1)]
    assert response.context["units"] == 6


def test_scan_pick_short_pack_ship_over_htmx(
    staff, make_order, store, store_user, monkeypatch, routing_defaults
):
    monkeypatch.setattr("oms.queue.send_task_now", lambda *a, **k: None)
    product = ProductFactory(sku="CAM-9-P", ean="7891234567895")
    StockFactory(location=store, product=product, on_hand=10)
    order = make_order(lines=[LineData(product=product, qty=3, unit_price=Decimal("1"))])
    f = fulfilment_with_reservations(order=order, location=store)
    hx = {"HTTP_HX_REQUEST": "true"}
    act = lambda name, **data: staff.post(reverse("fulfilment:act", args=[f.pk, name]), data, **hx)  # noqa: E731
    page = staff.get(reverse("fulfilment:detail", args=[f.pk])).content.decode()
    assert "autofocus" in page and "data-scan" in page
    response = act("pick", code="WRONG", qty="1")
    assert response.status_code == 200 and "is not on this fulfilment" in response.content.decode()
    response = act("pick", code="7891234567895", qty="abc")
    assert "whole number" in response.content.decode()
    response = act("pick", code="7891234567895", qty="2")
    assert 'id="fulfilment-panel"' in response.content.decode()
    line = f.lines.get()
    response = act("short", line=str(line.pk), missing="1", reason="damaged")
    f.refresh_from_db()
    assert f.status == FS.PICKED
    act("pack", weight=["400", "300"])
    act("ship", carrier_service="express", tracking_code="", generate="1")
    f.refresh_from_db()
    assert f.status == FS.SHIPPED and f.tracking_code
    level = StockLevel.objects.get(location=store, product=product)
    assert (level.on_hand, level.reserved) == (7, 0)
    # Without HTMX: post/redirect/get, the refusal shown as a message on the page.
    response = staff.post(
        reverse("fulfilment:act", args=[f.pk, "ship"]), {"carrier_service": "X"}, follow=True
    )
    assert response.status_code == 200 and "cannot become shipped" in response.content.decode()
    assert staff.post(reverse("fulfilment:act", args=[f.pk, "nope"])).status_code == 404


def _packed_or_picked(staff, make_order, store, *, pack: bool, planned: str = ""):
    product: Any = ProductFactory(sku="CAM-8-P")
    StockFactory(location=store, product=product, on_hand=10)
    order = make_order(lines=[LineData(product=product, qty=1, unit_price=Decimal("1"))])
    f = fulfilment_with_reservations(order=order, location=store)
    if planned:  # the carrier service routing chose
        Fulfilment.objects.filter(pk=f.pk).update(carrier_service=planned)
    hx = {"HTTP_HX_REQUEST": "true"}
    act = lambda name, **data: staff.post(reverse("fulfilment:act", args=[f.pk, name]), data, **hx)  # noqa: E731
    act("pick", code="CAM-8-P", qty="1")
    if pack:
        act("pack", weight="700")
    return f, act


def test_a_huge_package_weight_is_a_message_not_a_500(staff, make_order, store):
    f, act = _packed_or_picked(staff, make_order, store, pack=False)
    response = act("pack", weight="99999999999999999999")
    assert response.status_code == 200 and "A package weighs at most 100000 g" in response.content.decode()
    f.refresh_from_db()
    assert f.status == FS.PICKED and not f.packages.exists()
    act("pack", weight="700")
    f.refresh_from_db()
    assert f.status == FS.PACKED


def _ship_options(page: str) -> list[tuple[str, str, bool]]:
    """(value, text, selected) of the ship form's carrier service options."""
    select = page[page.index('<select name="carrier_service"') :]
    select = select[: select.index("</select>")]
    return [
        (m[1], m[3], bool(m[2]))
        for m in re.finditer(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', select)
    ]


def test_the_ship_form_offers_the_locations_carrier_services_by_name(
    staff, make_order, store, routing_defaults
):
    f, _act = _packed_or_picked(staff, make_order, store, pack=True)
    page = staff.get(reverse("fulfilment:detail", args=[f.pk])).content.decode()
    # A store: the active default services that leave from stores, by name, none chosen by routing.
    assert _ship_options(page) == [
        ("economy", "Econômico (Correios)", False),
        ("express", "Expresso nacional", False),
        ("moto-courier", "Motoboy (até 25 km)", False),
    ]


def test_the_ship_form_preselects_the_service_routing_planned(staff, make_order, store, routing_defaults):
    f, _act = _packed_or_picked(staff, make_order, store, pack=True, planned="moto-courier")
    page = staff.get(reverse("fulfilment:detail", args=[f.pk])).content.decode()
    assert [(value, selected) for value, _text, selected in _ship_options(page)] == [
        ("economy", False),
        ("express", False),
        ("moto-courier", True),
    ]


def test_a_forged_carrier_service_is_refused(staff, make_order, store, routing_defaults):
    f, act = _packed_or_picked(staff, make_order, store, pack=True)
    events = f.order.events.count()
    for forged in ("Bogus", "metro-van"):  # made up; a DC's service, not offered at a store
        response = act("ship", carrier_service=forged, tracking_code="AB123")
        assert response.status_code == 200
        assert f"does not ship with {forged}" in response.content.decode()
        f.refresh_from_db()
        assert (f.status, f.carrier_service, f.tracking_code) == (FS.PACKED, "", "")
        assert list(f.packages.values_list("tracking_code", flat=True)) == [""]
        assert f.order.events.count() == events
    act("ship", carrier_service="moto-courier", tracking_code="AB123")
    f.refresh_from_db()
    assert (f.status, f.carrier_service, f.tracking_code) == (FS.SHIPPED, "moto-courier", "AB123")


@pytest.mark.parametrize(("language", "packages"), [("en", "1 package"), ("pt-br", "1 volume")])
def test_the_panel_and_the_label_name_the_carrier_service(
    staff, make_order, store, routing_defaults, language, packages
):
    f, act = _packed_or_picked(staff, make_order, store, pack=True, planned="express")
    act("ship", carrier_service="express", tracking_code="EX123BR")
    name = '<span data-testid="carrier-service">Expresso nacional</span>'
    with translation.override(language):
        panel = staff.get(reverse("fulfilment:detail", args=[f.pk]), HTTP_ACCEPT_LANGUAGE=language)
        label = staff.get(reverse("fulfilment:label", args=[f.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert f'{name} · <strong data-testid="tracking-code">EX123BR</strong>' in panel.content.decode()
    assert f"{name} · <strong>EX123BR</strong> · {packages}" in label.content.decode()
    # A value typed before services had codes is shown as it is.
    Fulfilment.objects.filter(pk=f.pk).update(carrier_service="Transportadora X")
    for url in (reverse("fulfilment:detail", args=[f.pk]), reverse("fulfilment:label", args=[f.pk])):
        body = staff.get(url).content.decode()
        assert '<span data-testid="carrier-service">Transportadora X</span>' in body


def test_shipping_from_the_page_emails_the_customer(
    staff, make_order, store, settings, django_capture_on_commit_callbacks, mailoutbox, routing_defaults
):
    settings.PUBLIC_BASE_URL = "https://oms.example.com"
    f, act = _packed_or_picked(staff, make_order, store, pack=True)
    with django_capture_on_commit_callbacks(execute=True):
        act("ship", carrier_service="economy", tracking_code="PA123BR")
    f.refresh_from_db()
    assert f.status == FS.SHIPPED
    assert len(mailoutbox) == 1
    body = mailoutbox[0].body
    assert "Carrier: Econômico (Correios)\n" in body and "economy" not in body
    assert "PA123BR" in body and "https://oms.example.com/track/" in body


def test_label_page_has_the_order_number_as_code128(staff, make_order, store):
    f = make_fulfilments(make_order, store, 1)[0]
    response = staff.get(reverse("fulfilment:label", args=[f.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and 'class="barcode"' in body and f.order.number in body
    assert "style=" not in body and "<script>" not in body


def test_code128_encoder():
    # Code set C for an even run of digits: start C (105), pairs, checksum, per ISO/IEC 15417.
    assert code128_values("00000042") == [105, 0, 0, 0, 42, (105 + 4 * 42) % 103]
    assert code128_values("A1") == [104, 33, 17, (104 + 33 + 2 * 17) % 103]
    svg = str(code128_svg("00000042"))
    # start + 4 symbols + checksum: 6 × 3 bars, stop 4 bars.
    assert svg.count("<rect") == 6 * 3 + 4
    with pytest.raises(ValueError):
        code128_values("")


def test_odd_ids_on_the_picklist_are_ignored_not_a_500(staff, make_order, store):
    shirt = ProductFactory(sku="AAA-1")
    StockFactory(location=store, product=shirt, on_hand=5)
    order = make_order(lines=[LineData(product=shirt, qty=2, unit_price=Decimal("1"))])
    f1 = fulfilment_with_reservations(order=order, location=store)
    response = staff.get(reverse("fulfilment:picklist"), {"f": [str(f1.pk), "²", "9" * 5000]})
    assert response.status_code == 200 and response.context["units"] == 2


def _transferred_pickup(make_order, store, warehouse_user, store_user) -> Fulfilment:
    """A pickup order at `store` whose 2 units all came by a received transfer from a DC."""
    dc = DCFactory(code="CD-SP-CAJAMAR")
    shirt: Any = ProductFactory(sku="CAM-7-M", name="Camiseta 7 M")
    StockFactory(location=dc, product=shirt, on_hand=5)
    order = make_order(
        mode="pickup", pickup_location=store, lines=[LineData(product=shirt, qty=2, unit_price=Decimal("9"))]
    )
    transfer = fulfilment_with_reservations(order=order, location=dc, kind="transfer")
    fulfilment_confirm_pick(fulfilment=transfer, code="CAM-7-M", qty=2, by=warehouse_user)
    fulfilment_dispatch(fulfilment=transfer, by=warehouse_user)
    fulfilment_receive(fulfilment=transfer, by=store_user)
    return Fulfilment.objects.get(order=order, kind="pickup")


def test_a_pickup_supplied_by_transfer_lists_what_the_customer_collects(
    staff, make_order, store, warehouse_user, store_user
):
    pickup = _transferred_pickup(make_order, store, warehouse_user, store_user)
    assert pickup.status == FS.READY_FOR_PICKUP and not pickup.lines.exists()
    response = staff.get(reverse("fulfilment:detail", args=[pickup.pk]))
    body = response.content.decode()
    assert response.context["units"] == 2 and response.context["picked_units"] == 2
    assert body.count('data-testid="line"') == 1 and 'data-sku="CAM-7-M"' in body
    assert "received by transfer from CD-SP-CAJAMAR" in body
    assert "Report short" not in body  # nothing is left to pick at the store
    assert 'data-testid="label-link"' in body
    slip = staff.get(reverse("fulfilment:label", args=[pickup.pk])).content.decode()
    assert "CAM-7-M" in slip and "Camiseta 7 M" in slip
    queue = staff.get(reverse("fulfilment:queue"), {"status": "ready_for_pickup"}).content.decode()
    assert queue.count('data-testid="queue-item"') == 1 and "2/2 units" in queue


def test_the_slip_prints_formatted_ceps_and_only_what_is_sent(staff, make_order, store, store_user):
    shirt: Any = ProductFactory(sku="CAM-5-P")
    socks: Any = ProductFactory(sku="MEI-6-U")
    for p in (shirt, socks):
        StockFactory(location=store, product=p, on_hand=5)
    order = make_order(
        lines=[
            LineData(product=shirt, qty=2, unit_price=Decimal("9")),
            LineData(product=socks, qty=1, unit_price=Decimal("9")),
        ]
    )
    f = fulfilment_with_reservations(order=order, location=store)
    fulfilment_confirm_pick(fulfilment=f, code="CAM-5-P", qty=2, by=store_user)
    staff.post(
        reverse("fulfilment:act", args=[f.pk, "short"]),
        {"line": f.lines.get(order_line__sku="MEI-6-U").pk, "missing": "1", "reason": "damaged"},
    )
    f.refresh_from_db()
    assert f.status == FS.PICKED
    body = staff.get(reverse("fulfilment:label", args=[f.pk])).content.decode()
    assert "CEP 01310-200" in body and "01310200" not in body  # the customer's and the store's CEP
    assert "CAM-5-P" in body and "MEI-6-U" not in body  # the short-picked line sends nothing


def test_a_pickup_slip_names_the_customer_and_the_store(staff, make_order, store, warehouse_user, store_user):
    pickup = _transferred_pickup(make_order, store, warehouse_user, store_user)
    body = staff.get(reverse("fulfilment:label", args=[pickup.pk])).content.decode()
    assert "Ana Souza" in body
    assert f"Pickup at {store.name} (LJ-SP-01)" in body
    assert "CEP" not in body and " , " not in body  # no empty address


def test_ship_by_is_in_the_readers_date_format(staff, make_order, store):
    f = make_fulfilments(make_order, store, 1)[0]
    assert f.ship_by is not None
    due = timezone.localtime(f.ship_by)
    for url in (reverse("fulfilment:queue"), reverse("fulfilment:detail", args=[f.pk])):
        body = staff.get(url).content.decode()
        assert f"ship by {date_format(due, 'SHORT_DATETIME_FORMAT')}" in body
        assert due.strftime("%d/%m %H:%M") not in body
    body = staff.get(url, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()  # and pt-BR keeps its own
    assert due.strftime("%d/%m/%Y %H:%M") in body
