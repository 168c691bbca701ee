"""Customer-service pages: order search (every key, HTMX, keyset pages, flat queries), detail, actions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from inventory.models import Reservation
from inventory.services import stock_reserve
from oms.roles import Role
from orders.models import Fulfilment, FulfilmentLine, Order, OrderEvent, OrderStatus
from orders.services import CustomerData, LineData
from tests.factories import ChannelFactory, LocationFactory, ProductFactory, StockFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
BRUNO = CustomerData(
    name="Bruno Lima", email="bruno@example.com", document="11144477735", phone="+5521987654321"
)


@pytest.fixture
def two_orders(make_order):
    """Ana's order (the fixture's customer, CEP 01310-200) and Bruno's (another CPF, phone and CEP)."""
    ana = make_order(ref="WEB-ANA-1")
    bruno = make_order(ref="WEB-BRUNO-1", customer=BRUNO)
    Order.objects.filter(pk=bruno.pk).update(ship_cep="20040002")
    return ana, bruno


def _numbers(response) -> set[str]:
    return {order.number for order in response.context["page"].items}


def _login(client, user):
    client.force_login(user)
    return client


# --- list -------------------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("orders:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.MANAGER, Role.ADMIN])
def test_list_renders_for_office_roles_and_is_in_their_navigation(client, user_by_role, two_orders, role):
    user = user_by_role[role]
    if role == Role.MANAGER:
        assign_perm("orders.manage_channel", user, two_orders[0].channel)
    response = _login(client, user).get(reverse("orders:list"))
    assert response.status_code == 200
    assert _numbers(response) == {o.number for o in two_orders}
    assert f'href="{reverse("orders:list")}"' in response.content.decode()  # the "Orders" nav item
    assert "R$ 119,80" in response.content.decode()


def test_store_user_lists_only_the_orders_of_its_store(client, store_user, make_order):
    store = LocationFactory(code="LJ-SP-01")
    other = LocationFactory(code="LJ-RJ-01")
    assign_perm("inventory.work_at_location", store_user, store)
    mine = make_order(mode="pickup", pickup_location=store)
    make_order(mode="pickup", pickup_location=other)
    response = _login(client, store_user).get(reverse("orders:list"))
    assert response.status_code == 200
    assert _numbers(response) == {mine.number}


@pytest.mark.parametrize(
    ("query", "who"),
    [
        ("number", "bruno"),
        ("WEB-BRUNO-1", "bruno"),
        ("Bru", "bruno"),
        ("bruno", "bruno"),
        ("BRUNO@example.com", "bruno"),
        ("111.444.777-35", "bruno"),
        ("11144477735", "bruno"),
        ("(21) 98765-4321", "bruno"),
        ("20040-002", "bruno"),
        ("Ana S", "ana"),
        ("ana@example.com", "ana"),
        ("529.982.247-25", "ana"),
        ("+55 11 91234-5678", "ana"),
        ("01310-200", "ana"),
    ],
)
def test_search_box_finds_an_order_by_every_key(client, cs_user, two_orders, query, who):
    ana, bruno = two_orders
    expected = {"ana": ana, "bruno": bruno}[who]
    if query == "number":
        query = expected.number
    response = _login(client, cs_user).get(reverse("orders:list"), {"q": query}, **HTMX)
    assert response.status_code == 200
    assert _numbers(response) == {expected.number}


def test_htmx_search_returns_only_the_results_partial(client, cs_user, two_orders):
    response = _login(client, cs_user).get(reverse("orders:list"), {"q": "Ana"}, **HTMX)
    html = response.content.decode()
    assert "<html" not in html and 'id="order-search"' not in html
    assert 'data-testid="order-results"' in html and two_orders[0].number in html
    assert "HX-Request" in response["Vary"]


def test_full_page_has_the_htmx_search_box(client, cs_user, two_orders):
    html = _login(client, cs_user).get(reverse("orders:list")).content.decode()
    assert 'hx-trigger="keyup changed delay:300ms, search"' in html
    assert 'hx-target="#order-results"' in html and 'hx-push-url="true"' in html
    assert 'id="order-results"' in html


def test_exact_order_number_goes_straight_to_the_order(client, cs_user, two_orders):
    bruno = two_orders[1]
    response = _login(client, cs_user).get(reverse("orders:list"), {"q": bruno.number})
    assert response.status_code == 302
    assert response["Location"] == reverse("orders:detail", args=[bruno.number])


def test_search_without_match_says_so(client, cs_user, two_orders):
    response = _login(client, cs_user).get(reverse("orders:list"), {"q": "Zuleica"})
    assert response.status_code == 200
    assert _numbers(response) == set()
    assert 'data-testid="no-results"' in response.content.decode()


def test_filters_status_channel_location_and_dates(client, cs_user, make_order):
    store = LocationFactory(code="LJ-SP-01")
    app = ChannelFactory(code="app", name="App", kind="app")
    now = timezone.now()
    old = make_order(placed_at=now - dt.timedelta(days=10))
    in_app = make_order(channel=app)
    pickup = make_order(mode="pickup", pickup_location=store)
    Order.objects.filter(pk=pickup.pk).update(status=OrderStatus.ON_HOLD)
    client = _login(client, cs_user)
    url = reverse("orders:list")
    assert _numbers(client.get(url, {"status": "on_hold"})) == {pickup.number}
    assert _numbers(client.get(url, {"channel": "app"})) == {in_app.number}
    assert _numbers(client.get(url, {"location": "LJ-SP-01"})) == {pickup.number}
    today = timezone.localdate()
    assert old.number not in _numbers(client.get(url, {"placed_from": today - dt.timedelta(days=1)}))
    assert _numbers(client.get(url, {"placed_to": today - dt.timedelta(days=5)})) == {old.number}


def test_bad_filter_values_never_500(client, cs_user, two_orders):
    client = _login(client, cs_user)
    response = client.get(
        reverse("orders:list"), {"status": "nope", "placed_from": "31/31/2026", "after": "%%%garbage"}
    )
    assert response.status_code == 200
    assert _numbers(response) == {o.number for o in two_orders}  # invalid filters are left out


def test_keyset_pages_walk_every_order_once_without_counting(client, cs_user, make_order):
    product = ProductFactory()
    start = timezone.now() - dt.timedelta(hours=1)
    made = {
        make_order(
            lines=[LineData(product=product, qty=1, unit_price=Decimal("10.00"))],
            placed_at=start + dt.timedelta(minutes=i % 7),  # ties on placed_at: the pk breaks them
        ).number
        for i in range(30)
    }
    client = _login(client, cs_user)
    seen: list[str] = []
    response = client.get(reverse("orders:list"))
    pages = 0
    while True:
        pages += 1
        seen += [o.number for o in response.context["page"].items]
        query = response.context["next_query"]
        if not query:
            break
        response = client.get(reverse("orders:list") + "?" + query, **HTMX)
    assert pages == 2
    assert len(seen) == len(set(seen)) == 30 and set(seen) == made


def _list_queries(client, url) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


def test_list_query_count_is_flat(client, cs_user, make_order, django_assert_max_num_queries):
    product = ProductFactory()
    lines = [LineData(product=product, qty=1, unit_price=Decimal("10.00"))]
    for _ in range(5):
        make_order(lines=lines)
    client = _login(client, cs_user)
    url = reverse("orders:list")
    few = _list_queries(client, url)
    for _ in range(45):
        make_order(lines=lines)
    with django_assert_max_num_queries(len(few)):
        client.get(url)
    many = _list_queries(client, url)
    assert len(many) == len(few) <= 10
    assert not any("COUNT(" in sql.upper() for sql in many)


# --- detail -----------------------------------------------------------------------------------------------


def test_detail_shows_header_lines_reservations_fulfilments_and_timeline(client, cs_user, make_order):
    store = LocationFactory(code="LJ-SP-01")
    stock = StockFactory(location=store, on_hand=10)
    order = make_order(lines=[LineData(product=stock.product, qty=2, unit_price=Decimal("59.90"))])
    line = order.lines.get()
    fulfilment = Fulfilment.objects.create(
        order=order, location=store, kind="ship", carrier_service="SEDEX", tracking_code="BR123456789BR"
    )
    fl = FulfilmentLine.objects.create(fulfilment=fulfilment, order_line=line, qty=2)
    stock_reserve(location=store, product=stock.product, qty=2, ref=fl.reservation_ref, group=order.number)
    response = _login(client, cs_user).get(reverse("orders:detail", args=[order.number]))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("routing:decision", args=[order.number]) in html  # "why this store"
    for text in (
        order.number,
        "WEB-00001",
        "529.982.247-25",
        "(11) 91234-5678",
        "01310-200",
        "R$ 119,80",
        stock.product.sku,
        "BR123456789BR",
        "SEDEX",
        "Na fila do roteamento.",  # the timeline, in the reader's language
    ):
        assert text in html, text
    assert [r.ref for r in response.context["reservations"]] == [f"fl:{fl.pk}"]
    assert 'data-testid="order-actions"' in html


def test_detail_query_count_does_not_grow_with_lines(client, cs_user, make_order):
    def queries(n_lines):
        order = make_order(
            lines=[
                LineData(product=ProductFactory(), qty=1, unit_price=Decimal("1.00")) for _ in range(n_lines)
            ]
        )
        return len(_list_queries(client, reverse("orders:detail", args=[order.number])))

    _login(client, cs_user)
    assert queries(1) == queries(8)


def _with_fulfilments(make_order, services):
    """An order with one ship fulfilment per carrier service in `services` (a code or older free text)."""
    order = make_order(lines=[LineData(product=ProductFactory(), qty=len(services), unit_price=Decimal("1"))])
    for n, service in enumerate(services):
        store = LocationFactory(code=f"LJ-SP-{n + 10:02d}")
        Fulfilment.objects.create(order=order, location=store, kind="ship", carrier_service=service)
    return order


@pytest.mark.parametrize(
    ("language", "label"), [("en", "Carrier service"), ("pt-br", "Serviço de transporte")]
)
def test_detail_names_each_fulfilments_carrier_service(
    client, cs_user, make_order, routing_defaults, language, label
):
    order = _with_fulfilments(make_order, ["express", "moto-courier", "Transportadora X", ""])
    url = reverse("orders:detail", args=[order.number])
    html = _login(client, cs_user).get(url, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    shown = [f'{label}: <span data-testid="carrier-service">{name}</span>' for name in
             ("Expresso nacional", "Motoboy (até 25 km)", "Transportadora X")]  # fmt: skip
    assert all(text in html for text in shown), html
    assert html.count('data-testid="carrier-service"') == 3  # none for the fulfilment without one
    assert ">express<" not in html and ">moto-courier<" not in html


def test_detail_names_carrier_services_in_a_fixed_number_of_queries(
    client, cs_user, make_order, routing_defaults
):
    _login(client, cs_user)

    def queries(services):
        url = reverse("orders:detail", args=[_with_fulfilments(make_order, services).number])
        return len(_list_queries(client, url))

    assert queries(["express"]) == queries(["express", "economy", "moto-courier", "metro-van", "Loggi"])


@pytest.mark.parametrize("role", [Role.CUSTOMER_SERVICE, Role.MANAGER, Role.ADMIN, Role.STORE_STAFF])
def test_detail_renders_for_each_role_in_scope(client, user_by_role, make_order, role):
    store = LocationFactory(code="LJ-SP-01")
    order = make_order(mode="pickup", pickup_location=store)
    user = user_by_role[role]
    if role == Role.STORE_STAFF:
        assign_perm("inventory.work_at_location", user, store)
    if role == Role.MANAGER:
        assign_perm("orders.manage_channel", user, order.channel)
    response = _login(client, user).get(reverse("orders:detail", args=[order.number]))
    assert response.status_code == 200
    assert order.number in response.content.decode()
    # Store staff may read but not act: no buttons.
    assert ('data-testid="order-actions"' in response.content.decode()) is (role != Role.STORE_STAFF)


def test_store_user_gets_404_for_an_order_outside_its_store(client, store_user, make_order):
    mine, other = LocationFactory(code="LJ-SP-01"), LocationFactory(code="LJ-RJ-01")
    assign_perm("inventory.work_at_location", store_user, mine)
    order = make_order(mode="pickup", pickup_location=other)
    client = _login(client, store_user)
    assert client.get(reverse("orders:detail", args=[order.number])).status_code == 404
    assert (
        client.post(reverse("orders:action", args=[order.number, "note"]), {"text": "x"}).status_code == 404
    )
    assert client.get(reverse("orders:detail", args=["99999999"])).status_code == 404


def test_store_user_may_not_act_on_its_own_store_order(client, store_user, make_order):
    store = LocationFactory(code="LJ-SP-01")
    assign_perm("inventory.work_at_location", store_user, store)
    order = make_order(mode="pickup", pickup_location=store)
    response = _login(client, store_user).post(
        reverse("orders:action", args=[order.number, "cancel"]), {"reason": "x", "confirm": "on"}
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_ROUTING


# --- actions ----------------------------------------------------------------------------------------------


def _act(client, order, action, data=None):
    return client.post(reverse("orders:action", args=[order.number, action]), data or {}, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_add_note_writes_the_timeline(client, cs_user, make_order):
    order = make_order()
    response = _act(_login(client, cs_user), order, "note", {"text": "Cliente ligou pedindo prazo."})
    assert response.status_code == 200
    note = OrderEvent.objects.get(order=order, kind="note")
    assert note.message == "Cliente ligou pedindo prazo." and note.actor == cs_user
    assert "Cliente ligou pedindo prazo." in response.content.decode()


def test_hold_and_release(client, cs_user, make_order):
    order = make_order()
    client = _login(client, cs_user)
    _act(client, order, "hold", {"reason": "suspeita de fraude"})
    order.refresh_from_db()
    assert order.status == OrderStatus.ON_HOLD
    assert OrderEvent.objects.filter(order=order, kind="hold", actor=cs_user).exists()
    response = _act(client, order, "release")
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_ROUTING
    assert OrderEvent.objects.filter(order=order, kind="release", actor=cs_user).exists()
    assert [m.level_tag for m in response.context["messages"]] == ["success"]


def test_cancel_needs_confirmation_then_cancels_and_releases_stock(client, cs_user, make_order):
    store = LocationFactory(code="LJ-SP-01")
    stock = StockFactory(location=store, on_hand=5)
    order = make_order(lines=[LineData(product=stock.product, qty=2, unit_price=Decimal("10.00"))])
    stock_reserve(location=store, product=stock.product, qty=2, ref="fl:1", group=order.number)
    client = _login(client, cs_user)
    response = _act(client, order, "cancel", {"reason": "cliente desistiu"})
    assert response.status_code == 400
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_ROUTING
    _act(client, order, "cancel", {"reason": "cliente desistiu", "confirm": "on"})
    order.refresh_from_db()
    stock.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert stock.reserved == 0
    assert OrderEvent.objects.get(order=order, kind="cancelled").data["reason"] == "cliente desistiu"
    assert not Reservation.objects.filter(group=order.number, qty__gt=0).exists()


def test_refused_cancel_of_a_shipped_order_shows_a_message_and_changes_nothing(client, cs_user, make_order):
    order = make_order()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED)
    events = OrderEvent.objects.filter(order=order).count()
    response = _act(_login(client, cs_user), order, "cancel", {"reason": "tarde demais", "confirm": "on"})
    assert response.status_code == 200
    assert any("não pode mais ser cancelado" in m for m in _messages(response))  # pt-BR page
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED
    assert OrderEvent.objects.filter(order=order).count() == events
    # A shipped order offers no cancel, hold or address change.
    allowed = response.context["allowed"]
    assert not allowed["cancel"] and not allowed["hold"] and not allowed["address"] and allowed["note"]


def test_change_address_validates_the_cep_and_writes_the_timeline(client, cs_user, make_order):
    order = make_order()
    client = _login(client, cs_user)
    new = {
        "cep": "20040-002",
        "street": "Av. Rio Branco",
        "number": "1",
        "complement": "",
        "district": "Centro",
        "city": "Rio de Janeiro",
        "state": "rj",
    }
    response = _act(client, order, "address", {**new, "cep": "123"})
    assert response.status_code == 400
    assert list(response.context["address_form"].errors) == ["cep"]
    assert response.context["open_action"] == "address"
    order.refresh_from_db()
    assert order.ship_cep == "01310200"
    _act(client, order, "address", new)
    order.refresh_from_db()
    assert (order.ship_cep, order.ship_city, order.ship_state) == ("20040002", "Rio de Janeiro", "RJ")
    assert order.ship_lat is not None and order.ship_lat < -22  # placed in Rio from its CEP
    assert OrderEvent.objects.filter(order=order, kind="address", actor=cs_user).exists()


def test_change_address_refuses_a_state_that_is_not_a_brazilian_uf(client, cs_user, make_order):
    order = make_order()
    client = _login(client, cs_user)
    events = OrderEvent.objects.filter(order=order).count()
    new = {"cep": "20040-002", "street": "Av. Rio Branco", "number": "1", "complement": "",
           "district": "Centro", "city": "Rio de Janeiro", "state": "ZZ"}  # fmt: skip
    response = _act(client, order, "address", new)
    assert response.status_code == 400
    errors = response.context["address_form"].errors
    assert list(errors) == ["state"] and "(UF)" in errors["state"][0]  # in the page's language
    order.refresh_from_db()
    assert (order.ship_state, order.ship_cep) == ("SP", "01310200")
    assert OrderEvent.objects.filter(order=order).count() == events


def test_an_address_changed_on_hold_is_routed_again_on_release_from_the_page(
    client, cs_user, routing_world, monkeypatch, django_capture_on_commit_callbacks
):
    from routing.services.live import order_route

    sent: list[tuple[str, tuple]] = []
    monkeypatch.setattr("oms.queue.send_task_now", lambda name, *args, **kw: sent.append((name, args)))
    w = routing_world
    w.stock(w.paulista, w.shirt, 5)
    w.stock(w.rio, w.shirt, 5)
    order = w.make_order([(w.shirt, 1)])
    order_route(order_id=order.pk)
    client = _login(client, cs_user)
    _act(client, order, "hold", {"reason": "customer is moving"})
    rio = {"cep": "22021-001", "street": "Av. Atlântica", "number": "1702", "complement": "",
           "district": "Copacabana", "city": "Rio de Janeiro", "state": "RJ"}  # fmt: skip
    _act(client, order, "address", rio)
    with django_capture_on_commit_callbacks(execute=True):
        response = _act(client, order, "release")
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.AWAITING_ROUTING and sent == [("routing.route_order", (order.pk,))]
    assert not Fulfilment.objects.filter(order=order).exclude(status="cancelled").exists()
    assert "routed again" in order.events.get(kind="release").message
    order_route(order_id=order.pk)
    assert Fulfilment.objects.exclude(status="cancelled").get(order=order).location == w.rio


def test_unknown_action_is_404_and_get_is_refused(client, cs_user, make_order):
    order = make_order()
    client = _login(client, cs_user)
    assert client.post(reverse("orders:action", args=[order.number, "explode"])).status_code == 404
    assert client.get(reverse("orders:action", args=[order.number, "note"])).status_code == 405
