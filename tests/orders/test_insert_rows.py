"""oms.db: plain rows in one statement (insert_rows, insert_many, with the model's defaults, JSON and nulls),
ids drawn beforehand (draw_ids) and instances read by key without the ORM's compiler (fetch_in)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory.models import Product
from oms.db import build, draw_ids, fetch_in, fetch_in_drawing, insert_many, insert_rows
from orders.models import Customer, LineStatus, OrderEvent, OrderLine
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_rows_go_in_with_one_statement_and_the_defaults(make_order):
    order = make_order()
    product = ProductFactory(sku="DB-SKU-1")
    before = timezone.now()
    with CaptureQueriesContext(connection) as ctx:
        insert_rows(
            OrderLine,
            [
                {"order_id": order.pk, "line_no": 7, "product_id": product.pk, "sku": product.sku, "qty": 3,
                 "unit_price": Decimal("12.34")},
                {"order_id": order.pk, "line_no": 8, "product_id": product.pk, "sku": product.sku, "qty": 1,
                 "unit_price": Decimal("0.00"), "status": LineStatus.CANCELLED},
            ],
        )  # fmt: skip
        insert_rows(
            OrderEvent,
            [
                {"order_id": order.pk, "kind": "note", "message": "Olá, ção", "data": {"n": 1, "s": "é"}},
                {"order_id": order.pk, "kind": "note", "message": "no data", "actor_id": None},
            ],
        )
    assert len(ctx.captured_queries) == 2
    seven, eight = OrderLine.objects.filter(order=order, line_no__in=[7, 8]).order_by("line_no")
    assert (seven.qty, seven.unit_price, seven.status) == (3, Decimal("12.34"), LineStatus.PENDING)
    assert eight.status == LineStatus.CANCELLED
    notes = list(OrderEvent.objects.filter(order=order, kind="note").order_by("pk"))
    assert [(e.message, e.data, e.actor_id) for e in notes] == [("Olá, ção", {"n": 1, "s": "é"}, None),
                                                                ("no data", {}, None)]  # fmt: skip
    assert all(before <= e.at <= timezone.now() + dt.timedelta(seconds=1) for e in notes)


def test_nothing_to_insert_runs_nothing():
    with CaptureQueriesContext(connection) as ctx:
        insert_rows(OrderLine, [])
    assert ctx.captured_queries == []


def test_insert_many_is_one_statement_and_all_or_nothing(make_order):
    """Rows of several tables in one statement; a refused row in the last table leaves none of them."""
    order = make_order()
    product = ProductFactory(sku="DB-SKU-2")
    ids = draw_ids({Customer: 1})
    customer = {
        "id": ids[Customer][0],
        "name": "Nova",
        "email": "nova@example.com",
        "document": "",
        "phone": "",
    }
    line = {"order_id": order.pk, "line_no": 9, "product_id": product.pk, "sku": product.sku, "qty": 1,
            "unit_price": Decimal("1.00")}  # fmt: skip
    with CaptureQueriesContext(connection) as ctx:
        insert_many([(Customer, [customer]), (OrderLine, [line])])
    assert len(ctx.captured_queries) == 1
    assert Customer.objects.get(pk=customer["id"]).name == "Nova"
    assert OrderLine.objects.filter(order=order, line_no=9).exists()
    second = {**customer, "id": draw_ids({Customer: 1})[Customer][0], "name": "Outra"}
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many([(Customer, [second]), (OrderLine, [line])])  # line 9 again: orderline_unique_no
    assert not Customer.objects.filter(pk=second["id"]).exists()


def test_updates_go_in_the_same_statement_and_touch_only_their_fields_and_rows(make_order):
    """Rows updated by key (only the fields named) before the inserts, in the one statement; a refused insert
    undoes the updates too."""
    order = make_order()
    product = ProductFactory(sku="DB-SKU-3")
    first, second, third = (
        OrderLine.objects.create(order=order, line_no=n, product=product, sku=product.sku, qty=n,
                                 unit_price=Decimal("2.50"))
        for n in (11, 12, 13)
    )  # fmt: skip
    event = {"order_id": order.pk, "kind": "note", "message": "updated"}
    updates = [
        (OrderLine, ["status"], [{"id": first.pk, "status": LineStatus.ALLOCATED, "qty": 99},
                                 {"id": second.pk, "status": LineStatus.BACKORDERED}]),
    ]  # fmt: skip
    with CaptureQueriesContext(connection) as ctx:
        insert_many([(OrderEvent, [event])], updates=updates)
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    rows = {line.pk: line for line in OrderLine.objects.filter(order=order, line_no__gte=11)}
    assert rows[first.pk].status == LineStatus.ALLOCATED and rows[first.pk].qty == 11  # qty was not named
    assert rows[second.pk].status == LineStatus.BACKORDERED
    assert rows[third.pk].status == third.status  # not in the rows
    assert OrderEvent.objects.filter(order=order, message="updated").exists()
    again = [(OrderLine, ["status"], [{"id": third.pk, "status": LineStatus.CANCELLED}])]
    clash = {"order_id": order.pk, "line_no": 11, "product_id": product.pk, "sku": product.sku, "qty": 1,
             "unit_price": Decimal("1.00")}  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many([(OrderLine, [clash])], updates=again)
    third.refresh_from_db()
    assert third.status != LineStatus.CANCELLED


def test_draw_ids_draws_distinct_ids_from_each_sequence():
    ids = draw_ids({Customer: 3, OrderLine: 2, OrderEvent: 0})
    assert len(set(ids[Customer])) == 3 and len(set(ids[OrderLine])) == 2
    assert OrderEvent not in ids


def test_fetch_in_builds_the_same_instances_as_the_orm():
    ProductFactory(sku="DB-A", price=Decimal("10.50"), active=True)
    ProductFactory(sku="DB-B", price=Decimal("0.99"), active=False)
    ProductFactory(sku="DB-C")
    with CaptureQueriesContext(connection) as ctx:
        fetched = fetch_in(Product, "sku", ["DB-A", "DB-B", "nope"], where="active", order_by="sku")
        assert fetch_in(Product, "sku", []) == []
    assert len(ctx.captured_queries) == 1
    [a] = fetched
    orm = Product.objects.get(sku="DB-A")
    assert a == orm and not a._state.adding
    assert {f.attname: getattr(a, f.attname) for f in Product._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in Product._meta.concrete_fields
    }
    assert [p.sku for p in fetch_in(Product, "sku", ["DB-C", "DB-A", "DB-B"], order_by="sku DESC")] == [
        "DB-C", "DB-B", "DB-A"
    ]  # fmt: skip


def test_fetch_in_drawing_looks_up_and_draws_in_one_statement():
    ProductFactory(sku="DB-A", price=Decimal("10.50"), active=True)
    ProductFactory(sku="DB-B", active=False)
    with CaptureQueriesContext(connection) as ctx:
        fetched, ids = fetch_in_drawing(Product, "sku", ["DB-A", "DB-B", "nope"], {Customer: 2, OrderLine: 3})
    assert len(ctx.captured_queries) == 1
    assert sorted(p.sku for p in fetched) == ["DB-A", "DB-B"]
    [a] = [p for p in fetched if p.sku == "DB-A"]
    orm = Product.objects.get(sku="DB-A")
    assert {f.attname: getattr(a, f.attname) for f in Product._meta.concrete_fields} == {
        f.attname: getattr(orm, f.attname) for f in Product._meta.concrete_fields
    }
    assert len(set(ids[Customer])) == 2 and len(set(ids[OrderLine])) == 3
    later = draw_ids({Customer: 1})[Customer][0]
    assert later > max(ids[Customer])  # drawn from the sequence, never given again
    # nothing found, or nothing to look up: the ids all the same
    fetched, ids = fetch_in_drawing(Product, "sku", ["nope"], {Customer: 1}, where="active")
    assert fetched == [] and len(ids[Customer]) == 1
    fetched, ids = fetch_in_drawing(Product, "sku", [], {Customer: 2})
    assert fetched == [] and len(ids[Customer]) == 2


def test_build_makes_the_same_instance_as_keyword_arguments(make_order):
    """Positional construction (oms.db.build): every field as the ORM's keyword construction sets it,
    related instances cached (an unsaved one too), defaults filled, still to be added; an unknown field is
    refused."""
    from orders.models import Order

    existing = make_order()
    customer = Customer(name="Sem chave")  # not saved yet: no key
    values = {
        "channel": existing.channel,
        "external_ref": "BUILD-1",
        "customer": customer,
        "customer_name": "Sem chave",
        "placed_at": timezone.now(),
        "delivery_mode": "home",
        "deadline_days": 3,
        "ship_cep": "01310200",
        "subtotal": Decimal("10.00"),
        "total": Decimal("10.00"),
    }
    made, expected = build(Order, **values), Order(**values)
    for field in Order._meta.concrete_fields:
        assert getattr(made, field.attname) == getattr(expected, field.attname), field.name
    assert made.channel is existing.channel and made.customer is customer
    assert made._state.adding and made.pk is None
    with pytest.raises(TypeError, match="no field chanel"):
        build(Order, chanel=existing.channel)
