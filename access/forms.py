"""Forms of the access pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from oms.roles import ROLE_LABELS
from oms.widgets import DateInput

User = get_user_model()

# Spelled out so that makemessages finds the labels (oms.roles keeps them as plain strings).
ROLE_CHOICES = list(ROLE_LABELS.items())
ROLE_NAMES = dict(ROLE_CHOICES)


class InviteForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150, validators=[UnicodeUsernameValidator()])
    email = forms.EmailField(label=_("E-mail"))
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This user name is already taken."))
        return username


class UserEditForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"), required=False)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    roles = forms.MultipleChoiceField(
        label=_("Roles"), choices=ROLE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )


SCOPE_KINDS = [("location", _("Location")), ("channel", _("Channel")), ("region", _("Region"))]


class ScopeForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=SCOPE_KINDS)
    code = forms.CharField(label=_("Code"), max_length=32)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Name of the integration"), max_length=50)


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    role = forms.ChoiceField(label=_("Role"), choices=[("", _("Any role")), *ROLE_CHOICES], required=False)
    active = forms.ChoiceField(
        label=_("Status"),
        choices=[("", _("Active and inactive")), ("yes", _("Active")), ("no", _("Inactive"))],
        required=False,
    )


class AuditFilterForm(forms.Form):
    action = forms.CharField(label=_("Action"), required=False, max_length=64)
    actor = forms.CharField(label=_("Who (user name)"), required=False, max_length=150)
    obj = forms.CharField(label=_("Object"), required=False, max_length=130)
    since = forms.DateField(label=_("From"), required=False, widget=DateInput())
    until = forms.DateField(label=_("Until"), required=False, widget=DateInput())
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data
