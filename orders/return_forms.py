"""Forms of the return pages: start a return, receive it, refund it, cancel it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from inventory.models import Location, Product

from .models import ExchangeWhen, OrderLine, Return, ReturnLine, ReturnReason
from .services.returns import REFUND_MAX
from .services.returns.exchange import products_typed, sku_family

SUGGESTED_SWAPS = 12  # other sizes and colours offered per line


def swap_suggestions(lines: list[OrderLine]) -> dict[int, list[Product]]:
    """Per order line (pk): active products of its family (the same model in another size), in one query."""
    families = {sku_family(line.sku) for line in lines}
    if not families:
        return {}
    match = Q()
    for family in families:
        match |= Q(sku__startswith=family)
    found = list(Product.objects.filter(match, active=True).only("sku", "name").order_by("sku")[:500])
    return {
        line.pk: [p for p in found if p.sku != line.sku and p.sku.startswith(sku_family(line.sku))][
            :SUGGESTED_SWAPS
        ]
        for line in lines
    }


class ReturnNewForm(forms.Form):
    """Units to return per delivered line (0 to what may still come back), the reason and where they go; per
    line, optionally, the SKU and units to send instead of money (an exchange), and when."""

    reason = forms.ChoiceField(label=_("Reason"), choices=[("", "—"), *ReturnReason.choices])
    location = forms.ModelChoiceField(
        label=_("Returned to"), queryset=Location.objects.none(), to_field_name="code", empty_label=None
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    exchange_when = forms.ChoiceField(
        label=_("Send the exchange"),
        choices=ExchangeWhen.choices,
        initial=ExchangeWhen.RECEIVED,
        required=False,
        widget=forms.RadioSelect,
    )

    def __init__(
        self,
        *args: Any,
        lines: list[tuple[OrderLine, int]],
        locations: QuerySet[Location],
        swaps: dict[int, list[Product]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        self.swaps = swaps or {}
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
            self.fields[f"swap_sku_{line.pk}"] = forms.CharField(
                label=_("Exchange for (SKU)"),
                max_length=40,
                required=False,  # left empty: money back for this line
                widget=forms.TextInput(
                    attrs={"list": f"swaps_{line.pk}", "autocomplete": "off", "autocapitalize": "characters"}
                ),
            )
            self.fields[f"swap_qty_{line.pk}"] = forms.IntegerField(
                label=_("Units"),
                min_value=1,
                max_value=most,
                required=False,  # left empty: one for each unit returned
                widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
            )

    def line_fields(self) -> list[tuple[OrderLine, int, forms.BoundField]]:
        return [(line, most, self[f"line_{line.pk}"]) for line, most in self.lines]

    def swap_fields(self) -> list[tuple[OrderLine, forms.BoundField, forms.BoundField, list[Product]]]:
        return [
            (line, self[f"swap_sku_{line.pk}"], self[f"swap_qty_{line.pk}"], self.swaps.get(line.pk, []))
            for line, _most in self.lines
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not any(data.get(f"line_{line.pk}") for line, _most in self.lines):
            raise forms.ValidationError(_("Choose at least one unit to return."))
        products = products_typed(data.get(f"swap_sku_{line.pk}", "") for line, _most in self.lines)
        for line, _most in self.lines:
            sku_field, qty_field = f"swap_sku_{line.pk}", f"swap_qty_{line.pk}"
            sku, qty, units = (
                data.get(sku_field, "").strip(),
                data.get(qty_field),
                data.get(f"line_{line.pk}"),
            )
            if not sku:
                if qty:
                    self.add_error(sku_field, _("Which SKU goes out instead?"))
                continue
            product = products.get(sku.casefold())
            if product is None:
                self.add_error(sku_field, _("There is no product %(sku)s.") % {"sku": sku})
            elif not product.active:
                self.add_error(sku_field, _("%(sku)s is not active and cannot be sent.") % {"sku": sku})
            if not units:
                self.add_error(sku_field, _("Only units being returned can be exchanged."))
            elif qty and qty > units:
                self.add_error(qty_field, _("At most the units returned (%(n)s).") % {"n": units})
        return data

    def units(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[f"line_{line.pk}"] or 0 for line, _most in self.lines}

    def exchange(self) -> dict[int, tuple[str, int]]:
        """Order line pk → (SKU, units) to send instead of money (units left empty: one per unit returned)."""
        data = self.cleaned_data
        swaps = {}
        for line, _most in self.lines:
            sku = data.get(f"swap_sku_{line.pk}", "").strip()
            if sku:
                swaps[line.pk] = (sku, data.get(f"swap_qty_{line.pk}") or data.get(f"line_{line.pk}") or 0)
        return swaps

    def exchange_timing(self) -> str:
        """When the exchange goes out: once the goods are back unless "now" was chosen."""
        return self.cleaned_data.get("exchange_when") or ExchangeWhen.RECEIVED


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
    keep_rest = forms.BooleanField(
        label=_("Keep the rest (a restocking fee or an agreed deduction); unticked, it stays due"),
        required=False,
        initial=True,
    )


class ReturnCollectForm(forms.Form):
    amount = forms.DecimalField(
        label=_("Amount paid by the customer (R$)"),
        min_value=Decimal("0.00"),
        max_value=REFUND_MAX,
        max_digits=12,
        decimal_places=2,
        localize=True,
    )
    reference = forms.CharField(label=_("Payment system reference"), max_length=64, required=False)
    waive_rest = forms.BooleanField(label=_("Let the customer off the rest"), required=False)


class ReturnReverseForm(forms.Form):
    """Correcting an entry recorded by mistake: which one, and why."""

    entry = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = forms.CharField(label=_("Why is it corrected?"), max_length=200)


class ReturnExchangeSendForm(forms.Form):
    """Sending the exchange order again takes nothing but the click."""


class ReturnCancelForm(forms.Form):
    reason = forms.CharField(label=_("Why is it cancelled?"), max_length=200)
