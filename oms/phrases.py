"""Sentences stored once and read in each reader's language.

A service that records a sentence for people to read later (an order's timeline entry, a routing decision's
"why") cannot translate it: whoever reads it may speak another language than whoever caused it. So it stores
the sentence as phrases: each an English msgid with its arguments (and, for a count, its plural), which a page
renders with gettext in the reader's language. The English rendering is stored beside them, for the API,
webhooks and search.

Mark msgids with `phrase`, `nphrase` and `pphrase`: `make messages` extracts them (`oms.management.commands.
makemessages` adds them to xgettext's keywords). An argument is a plain value, another phrase, a date
(`date_arg`), a moment (`datetime_arg`), a number (`number_arg`), an amount of money (`money_arg`) or a model
field's choice (`choice_arg`), each rendered in the reader's language too (in the stored English, dates and
moments are ISO, which reads the same in every country).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.utils import formats, timezone, translation
from django.utils.text import capfirst

from .brazil import format_brl

Phrase = dict[str, Any]


def phrase(msgid: str, /, **args: Any) -> Phrase:
    """`msgid % args`, translated when rendered."""
    return {"m": msgid, "a": args} if args else {"m": msgid}


def nphrase(singular: str, plural: str, n: int, /, **args: Any) -> Phrase:
    """The singular or plural form for `n` (passed to the msgid as `%(n)s` unless `args` says otherwise)."""
    return {"m": singular, "p": plural, "n": n, "a": {"n": n, **args}}


def pphrase(context: str, msgid: str, /, **args: Any) -> Phrase:
    """`msgid` in a context (pgettext), for a word that translates differently elsewhere."""
    return {**phrase(msgid, **args), "c": context}


def date_arg(day: dt.date) -> Phrase:
    """A date, written in the reader's SHORT_DATE_FORMAT."""
    return {"date": day.isoformat()}


def datetime_arg(at: dt.datetime) -> Phrase:
    """A moment, written in the reader's SHORT_DATETIME_FORMAT and the project's time zone."""
    return {"datetime": at.isoformat()}


def number_arg(value: int | Decimal) -> Phrase:
    """A number, written as the reader writes numbers ("1.250" in pt-BR, "1,250" in English)."""
    return {"number": str(value)}


def money_arg(amount: Decimal, currency: str = "BRL") -> Phrase:
    """An amount of money: reais as "R$ 1.234,50", another currency as the reader writes numbers."""
    return {"money": str(amount), "cur": currency}


def choice_arg(model: Any, field: str, value: str, *, lower: bool = False) -> Phrase:
    """The label of `value` among `model.field`'s choices (`model`: a class or an instance), in the reader's
    language; `lower` for a label in the middle of a sentence."""
    meta = model._meta
    return {"choice": f"{meta.label}.{field}", "v": value, **({"lower": True} if lower else {})}


def _moment(iso: str) -> dt.datetime | None:
    """A stored moment in the project's time zone (None when it does not read as one)."""
    try:
        at = dt.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return timezone.localtime(at) if timezone.is_aware(at) else at


def _choice(ref: str, value: str) -> str:
    app_model, _dot, field = ref.rpartition(".")
    try:
        choices = apps.get_model(app_model)._meta.get_field(field).flatchoices
    except (LookupError, ValueError):
        return value
    return str(dict(choices).get(value, value))


def _arg(value: Any, source: bool) -> Any:
    if isinstance(value, list):  # a list of values: "a, b, c"
        return ", ".join(str(_arg(item, source)) for item in value)
    if not isinstance(value, dict):
        return value
    if "m" in value or "s" in value or "j" in value:
        return _render(value, source)
    if source:  # what is stored: ISO dates and plain numbers read the same in every country
        if "date" in value:
            return value["date"]
        if "datetime" in value:
            at = _moment(value["datetime"])
            return at.strftime("%Y-%m-%d %H:%M") if at else value["datetime"]
        if "number" in value:
            return value["number"]
        if "choice" in value:
            with translation.override("en"):  # the label, in English
                return _arg(value, False)
    if "number" in value:
        try:
            return formats.number_format(Decimal(str(value["number"])), use_l10n=True, force_grouping=True)
        except InvalidOperation:
            return value["number"]
    if "date" in value:
        try:
            return formats.date_format(dt.date.fromisoformat(value["date"]), "SHORT_DATE_FORMAT")
        except (TypeError, ValueError):
            return value["date"]
    if "datetime" in value:
        at = _moment(value["datetime"])
        return formats.date_format(at, "SHORT_DATETIME_FORMAT") if at else value["datetime"]
    if "money" in value:
        try:
            amount = Decimal(str(value["money"]))
        except InvalidOperation:  # not an amount: shown as stored, never a 500
            return value["money"]
        if value.get("cur", "BRL") == "BRL":
            return format_brl(amount)
        return f"{formats.number_format(amount, 2, use_l10n=True)} {value['cur']}"
    if "choice" in value:
        label = _choice(str(value["choice"]), str(value.get("v", "")))
        return label.lower() if value.get("lower") else label
    return value


def joined(items: Iterable[Phrase]) -> Phrase:
    """Phrases in a row: "a; b; c"."""
    return {"j": list(items)}


def sentence(items: Iterable[Phrase]) -> Phrase:
    """Phrases read as one sentence: "A; b; c." (the first capitalised, a full stop unless one ends it)."""
    return {"s": list(items)}


def render(item: Phrase) -> str:
    """One phrase in the active language (its msgid untranslated when the catalogue lacks it)."""
    return _render(item, False)


def _render(item: Phrase, source: bool) -> str:
    """`render`; `source`: in the msgids' own language, English, without looking them up."""
    if "j" in item:
        return "; ".join(_render(part, source) for part in item["j"])
    if "s" in item:
        text = capfirst("; ".join(_render(part, source) for part in item["s"]))
        return text if not text or text.endswith((".", "!", "?")) else f"{text}."
    msgid = str(item.get("m", ""))
    if source:
        text = msgid if "p" not in item or int(item.get("n", 0)) == 1 else str(item["p"])
    elif "p" in item:
        n = int(item.get("n", 0))
        if "c" in item:
            text = translation.npgettext(item["c"], msgid, str(item["p"]), n)
        else:
            text = translation.ngettext(msgid, str(item["p"]), n)
    elif "c" in item:
        text = translation.pgettext(item["c"], msgid)
    else:
        text = translation.gettext(msgid)
    args = item.get("a")
    if not args:
        return text
    values = {k: _arg(v, source) for k, v in args.items()}
    # a translation (or a stored phrase) naming an argument it lacks reads as well as it can, never a 500
    for template in (text, msgid):
        try:
            return template % values
        except (KeyError, TypeError, ValueError):
            continue
    return msgid


def render_all(items: Iterable[Phrase]) -> str:
    """Phrases one after the other (each a sentence or a fragment with its own punctuation)."""
    return " ".join(render(item) for item in items)


def english(items: Iterable[Phrase]) -> str:
    """`render_all` in English: what is stored beside the phrases, for the API, webhooks and search. The
    msgids are English, so only the words and formats of the arguments are looked up: order intake writes
    one of these per order, 2.6 µs this way against 7.8 µs switching the language for each."""
    return " ".join(_render(item, True) for item in items)
