"""Forms of the customer-service pages: the order search/filters and the order actions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from inventory.models import Location
from oms.brazil import normalize_cep, normalize_uf
from oms.calendar import start_of_day
from oms.cep import cep_to_point
from oms.widgets import DateInput

from .models import Channel, Order, OrderStatus
from .selectors import OrderFilters
from .services import AddressData


class OrderFilterForm(forms.Form):
    """GET filters of the order list. `channels` and `locations` are the user's scope."""

    q = forms.CharField(label=_("Search"), required=False, max_length=120)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *OrderStatus.choices]
    )
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.none(),
        required=False,
        to_field_name="code",
        empty_label=_("Any channel"),
    )
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.none(),
        required=False,
        to_field_name="code",
        empty_label=_("Any location"),
    )
    placed_from = forms.DateField(
        label=_("Placed from"),
        required=False,
        widget=DateInput(),
    )
    placed_to = forms.DateField(
        label=_("Placed until"),
        required=False,
        widget=DateInput(),
    )

    def __init__(
        self, *args: Any, channels: QuerySet[Channel], locations: QuerySet[Location], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        for name, queryset in (("channel", channels), ("location", locations)):
            field = self.fields[name]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = queryset.order_by("code")

    def filters(self) -> OrderFilters:
        """The filters for `order_list` from whatever fields are valid (an invalid one is left out)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        channel, location = data.get("channel"), data.get("location")
        after = before = None
        if data.get("placed_from"):
            after = start_of_day(data["placed_from"])
        if data.get("placed_to"):
            before = start_of_day(data["placed_to"] + dt.timedelta(days=1))  # the whole last day
        return OrderFilters(
            q=(data.get("q") or "").strip(),
            status=data.get("status") or "",
            channel=channel.code if channel else "",
            location=location.code if location else "",
            placed_after=after,
            placed_before=before,
        )


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)
    confirm = forms.BooleanField(
        label=_("Yes, cancel this order and release its stock"),
        error_messages={"required": _("Tick the box to confirm the cancellation.")},
    )


class HoldForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class ReleaseForm(forms.Form):
    """Taking an order off hold needs no input."""


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"), max_length=500, widget=forms.Textarea(attrs={"rows": 3, "maxlength": 500})
    )


class AddressForm(forms.Form):
    """A new delivery address; the CEP is normalised to its 8 digits."""

    cep = forms.CharField(
        label=_("CEP"), max_length=9, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    street = forms.CharField(label=_("Street"), max_length=120)
    number = forms.CharField(label=_("Number"), max_length=16)
    complement = forms.CharField(label=_("Complement"), max_length=80, required=False)
    district = forms.CharField(label=_("District"), max_length=80)
    city = forms.CharField(label=_("City"), max_length=80)
    state = forms.CharField(label=_("State (UF)"), min_length=2, max_length=2)

    def clean_cep(self) -> str:
        return normalize_cep(self.cleaned_data["cep"])

    def clean_state(self) -> str:
        return normalize_uf(self.cleaned_data["state"])

    @classmethod
    def for_order(cls, order: Order) -> AddressForm:
        return cls(
            initial={
                "cep": order.ship_cep,
                "street": order.ship_street,
                "number": order.ship_number,
                "complement": order.ship_complement,
                "district": order.ship_district,
                "city": order.ship_city,
                "state": order.ship_state,
            }
        )

    def address(self, order: Order) -> AddressData:
        """The validated address. Coordinates are kept while the CEP stays the same; a new CEP is placed at
        its city (oms.cep), which is what routing needs to measure distances."""
        data = self.cleaned_data
        lat: float | None = order.ship_lat
        lon: float | None = order.ship_lon
        if data["cep"] != order.ship_cep or lat is None:
            point = cep_to_point(data["cep"])
            lat, lon = point if point else (None, None)
        return AddressData(
            street=data["street"],
            number=data["number"],
            complement=data["complement"],
            district=data["district"],
            city=data["city"],
            state=data["state"],
            cep=data["cep"],
            lat=lat,
            lon=lon,
        )
