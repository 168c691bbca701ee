"""CSV exports streamed row by row: constant memory whatever the number of rows, no page limit."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse

# A spreadsheet reads a cell starting with one of these as a formula (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like sink for csv.writer that hands each formatted row back instead of keeping it."""

    def write(self, value: str) -> str:
        return value


def safe_cell(value: Any) -> Any:
    """`value` as a spreadsheet should show it: text that a spreadsheet would run as a formula (a demand
    event named "=HYPERLINK(…)") is prefixed with a quote, as OWASP advises. Numbers are left alone: -3 is a
    number, not a formula."""
    if value is None or isinstance(value, (int, float, Decimal)):
        return value
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, filename: str
) -> StreamingHttpResponse:
    """A download of `header` and then `rows` (any iterable, consumed as the response is sent). Text cells
    are made safe for spreadsheets (`safe_cell`); the file starts with a UTF-8 byte order mark, so that Excel
    (in pt-BR too) reads accented names right."""
    writer = csv.writer(_Echo())

    def lines() -> Iterable[str]:
        yield "\ufeff"
        yield writer.writerow([safe_cell(v) for v in header])
        for row in rows:
            yield writer.writerow([safe_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
