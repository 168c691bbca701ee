"""The public tracking page: reached by token only, no login, nothing personal beyond the first name."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from orders.models import Fulfilment
from orders.services import LineData
from orders.services.fulfilment import (
    fulfilment_confirm_pick,
    fulfilment_pack,
    fulfilment_ship,
    tracking_link_for,
)
from tests.factories import LocationFactory, ProductFactory, StockFactory, fulfilment_with_reservations

pytestmark = pytest.mark.django_db


@pytest.fixture
def store():
    return LocationFactory(code="LJ-SP-01", name="Loja Paulista")


def _pickup(make_order, store):
    """A product stocked at `store`, a pickup order of one unit there, and its pickup fulfilment."""
    product = ProductFactory()
    StockFactory(location=store, product=product, on_hand=5)
    order = make_order(
        mode="pickup",
        pickup_location=store,
        lines=[LineData(product=product, qty=1, unit_price=Decimal("1"))],
    )
    return product, order, fulfilment_with_reservations(order=order, location=store, kind="pickup")


def test_tracking_shows_status_packages_and_first_name_only(
    client, make_order, store, store_user, routing_defaults
):
    product = ProductFactory()
    StockFactory(location=store, product=product, on_hand=5)
    order = make_order(lines=[LineData(product=product, qty=1, unit_price=Decimal("1"))])
    f = fulfilment_with_reservations(order=order, location=store)
    fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
    fulfilment_pack(fulfilment=f, weights_g=[300], by=store_user)
    fulfilment_ship(fulfilment=f, carrier_service="economy", tracking_code="LG123BR", by=store_user)
    token = tracking_link_for(order).token
    response = client.get(reverse("tracking:order", args=[token]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Ana" in body and "Souza" not in body
    assert "LG123BR" in body and "Econômico (Correios)" in body
    for personal in ("52998224725", "ana@example.com", "Paulista, 1578", "912345678"):
        assert personal not in body
    assert response["X-Robots-Tag"] == "noindex"


def test_tracking_shows_pickup_code_only_when_ready(client, make_order, store, store_user):
    product, order, f = _pickup(make_order, store)
    url = reverse("tracking:order", args=[tracking_link_for(order).token])
    assert 'data-testid="pickup-code"' not in client.get(url).content.decode()
    fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
    f.refresh_from_db()
    body = client.get(url).content.decode()
    assert f.pickup_code and f.pickup_code in body and "Loja Paulista" in body


@pytest.mark.parametrize("token", ["x", "a" * 40, "0" * 64])
def test_bad_token_is_404(client, token):
    assert client.get(reverse("tracking:order", args=[token])).status_code == 404


def _shipped(make_order, store, store_user, django_capture_on_commit_callbacks, **ship):
    product = ProductFactory()
    StockFactory(location=store, product=product, on_hand=5)
    order = make_order(lines=[LineData(product=product, qty=1, unit_price=Decimal("1"))])
    f = fulfilment_with_reservations(order=order, location=store)
    fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
    fulfilment_pack(fulfilment=f, weights_g=[300], by=store_user)
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        fulfilment_ship(fulfilment=f, by=store_user, **ship)
        assert len(mail.outbox) == sent  # sent once the shipment is committed, not before
    assert callbacks
    return order


def test_shipping_a_home_order_emails_the_customer_an_absolute_tracking_link(
    settings, make_order, store, store_user, django_capture_on_commit_callbacks, client, routing_defaults
):
    settings.PUBLIC_BASE_URL = "https://oms.example.com/"
    order = _shipped(make_order, store, store_user, django_capture_on_commit_callbacks,
                     carrier_service="economy", tracking_code="LG123BR")  # fmt: skip
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ana@example.com"] and order.number in message.subject
    link = f"https://oms.example.com{reverse('tracking:order', args=[tracking_link_for(order).token])}"
    # Written in the default language (pt-BR), naming the carrier service rather than its code.
    assert "Transportadora: Econômico (Correios)\n" in message.body
    assert "LG123BR" in message.body and link in message.body
    assert client.get(link.removeprefix("https://oms.example.com")).status_code == 200


def test_the_ready_for_pickup_email_links_to_the_tracking_page_absolutely(
    settings, make_order, store, store_user, django_capture_on_commit_callbacks
):
    settings.PUBLIC_BASE_URL = "https://oms.example.com"
    product, order, f = _pickup(make_order, store)
    with django_capture_on_commit_callbacks(execute=True):
        fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
    assert len(mail.outbox) == 1
    link = f"https://oms.example.com{reverse('tracking:order', args=[tracking_link_for(order).token])}"
    assert link in mail.outbox[0].body.split()


def test_customer_emails_are_in_the_default_language_not_the_staff_members(
    settings, make_order, store, store_user, django_capture_on_commit_callbacks, routing_defaults
):
    settings.LANGUAGE_CODE = "pt-br"
    product, order, f = _pickup(make_order, store)
    with (
        translation.override("en"),
        django_capture_on_commit_callbacks(execute=True),
    ):  # staff works in English
        fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
        assert translation.get_language() == "en"  # and keeps working in English
    assert mail.outbox[0].subject == f"Seu pedido {order.number} está pronto para retirada"
    with translation.override("en"):
        shipped = _shipped(make_order, store, store_user, django_capture_on_commit_callbacks,
                           carrier_service="economy", tracking_code="LG1BR")  # fmt: skip
    with translation.override("pt-br"):  # (the same as the English text until the catalogue translates it)
        expected = translation.gettext("Your order %(number)s has shipped") % {"number": shipped.number}
    assert mail.outbox[1].subject == expected
    assert "Transportadora: Econômico (Correios)\n" in mail.outbox[1].body


def _packed(make_order, store, store_user, *, planned, n=1):
    """An order of `n` units, each a fulfilment at `store` packed (not shipped) with `planned` as routing's
    carrier service."""
    product = ProductFactory()
    StockFactory(location=store, product=product, on_hand=n)
    order = make_order(lines=[LineData(product=product, qty=n, unit_price=Decimal("1"))])
    line = order.lines.get()
    for _ in range(n):
        f = fulfilment_with_reservations(order=order, location=store, lines=[(line, 1)])
        fulfilment_confirm_pick(fulfilment=f, code=product.sku, qty=1, by=store_user)
        fulfilment_pack(fulfilment=f, weights_g=[300], by=store_user)
        Fulfilment.objects.filter(pk=f.pk).update(carrier_service=planned)
    return order


@pytest.mark.parametrize(
    ("language", "none"), [("en", "Carrier to be defined"), ("pt-br", "Transportadora a definir")]
)
def test_tracking_names_the_service_routing_planned_before_shipping(
    client, make_order, store, store_user, routing_defaults, language, none
):
    planned = _packed(make_order, store, store_user, planned="moto-courier")
    unplanned = _packed(make_order, store, store_user, planned="")
    typed = _packed(make_order, store, store_user, planned="Transportadora X")  # a value from before codes

    def package(order):
        url = reverse("tracking:order", args=[tracking_link_for(order).token])
        body = client.get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        item = body[body.index('data-testid="package"') :]
        return item[item.index(">") + 1 : item.index("<span")].strip()

    assert package(planned) == "Motoboy (até 25 km)"
    assert package(unplanned) == none
    assert package(typed) == "Transportadora X"


def test_tracking_names_every_package_in_a_fixed_number_of_queries(
    client, make_order, store, store_user, routing_defaults
):
    def queries(order):
        url = reverse("tracking:order", args=[tracking_link_for(order).token])
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(url).content.decode()
        assert body.count("Expresso nacional") == order.fulfilments.count()
        return len(ctx.captured_queries)

    one = _packed(make_order, store, store_user, planned="express")
    many = _packed(make_order, store, store_user, planned="express", n=6)
    assert queries(one) == queries(many)
