"""Forms of the stock pages: the search/filter box, a physical count and an adjustment."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from .models import Location


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

    on_hand = forms.IntegerField(label=_("Counted on hand"), min_value=0, max_value=10_000_000)
    reason = forms.CharField(label=_("Reason"), max_length=200)


class StockAdjustForm(forms.Form):
    """Add units (positive) or remove them (negative)."""

    delta = forms.IntegerField(
        label=_("Change (+ adds, − removes)"), min_value=-10_000_000, max_value=10_000_000
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def clean_delta(self) -> int:
        delta = self.cleaned_data["delta"]
        if delta == 0:
            raise forms.ValidationError(_("An adjustment must change the quantity."))
        return int(delta)
