"""The order timeline on the order page reads in the reader's language: event kinds by name, and a plain
status change as a sentence; the stored English message stays as it was written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import OrderEvent
from tests.factories import LocationFactory, StockFactory, fulfilment_with_reservations

pytestmark = pytest.mark.django_db


def test_kinds_and_status_changes_are_translated(client, make_order, cs_user):
    order = make_order()
    store = LocationFactory()
    StockFactory(location=store, product=order.lines.get().product, on_hand=5)
    fulfilment_with_reservations(order=order, location=store)
    status = OrderEvent.objects.get(order=order, kind="status", data__to="allocated")
    assert status.message == "Now allocated."  # stored once, in English
    client.force_login(cs_user)
    url = reverse("orders:detail", args=[order.number])
    page = client.get(url).content.decode()  # pt-BR, the default
    assert 'data-kind="created">criado<' in page and 'data-kind="status">situação<' in page
    assert "Agora: alocado." in page and "Now allocated." not in page
    client.post(reverse("set_language"), {"language": "en"})
    english = client.get(url).content.decode()
    assert 'data-kind="created">created<' in english and "Now allocated." in english


def test_what_services_record_reads_in_the_readers_language(client, make_order, cs_user):
    """Holds, releases, address changes and cancellations: stored in English, shown in the reader's language,
    the reason someone typed kept as typed."""
    from orders.services import order_cancel, order_hold, order_release_hold

    order = make_order()
    order_hold(order=order, by=cs_user, reason="cliente pediu")
    order_release_hold(order=order, by=cs_user)
    order_cancel(order=order, by=cs_user, reason="fraude")
    stored = dict(OrderEvent.objects.filter(order=order).values_list("kind", "message"))
    assert stored["hold"] == "Put on hold: cliente pediu"
    assert stored["release"] == "Hold released."
    assert stored["cancelled"] == "Order cancelled: fraude. 0 reserved units released."
    client.force_login(cs_user)
    url = reverse("orders:detail", args=[order.number])
    page = client.get(url).content.decode()
    assert "Pedido bloqueado: cliente pediu" in page and "Bloqueio liberado." in page
    assert "Pedido cancelado: fraude. 0 unidade reservada liberada." in page  # pt-BR: 0 is singular
    assert not any(
        message in page for message in stored.values() if message.startswith(("Put", "Hold", "Order"))
    )
    client.post(reverse("set_language"), {"language": "en"})
    english = client.get(url).content.decode()
    assert all(message in english for message in stored.values())


def test_an_entry_stored_before_phrases_still_reads_its_status_change_translated(client, make_order, cs_user):
    order = make_order()
    OrderEvent.objects.create(order=order, kind="status", message="Now allocated.", data={"to": "allocated"})
    client.force_login(cs_user)
    page = client.get(reverse("orders:detail", args=[order.number])).content.decode()
    assert "Agora: alocado." in page and "Now allocated." not in page
