"""Helpers for loading demo data in bulk: batched inserts, and historical timestamps that survive them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import models

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
