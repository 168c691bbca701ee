"""Admin for carriers, services, rate cards (with CSV upload), transfer terms and versioned policies."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from inventory.models import LocationKind

from .forms import RateCardUploadForm
from .models import (
    Carrier,
    CarrierService,
    RateCard,
    RoutingDecision,
    RoutingPolicy,
    RoutingPolicyVersion,
    TransferTerms,
)
from .services.policies import EDITABLE, PolicyInvalid, policy_create, policy_update
from .services.rates import RateImportError, decode_upload, rate_cards_import

KIND_CHOICES = LocationKind.choices


class CarrierServiceForm(forms.ModelForm):
    from_kinds = forms.MultipleChoiceField(
        label=_("ships from location kinds"), choices=KIND_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = CarrierService
        fields = ("carrier", "code", "name", "kind", "from_kinds", "max_km", "km_per_day", "days_base",
                  "base", "per_km", "per_kg", "cutoff_hour", "active")  # fmt: skip


class CarrierServiceInline(admin.TabularInline):
    model = CarrierService
    form = CarrierServiceForm
    extra = 0
    fields = ("code", "name", "kind", "active")
    show_change_link = True


@admin.register(Carrier)
class CarrierAdmin(admin.ModelAdmin):
    list_display = ("name", "code", "active")
    search_fields = ("name", "code")
    inlines = [CarrierServiceInline]


@admin.register(CarrierService)
class CarrierServiceAdmin(admin.ModelAdmin):
    form = CarrierServiceForm
    list_display = ("code", "name", "carrier", "kind", "max_km", "days_base", "base", "per_km", "per_kg",
                    "cutoff_hour", "active")  # fmt: skip
    list_filter = ("carrier", "kind", "active")
    search_fields = ("code", "name")


@admin.register(RateCard)
class RateCardAdmin(admin.ModelAdmin):
    list_display = ("service", "cep_from", "cep_to", "weight_from_g", "weight_to_g", "price", "transit_days")
    list_filter = ("service",)
    search_fields = ("cep_from", "cep_to")
    list_select_related = ("service",)
    change_list_template = "admin/routing/ratecard/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="routing_ratecard_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a rate-card CSV; errors name the row and column."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = RateCardUploadForm(request.POST or None, request.FILES or None)
        errors: list[str] = []
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = rate_cards_import(
                    lines=decode_upload(upload.read()), by=request.user, replace=form.cleaned_data["replace"]
                )
            except RateImportError as exc:
                errors = exc.errors
            else:
                messages.success(
                    request,
                    ngettext(
                        "Imported %(n)s rate row for %(services)s.",
                        "Imported %(n)s rate rows for %(services)s.",
                        result.created,
                    )
                    % {"n": result.created, "services": ", ".join(result.services)},
                )
                return HttpResponseRedirect(reverse("admin:routing_ratecard_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Import rate cards"),
            "form": form,
            "errors": errors,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/routing/ratecard/import.html", context)


@admin.register(TransferTerms)
class TransferTermsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "base", "per_km", "per_kg", "days_base", "km_per_day")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not TransferTerms.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RoutingPolicyForm(forms.ModelForm):
    allowed_kinds = forms.MultipleChoiceField(
        label=_("location kinds allowed"), choices=KIND_CHOICES, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = RoutingPolicy
        fields = EDITABLE


class RoutingPolicyVersionInline(admin.TabularInline):
    model = RoutingPolicyVersion
    extra = 0
    can_delete = False
    fields = ("number", "created_at", "created_by", "changes")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RoutingPolicy)
class RoutingPolicyAdmin(admin.ModelAdmin):
    """Every save goes through the versioning service (a version row and an audit row per change)."""

    form = RoutingPolicyForm
    list_display = (
        "name",
        "channel",
        "version",
        "speed_value",
        "max_packages",
        "ship_from_store",
        "updated_at",
    )
    readonly_fields = ("version", "updated_at")
    filter_horizontal = ("paused_locations",)
    inlines = [RoutingPolicyVersionInline]

    def save_model(
        self, request: HttpRequest, obj: RoutingPolicy, form: forms.ModelForm, change: bool
    ) -> None:
        data = {name: form.cleaned_data[name] for name in EDITABLE if name in form.cleaned_data}
        try:
            if change:
                changes = {name: data[name] for name in form.changed_data if name in data}
                saved = policy_update(policy=obj, changes=changes, by=request.user)
            else:
                paused = data.pop("paused_locations", [])
                saved = policy_create(by=request.user, paused_locations=paused, **data)
        except PolicyInvalid as exc:  # the form validates first; this is the service's last word
            messages.error(request, exc.message)
            return
        obj.pk = saved.pk
        obj.version = saved.version

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        # paused locations were saved (and versioned) by the service; only inline formsets remain
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(RoutingDecision)
class RoutingDecisionAdmin(admin.ModelAdmin):
    list_display = (
        "order",
        "created_at",
        "trigger",
        "total_cost",
        "units_routed",
        "units_backordered",
        "latency_ms",
    )
    list_filter = ("trigger",)
    search_fields = ("order__number",)
    list_select_related = ("order",)
    raw_id_fields = ("order",)
    # the "why" shows as its English summary; its phrases (summary_text) are for the pages to translate
    exclude = ("summary_text",)
    readonly_fields = [f.name for f in RoutingDecision._meta.fields if f.name != "summary_text"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
