"""Forms of the stock pages: the search/filter box, a physical count, an adjustment, a transfer by hand, a
demand event, a safety stock rule."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from oms.parsers import whole_number
from oms.widgets import DateInput

from .models import EVENT_FACTOR_MAX, EVENT_FACTOR_MIN, MAX_QTY, Location, LocationKind, Product, Region
from .selectors import products_by_codes
from .services.safety import MAX_DAYS as SAFETY_MAX_DAYS
from .services.safety import NOTE_MAX as SAFETY_NOTE_MAX
from .services.safety import InvalidSafetyRule, SafetyRule


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


def _codes_of_file(upload: Any) -> list[str]:
    """The SKUs (or EANs) of an uploaded CSV or text file: the first cell of each line, a header ("sku",
    "ean", "código") left out; UTF-8 (with or without a byte order mark, as Excel writes it), else Latin-1."""
    raw = upload.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    codes = []
    for line in text.splitlines():
        cell = line.replace(";", ",").replace("\t", ",").split(",")[0].strip().strip('"').strip()
        if cell and cell.lower() not in ("sku", "ean", "código", "codigo", "code"):
            codes.append(cell)
    return codes


class SafetyRuleForm(forms.Form):
    """A safety stock rule: which of my locations, which products, which level (`cleaned_data["rule"]`).

    `locations` is the planner's scope (`selectors.safety_locations`): a kind, region or state picks among
    them, and a location outside it is refused as any unknown choice (a field error, never applied)."""

    where = forms.ChoiceField(
        label=_("Locations"),
        choices=[
            ("all", _("All my locations")),
            ("kind", _("A kind of location")),
            ("region", _("A region")),
            ("state", _("A state")),
            ("chosen", _("These locations")),
        ],
        initial="all",
        widget=forms.RadioSelect,
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=LocationKind.choices, required=False)
    region = forms.ChoiceField(label=_("Region"), choices=[], required=False)
    state = forms.ChoiceField(label=_("State"), choices=[], required=False)
    locations = forms.ModelMultipleChoiceField(
        label=_("Chosen locations"),
        queryset=Location.objects.none(),
        to_field_name="code",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    what = forms.ChoiceField(
        label=_("Products"),
        choices=[("all", _("Every SKU they stock")), ("list", _("These SKUs"))],
        initial="all",
        widget=forms.RadioSelect,
    )
    skus = forms.CharField(
        label=_("SKUs"),
        help_text=_("SKUs or EANs, one per line or separated by spaces or commas."),
        required=False,
        max_length=200_000,
        # few columns: the field is as wide as its box (CSS), and no wider than a phone's
        widget=forms.Textarea(
            attrs={"rows": 4, "cols": 16, "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )
    skus_file = forms.FileField(
        label=_("…or a file of SKUs"),
        help_text=_("CSV or text: the SKU (or EAN) in the first column of each line."),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )
    level = forms.ChoiceField(
        label=_("Safety stock"),
        choices=[("units", _("A number of units")), ("days", _("Days of each row's demand"))],
        initial="units",
        widget=forms.RadioSelect,
    )
    units = forms.IntegerField(label=_("Units"), min_value=0, max_value=MAX_QTY, required=False)
    days = forms.IntegerField(
        label=_("Days of demand"), min_value=1, max_value=SAFETY_MAX_DAYS, required=False
    )
    cap = forms.BooleanField(label=_("At most the units on hand"), required=False)
    # on by default: a level set on purpose above the rule's (a display) is not made sellable unasked
    only_raise = forms.BooleanField(
        label=_("Only raise levels (never lower one)"), required=False, initial=True
    )
    note = forms.CharField(label=_("Note (optional)"), max_length=SAFETY_NOTE_MAX, required=False)

    MAX_SKUS = 5000
    MAX_FILE_BYTES = 1024 * 1024
    PICKED_BY = {"kind": "kind", "region": "region", "state": "state", "chosen": "locations"}

    def __init__(self, *args: Any, locations: QuerySet[Location], plans_all: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mine = locations.order_by("code")
        # (id, kind, region, state) of each of my locations: the kinds, regions and states pick among them
        self.places = list(self.mine.values_list("pk", "kind", "region", "state"))
        regions = sorted({region for _pk, _kind, region, _state in self.places if region})
        names = dict(Region.objects.filter(code__in=regions).values_list("code", "name")) if regions else {}
        self.fields["region"].choices = [("", "—")] + [  # type: ignore[attr-defined]
            (code, f"{names[code]} ({code})" if code in names else code) for code in regions
        ]
        states = sorted({state for *_rest, state in self.places if state})
        self.fields["state"].choices = [("", "—")] + [(s, s) for s in states]  # type: ignore[attr-defined]
        self.fields["kind"].choices = [("", "—"), *LocationKind.choices]  # type: ignore[attr-defined]
        field = self.fields["locations"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = self.mine
        if plans_all:
            self.fields["where"].choices = [  # type: ignore[attr-defined]
                ("all", _("Every location")),
                *self.fields["where"].choices[1:],  # type: ignore[attr-defined]
            ]
        self.skus_found: list[str] = []  # the SKUs of the products named, once valid

    def _products(self, codes: list[str]) -> list[Product]:
        unique = list(dict.fromkeys(codes))
        if len(unique) > self.MAX_SKUS:
            raise forms.ValidationError(_("At most %(n)d SKUs per rule.") % {"n": self.MAX_SKUS})
        found, unknown = products_by_codes(unique)
        if unknown:
            shown = ", ".join(unknown[:20])
            more = len(unknown) - 20
            raise forms.ValidationError(
                ngettext(
                    "No product with this code: %(codes)s.",
                    "No product with these codes: %(codes)s.",
                    len(unknown),
                )
                % {"codes": shown}
                + (" " + _("And %(n)d more.") % {"n": more} if more > 0 else "")
            )
        return found

    def clean_skus(self) -> list[Product]:
        text = self.cleaned_data["skus"]
        return self._products(text.replace(",", " ").replace(";", " ").split())

    def clean_skus_file(self) -> list[Product]:
        upload = self.cleaned_data.get("skus_file")
        if not upload:
            return []
        if upload.size > self.MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than 1 MB."))
        return self._products(_codes_of_file(upload))

    def _location_ids(self, data: dict[str, Any]) -> set[int]:
        where = data.get("where")
        if where == "chosen":
            return {loc.pk for loc in data.get("locations") or ()}
        column = {"kind": 1, "region": 2, "state": 3}.get(where or "")
        if column is None:
            return {place[0] for place in self.places}
        return {place[0] for place in self.places if place[column] == data.get(where or "")}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        where = data.get("where")
        picked = self.PICKED_BY.get(where or "")  # the field that names the locations
        if picked and not data.get(picked) and picked not in self.errors:
            self.add_error(picked, _("Choose one, or another way to pick the locations."))
        if where == "all" and any(data.get(name) for name in ("kind", "region", "state", "locations")):
            # some locations chosen while "all" is ticked: ask rather than apply everywhere
            self.add_error("where", _("You chose some locations: tick how to pick them, or clear them."))
        if data.get("what") == "all" and (data.get("skus") or data.get("skus_file")):
            self.add_error("what", _("You named SKUs: tick “These SKUs”, or clear them."))
        listed = data.get("what") == "list" and not {"skus", "skus_file"} & set(self.errors)
        if listed and not data.get("skus") and not data.get("skus_file"):
            self.add_error("skus", _("Paste the SKUs, or upload a file of them."))
        level = data.get("level")
        if level in ("units", "days") and data.get(level) is None and level not in self.errors:
            self.add_error(level, _("Give the number."))
        if self.errors:
            return data
        ids = self._location_ids(data)
        if not ids:
            self.add_error(picked, _("None of your locations is there."))
            return data
        products = None
        if data["what"] == "list":
            named = {p.pk: p for p in [*data["skus"], *data["skus_file"]]}
            products = frozenset(named)
            self.skus_found = sorted(p.sku for p in named.values())
        try:
            data["rule"] = SafetyRule(
                locations=frozenset(ids),
                products=products,
                units=data["units"] if level == "units" else None,
                days=data["days"] if level == "days" else None,
                cap_at_on_hand=bool(data.get("cap")),
                only_raise=bool(data.get("only_raise")),
            )
        except InvalidSafetyRule as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data
