"""Safety stock by rule: planners (inventory.set_safety_stock) choose locations of theirs, products and a
level, see what would change, then apply it; a large rule runs in the background with its progress on its
page.

Everything goes through `inventory.services.safety`; the locations offered are the planner's
(`selectors.safety_locations`), so another one is refused as an unknown choice. Other roles get 403, a run
that is not the user's (admins see every one) 404. A refused rule is a message on the page, never a 500; a
planner with no locations of theirs is told so instead of given a form. Runs show their rule in the reader's
language (their ledger reason is English).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from oms.exceptions import DomainError, NotFoundInScope
from oms.roles import Role, user_roles

from .forms import SafetyRuleForm
from .models import SafetyRunStatus, SafetyStockRun
from .selectors import SETS_SAFETY_STOCK, safety_locations, safety_run_list
from .services.safety import INLINE_MAX, safety_rule_apply, safety_rule_preview, safety_run_describe

RUNS_SHOWN = 10


def _planner(request: HttpRequest) -> None:
    if not request.user.has_perm(SETS_SAFETY_STOCK):
        raise PermissionDenied(_("Only planners set safety stock."))


def _apply_fields(data: QueryDict, form: SafetyRuleForm) -> list[tuple[str, str]]:
    """The previewed rule as hidden fields of the apply button: what was posted, with the SKUs of an uploaded
    file written out (a file is not sent twice)."""
    fields = [
        (name, value)
        for name, values in data.lists()
        if name not in ("csrfmiddlewaretoken", "action", "skus")
        for value in values
    ]
    if form.cleaned_data.get("what") == "list":
        fields.append(("skus", "\n".join(form.skus_found)))
    return fields


@login_required
@require_http_methods(["GET", "POST"])
def safety_rule(request: HttpRequest) -> HttpResponse:
    """The rule's form; "preview" shows how many stock rows change and a sample (HTMX swaps it in), "apply"
    applies it (at once when it is small, else in the background) and opens its run."""
    _planner(request)
    form = SafetyRuleForm(
        request.POST or None,
        request.FILES or None,
        locations=safety_locations(user=request.user),
        plans_all=Role.ADMIN in user_roles(request.user),
    )
    preview = None
    apply_fields: list[tuple[str, str]] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "preview")
        if not form.is_valid():
            status = 400
        else:
            rule = form.cleaned_data["rule"]
            try:
                if action == "apply":
                    run = safety_rule_apply(by=request.user, rule=rule, note=form.cleaned_data["note"])
                else:
                    preview = safety_rule_preview(user=request.user, rule=rule)
            except NotFoundInScope:
                raise Http404(_("No such location.")) from None
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
            else:
                if action == "apply":
                    return _applied(request, run)
                apply_fields = _apply_fields(request.POST, form)
    context: dict[str, Any] = {
        "form": form,
        "preview": preview,
        "apply_fields": apply_fields,
        "inline_max": INLINE_MAX,
        "has_locations": bool(form.places),
    }
    if request.htmx:  # type: ignore[attr-defined]
        # HTMX swaps only 2xx answers: the form comes back with its errors as a 200
        return render(request, "inventory/_safety_main.html", context)
    context["runs"] = [
        (run, safety_run_describe(run)) for run in safety_run_list(user=request.user)[:RUNS_SHOWN]
    ]
    return render(request, "inventory/safety.html", context, status=status)


def _applied(request: HttpRequest, run: SafetyStockRun) -> HttpResponse:
    if run.status == SafetyRunStatus.DONE:
        messages.success(
            request,
            ngettext(
                "Safety stock rule applied: %(n)d stock row changed.",
                "Safety stock rule applied: %(n)d stock rows changed.",
                run.changed,
            )
            % {"n": run.changed},
        )
    else:
        messages.info(request, _("The rule is being applied in the background: follow it here."))
    url = reverse("inventory:safety-run", args=[run.pk])
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse(status=204, headers={"HX-Redirect": url})
    return redirect(url)


@login_required
def safety_run(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: its progress while it runs (HTMX polls this page every second), then what it changed."""
    _planner(request)
    run = safety_run_list(user=request.user).filter(pk=pk).first()
    if run is None:
        raise Http404(_("No such safety stock rule."))
    context = {
        "run": run,
        "rule_text": safety_run_describe(run),
        "poll_url": reverse("inventory:safety-run", args=[run.pk]),
    }
    template = "inventory/_safety_run_status.html" if request.htmx else "inventory/safety_run.html"  # type: ignore[attr-defined]
    return render(request, template, context)
