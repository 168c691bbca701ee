"""Forms of the stock pages: the search/filter box, a physical count, an adjustment, a transfer by hand, a
demand event."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from oms.parsers import whole_number
from oms.widgets import DateInput

from .models import EVENT_FACTOR_MAX, EVENT_FACTOR_MIN, MAX_QTY, Location, Product
from .selectors import products_by_codes


class StockFilterForm(forms.Form):
    """GET filters of the stock list. `locations` is the user's scope (location_list)."""

    q = forms.CharField(
        label=_("SKU, EAN or name"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("SKU, EAN or product name"), "autocomplete": "off"}
        ),
    )
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.none(),
        required=False,
        to_field_name="code",
        empty_label=_("All my locations"),
    )

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        location_field = self.fields["location"]
        assert isinstance(location_field, forms.ModelChoiceField)
        location_field.queryset = locations.order_by("code")


class StockCountForm(forms.Form):
    """Set on hand to what was counted on the shelf."""

    on_hand = forms.IntegerField(label=_("Counted on hand"), min_value=0, max_value=MAX_QTY)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class StockAdjustForm(forms.Form):
    """Add units (positive) or remove them (negative)."""

    delta = forms.IntegerField(label=_("Change (+ adds, − removes)"), min_value=-MAX_QTY, max_value=MAX_QTY)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError(_("An adjustment must change the quantity."))
        return int(delta)


class StockSafetyForm(forms.Form):
    """Units kept back from orders at this location (a display, walk-in customers)."""

    safety_stock = forms.IntegerField(label=_("Units kept back from orders"), min_value=0, max_value=MAX_QTY)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class TransferForm(forms.Form):
    """A transfer made by hand: from one of my locations to another location, one "SKU quantity" per line."""

    source = forms.ModelChoiceField(label=_("From"), queryset=Location.objects.none(), to_field_name="code")
    destination = forms.ModelChoiceField(
        label=_("To"), queryset=Location.objects.none(), to_field_name="code"
    )
    lines = forms.CharField(
        label=_("Products"),
        help_text=_("One per line: the SKU (or EAN), a space, the quantity. E.g. CAM-0001-P 12"),
        widget=forms.Textarea(attrs={"rows": 6, "autocapitalize": "characters", "spellcheck": "false"}),
        max_length=20_000,
    )
    note = forms.CharField(label=_("Note (optional)"), max_length=200, required=False)

    MAX_LINES = 500

    def __init__(self, *args: Any, sources: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, places in (("source", sources), ("destination", Location.objects.active())):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = places.order_by("code")

    def clean_lines(self) -> list[tuple[Product, int]]:
        wanted: list[tuple[str, int]] = []
        for number, raw in enumerate(self.cleaned_data["lines"].splitlines(), start=1):
            parts = raw.replace(";", " ").replace(",", " ").split()
            if not parts:
                continue
            qty = whole_number(parts[1], most=MAX_QTY) if len(parts) == 2 else None
            if not qty:
                raise forms.ValidationError(
                    _("Line %(n)d (%(line)s): write a SKU, a space and a quantity of at least 1.")
                    % {"n": number, "line": raw.strip()[:60]}
                )
            wanted.append((parts[0], qty))
        if not wanted:
            raise forms.ValidationError(_("Name at least one product."))
        if len(wanted) > self.MAX_LINES:
            raise forms.ValidationError(_("At most %(n)d lines per transfer.") % {"n": self.MAX_LINES})
        codes = {code for code, _qty in wanted}
        found = Product.objects.filter(Q(sku__in=codes) | Q(ean__in=codes), active=True)
        by_code = {p.sku: p for p in found} | {p.ean: p for p in found if p.ean}
        unknown = sorted(codes - set(by_code))
        if unknown:
            raise forms.ValidationError(
                _("No active product with these codes: %(codes)s.") % {"codes": ", ".join(unknown[:10])}
            )
        return [(by_code[code], qty) for code, qty in wanted]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("source") and data.get("source") == data.get("destination"):
            self.add_error("destination", _("A transfer goes to another location than its source."))
        return data


class DemandEventForm(forms.Form):
    """A demand event: its days, its factor, and where and on what it applies (all, when none is named)."""

    name = forms.CharField(label=_("Name"), max_length=80)
    starts_on = forms.DateField(label=_("First day"), widget=DateInput())
    ends_on = forms.DateField(label=_("Last day"), widget=DateInput())
    factor = forms.DecimalField(
        label=_("Demand factor"),
        help_text=_("Demand on those days against a normal day: 2.5 for two and a half times, 0.5 for half."),
        max_digits=5,
        decimal_places=2,
        min_value=EVENT_FACTOR_MIN,
        max_value=EVENT_FACTOR_MAX,
        widget=forms.NumberInput(attrs={"step": "0.05", "inputmode": "decimal"}),
    )
    everywhere = forms.BooleanField(label=_("All my locations"), required=False)
    locations = forms.ModelMultipleChoiceField(
        label=_("Locations"),
        queryset=Location.objects.none(),
        to_field_name="code",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    products = forms.CharField(
        label=_("Products"),
        help_text=_("SKUs or EANs, one per line or separated by spaces; empty for every product."),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 4, "autocapitalize": "characters", "spellcheck": "false"}),
    )
    note = forms.CharField(label=_("Note (optional)"), max_length=200, required=False)

    MAX_PRODUCTS = 5000

    def __init__(self, *args: Any, locations: QuerySet[Location], plans_all: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.plans_all = plans_all
        self.mine = locations.order_by("code")
        field = self.fields["locations"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = self.mine
        if plans_all:
            self.fields["everywhere"].label = _("Every location")

    def clean_products(self) -> list[Product]:
        codes = set(self.cleaned_data["products"].replace(",", " ").replace(";", " ").split())
        if len(codes) > self.MAX_PRODUCTS:
            raise forms.ValidationError(_("At most %(n)d products per event.") % {"n": self.MAX_PRODUCTS})
        found, unknown = products_by_codes(codes)
        if unknown:
            raise forms.ValidationError(
                _("No product with these codes: %(codes)s.") % {"codes": ", ".join(unknown[:10])}
            )
        return found

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("everywhere"):
            # every location, those to come too, for those who plan them all; else each of mine, by name
            data["locations"] = [] if self.plans_all else list(self.mine)
        elif not data.get("locations") and "locations" not in self.errors:
            self.add_error("locations", _("Choose the locations, or tick all of them."))
        return data
