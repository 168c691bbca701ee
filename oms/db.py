"""Database helpers shared by the apps."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import ForeignKey, Model
from django.utils import timezone

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


Rows = Sequence[Mapping[str, Any]]


def model_row(instance: Model) -> dict[str, Any]:
    """A model instance as a plain row for `insert_rows`: every concrete field's attname and value (the
    primary key left out while it has none)."""
    return {
        field.attname: value
        for field in instance._meta.concrete_fields
        if (value := getattr(instance, field.attname)) is not None or not field.primary_key
    }


def build[M: Model](model: type[M], **values: Any) -> M:
    """A new, unsaved instance of `model`: each concrete field from `values` (by attname, or by name with a
    related instance, which is then cached on the new one as the ORM caches it), the others at their default.

    Made positionally, as the ORM makes the rows it reads (`Model.from_db`): keyword arguments go through a
    slower path in `Model.__init__`, twice the time for a model of forty fields, paid per order on every
    create (500 at a time in a bulk import).
    """
    fields = model._meta.concrete_fields
    unknown = set(values).difference(f.attname for f in fields).difference(f.name for f in fields)
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    args: list[Any] = []
    related: list[tuple[Any, Any]] = []
    for field in fields:
        if field.is_relation and field.name in values:
            instance = values[field.name]
            args.append(instance.pk if instance is not None else None)
            related.append((field, instance))
        elif field.attname in values:
            args.append(values[field.attname])
        else:
            args.append(field.get_default())
    made = model(*args)
    for field, instance in related:
        field.set_cached_value(made, instance)
    return made


def assign_ids(
    groups: Sequence[Sequence[Model]],
    *,
    drawn: Mapping[type[Model], Sequence[int]] | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> bool:
    """Give new model instances their primary keys before they are written (by `save_new`), so that other
    rows can name them first: drawn from each model's sequence, every group in one round trip (`draw_ids`),
    or taken from `drawn` (ids drawn earlier, e.g. by `fetch_in_drawing`; at least as many as instances).

    PostgreSQL only: elsewhere there is nothing to draw from, nothing is done and the answer is False (the
    instances get their keys when they are written).
    """
    groups = [list(group) for group in groups if group and group[0].pk is None]
    if drawn is None or any(len(drawn.get(type(g[0]), ())) < len(g) for g in groups):
        drawn = draw_ids({type(group[0]): len(group) for group in groups}, using=using)
    if not drawn:
        return not groups
    for group in groups:
        for instance, pk in zip(group, drawn[type(group[0])], strict=False):
            instance.pk = pk
    return True


Updates = Sequence[tuple[type[Model], Sequence[str], Rows]]


def save_new(
    groups: Sequence[Sequence[Model]],
    *,
    rows: Sequence[tuple[type[Model], Rows]] = (),
    updates: Updates = (),
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Write the new model instances of `groups` (each group one model, parents before their children; those
    already written are skipped) and then plain `rows` (as for `insert_rows`), after the `updates` (as for
    `insert_many`).

    On PostgreSQL as one statement (`insert_many`): each instance's foreign keys are taken from the related
    instances it was built with (give the parents their keys first with `assign_ids`), its `auto_now` fields
    set. Elsewhere: `bulk_create` per group, in order, then the rows (run it in a transaction there).
    """
    pending = [list(group) for group in groups if group and group[0]._state.adding]
    if connections[using].vendor != "postgresql":
        _update_each(updates, using=using)
        for group in pending:
            type(group[0])._default_manager.using(using).bulk_create(group)
        insert_many(rows, using=using)
        return
    now = timezone.now()
    for group in pending:
        for field in group[0]._meta.concrete_fields:
            stamp = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            for instance in group:
                if stamp and getattr(instance, field.attname) is None:
                    setattr(instance, field.attname, now)
                elif (
                    isinstance(field, ForeignKey)
                    and field.is_cached(instance)
                    and (related := field.get_cached_value(instance)) is not None
                ):
                    setattr(instance, field.attname, related.pk)
                    # setting the key drops the cached instance when the key changes (None -> drawn): keep it
                    field.set_cached_value(instance, related)
    insert_many(
        [*((type(g[0]), [model_row(i) for i in g]) for g in pending), *rows], updates=updates, using=using
    )
    for group in pending:
        for instance in group:
            instance._state.adding, instance._state.db = False, using


def insert_rows(model: type[Model], rows: Rows, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert plain rows (field attname -> value) of `model` without building model instances.

    For the bulk writes of hundreds of rows (order lines, timeline entries), where `bulk_create` spends most
    of its time creating instances and preparing every value of every field. On PostgreSQL: one
    `INSERT ... SELECT ... FROM json_populate_recordset(...)` with the rows as one JSON parameter; elsewhere
    `bulk_create`. A field left out of a row takes its default (`auto_now_add`: now); the primary key is
    inserted when every row gives it. Values are column values (ints, strings, decimals, dates and times,
    UUIDs, None; a JSON field's value as it is). No signals are sent, as with `bulk_create`.
    """
    insert_many([(model, rows)], using=using)


def insert_many(
    tables: Sequence[tuple[type[Model], Rows]], *, updates: Updates = (), using: str = DEFAULT_DB_ALIAS
) -> None:
    """`insert_rows` into several tables, in the order given, as *one* statement on PostgreSQL, after
    `updates`: (model, the attnames to set, rows of those values and the primary key), each row setting
    those fields of the row with its key (lock the rows first where the order of locks matters).

    Each update and each table's insert is a data-modifying CTE of the next, so rows that refer to each other
    (an order and its lines, with ids drawn beforehand) go in together in one round trip, and all or nothing
    even outside a transaction: a statement is its own transaction (foreign keys are checked at its end).
    Elsewhere, one `save` per updated row and one `bulk_create` per table (run it in a transaction there).
    """
    tables = [(model, rows) for model, rows in tables if rows]
    updates = [(model, fields, rows) for model, fields, rows in updates if rows]
    if not tables and not updates:
        return
    connection = connections[using]
    if connection.vendor != "postgresql":
        _update_each(updates, using=using)
        for model, rows in tables:
            model._default_manager.using(using).bulk_create([model(**row) for row in rows])
        return
    now = timezone.now()
    parts = [_recordset_update(model, fields, rows, connection) for model, fields, rows in updates]
    parts += [_recordset_insert(model, rows, connection, now) for model, rows in tables]
    *first, (last_sql, _) = parts
    sql = (
        "".join(f"{'WITH' if n == 0 else ','} i{n} AS ({part}) " for n, (part, _) in enumerate(first))
        + last_sql
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _, params in parts for param in params])


def _recordset_insert(model: type[Model], rows: Rows, connection: Any, now: Any) -> tuple[str, list[Any]]:
    """`INSERT INTO <table> (<columns>) SELECT <columns> FROM json_populate_recordset(NULL::<table>, %s)`
    and its one parameter: the rows as a JSON array, every column filled (defaults included).

    One JSON text encoded in C by the json module and parsed in C by PostgreSQL, where an array parameter per
    column would have each of its values adapted one by one in Python by the driver.
    """
    meta = model._meta
    with_pk = all(meta.pk.attname in row for row in rows)
    fields = [f for f in meta.concrete_fields if with_pk or not f.primary_key]
    defaults: dict[str, Any] = {}
    for field in fields:
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            defaults[field.attname] = now
        elif field.has_default():
            defaults[field.attname] = field.get_default()
        else:
            defaults[field.attname] = None
    records = [
        {field.column: row.get(field.attname, defaults[field.attname]) for field in fields} for row in rows
    ]
    quote = connection.ops.quote_name
    table, names = quote(meta.db_table), ", ".join(quote(field.column) for field in fields)
    # Only quoted names from the model's own metadata go into the text; the rows are one parameter.
    sql = f"INSERT INTO {table} ({names}) SELECT {names} FROM json_populate_recordset(NULL::{table}, %s)"  # noqa: S608
    return sql, [_json_rows(records)]


def _recordset_update(
    model: type[Model], fields: Sequence[str], rows: Rows, connection: Any
) -> tuple[str, list[Any]]:
    """`UPDATE <table> SET <col> = v.<col>, ... FROM json_populate_recordset(NULL::<table>, %s) v WHERE
    <table>.<pk> = v.<pk>` and its one parameter (the rows, keyed by column)."""
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    quote = connection.ops.quote_name
    pk = quote(meta.pk.column)
    columns = [quote(by_attname[name].column) for name in fields]
    records = [
        {meta.pk.column: row[meta.pk.attname], **{by_attname[n].column: row[n] for n in fields}}
        for row in rows
    ]
    table = quote(meta.db_table)
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    # Only quoted names from the model's own metadata go into the text; the rows are one parameter.
    sql = (
        f"UPDATE {table} SET {assignments} FROM json_populate_recordset(NULL::{table}, %s) v"  # noqa: S608
        f" WHERE {table}.{pk} = v.{pk}"
    )
    return sql, [_json_rows(records)]


def _update_each(updates: Updates, *, using: str) -> None:
    """`insert_many`'s updates where there is no one statement for them: one UPDATE per row."""
    for model, fields, rows in updates:
        manager = model._default_manager.using(using)
        for row in rows:
            manager.filter(pk=row[model._meta.pk.attname]).update(**{name: row[name] for name in fields})


def _json_rows(records: Sequence[Mapping[Any, Any]]) -> str:
    """Rows keyed by column as the one JSON parameter of `json_populate_recordset`."""
    return json.dumps(records, default=_json_value, ensure_ascii=False, separators=(",", ":"))


def _json_value(value: Any) -> Any:
    """Dates and times as ISO 8601 (to the microsecond, with their offset), decimals and UUIDs as text."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def fetch_in[M: Model](
    model: type[M],
    key: str,
    values: Collection[Any],
    *,
    where: str = "",
    order_by: str = "",
    using: str = DEFAULT_DB_ALIAS,
) -> list[M]:
    """The rows of `model` whose field `key` is one of `values` and for which `where` (SQL over its own
    columns) holds, ordered by `order_by` (SQL), as instances.

    The same instances as the ORM's (every concrete field, through `Model.from_db` and the fields' own
    converters), without its query compiler: on the hot path of an order create, compiling a simple
    `filter(code__in=...)` took three times as long as running it (about 0.4 ms against 0.1). Only for
    plain lookups by key; anything else belongs in the ORM.
    """
    if not values:
        return []
    sql, params = _fetch_in_sql(model, key, values, where=where, using=using)
    if order_by:
        sql += f" ORDER BY {order_by}"
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return [instances[0] for instances in rows_to_instances(cursor.fetchall(), [model], using=using)]


def fetch_in_drawing[M: Model](
    model: type[M],
    key: str,
    values: Collection[Any],
    counts: Mapping[type[Model], int],
    *,
    where: str = "",
    using: str = DEFAULT_DB_ALIAS,
) -> tuple[list[M], dict[type[Model], list[int]]]:
    """`fetch_in(model, key, values, where=where)` (in no particular order) and `draw_ids(counts)` in one
    round trip on PostgreSQL: a create looks its customer up and then needs new keys. Elsewhere the lookup
    alone, and no ids (as `draw_ids`)."""
    connection = connections[using]
    wanted = [(m, n) for m, n in counts.items() if n > 0]
    if connection.vendor != "postgresql" or not wanted or not values:
        return fetch_in(model, key, values, where=where, using=using), draw_ids(counts, using=using)
    width = len(model._meta.concrete_fields)
    # The lookup's rows carry no tag; each drawn id comes in a row of NULL columns with its model's tag.
    sql, params = _fetch_in_sql(
        model, key, values, where=where, using=using, more="NULL::integer, NULL::bigint"
    )
    draws, draw_params = _draw_sql(wanted, lead="NULL, " * width)
    sql = " UNION ALL ".join([sql, *draws])
    ids: dict[type[Model], list[int]] = {m: [] for m, _ in wanted}
    found = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *draw_params])
        for row in cursor.fetchall():
            if row[width] is None:
                found.append(row[:width])
            else:
                ids[wanted[row[width]][0]].append(row[width + 1])
    return [instances[0] for instances in rows_to_instances(found, [model], using=using)], ids


def _fetch_in_sql(
    model: type[Model], key: str, values: Collection[Any], *, where: str, using: str, more: str = ""
) -> tuple[str, list[Any]]:
    """`SELECT <every column>[, <more>] FROM <table> WHERE <key> = ANY(%s) [AND (<where>)]` and its
    parameters."""
    connection = connections[using]
    fields = model._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = columns_of(model, quote(model._meta.db_table), using=using)
    column = quote(next(f.column or f.attname for f in fields if key in (f.name, f.attname)))
    if connection.vendor == "postgresql":
        # one array parameter, however many values: a bulk create looks up 1,500 SKUs, and 1,500 placeholders
        # were parsed by the driver and then by the server on every call
        condition, params = f"{column} = ANY(%s)", [list(values)]
    else:
        condition, params = f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)
    if where:
        condition += f" AND ({where})"
    # Names from the model's metadata and the caller's SQL (never input) go into the text; values are params.
    if more:
        columns += f", {more}"
    return f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {condition}", params  # noqa: S608


@functools.cache
def columns_of(model: type[Model], alias: str, *, using: str = DEFAULT_DB_ALIAS) -> str:
    """`alias."col", ...` for every concrete field of `model`, in field order (for `rows_to_instances`).
    Built once per model and alias: it is part of every key lookup on the create and routing paths."""
    quote = connections[using].ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column or f.attname)}" for f in model._meta.concrete_fields)


def rows_to_instances(
    rows: Sequence[Sequence[Any]], models: Sequence[type[Model]], *, using: str = DEFAULT_DB_ALIAS
) -> list[list[Any]]:
    """Each row (the columns of `models`, one after the other, as `columns_of` lists them, then anything
    else) as the models' instances, made as the ORM makes them (`Model.from_db`, the fields' converters),
    followed by the rest of the row's values."""
    connection = connections[using]
    layout = []
    for model in models:
        fields = model._meta.concrete_fields
        converters = [(i, f.from_db_value) for i, f in enumerate(fields) if hasattr(f, "from_db_value")]
        layout.append((model, [f.attname for f in fields], converters))
    out = []
    for row in rows:
        start, made = 0, []
        for model, names, converters in layout:
            values = list(row[start : start + len(names)])
            for index, convert in converters:
                values[index] = convert(values[index], None, connection)
            made.append(model.from_db(using, names, values))
            start += len(names)
        out.append([*made, *row[start:]])
    return out


def draw_ids(
    counts: Mapping[type[Model], int], *, using: str = DEFAULT_DB_ALIAS
) -> dict[type[Model], list[int]]:
    """New primary keys from each model's id sequence, `counts[model]` of each, in one round trip.

    PostgreSQL only: elsewhere there is no sequence to draw from, and the answer is an empty dict (let the
    database number the rows).
    """
    connection = connections[using]
    wanted = [(model, n) for model, n in counts.items() if n > 0]
    if connection.vendor != "postgresql" or not wanted:
        return {}
    selects, params = _draw_sql(wanted)
    ids: dict[type[Model], list[int]] = {model: [] for model, _ in wanted}
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(selects), params)
        for tag, pk in cursor.fetchall():
            ids[wanted[tag][0]].append(pk)
    return ids


def _draw_sql(wanted: Sequence[tuple[type[Model], int]], *, lead: str = "") -> tuple[list[str], list[Any]]:
    """One `SELECT <lead><tag>, nextval(...) FROM generate_series(1, n)` per (model, n), tagged by position
    (`lead`: columns of our own SQL, never input)."""
    selects: list[str] = []
    params: list[Any] = []
    for tag, (model, n) in enumerate(wanted):
        selects.append(
            f"SELECT {lead}%s, nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)"  # noqa: S608
        )
        params += [tag, model._meta.db_table, model._meta.pk.column, n]
    return selects, params
