"""Rate cards: CSV import (all or nothing, errors by row and column) and their effect on routing prices."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from oms.models import AuditEvent
from routing.models import RateCard
from routing.services.live import order_route
from routing.services.rates import RateImportError, rate_cards_import

pytestmark = pytest.mark.django_db

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
