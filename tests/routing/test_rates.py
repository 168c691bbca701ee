"""Rate cards: CSV import (all or nothing, errors by row and column) and their effect on routing prices."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import translation

from oms.models import AuditEvent
from routing.models import RateCard
from routing.services.live import order_route
from routing.services.rates import RateImportError, decode_upload, parse_rate_rows, rate_cards_import

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    """Errors are asserted in English (the default language is pt-BR; one test reads them in pt-BR)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


GOOD = """service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days
express,01000-000,05999-999,0,1000,"14,90",1
express,01000000,05999999,1001,5000,22.50,1
economy,01000000,19999999,0,30000,9.00,4
"""


def test_good_file_is_imported_and_replaces_previous_rows(routing_defaults, admin_user):
    result = rate_cards_import(lines=GOOD.splitlines(keepends=True), by=admin_user)
    assert result.created == 3 and result.services == ["economy", "express"]
    row = RateCard.objects.get(service__code="express", weight_from_g=0)
    assert (row.cep_from, row.cep_to, row.price, row.transit_days) == (
        "01000000",
        "05999999",
        Decimal("14.90"),
        1,
    )
    again = rate_cards_import(lines=GOOD.splitlines(keepends=True), by=admin_user)
    assert again.replaced == 3 and RateCard.objects.count() == 3
    assert AuditEvent.objects.filter(action="routing.rates_import").count() == 2


def test_bad_rows_are_named_by_row_and_column_and_nothing_is_imported(routing_defaults):
    bad = (
        "service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days\n"
        "express,01000000,05999999,0,1000,14.90,1\n"
        "teleport,01000000,05999999,0,1000,14.90,1\n"
        "express,0100,05999999,500,100,abc,-1\n"
    )
    with pytest.raises(RateImportError) as err:
        rate_cards_import(lines=bad.splitlines(keepends=True))
    errors = err.value.errors
    assert any(e.startswith("row 3, column service") for e in errors)
    assert any(e.startswith("row 4, column cep_from") for e in errors)
    assert any(e.startswith("row 4, column weight_to_g") for e in errors)
    assert any(e.startswith("row 4, column price") for e in errors)
    assert any(e.startswith("row 4, column transit_days") for e in errors)
    assert not RateCard.objects.exists()


def test_missing_column_is_named(routing_defaults):
    with pytest.raises(RateImportError) as err:
        rate_cards_import(lines=["service,cep_from,cep_to,price\n", "express,1,2,3\n"])
    assert "row 1 (header): missing column weight_from_g" in err.value.errors


def test_command_imports_and_reports_errors(routing_defaults, tmp_path, capsys):
    good = tmp_path / "rates.csv"
    good.write_text(GOOD.replace(",", ";").replace('"14;90"', "14,90"), encoding="utf-8")
    call_command("import_rates", str(good))
    assert RateCard.objects.count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days\nx,1,2,3,4,5,6\n")
    with pytest.raises(CommandError):
        call_command("import_rates", str(bad))
    assert "row 2, column service" in capsys.readouterr().err
    assert RateCard.objects.count() == 3


def test_admin_upload_form(client, admin_user, routing_defaults):
    client.force_login(admin_user)
    url = "/admin/routing/ratecard/import/"
    assert client.get(url).status_code == 200
    resp = client.post(url, {"file": SimpleUploadedFile("r.csv", GOOD.encode()), "replace": "on"})
    assert resp.status_code == 302 and RateCard.objects.count() == 3
    bad = b"service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days\nexpress,1,2,3,4,5,6\n"
    resp = client.post(url, {"file": SimpleUploadedFile("b.csv", bad)})
    assert resp.status_code == 200 and "row 2, column cep_from" in resp.content.decode()


def test_rate_card_price_overrides_the_linear_model(routing_world):
    w = routing_world
    w.stock(w.dc, w.shirt, 10)
    rate_cards_import(
        lines=[
            "service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days\n",
            "economy,01000000,01999999,0,30000,1.00,1\n",
        ]
    )
    order = w.make_order([(w.shirt, 1)], deadline_days=5)
    decision = order_route(order_id=order.pk)
    pkg = decision.plan["packages"][0]
    assert pkg["service"] == "economy" and pkg["rate_card"] is True
    assert pkg["shipping"] == pytest.approx(1.00)


HEADER = "service,cep_from,cep_to,weight_from_g,weight_to_g,price,transit_days"
UNREADABLE = {
    # a random binary file (an image, a spreadsheet's own format): NUL bytes and stray CRs
    "binary": random.Random(7).randbytes(4096),
    # one field past the csv module's 131,072-character limit
    "huge field": (HEADER + "\nexpress," + "9" * 140_000 + ",05999999,0,1000,14.90,1\n").encode(),
}


def _cr_only() -> bytes:
    return GOOD.replace("\n", "\r").encode("latin-1")


def test_cr_only_line_endings_are_read_as_lines(routing_defaults):
    result = rate_cards_import(lines=decode_upload(_cr_only()))
    assert result.created == 3 and RateCard.objects.count() == 3


def test_crlf_line_endings_are_read_as_lines(routing_defaults):
    result = rate_cards_import(lines=decode_upload(GOOD.replace("\n", "\r\n").encode()))
    assert result.created == 3


@pytest.mark.parametrize("name", ["binary", "huge field"])
def test_unreadable_file_is_refused_with_the_problem_named(routing_defaults, name):
    rate_cards_import(lines=GOOD.splitlines(keepends=True))
    with pytest.raises(RateImportError) as err:
        rate_cards_import(lines=decode_upload(UNREADABLE[name]))
    message = " ".join(err.value.errors)
    assert ("binary data" in message) if name == "binary" else ("field larger than field limit" in message)
    assert RateCard.objects.count() == 3
    assert AuditEvent.objects.filter(action="routing.rates_import").count() == 1


def test_csv_error_is_an_error_naming_the_line_not_an_exception(routing_defaults):
    rows, errors = parse_rate_rows([HEADER + "\n", "express,01000000,05999999,0,1000,14\r.90,1\n"])
    assert rows == []
    assert len(errors) == 1 and errors[0].startswith("line 2: the file cannot be read as CSV")


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_admin_upload_of_an_unreadable_file_is_a_form_error(client, admin_user, routing_defaults, name):
    client.force_login(admin_user)
    url = "/admin/routing/ratecard/import/"
    resp = client.post(url, {"file": SimpleUploadedFile("r.csv", UNREADABLE[name]), "replace": "on"})
    assert resp.status_code == 200
    assert 'data-testid="import-errors"' in resp.content.decode()
    assert not RateCard.objects.exists()
    assert not AuditEvent.objects.filter(action="routing.rates_import").exists()


def test_admin_upload_of_a_cr_only_file(client, admin_user, routing_defaults):
    client.force_login(admin_user)
    resp = client.post("/admin/routing/ratecard/import/", {"file": SimpleUploadedFile("r.csv", _cr_only())})
    assert resp.status_code == 302 and RateCard.objects.count() == 3


@pytest.mark.parametrize("name", sorted(UNREADABLE))
def test_command_refuses_an_unreadable_file_with_a_command_error(routing_defaults, tmp_path, capsys, name):
    path = tmp_path / "rates.csv"
    path.write_bytes(UNREADABLE[name])
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import_rates", str(path))
    assert capsys.readouterr().err.strip()
    assert not RateCard.objects.exists()


def test_command_reads_a_cr_only_file(routing_defaults, tmp_path):
    path = tmp_path / "rates.csv"
    path.write_bytes(_cr_only())
    call_command("import_rates", str(path))
    assert RateCard.objects.count() == 3


def test_the_admin_says_how_many_rows_it_imported_in_the_singular_and_the_plural(
    client, admin_user, routing_defaults
):
    client.force_login(admin_user)
    url = "/admin/routing/ratecard/import/"
    one = f"{HEADER}\neconomy,01000000,19999999,0,30000,9.00,4\n".encode()
    with translation.override("en"):  # and back to the default language after the English requests
        resp = client.post(
            url, {"file": SimpleUploadedFile("r.csv", one)}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
        )
        assert "Imported 1 rate row for economy." in resp.content.decode()
        resp = client.post(
            url, {"file": SimpleUploadedFile("r.csv", GOOD.encode())}, follow=True, HTTP_ACCEPT_LANGUAGE="en"
        )
    assert "Imported 3 rate rows for economy, express." in resp.content.decode()


BAD_ROWS = (
    f"{HEADER}\n"
    "teleport,01000000,05999999,0,1000,14.90,1\n"
    "express,0100,01000000,500,100,abc,-1\n"
    "express,05999999,01000000,0,1000,14.90,1\n"
)


def test_import_errors_speak_portuguese(routing_defaults):
    with translation.override("pt-br"), pytest.raises(RateImportError) as err:
        rate_cards_import(lines=BAD_ROWS.splitlines(keepends=True))
    assert err.value.errors == [
        "linha 2, coluna service: código de serviço de transporte desconhecido ('teleport')",
        "linha 3, coluna cep_from: o CEP tem 8 dígitos ('0100')",
        "linha 3, coluna weight_to_g: não pode ser menor que weight_from_g ('100')",
        "linha 3, coluna price: um valor em reais não negativo, como 12,50 ('abc')",
        "linha 3, coluna transit_days: dias inteiros de 0 a 90 ('-1')",
        "linha 4, coluna cep_to: não pode ser anterior a cep_from ('01000000')",
    ]
    with translation.override("pt-br"):
        assert parse_rate_rows(["service,cep_from\n"])[1][0] == "linha 1 (cabeçalho): falta a coluna cep_to"
        with pytest.raises(RateImportError, match=r"^o arquivo não é um CSV de texto"):
            decode_upload(UNREADABLE["binary"])
        with pytest.raises(RateImportError, match=r"^o arquivo não tem linhas de tabela de frete$"):
            rate_cards_import(lines=[f"{HEADER}\n"])
    assert not RateCard.objects.exists()


def test_import_errors_in_english(routing_defaults):
    with pytest.raises(RateImportError) as err:
        rate_cards_import(lines=BAD_ROWS.splitlines(keepends=True))
    assert err.value.errors[0] == "row 2, column service: unknown carrier service code ('teleport')"
    assert "row 3, column weight_to_g: must not be below weight_from_g ('100')" in err.value.errors
    assert "row 3, column price: a non-negative amount in BRL, like 12.50 ('abc')" in err.value.errors


def test_more_than_twenty_errors_are_counted_in_the_message(routing_defaults):
    lines = [f"{HEADER}\n", *["teleport,01000000,05999999,0,1000,14.90,1\n"] * 23]
    with pytest.raises(RateImportError) as err:
        rate_cards_import(lines=lines)
    assert err.value.message.endswith("('teleport') (and 3 more)")
    with translation.override("pt-br"), pytest.raises(RateImportError) as err:
        rate_cards_import(lines=lines)
    assert err.value.message.endswith("('teleport') (e mais 3)")


def test_the_admin_shows_import_errors_in_the_readers_language(client, admin_user, routing_defaults):
    client.force_login(admin_user)
    url = "/admin/routing/ratecard/import/"
    bad = f"{HEADER}\nteleport,01000000,05999999,0,1000,14.90,1\n".encode()
    resp = client.post(url, {"file": SimpleUploadedFile("b.csv", bad)}, HTTP_ACCEPT_LANGUAGE="pt-br")
    assert "linha 2, coluna service: código de serviço de transporte desconhecido" in resp.content.decode()
    assert not RateCard.objects.exists()
