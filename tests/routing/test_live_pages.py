"""The routing pages: an order's decisions explained (scoped like the order) and the CS promise quote."""

from __future__ import annotations

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from inventory.models import Reservation
from routing.services.live import order_route

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    w.stock(w.paulista, w.shirt, 3)
    order = w.make_order([(w.shirt, 2)])
    order_route(order_id=order.pk)
    return order


def test_decision_page_explains_the_choice_to_customer_service(client, cs_user, routed):
    client.force_login(cs_user)
    resp = client.get(reverse("routing:decision", args=[routed.number]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-testid="candidates"' in html and "CD-SP-CAJAMAR" in html and "LJ-SP-01" in html
    assert 'data-testid="plan"' in html and " ms" in html
    # Customer service sees why, never what it costs.
    assert 'data-testid="decision-total"' not in html and "R$" not in html
    # dates in the reader's format (pt-BR: dd/mm/yyyy), the options counted in words that agree
    decision = resp.context["decisions"][0]
    day = decision["packages"][0]["date"]
    assert day is not None and day.strftime("%d/%m/%Y") in html and day.isoformat() not in html
    n = decision["evaluated"]
    assert (f"{n} opção avaliada" if n == 1 else f"{n} opções avaliadas") in html


def test_decision_page_shows_costs_to_managers(client, manager_user, routed):
    from orders.models import Channel

    assign_perm("orders.manage_channel", manager_user, Channel.objects.get(pk=routed.channel_id))
    client.force_login(manager_user)
    html = client.get(reverse("routing:decision", args=[routed.number])).content.decode()
    decision = routed.routing_decisions.get()
    assert decision.summary.startswith("Ships from ") and " envia por " in html  # in the reader's language
    assert 'data-testid="decision-total"' in html and "R$" in html


def test_the_why_reads_in_the_readers_language(client, manager_user, routed):
    """The decision's "why" and the timeline's routed entry are stored in English (the API and search read
    that) and each page shows them in the reader's language."""
    from orders.models import Channel

    assign_perm("orders.manage_channel", manager_user, Channel.objects.get(pk=routed.channel_id))
    decision = routed.routing_decisions.get()
    assert (
        decision.summary.startswith("Ships from ") and "cheapest option that arrives by" in decision.summary
    )
    routed_event = routed.events.get(kind="routed")
    assert routed_event.message.startswith("Ships from ") and "R$" not in routed_event.message
    client.force_login(manager_user)
    page = client.get(
        reverse("routing:decision", args=[routed.number])
    ).content.decode()  # pt-BR, the default
    assert " envia por " in page and "opção mais barata que chega até" in page
    assert decision.summary not in page
    order_page = client.get(reverse("orders:detail", args=[routed.number])).content.decode()
    assert " envia por " in order_page and routed_event.message not in order_page
    client.post(reverse("set_language"), {"language": "en"})
    english = client.get(reverse("routing:decision", args=[routed.number])).content.decode()
    assert "Ships from " in english and "cheapest option that arrives by" in english


def test_decision_page_is_404_for_a_store_user_outside_the_scope(client, store_user, routed, routing_world):
    assign_perm("inventory.work_at_location", store_user, routing_world.rio)
    client.force_login(store_user)
    assert client.get(reverse("routing:decision", args=[routed.number])).status_code == 404
    assert client.get(reverse("routing:decision", args=["99999999"])).status_code == 404


def test_decision_page_query_count(client, admin_user, routed, routing_world, django_assert_max_num_queries):
    w = routing_world
    for _ in range(3):  # more decisions must not mean more queries
        o = w.make_order([(w.shirt, 1)])
        order_route(order_id=o.pk)
    client.force_login(admin_user)
    with django_assert_max_num_queries(12):
        resp = client.get(reverse("routing:decision", args=[routed.number]))
    assert resp.status_code == 200


def test_promise_page_quotes_with_htmx_and_reserves_nothing(client, cs_user, routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    client.force_login(cs_user)
    url = reverse("routing:promise")
    assert client.get(url).status_code == 200
    resp = client.post(url, {"lines": "CAM-0001-P 2", "cep": "01310-200"}, HTTP_HX_REQUEST="true")
    assert resp.status_code == 200
    html = resp.content.decode()
    assert 'data-testid="promise-home"' in html and "<html" not in html
    assert "CD-SP-CAJAMAR" in html
    assert Reservation.objects.count() == 0


def test_promise_page_names_bad_lines(client, cs_user, routing_world):
    client.force_login(cs_user)
    resp = client.post(reverse("routing:promise"), {"lines": "NOPE 1\nCAM-0001-P 0", "cep": "1"})
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "NOPE" in html and 'data-testid="promise-errors"' in html


def test_promise_page_is_not_for_store_staff(client, store_user):
    client.force_login(store_user)
    assert client.get(reverse("routing:promise")).status_code == 404


def test_a_short_pick_on_the_phone_is_routed_elsewhere_and_the_decision_page_says_why(
    client, cs_user, store_user, routing_world
):
    from orders.models import Fulfilment

    w = routing_world
    w.stock(w.paulista, w.shirt, 6)
    w.stock(w.morumbi, w.shirt, 6)
    order = w.make_order([(w.shirt, 2)])
    order_route(order_id=order.pk)
    first = Fulfilment.objects.get(order=order)
    assert first.location == w.paulista
    assign_perm("inventory.work_at_location", store_user, w.paulista)
    client.force_login(store_user)
    act = reverse("fulfilment:act", args=[first.pk, "pick"])
    client.post(act, {"code": w.shirt.sku, "qty": "1"})
    line = first.lines.get()
    short = reverse("fulfilment:act", args=[first.pk, "short"])
    client.post(short, {"line": str(line.pk), "missing": "1", "reason": "not_found"})
    line.refresh_from_db()
    assert line.qty_short == 1
    order_route(order_id=order.pk)  # the task the short pick queued
    assert Fulfilment.objects.exclude(pk=first.pk).get(order=order).location == w.morumbi
    client.force_login(cs_user)
    html = client.get(reverse("routing:decision", args=[order.number])).content.decode()
    assert "deixado de fora (informou falta de unidades deste pedido): LJ-SP-01" in html


def test_an_order_routed_before_decisions_were_recorded_is_not_called_unrouted(
    client, cs_user, routing_world, settings
):
    from orders.services import order_event

    settings.LANGUAGE_CODE = "en"
    client.force_login(cs_user)
    order = routing_world.make_order([(routing_world.shirt, 1)])
    html = client.get(reverse("routing:decision", args=[order.number])).content.decode()
    assert "has not been routed yet" in html
    order_event(order=order, kind="routed", message="Routed: 1 unit(s) from CD-SP-CAJAMAR.")
    html = client.get(reverse("routing:decision", args=[order.number])).content.decode()
    assert "routed before routing decisions were recorded" in html and "has not been routed yet" not in html
