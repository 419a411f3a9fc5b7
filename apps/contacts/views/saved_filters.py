"""Portal pages of saved filters: the list, one filter's rules (with how many contacts match),
new and delete. Every member reads them; agents and up create and change; admins and owners
delete (like groups)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.forms import SavedFilterForm, filter_rule_formset
from apps.contacts.models import SavedFilter
from apps.contacts.selectors import CONTACTS_EXACT_COUNT_CAP
from apps.contacts.services import saved_filters as services
from apps.core.exceptions import ChorusError
from apps.portal.access import forbidden, has_role, role_required


def _saved_filter_or_404(saved_filter_id: int) -> SavedFilter:
    saved = selectors.saved_filters_list().filter(pk=saved_filter_id).first()
    if saved is None:
        raise Http404("No such saved filter.")
    return saved


@login_required
def contacts_filters(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "contacts/saved_filters.html",
        {
            "saved_filters": selectors.saved_filters_list(),
            "can_edit": has_role(request, Role.AGENT),
        },
    )


def _form_page(request: HttpRequest, saved: SavedFilter | None, form: SavedFilterForm, rules: Any, status: int = 200):
    matches = None
    if saved is not None:
        count, exact = selectors.saved_filter_matches(saved.spec, limit=CONTACTS_EXACT_COUNT_CAP)
        matches = {"count": count, "exact": exact}
    return render(
        request,
        "contacts/saved_filter_form.html",
        {
            "saved_filter": saved,
            "form": form,
            "rules": rules,
            "matches": matches,
            "can_edit": has_role(request, Role.AGENT),
            "can_delete": has_role(request, Role.ADMIN),
        },
        status=status,
    )


def _save(request: HttpRequest, saved: SavedFilter | None) -> HttpResponse:
    form, rules = SavedFilterForm(request.POST), filter_rule_formset(request.POST)
    if not (form.is_valid() and rules.is_valid()):
        return _form_page(request, saved, form, rules, status=400)
    spec = {"match": form.cleaned_data["match"], "rules": [r for r in (row.rule() for row in rules) if r]}
    try:
        if saved is None:
            saved = services.saved_filter_create(
                name=form.cleaned_data["name"], spec=spec, created_by_id=request.user.pk
            )
        else:
            services.saved_filter_update(saved_filter=saved, name=form.cleaned_data["name"], spec=spec)
    except ChorusError as exc:
        form.add_error("name" if "name" in (exc.details or {}) else None, exc.message)
        return _form_page(request, saved if saved and saved.pk else None, form, rules, status=400)
    messages.success(request, _("Saved filter “%(name)s” saved.") % {"name": saved.name})
    return redirect("portal:contacts_filter_detail", saved.pk)


@login_required
@require_http_methods(["GET", "POST"])
def contacts_filter_new(request: HttpRequest) -> HttpResponse:
    if not has_role(request, Role.AGENT):
        return forbidden(request, "contacts_filter_new")
    if request.method == "POST":
        return _save(request, None)
    return _form_page(request, None, SavedFilterForm(), filter_rule_formset())


@login_required
@require_http_methods(["GET", "POST"])
def contacts_filter_detail(request: HttpRequest, saved_filter_id: int) -> HttpResponse:
    saved = _saved_filter_or_404(saved_filter_id)
    if request.method == "POST":
        if not has_role(request, Role.AGENT):
            return forbidden(request, "contacts_filter_detail")
        return _save(request, saved)
    form = SavedFilterForm(initial={"name": saved.name, "match": saved.spec.get("match", "all")})
    return _form_page(request, saved, form, filter_rule_formset(spec=saved.spec))


@login_required
@require_POST
@role_required(Role.ADMIN)
def contacts_filter_delete(request: HttpRequest, saved_filter_id: int) -> HttpResponse:
    saved = _saved_filter_or_404(saved_filter_id)
    try:
        services.saved_filter_delete(saved_filter=saved)
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect("portal:contacts_filter_detail", saved.pk)
    messages.success(request, _("Saved filter “%(name)s” deleted.") % {"name": saved.name})
    return redirect(reverse("portal:contacts_filters"))
