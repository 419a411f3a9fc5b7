"""Portal pages of contact exports: the list's Export button starts a background export of the
contacts matching its filters, whose page shows live progress (/ws/exports/<id>/,
static/js/contact_exports.js) and then the download; recent exports have their own tab.

Every member may export what they can read (as with the API); any member may watch and download
the workspace's exports.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.contacts.forms import ContactFilterForm
from apps.contacts.models import ContactExport, Group, SavedFilter
from apps.contacts.services import exporting
from apps.core.exceptions import ChorusError, NotFound

logger = logging.getLogger(__name__)

# Recent exports shown on their tab (newest first); older ones stay reachable through the API.
EXPORTS_LIST_LIMIT = 50
# Labels of the filters an export was asked with (selectors.contacts_list's arguments); a
# filter without a label here is shown by its name.
FILTER_LABELS = {
    "search": gettext_lazy("Search"),
    "group_id": gettext_lazy("Group or tag"),
    "opted_out": gettext_lazy("Opt-out"),
    "saved_filter_id": gettext_lazy("Saved filter"),
}


def _export_or_404(export_id: int) -> ContactExport:
    try:
        return exporting.contact_export_get(export_id=export_id)
    except NotFound:
        raise Http404("No such export.") from None


def _state_labels() -> dict[str, str]:
    return {value: str(label) for value, label in ContactExport.State.choices}


def _filter_summary(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """The filters in words, for the export's page: [(label, value)], empty for everyone."""
    summary = []
    for key, value in filters.items():
        if value in ("", None, [], {}):
            continue
        label = str(FILTER_LABELS.get(key, key))
        if key == "group_id":
            group = Group.objects.filter(pk=value).first()
            text = group.name if group is not None else _("(deleted group)")
        elif key == "saved_filter_id":
            saved = SavedFilter.objects.filter(pk=value).first()
            text = saved.name if saved is not None else _("(deleted filter)")
        elif key == "opted_out":
            text = _("Opted out") if value else _("Subscribed")
        else:
            text = str(value)
        summary.append((label, text))
    return summary


@login_required
@require_POST
def contacts_export(request: HttpRequest) -> HttpResponse:
    """The list's Export button: the filters come in the query string (the list's own), the
    format in the form. Starts a background export and shows its page."""
    form = ContactFilterForm(request.GET)
    if not form.is_valid():
        messages.error(request, _("Those filters are not valid."))
        return redirect("portal:contacts")
    file_format = request.POST.get("file_format", ContactExport.Format.CSV)
    try:
        export = exporting.contact_export_request(
            filters=form.filters(), file_format=file_format, requested_by_id=request.user.pk
        )
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect("portal:contacts")
    logger.info(
        "portal.contacts_export_requested",
        extra={"export_id": export.id, "user_id": request.user.pk, "filtered": form.is_filtered()},
    )
    return redirect("portal:contacts_export_detail", export_id=export.id)


@login_required
@require_GET
def contacts_exports(request: HttpRequest) -> HttpResponse:
    exports = list(exporting.contact_exports_list()[:EXPORTS_LIST_LIMIT])
    context = {
        "exports": exports,
        "limit": EXPORTS_LIST_LIMIT,
        "keep_days": exporting.EXPORT_FILE_MAX_AGE.days,
    }
    return render(request, "contacts/exports.html", context)


@login_required
@require_GET
def contacts_export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    export = _export_or_404(export_id)
    context = {
        "export": export,
        "event": exporting.contact_export_event(export),
        "filters": _filter_summary(export.filters),
        "state_labels": _state_labels(),
        "keep_days": exporting.EXPORT_FILE_MAX_AGE.days,
    }
    return render(request, "contacts/export_detail.html", context)


@login_required
@require_GET
def contacts_export_download(request: HttpRequest, export_id: int) -> HttpResponse:
    export = _export_or_404(export_id)
    try:
        stream = exporting.contact_export_file(export=export)
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect("portal:contacts_export_detail", export_id=export.id)
    logger.info("portal.contacts_export_downloaded", extra={"export_id": export.id, "user_id": request.user.pk})
    return FileResponse(
        stream,
        as_attachment=True,
        filename=f"contacts.{export.file_format}",
        content_type=exporting.EXPORT_FORMATS[export.file_format],
    )
