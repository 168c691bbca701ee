"""Forms of the routing pages: the delivery-promise quote and the rate-card upload."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from inventory.models import Product
from oms.brazil import normalize_cep

_LINE = re.compile(r"^\s*(\S+)(?:\s+|\s*[x×,;]\s*)(\d+)\s*$|^\s*(\S+)\s*$", re.IGNORECASE)


class PromiseForm(forms.Form):
    lines = forms.CharField(
        label=_("Items"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "CAM-0001-P 2"}),
        help_text=_("One SKU per line, followed by the quantity (1 when omitted)."),
    )
    cep = forms.CharField(
        label=_("CEP"), max_length=9, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    lat = forms.FloatField(label=_("Latitude"), required=False, min_value=-90, max_value=90)
    lon = forms.FloatField(label=_("Longitude"), required=False, min_value=-180, max_value=180)

    def clean_cep(self) -> str:
        return normalize_cep(self.cleaned_data["cep"])

    def clean_lines(self) -> list[tuple[Product, int]]:
        wanted: list[tuple[str, int]] = []
        errors = []
        for n, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            if not raw.strip():
                continue
            match = _LINE.match(raw)
            if not match:
                errors.append(_("Line %(n)s: write the SKU and then the quantity.") % {"n": n})
                continue
            sku = match.group(1) or match.group(3)
            qty = int(match.group(2) or 1)
            if not 1 <= qty <= 999:
                errors.append(_("Line %(n)s: the quantity must be between 1 and 999.") % {"n": n})
                continue
            wanted.append((sku, qty))
        products = {p.sku: p for p in Product.objects.filter(sku__in={s for s, _q in wanted}, active=True)}
        for sku, _q in wanted:
            if sku not in products:
                errors.append(_("Unknown SKU %(sku)s.") % {"sku": sku})
        if errors:
            raise ValidationError(errors)
        if not wanted:
            raise ValidationError(_("Add at least one SKU."))
        return [(products[s], q) for s, q in wanted]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("lat") is None) != (data.get("lon") is None):
            self.add_error("lat", _("Give both latitude and longitude, or neither."))
        return data


class RateCardUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    replace = forms.BooleanField(
        label=_("Replace the existing rows of the services in the file"), required=False, initial=True
    )
