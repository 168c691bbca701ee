"""Helpers for loading demo data in bulk: batched inserts, and historical timestamps that survive them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connections, models, router

BATCH = 1000


def insert[M: models.Model](model: type[M], rows: Sequence[M], *, ignore_conflicts: bool = False) -> list[M]:
    """bulk_create in batches; the rows come back with their primary keys (PostgreSQL and SQLite ≥ 3.35)."""
    if not rows:
        return []
    return model._default_manager.bulk_create(rows, batch_size=BATCH, ignore_conflicts=ignore_conflicts)


@contextmanager
def historical_timestamps(*model_classes: type[models.Model]) -> Iterator[None]:
    """Inside the block, `auto_now`/`auto_now_add` fields of these models keep the value the caller set.

    The demo writes 90 days of history; without this, every timeline entry, ledger row and order would carry
    the time of the seed run. The caller must then set those fields itself. Not thread-safe: for the seed
    command only.
    """
    saved: list[tuple[Any, bool, bool]] = []
    for model in model_classes:
        for field in model._meta.concrete_fields:
            if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add):
                saved.append((field, field.auto_now, field.auto_now_add))
                field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


def _concrete(model: type[models.Model], name: str) -> tuple[models.Field[Any, Any], str]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column, name
    return field, field.column


def insert_values(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert plain value tuples (one per row, in `columns` order), a thousand rows per INSERT statement: no
    model instances, no per-row SQL compilation and no per-row round trip, for the large append-only tables.
    Values go through each field's `get_db_prep_save`, so datetimes, JSON and foreign keys (given as ids)
    are stored as the ORM would store them."""
    connection = connections[router.db_for_write(model)]
    concrete = [_concrete(model, name) for name in columns]
    fields = [field for field, _ in concrete]
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for _, column in concrete)
    one_row = f"({', '.join(['%s'] * len(fields))})"
    # Table and column names come from the model's metadata, quoted; every value is a parameter.
    head = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES "  # noqa: S608
    total = 0
    batch: list[Any] = []
    with connection.cursor() as cursor:

        def flush() -> None:
            n = len(batch) // len(fields)
            cursor.execute(head + ", ".join([one_row] * n), batch)

        for row in rows:
            batch.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True))
            total += 1
            if total % BATCH == 0:
                flush()
                batch = []
        if batch:
            flush()
    return total


def update_values(model: type[models.Model], column: str, rows: Iterable[tuple[Any, Any]]) -> None:
    """Set one column on many rows, given (value, pk) pairs, with `executemany`."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    pk = model._meta.pk
    assert pk is not None and pk.column
    target = quote(_concrete(model, column)[1])
    sql = f"UPDATE {quote(model._meta.db_table)} SET {target} = %s WHERE {quote(pk.column)} = %s"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, list(rows))
