"""Forms of the return pages: start a return, receive it, refund it, cancel it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from inventory.models import Location

from .models import OrderLine, Return, ReturnLine, ReturnReason
from .services.returns import REFUND_MAX


class ReturnNewForm(forms.Form):
    """Units to return per delivered line (0 to what may still come back), the reason and where they go."""

    reason = forms.ChoiceField(label=_("Reason"), choices=[("", "—"), *ReturnReason.choices])
    location = forms.ModelChoiceField(
        label=_("Returned to"), queryset=Location.objects.none(), to_field_name="code", empty_label=None
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(
        self,
        *args: Any,
        lines: list[tuple[OrderLine, int]],
        locations: QuerySet[Location],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        location_field = self.fields["location"]
        assert isinstance(location_field, forms.ModelChoiceField)
        location_field.queryset = locations
        for line, most in lines:
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.line_no} · {line.sku}",
                min_value=0,
                max_value=most,
                initial=0,
                required=False,  # left empty: none of this line
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def line_fields(self) -> list[tuple[OrderLine, int, forms.BoundField]]:
        return [(line, most, self[f"line_{line.pk}"]) for line, most in self.lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not any(data.get(f"line_{line.pk}") for line, _most in self.lines):
            raise forms.ValidationError(_("Choose at least one unit to return."))
        return data

    def units(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] or 0 for line, _most in self.lines}


class ReturnReceiveForm(forms.Form):
    """Per return line: units that came back, and of those the resellable ones (back to stock)."""

    def __init__(self, *args: Any, ret: Return, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ret_lines: list[ReturnLine] = list(ret.lines.all())
        for line in self.ret_lines:
            numeric = forms.NumberInput(attrs={"inputmode": "numeric"})
            self.fields[f"got_{line.pk}"] = forms.IntegerField(
                label=_("Received"), min_value=0, max_value=line.qty, initial=line.qty, widget=numeric
            )
            self.fields[f"restock_{line.pk}"] = forms.IntegerField(
                label=_("Resellable"), min_value=0, max_value=line.qty, initial=line.qty, widget=numeric
            )

    def rows(self) -> list[tuple[ReturnLine, forms.BoundField, forms.BoundField]]:
        return [(line, self[f"got_{line.pk}"], self[f"restock_{line.pk}"]) for line in self.ret_lines]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for line in self.ret_lines:
            got, restock = data.get(f"got_{line.pk}"), data.get(f"restock_{line.pk}")
            if got is not None and restock is not None and restock > got:
                self.add_error(f"restock_{line.pk}", _("More than the units received."))
        return data

    def received(self) -> dict[int, tuple[int, int]]:
        data = self.cleaned_data
        return {line.pk: (data[f"got_{line.pk}"], data[f"restock_{line.pk}"]) for line in self.ret_lines}


class ReturnRefundForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount refunded (R$)"),
        min_value=Decimal("0.01"),
        max_value=REFUND_MAX,
        max_digits=12,
        decimal_places=2,
        localize=True,
    )
    reference = forms.CharField(label=_("Payment system reference"), max_length=64, required=False)


class ReturnCancelForm(forms.Form):
    reason = forms.CharField(label=_("Why is it cancelled?"), max_length=200)
