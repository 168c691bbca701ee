"""Keyset pagination for server-rendered lists: "next" links after the last row shown, fetching one row more
than the page, so no count(*) runs and a page costs the same on ten rows or ten million.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest


@dataclass(frozen=True)
class KeysetPage:
    items: list[Any]
    next_cursor: str  # "" on the last page
    first: bool  # no cursor was given (or it was unreadable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, int | str):
        return value
    return str(value)


def _encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_jsonable(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, size: int) -> list[Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    if not isinstance(values, list) or len(values) != size:
        return None
    return values


def _attribute(obj: Model, path: str) -> Any:
    value: Any = obj
    for part in path.split("__"):
        value = getattr(value, part)
    return value


def keyset_page(queryset: QuerySet[Any], *, ordering: Sequence[str], cursor: str, size: int) -> KeysetPage:
    """One page of `queryset` in `ordering`, starting after the row `cursor` names.

    Every field of `ordering` runs in the same direction and the last one is unique (the pk), so the
    order is total. Fetches `size + 1` rows to know whether there is a next page; never counts. An
    unreadable cursor gives the first page (never an error).
    """
    descending = ordering[0].startswith("-")
    fields = [name.lstrip("-") for name in ordering]
    ordered = queryset.order_by(*ordering)
    values = _decode_cursor(cursor, len(fields))
    page = ordered
    if values is not None:
        op = "lt" if descending else "gt"
        after = Q()
        for i, name in enumerate(fields):
            equal = {fields[j]: values[j] for j in range(i)}
            after |= Q(**equal, **{f"{name}__{op}": values[i]})
        try:
            # The leading-column bound (<= / >=) lets the database range-scan the index on that column.
            page = ordered.filter(Q(**{f"{fields[0]}__{op}e": values[0]}) & after)
        except (ValidationError, ValueError, TypeError):
            values, page = None, ordered
    rows = list(page[: size + 1])
    next_cursor = ""
    if len(rows) > size:
        next_cursor = _encode_cursor([_attribute(rows[size - 1], name) for name in fields])
    return KeysetPage(rows[:size], next_cursor, values is None)


def next_page_query(request: HttpRequest, cursor: str, *, param: str = "after") -> str:
    """The current query string with the page cursor replaced: the "next" link keeps every filter."""
    if not cursor:
        return ""
    params = request.GET.copy()
    params[param] = cursor
    return params.urlencode()


def first_page_query(request: HttpRequest, *, param: str = "after") -> str:
    """The current query string without the page cursor."""
    params = request.GET.copy()
    params.pop(param, None)
    return params.urlencode()


def wants_partial(request: HttpRequest) -> bool:
    """An HTMX refresh of the results (not a history restore, which needs the whole page)."""
    htmx = getattr(request, "htmx", None)
    return htmx is not None and bool(htmx) and not htmx.history_restore_request
