"""Brazilian identifiers: CEP, CPF/CNPJ (python-stdnum), phone numbers (phonenumbers), BRL formatting."""

from __future__ import annotations

import re
from decimal import Decimal

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from stdnum.br import cnpj, cpf

from .cep import CAPITALS

_NON_DIGITS = re.compile(r"\D")


def digits(value: str) -> str:
    return _NON_DIGITS.sub("", value or "")


def normalize_cep(value: str) -> str:
    """'01310-200' → '01310200'; raises ValidationError unless it is 8 digits."""
    cleaned = digits(value)
    if len(cleaned) != 8 or cleaned == "00000000":
        raise ValidationError(_("A CEP has 8 digits, like 01310-200."), code="invalid_cep")
    return cleaned


# The 26 states and the Federal District (IBGE's two-letter codes): those oms.cep knows a capital of.
UFS = frozenset(CAPITALS)


def normalize_uf(value: str) -> str:
    """'sp ' → 'SP'; raises ValidationError unless it is one of the 27 Brazilian UFs."""
    cleaned = (value or "").strip().upper()
    if cleaned not in UFS:
        raise ValidationError(
            _("Not a Brazilian state: give its two-letter code (UF), like SP."), code="invalid_state"
        )
    return cleaned


def format_cep(value: str) -> str:
    return f"{value[:5]}-{value[5:]}" if len(value) == 8 else value


def normalize_document(value: str) -> tuple[str, str]:
    """A CPF (11 digits) or CNPJ (14 digits) with valid check digits → (digits, 'cpf' | 'cnpj')."""
    cleaned = digits(value)
    if len(set(cleaned)) == 1:  # 111.111.111-11 passes the check digits but is never issued
        raise ValidationError(_("Not a valid CPF or CNPJ (check the digits)."), code="invalid_document")
    if len(cleaned) == 11 and cpf.is_valid(cleaned):
        return cleaned, "cpf"
    if len(cleaned) == 14 and cnpj.is_valid(cleaned):
        return cleaned, "cnpj"
    raise ValidationError(_("Not a valid CPF or CNPJ (check the digits)."), code="invalid_document")


def format_document(value: str) -> str:
    if len(value) == 11:
        return cpf.format(value)
    if len(value) == 14:
        return cnpj.format(value)
    return value


def normalize_phone(value: str) -> str:
    """A Brazilian or international phone number → E.164 ('+5511912345678')."""
    try:
        number = phonenumbers.parse(value, "BR")
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(_("Not a valid phone number."), code="invalid_phone") from exc
    if not phonenumbers.is_possible_number(number):
        raise ValidationError(_("Not a valid phone number."), code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_brl(amount: Decimal) -> str:
    """Decimal('1234.5') → 'R$ 1.234,50'."""
    whole, cents = f"{amount:,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"
