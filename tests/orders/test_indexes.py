"""Every index is paid on every insert: none of the tables written per order keeps one twice."""

from __future__ import annotations

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

HOT_TABLES = ["orders_order", "orders_orderline", "orders_orderevent", "orders_customer"]


def _indexes(table: str) -> list[tuple[str, tuple[str, ...], bool, bool]]:
    """(name, (column:opclass, ...), unique, partial or on an expression) of each index of `table`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text,
                   array(SELECT a.attname || ':' || o.opcname
                         FROM unnest(i.indkey::int2[], i.indclass::oid[])
                              WITH ORDINALITY AS k(attnum, opclass, n)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                         JOIN pg_opclass o ON o.oid = k.opclass ORDER BY k.n),
                   i.indisunique, i.indpred IS NOT NULL OR i.indexprs IS NOT NULL
            FROM pg_index i WHERE i.indrelid = %s::regclass
            """,
            [table],
        )
        return [
            (name, tuple(columns), unique, special) for name, columns, unique, special in cursor.fetchall()
        ]


@pytest.mark.parametrize("table", HOT_TABLES)
def test_no_plain_index_is_the_leading_part_of_another(table):
    indexes = _indexes(table)
    twice = [
        (name, other)
        for name, columns, unique, special in indexes
        if not unique and not special
        for other, other_columns, _, other_special in indexes
        if other != name and not other_special and other_columns[: len(columns)] == columns
    ]
    assert twice == []


# The one prefix search of these tables (the customer name on the order) has its own expression index.
PREFIX_SEARCHED = {"order_customer_name_prefix_idx"}


@pytest.mark.parametrize("table", HOT_TABLES)
def test_no_pattern_ops_index_where_nothing_is_searched_by_prefix(table):
    """A `LIKE 'abc%'` index is written on every insert; only a column searched by prefix earns one."""
    pattern = [
        name
        for name, columns, _unique, _special in _indexes(table)
        if any(column.endswith("_pattern_ops") for column in columns) and name not in PREFIX_SEARCHED
    ]
    assert pattern == []
