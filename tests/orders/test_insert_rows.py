"""oms.db.insert_rows: plain rows in one statement, with the model's defaults, JSON and nulls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from oms.db import insert_rows
from orders.models import LineStatus, OrderEvent, OrderLine
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
