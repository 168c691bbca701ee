"""Phrases stored once and read in each reader's language (`oms.phrases`)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from django.utils import translation

from oms.phrases import (
    choice_arg,
    date_arg,
    english,
    joined,
    money_arg,
    nphrase,
    phrase,
    render,
    render_all,
    sentence,
)
from orders.models import Order, Return


def _in(language: str, item: dict) -> str:
    with translation.override(language):
        return render(item)


def test_a_phrase_is_plain_json_and_reads_in_each_language():
    item = phrase("Order received from %(channel)s (%(ref)s).", channel="Site", ref="A-1")
    assert json.loads(json.dumps(item)) == item  # stored in a JSONField as it is
    assert _in("en", item) == "Order received from Site (A-1)."
    assert _in("pt-br", item) == "Pedido recebido de Site (A-1)."


def test_plurals_follow_the_count_in_each_language():
    one = nphrase("%(n)s reserved unit released.", "%(n)s reserved units released.", 1)
    three = nphrase("%(n)s reserved unit released.", "%(n)s reserved units released.", 3)
    assert (_in("en", one), _in("en", three)) == ("1 reserved unit released.", "3 reserved units released.")
    assert (_in("pt-br", one), _in("pt-br", three)) == (
        "1 unidade reservada liberada.",
        "3 unidades reservadas liberadas.",
    )


def test_arguments_are_rendered_in_the_readers_language_too():
    item = phrase("Now %(status)s.", status=choice_arg(Order, "status", "ready_for_pickup", lower=True))
    assert _in("en", item) == "Now ready for pickup."
    assert _in("pt-br", item) == "Agora: pronto para retirada."
    reason = phrase("(%(reason)s)", reason=choice_arg(Return, "reason", "defective", lower=True))
    assert _in("en", reason) == "(faulty or arrived damaged)"
    assert _in("pt-br", reason) == "(com defeito ou chegou avariado)"
    assert (
        _in("en", phrase("%(r)s", r=choice_arg(Return, "reason", "gone"))) == "gone"
    )  # a value no longer offered
    assert _in("pt-br", {"m": "%(d)s", "a": {"d": date_arg(dt.date(2026, 11, 27))}}) == "27/11/2026"
    assert _in("en", {"m": "%(d)s", "a": {"d": date_arg(dt.date(2026, 11, 27))}}) == "11/27/2026"
    money = {"m": "%(v)s", "a": {"v": money_arg(Decimal("1234.5"))}}
    assert _in("en", money) == _in("pt-br", money) == "R$ 1.234,50"


def test_sentences_join_their_phrases_and_english_is_what_is_stored():
    items = [
        sentence([joined([phrase("picked at %(location)s for pickup", location="A"), phrase("paused")]),
                  phrase("cost the same")]),
    ]  # fmt: skip
    assert english(items) == "Picked at A for pickup; paused; cost the same."
    with translation.override("pt-br"):
        assert render_all(items).startswith("A separa para a retirada; ")
    assert (
        english([phrase("Hold released."), phrase("Now %(status)s.", status="x")]) == "Hold released. Now x."
    )


def test_what_is_stored_is_english_whoever_causes_it():
    status = phrase("Now %(status)s.", status=choice_arg(Order, "status", "ready_for_pickup", lower=True))
    units = nphrase("%(n)s reserved unit released.", "%(n)s reserved units released.", 2)
    when = phrase("late since %(at)s", at=date_arg(dt.date(2026, 11, 27)))  # stored as ISO
    with translation.override("pt-br"):  # a Portuguese-speaking user's request
        assert english([status, units, when]) == (
            "Now ready for pickup. 2 reserved units released. late since 2026-11-27"
        )
        assert render_all([status]) == "Agora: pronto para retirada."


def test_numbers_and_moments_read_as_the_reader_writes_them_and_are_stored_plainly():
    import datetime as dt_

    from django.utils import timezone

    from oms.phrases import datetime_arg, number_arg

    item = phrase("packed, %(grams)s g, late since %(at)s", grams=number_arg(1250),
                  at=datetime_arg(dt_.datetime(2026, 12, 2, 17, 51, tzinfo=dt_.UTC)))  # fmt: skip
    assert _in("pt-br", item) == "packed, 1.250 g, late since 02/12/2026 14:51"  # São Paulo time
    assert _in("en", item).startswith("packed, 1,250 g, late since 12/02/2026 2:51")
    assert english([item]) == "packed, 1250 g, late since 2026-12-02 14:51"  # one reading in every country
    assert timezone.get_current_timezone_name() == "America/Sao_Paulo"
    days = nphrase("%(n)s day", "%(n)s days", 1)
    assert _in("pt-br", phrase("within %(days)s", days=days)) == "within 1 dia"


def test_a_phrase_stored_without_an_argument_its_text_names_still_reads():
    # e.g. a msgid changed after the phrase was stored: the page shows the text, never a 500
    assert _in("pt-br", {"m": "Now %(status)s.", "a": {"other": 1}}) == "Now %(status)s."
    assert _in("en", {"m": "Hold released.", "a": {"unused": 1}}) == "Hold released."
    odd = {
        "m": "%(v)s, %(n)s, %(d)s",
        "a": {"v": {"money": "x"}, "n": {"number": "y"}, "d": {"datetime": "z"}},
    }
    assert _in("pt-br", odd) == "x, y, z"
