"""Filling the bench database once with set-based SQL: shared by the benches that need a large table."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any


def fill_once(
    *,
    count_sql: str,
    params: Sequence[Any] = (),
    wanted: int,
    fill_sql: str,
    tables: Sequence[str],
    what: str,
) -> None:
    """Run `fill_sql` (then ANALYZE `tables`) unless `count_sql` already counts `wanted` rows; a partial fill
    is refused (drop the database and run again)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(count_sql, list(params))
        have = cursor.fetchone()[0]
        if have >= wanted:
            print(f"{have} {what} already there")
            return
        if have:
            raise SystemExit(f"A partial fill of {what} is there; drop the database and run again.")
        start = time.perf_counter()
        cursor.execute(fill_sql)
        for table in tables:
            cursor.execute(f"ANALYZE {table}")
        print(f"filled {wanted} {what} in {time.perf_counter() - start:.0f} s")
