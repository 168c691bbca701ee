"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections, transaction

# Commit without waiting for the disk (PostgreSQL's `synchronous_commit = off`, for one transaction).
#
# A transaction that commits this way is visible and its locks are released as soon as its commit record is in
# the WAL buffers; the flush follows within 3 x `wal_writer_delay` (600 ms by default). A crash of PostgreSQL
# (not of the application) in that window loses such transactions *whole*, never half of one, and never
# anything a later synchronous commit saw: that commit flushes the WAL up to itself. Use it only for work the
# system redoes on its own when it is lost. Reservations made while routing are that work: the order they
# serve stays "awaiting routing" until the routing transaction commits, and `routing.route_pending` routes
# any order left there. What it buys is a hot row that is not held through a disk flush (3 ms here), which
# is what limits one SKU's reservations per second, not the CPU.
ASYNC_COMMIT_SQL = "SET LOCAL synchronous_commit TO off"
# The same, as an expression for a statement that is its own (implicit) transaction: set_config(..., true)
# lasts until that transaction ends, right after the statement.
ASYNC_COMMIT_EXPR = "set_config('synchronous_commit', 'off', true)"


def commit_async(using: str = DEFAULT_DB_ALIAS) -> None:
    """Let the current transaction commit without waiting for its WAL flush (PostgreSQL; nothing elsewhere).

    Call it inside `transaction.atomic`; it lasts until that transaction ends.
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(ASYNC_COMMIT_SQL)


def now_and_on_commit(forget: Callable[[], object]) -> None:
    """Run `forget` (drop or rewrite a cache entry) now and again once the current transaction commits.

    Now, so this transaction does not read the old entry; after commit, because another process may have
    cached the old rows in between, before the change was visible to it.
    """
    forget()
    transaction.on_commit(forget)
