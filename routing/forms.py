"""Forms of the routing pages: the delivery-promise quote, the rate-card upload and the what-if draft."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from inventory.models import LocationKind, Product
from inventory.selectors import location_list
from oms.brazil import normalize_cep
from orders.models import Channel
from orders.selectors import channel_list

from .services.whatif import DRAFT_FIELDS, MAX_DAYS, MAX_PACKAGES_LIMIT

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


class WhatIfForm(forms.Form):
    """The replay window and the draft policy's values."""

    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.none(),
        required=False,
        empty_label=_("Channels on the default policy"),
    )
    days = forms.IntegerField(label=_("Last days"), min_value=1, max_value=MAX_DAYS, initial=30)
    max_packages = forms.IntegerField(
        label=_("Max packages per order"),
        min_value=1,
        max_value=MAX_PACKAGES_LIMIT,
        required=False,
        help_text=_("Empty: no limit of our own."),
    )
    allowed_kinds = forms.MultipleChoiceField(
        label=_("Location kinds allowed"),
        choices=LocationKind.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    ship_from_store = forms.BooleanField(label=_("Ship from store"), required=False)
    use_forecast = forms.BooleanField(label=_("weigh future demand (opportunity costs)"), required=False)
    store_walkin_share = forms.DecimalField(
        label=_("Store capacity kept for walk-in customers (0–1)"),
        min_value=0,
        max_value=1,
        max_digits=4,
        decimal_places=3,
    )
    speed_value = forms.DecimalField(
        label=_("Value of speed (BRL per day)"), min_value=0, max_digits=8, decimal_places=2
    )
    paused_locations = forms.CharField(
        label=_("Paused locations"),
        required=False,
        help_text=_("Location codes, separated by commas or spaces."),
    )
    split_penalty = forms.DecimalField(
        label=_("Penalty per extra package (BRL)"), min_value=0, max_digits=8, decimal_places=2
    )
    backorder_per_unit = forms.DecimalField(
        label=_("Backorder penalty per unit (BRL)"), min_value=0, max_digits=8, decimal_places=2
    )
    backorder_price_share = forms.DecimalField(
        label=_("Backorder penalty (share of the unit price)"),
        min_value=0,
        max_digits=5,
        decimal_places=3,
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["channel"].queryset = channel_list(user=user).order_by("code")  # type: ignore[attr-defined]

    def clean_paused_locations(self) -> list[str]:
        raw = self.cleaned_data.get("paused_locations") or ""
        codes = sorted({c for c in raw.replace(",", " ").split() if c})
        if codes:
            known = set(location_list(user=self.user).filter(code__in=codes).values_list("code", flat=True))
            missing = [c for c in codes if c not in known]
            if missing:
                raise ValidationError(_("Unknown locations: %(codes)s.") % {"codes": ", ".join(missing)})
        return codes

    def draft_values(self) -> dict[str, Any]:
        """The draft policy's values, keyed as `whatif_run_start` takes them."""
        values = {name: self.cleaned_data[name] for name in DRAFT_FIELDS}
        values["allowed_kinds"] = list(values["allowed_kinds"])
        return values
