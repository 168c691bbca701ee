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
