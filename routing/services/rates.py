"""Rate cards: carriers' price and transit tables by CEP range and weight band, imported from CSV.

Columns (header row required, comma or semicolon separated):
    service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days
`service` is a carrier service code; CEPs may be written 01310-200; prices accept 12.50 or 12,50.
A file is checked completely first; any bad value refuses the whole file with every error named by row
and column. By default the rows of the services in the file replace their existing rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from oms.audit import audit_record
from oms.brazil import digits
from oms.exceptions import DomainError

from ..models import CarrierService, RateCard
from .snapshot import network_changed

COLUMNS = ("service", "cep_from", "cep_to", "weight_from_g", "weight_to_g", "price", "transit_days")
MAX_ROWS = 200_000


class RateImportError(DomainError):
    """The file was refused; `errors` lists "row N, column C: what is wrong" for each problem, in the active
    language (the column names are the file's, never translated)."""

    status_code = 400
    code = "rate_import_invalid"

    def __init__(self, errors: list[str]) -> None:
        shown = errors[:20]
        rest = len(errors) - len(shown)
        more = _(" (and %(n)s more)") % {"n": rest} if rest else ""
        super().__init__("; ".join(shown) + more, errors=errors)
        self.errors = errors


@dataclass
class RateImportResult:
    created: int = 0
    replaced: int = 0
    services: list[str] = field(default_factory=list)


def _cep(value: str) -> str | None:
    cep = digits(value)
    return cep if len(cep) == 8 else None


def _int(value: str, low: int, high: int) -> int | None:
    try:
        n = int(value.strip())
    except ValueError:
        return None
    return n if low <= n <= high else None


def _price(value: str) -> Decimal | None:
    raw = value.strip().replace("R$", "").strip()
    if "," in raw:
        raw = raw.replace(".", "").replace(",", ".")
    try:
        price = Decimal(raw)
    except InvalidOperation:
        return None
    if not price.is_finite() or price < 0 or price >= Decimal("100000000"):
        return None
    return price.quantize(Decimal("0.01"))


def parse_rate_rows(lines: Iterable[str]) -> tuple[list[RateCard], list[str]]:
    """Rows ready to save (unsaved RateCard objects) and the list of errors. A file the csv module
    cannot read (a field past its size limit, a stray line break) is one error naming the line, never
    an exception."""
    text = list(lines)
    sample = "".join(text[:5])
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(text, delimiter=delimiter)
    try:
        return _read_rows(reader)
    except csv.Error as exc:
        problem = _("line %(line)s: the file cannot be read as CSV (%(error)s)")
        return [], [problem % {"line": reader.reader.line_num or 1, "error": exc}]


def _read_rows(reader: csv.DictReader[str]) -> tuple[list[RateCard], list[str]]:
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [_("row 1 (header): missing column %(column)s") % {"column": c} for c in missing]
    reader.fieldnames = header
    services = {s.code: s for s in CarrierService.objects.all()}
    rows: list[RateCard] = []
    errors: list[str] = []
    for n, raw in enumerate(reader, start=2):
        if n - 1 > MAX_ROWS:
            errors.append(_("row %(row)s: the file has more than %(max)s rows") % {"row": n, "max": MAX_ROWS})
            break
        rec: dict[str, str] = {k: (v or "").strip() for k, v in raw.items() if k}
        if not any(rec.values()):
            continue

        def bad(column: str, why: str, n: int = n, rec: dict[str, str] = rec) -> None:
            errors.append(
                _("row %(row)s, column %(column)s: %(problem)s (%(value)s)")
                % {"row": n, "column": column, "problem": why, "value": repr(rec.get(column, ""))}
            )

        service = services.get(rec["service"])
        if service is None:
            bad("service", _("unknown carrier service code"))
        cep_from, cep_to = _cep(rec["cep_from"]), _cep(rec["cep_to"])
        if cep_from is None:
            bad("cep_from", _("a CEP has 8 digits"))
        if cep_to is None:
            bad("cep_to", _("a CEP has 8 digits"))
        if cep_from and cep_to and cep_from > cep_to:
            bad("cep_to", _("must not be before %(column)s") % {"column": "cep_from"})
        w_from, w_to = _int(rec["weight_from_g"], 0, 1_000_000), _int(rec["weight_to_g"], 0, 1_000_000)
        grams = _("grams as a whole number from %(low)s to %(high)s") % {"low": 0, "high": 1_000_000}
        if w_from is None:
            bad("weight_from_g", grams)
        if w_to is None:
            bad("weight_to_g", grams)
        if w_from is not None and w_to is not None and w_from > w_to:
            bad("weight_to_g", _("must not be below %(column)s") % {"column": "weight_from_g"})
        price = _price(rec["price"])
        if price is None:
            bad("price", _("a non-negative amount in BRL, like 12.50"))
        days = _int(rec["transit_days"], 0, 90)
        if days is None:
            bad("transit_days", _("whole days from %(low)s to %(high)s") % {"low": 0, "high": 90})
        if (
            service is not None
            and cep_from
            and cep_to
            and w_from is not None
            and w_to is not None
            and price is not None
            and days is not None
        ):
            rows.append(
                RateCard(
                    service=service,
                    cep_from=cep_from,
                    cep_to=cep_to,
                    weight_from_g=w_from,
                    weight_to_g=w_to,
                    price=price,
                    transit_days=days,
                )
            )
    return rows, errors


@transaction.atomic
def rate_cards_import(*, lines: Iterable[str], by: Any = None, replace: bool = True) -> RateImportResult:
    """Import a rate-card CSV (see the module doc). All or nothing; raises RateImportError naming every bad
    row and column. With `replace`, the existing rows of the services in the file are deleted first."""
    rows, errors = parse_rate_rows(lines)
    if errors:
        raise RateImportError(errors)
    if not rows:
        raise RateImportError([_("the file has no rate rows")])
    codes = sorted({r.service.code for r in rows})
    result = RateImportResult(services=codes)
    if replace:
        result.replaced, _by_model = RateCard.objects.filter(service__code__in=codes).delete()
    RateCard.objects.bulk_create(rows, batch_size=2000)
    result.created = len(rows)
    audit_record(
        actor=by,
        action="routing.rates_import",
        summary=f"{len(rows)} rate rows for {', '.join(codes)}",
        after={"created": result.created, "replaced": result.replaced, "services": codes},
    )
    network_changed()
    return result


def decode_upload(data: bytes) -> list[str]:
    """The lines of an uploaded CSV (UTF-8, with or without BOM, or Latin-1 as spreadsheets save it), with
    universal newlines: LF, CRLF and the old Macs' lone CR all end a line. Raises RateImportError for a
    file that is not text (a NUL byte: a spreadsheet's binary format, an image)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    if "\x00" in text:
        raise RateImportError([_("the file is not a CSV text file (it holds binary data); save it as CSV")])
    return io.StringIO(text, newline=None).readlines()
