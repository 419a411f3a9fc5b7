"""Portal pages of the suppression list (numbers never to message): the list with search and
keyset pages, adding one number or pasting many (with a report of the lines that were not
numbers), and removing a number. Every member reads the list; agents and up add; admins and
owners remove (like the /api/v1/suppressions API)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.forms import ID_MAX, SEARCH_MAX_LENGTH
from apps.contacts.services import suppression as services
from apps.core.exceptions import ChorusError, NotFound
from apps.portal.access import has_role, role_required

logger = logging.getLogger(__name__)

# Rows per page of the list: the same as the contacts list.
PAGE_SIZE = selectors.CONTACTS_PAGE_SIZE
# Pasted text: BULK_MAX_LINES numbers of up to LINE_MAX_LENGTH characters, and their line ends.
PASTE_MAX_LENGTH = services.BULK_MAX_LINES * (services.LINE_MAX_LENGTH + 2)


class SuppressionFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Search"),
        required=False,
        max_length=SEARCH_MAX_LENGTH,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": gettext_lazy("Number or reason"), "autocomplete": "off"}
        ),
    )
    after = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)
    before = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)

    def query(self, **cursor: int | None) -> str:
        params: dict[str, Any] = {"q": self.cleaned_data["q"]} if self.cleaned_data.get("q") else {}
        params.update({key: value for key, value in cursor.items() if value is not None})
        return urlencode(params)


class SuppressionAddForm(forms.Form):
    phone = forms.CharField(
        label=gettext_lazy("Phone number"),
        max_length=services.LINE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"autocomplete": "off", "dir": "ltr", "inputmode": "tel"}),
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        required=False,
        max_length=services.REASON_MAX_LENGTH,
        help_text=gettext_lazy("For your team, e.g. “complaint” or “asked by phone”."),
    )


class SuppressionPasteForm(forms.Form):
    numbers = forms.CharField(
        label=gettext_lazy("Numbers, one per line"),
        max_length=PASTE_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6, "dir": "ltr", "spellcheck": "false"}),
        help_text=format_lazy(
            gettext_lazy("Up to {max} lines. Numbers without a country code use your workspace's region."),
            max=f"{services.BULK_MAX_LINES:,}",
        ),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), required=False, max_length=services.REASON_MAX_LENGTH)


def _page(
    request: HttpRequest,
    *,
    add_form: SuppressionAddForm | None = None,
    paste_form: SuppressionPasteForm | None = None,
    report: services.BulkSuppressionResult | None = None,
    status: int = 200,
) -> HttpResponse:
    form = SuppressionFilterForm(request.GET)
    context: dict[str, Any] = {
        "filter_form": form,
        "add_form": add_form or SuppressionAddForm(),
        "paste_form": paste_form or SuppressionPasteForm(),
        "report": report,
        "can_edit": has_role(request, Role.AGENT),
        "can_delete": has_role(request, Role.ADMIN),
        "page": None,
    }
    if not form.is_valid():
        return render(request, "contacts/suppressions.html", context, status=400)
    search = form.cleaned_data.get("q") or ""
    # Keyset pages by id, the same paging as the contacts list (any queryset of rows with ids).
    page = selectors.contacts_page(
        selectors.suppressions_list(search=search),
        after=form.cleaned_data["after"],
        before=form.cleaned_data["before"],
        size=PAGE_SIZE,
    )
    context.update(
        page=page,
        numbers=page.contacts,
        filtered=bool(search),
        newer_query=form.query(before=page.newer_than) if page.newer_than else None,
        older_query=form.query(after=page.older_than) if page.older_than else None,
    )
    return render(request, "contacts/suppressions.html", context, status=status)


@login_required
@require_GET
def contacts_suppressions(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_suppression_add(request: HttpRequest) -> HttpResponse:
    form = SuppressionAddForm(request.POST)
    if not form.is_valid():
        return _page(request, add_form=form, status=400)
    try:
        added = services.suppression_add(phone=form.cleaned_data["phone"], reason=form.cleaned_data["reason"])
    except ChorusError as exc:
        form.add_error("phone" if exc.code == services.SuppressionError.INVALID_PHONE else None, exc.message)
        return _page(request, add_form=form, status=exc.status)
    phone = added.suppressed.phone
    if not added.created:
        messages.info(request, _("%(phone)s was already on the suppression list; nothing changed.") % {"phone": phone})
    elif added.messages_skipped:
        messages.success(
            request,
            ngettext(
                "%(phone)s suppressed; %(count)s queued message to it will not be sent.",
                "%(phone)s suppressed; %(count)s queued messages to it will not be sent.",
                added.messages_skipped,
            )
            % {"phone": phone, "count": added.messages_skipped},
        )
    else:
        messages.success(request, _("%(phone)s suppressed.") % {"phone": phone})
    logger.info("portal.suppression_added", extra={"suppression_created": added.created, "user_id": request.user.pk})
    return redirect("portal:contacts_suppressions")


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_suppressions_paste(request: HttpRequest) -> HttpResponse:
    """The report of a paste is shown on the page it answers (not after a redirect): adding the
    same list again changes nothing, so a reload is harmless."""
    form = SuppressionPasteForm(request.POST)
    if not form.is_valid():
        return _page(request, paste_form=form, status=400)
    try:
        report = services.suppressions_bulk_add(
            lines=services.suppression_lines(form.cleaned_data["numbers"]), reason=form.cleaned_data["reason"]
        )
    except ChorusError as exc:
        form.add_error("numbers", exc.message)
        return _page(request, paste_form=form, status=exc.status)
    logger.info(
        "portal.suppressions_pasted",
        extra={"added_count": report.added, "error_count": len(report.errors), "user_id": request.user.pk},
    )
    # Keep the bad lines in the box to fix them; the good ones are on the list already.
    remaining = SuppressionPasteForm(
        initial={"numbers": "\n".join(bad.value for bad in report.errors), "reason": form.cleaned_data["reason"]}
    )
    return _page(request, paste_form=remaining, report=report)


@login_required
@require_POST
@role_required(Role.ADMIN)
def contacts_suppression_remove(request: HttpRequest, suppression_id: int) -> HttpResponse:
    try:
        removed = services.suppression_remove(suppression_id=suppression_id)
    except NotFound:
        raise Http404("No such suppressed number.") from None
    logger.info("portal.suppression_removed", extra={"suppression_id": suppression_id, "user_id": request.user.pk})
    messages.success(request, _("%(phone)s was removed from the suppression list.") % {"phone": removed.phone})
    return redirect("portal:contacts_suppressions")
