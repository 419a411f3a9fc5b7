"""Portal pages for contacts: the list (search, filters, keyset pages, bulk actions, export), one
contact (details, edit, opt-out, message history) and the import wizard (upload → preview and
column mapping with options → live progress → error report). Front doors only: check the form,
call one service, render.

Roles match the contacts API: every member reads contacts and imports and downloads exports and
error reports; agents and up change contacts, tag, opt out and import; owners and admins delete.
Live import progress comes over /ws/imports/<id>/ (apps.contacts.consumers) and
static/js/contacts.js.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.forms import (
    DELIMITER_CHOICES,
    BulkActionForm,
    ContactEditForm,
    ContactFilterForm,
    DelimiterForm,
    ImportMappingForm,
    ImportUploadForm,
    OptOutForm,
)
from apps.contacts.models import Contact, Group, ImportJob
from apps.contacts.services import bulk, exporting, import_uploads, importing
from apps.contacts.services import contacts as contact_services
from apps.contacts.services.groups import group_get_or_create
from apps.contacts.services.import_uploads import PendingUpload
from apps.core.exceptions import ChorusError, NotFound
from apps.portal.access import forbidden, has_role, role_required

logger = logging.getLogger(__name__)

# Past imports shown on their page (newest first); older ones stay reachable through the API.
IMPORTS_LIST_LIMIT = 100
# Where the wizard keeps the upload between its steps, per workspace (one session may be
# logged in to several).
UPLOAD_SESSION_KEY = "contacts.import_upload.{schema}"
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (BOM)",
    "utf-16": "UTF-16",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}


def _contact_or_404(contact_id: int) -> Contact:
    try:
        return contact_services.contact_get(contact_id=contact_id)
    except NotFound:
        raise Http404("No such contact.") from None


def _job_or_404(job_id: int) -> ImportJob:
    try:
        return importing.import_job_get(job_id=job_id)
    except NotFound:
        raise Http404("No such import.") from None


def _list_url(request: HttpRequest, candidate: str | None) -> str:
    """Back to the list the action was taken from (its filters and page), never elsewhere."""
    base = reverse("portal:contacts")
    if (
        candidate
        and candidate.startswith(base)
        and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()})
    ):
        return candidate
    return base


def _state_labels() -> dict[str, str]:
    return {value: str(label) for value, label in ImportJob.State.choices}


# --- the list -----------------------------------------------------------------------------------


@login_required
@require_GET
def contacts(request: HttpRequest) -> HttpResponse:
    form = ContactFilterForm(request.GET)
    context: dict[str, Any] = {
        "filter_form": form,
        "bulk_form": BulkActionForm(initial={"next": request.get_full_path()}),
        "can_edit": has_role(request, Role.AGENT),
        "can_delete": has_role(request, Role.ADMIN),
    }
    if not form.is_valid():
        context.update(page=None, total=None)
        return render(request, "contacts/contacts.html", context, status=400)
    queryset = selectors.contacts_list(**form.filters())
    page = selectors.contacts_page(
        queryset.prefetch_related("groups"), after=form.cleaned_data["after"], before=form.cleaned_data["before"]
    )
    context.update(
        page=page,
        total=selectors.contacts_total(queryset, filtered=form.is_filtered()),
        filtered=form.is_filtered(),
        newer_query=form.query(before=page.newer_than) if page.newer_than else None,
        older_query=form.query(after=page.older_than) if page.older_than else None,
        export_query=form.query(),
    )
    return render(request, "contacts/contacts.html", context)


def _bulk_group(form: BulkActionForm) -> Group:
    group = form.cleaned_data.get("group")
    if group is None:
        group, _created = group_get_or_create(name=form.cleaned_data["new_group"])
    return group


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_bulk(request: HttpRequest) -> HttpResponse:
    form = BulkActionForm(request.POST)
    back = _list_url(request, request.POST.get("next"))
    if not form.is_valid():
        errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
        messages.error(request, errors[0] if errors else _("Choose an action and at least one contact."))
        return redirect(back)
    action = form.cleaned_data["action"]
    if action == BulkActionForm.DELETE and not has_role(request, Role.ADMIN):
        return forbidden(request, "contacts_bulk_delete")
    ids = form.cleaned_data["contact"]
    try:
        if action == BulkActionForm.ADD_TO_GROUP:
            with transaction.atomic():
                group = _bulk_group(form)
                changed = bulk.contacts_group_add(contact_ids=ids, group=group)
            text = ngettext(
                "%(count)s contact added to %(group)s.", "%(count)s contacts added to %(group)s.", changed
            ) % {"count": changed, "group": group.name}
        elif action == BulkActionForm.REMOVE_FROM_GROUP:
            group = form.cleaned_data["group"]
            changed = bulk.contacts_group_remove(contact_ids=ids, group=group)
            text = ngettext(
                "%(count)s contact removed from %(group)s.", "%(count)s contacts removed from %(group)s.", changed
            ) % {"count": changed, "group": group.name}
        elif action == BulkActionForm.OPT_OUT:
            changed = bulk.contacts_opt_out(contact_ids=ids, via=Contact.OptOutVia.MANUAL)
            text = ngettext("%(count)s contact opted out.", "%(count)s contacts opted out.", changed) % {
                "count": changed
            }
        else:
            changed = bulk.contacts_delete(contact_ids=ids)
            text = ngettext("%(count)s contact deleted.", "%(count)s contacts deleted.", changed) % {"count": changed}
    except ChorusError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    logger.info(
        "portal.contacts_bulk",
        extra={"action": action, "selected": len(ids), "changed": changed, "user_id": request.user.pk},
    )
    messages.success(request, text)
    return redirect(back)


@login_required
@require_GET
def contacts_export(request: HttpRequest) -> HttpResponse:
    """The contacts matching the list's filters as CSV (formula cells neutralised). Runs in the
    request: fine for the sizes seen so far; a background export is the next step up."""
    form = ContactFilterForm(request.GET)
    if not form.is_valid():
        messages.error(request, _("Those filters are not valid."))
        return redirect("portal:contacts")
    export = exporting.contacts_export(queryset=selectors.contacts_list(**form.filters()), file_format="csv")
    logger.info("portal.contacts_exported", extra={"user_id": request.user.pk, "filtered": form.is_filtered()})
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = f'attachment; filename="contacts.{export.extension}"'
    return response


# --- one contact --------------------------------------------------------------------------------


def _detail_page(
    request: HttpRequest, contact: Contact, *, edit_form: ContactEditForm | None = None, status: int = 200
) -> HttpResponse:
    group_ids = selectors.contact_group_ids(contact)
    can_edit = has_role(request, Role.AGENT)
    edit_form = edit_form or ContactEditForm(initial=ContactEditForm.initial_for(contact, group_ids))
    if not can_edit:
        for field in edit_form.fields.values():
            field.disabled = True
    context = {
        "contact": contact,
        "groups": list(Group.objects.filter(id__in=group_ids).order_by("name")),
        "edit_form": edit_form,
        "opt_out_form": OptOutForm(),
        "history": selectors.contact_messages(phone=contact.phone),
        "history_limit": selectors.CONTACT_HISTORY_LIMIT,
        "is_suppressed": selectors.contact_is_suppressed(phone=contact.phone),
        "can_edit": can_edit,
        "can_delete": has_role(request, Role.ADMIN),
    }
    return render(request, "contacts/contact_detail.html", context, status=status)


@login_required
@require_GET
def contacts_detail(request: HttpRequest, contact_id: int) -> HttpResponse:
    return _detail_page(request, _contact_or_404(contact_id))


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_edit(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    form = ContactEditForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, contact, edit_form=form, status=400)
    try:
        contact_services.contact_edit(
            contact=contact, groups=list(form.cleaned_data["groups"]), **form.fields_to_save()
        )
    except ChorusError as exc:
        form.add_error(None, exc.message)
        return _detail_page(request, _contact_or_404(contact_id), edit_form=form, status=exc.status)
    messages.success(request, _("Contact saved."))
    return redirect("portal:contacts_detail", contact_id=contact.id)


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_opt_out(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    form = OptOutForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if bulk.contacts_opt_out(contact_ids=[contact.id], reason=reason, via=Contact.OptOutVia.MANUAL):
        messages.success(request, _("Opted out. This contact gets no campaign messages from now on."))
    else:
        messages.info(request, _("This contact was already opted out."))
    return redirect("portal:contacts_detail", contact_id=contact.id)


@login_required
@require_POST
@role_required(Role.AGENT)
def contacts_opt_in(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    if bulk.contacts_opt_in(contact_ids=[contact.id]):
        messages.success(request, _("Opted back in. Campaigns can message this contact again."))
    else:
        messages.info(request, _("This contact was not opted out."))
    return redirect("portal:contacts_detail", contact_id=contact.id)


@login_required
@require_POST
@role_required(Role.ADMIN)
def contacts_delete(request: HttpRequest, contact_id: int) -> HttpResponse:
    contact = _contact_or_404(contact_id)
    bulk.contacts_delete(contact_ids=[contact.id])
    messages.success(request, _("%(contact)s was deleted.") % {"contact": str(contact)})
    return redirect("portal:contacts")


# --- imports ------------------------------------------------------------------------------------


def _session_key() -> str:
    return UPLOAD_SESSION_KEY.format(schema=connection.schema_name)


def _pending_upload(request: HttpRequest) -> PendingUpload | None:
    stored = request.session.get(_session_key())
    if not isinstance(stored, dict) or not stored.get("token") or not stored.get("name"):
        return None
    return PendingUpload(token=str(stored["token"]), name=str(stored["name"]))


def _forget_upload(request: HttpRequest, upload: PendingUpload) -> None:
    import_uploads.import_upload_discard(upload=upload)
    request.session.pop(_session_key(), None)


@login_required
@require_GET
def contacts_imports(request: HttpRequest) -> HttpResponse:
    jobs = list(selectors.import_jobs_list()[:IMPORTS_LIST_LIMIT])
    context = {"jobs": jobs, "can_import": has_role(request, Role.AGENT), "limit": IMPORTS_LIST_LIMIT}
    return render(request, "contacts/imports.html", context)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.AGENT)
def contacts_import_new(request: HttpRequest) -> HttpResponse:
    """Step 1: the file. It is kept aside until the import starts (step 2)."""
    if request.method == "GET":
        return render(request, "contacts/import_upload.html", {"form": ImportUploadForm(), "step": 1})
    form = ImportUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "contacts/import_upload.html", {"form": form, "step": 1}, status=400)
    upload = form.cleaned_data["file"]
    try:
        pending = import_uploads.import_upload_stash(stream=upload, name=upload.name)
    except ChorusError as exc:
        form.add_error("file", exc.message)
        return render(request, "contacts/import_upload.html", {"form": form, "step": 1}, status=exc.status)
    previous = _pending_upload(request)
    if previous is not None:
        import_uploads.import_upload_discard(upload=previous)
    request.session[_session_key()] = {"token": pending.token, "name": pending.name}
    return redirect("portal:contacts_import_map")


def _read_preview(upload: PendingUpload, delimiter: str | None) -> importing.ImportPreview:
    with import_uploads.import_upload_open(upload=upload) as stream:
        return importing.import_preview(stream=stream, name=upload.name, delimiter=delimiter)


def _map_page(
    request: HttpRequest,
    upload: PendingUpload,
    preview: importing.ImportPreview,
    form: ImportMappingForm,
    *,
    status: int = 200,
) -> HttpResponse:
    layout = preview.layout
    delimiter_label = dict(DELIMITER_CHOICES).get(layout.delimiter, layout.delimiter)
    context = {
        "step": 2,
        "upload": upload,
        "layout": layout,
        "encoding_label": ENCODING_LABELS.get(layout.encoding, layout.encoding),
        "delimiter_label": delimiter_label,
        "delimiter_form": DelimiterForm(initial={"delimiter": layout.delimiter}),
        "preview": preview,
        "form": form,
        "columns": form.columns(),
    }
    return render(request, "contacts/import_map.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
@role_required(Role.AGENT)
def contacts_import_map(request: HttpRequest) -> HttpResponse:
    """Step 2: how the file was read (format, encoding, delimiter), its first rows, which column
    feeds which field (the remembered mapping for these columns, else a guess) and the options;
    submitting starts the import."""
    upload = _pending_upload(request)
    if upload is None:
        messages.info(request, _("Choose a file to import first."))
        return redirect("portal:contacts_import_new")
    source = request.POST if request.method == "POST" else request.GET
    delimiter_form = DelimiterForm(source)
    delimiter = (delimiter_form.cleaned_data["delimiter"] or None) if delimiter_form.is_valid() else None
    try:
        preview = _read_preview(upload, delimiter)
    except ChorusError as exc:
        _forget_upload(request, upload)
        messages.error(request, exc.message)
        return redirect("portal:contacts_import_new")
    if request.method == "GET":
        form = ImportMappingForm(
            headers=preview.headers, initial=ImportMappingForm.initial_for(preview.headers, preview.mapping)
        )
        return _map_page(request, upload, preview, form)

    form = ImportMappingForm(request.POST, headers=preview.headers)
    if not form.is_valid():
        return _map_page(request, upload, preview, form, status=400)
    try:
        with transaction.atomic(), import_uploads.import_upload_open(upload=upload) as stream:
            group = form.cleaned_data.get("group")
            if group is None and form.cleaned_data["new_group"]:
                group, _created = group_get_or_create(name=form.cleaned_data["new_group"])
            job = importing.import_job_create(
                stream=stream,
                name=upload.name,
                mapping=form.cleaned_data["mapping"],
                mode=form.cleaned_data["mode"],
                group=group,
                delimiter=preview.layout.delimiter or None,
                created_by_id=request.user.pk,
            )
    except ChorusError as exc:
        form.add_error(None, exc.message)
        for field, errors in (exc.details or {}).items() if isinstance(exc.details, dict) else ():
            for error in errors if isinstance(errors, list) else [errors]:
                form.add_error(None, f"{field}: {error}")
        return _map_page(request, upload, preview, form, status=exc.status)
    _forget_upload(request, upload)
    logger.info("portal.contact_import_started", extra={"job_id": job.id, "user_id": request.user.pk})
    messages.success(request, _("Import started. You can leave this page; the import goes on."))
    return redirect("portal:contacts_import_detail", job_id=job.id)


@login_required
@require_GET
def contacts_import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job_or_404(job_id)
    context = {
        "job": job,
        "event": importing.import_job_event(job),
        "encoding_label": ENCODING_LABELS.get(job.encoding, job.encoding),
        "delimiter_label": dict(DELIMITER_CHOICES).get(job.delimiter, job.delimiter),
        "state_labels": _state_labels(),
        "can_import": has_role(request, Role.AGENT),
    }
    return render(request, "contacts/import_detail.html", context)


@login_required
@require_GET
def contacts_import_errors(request: HttpRequest, job_id: int) -> FileResponse:
    job = _job_or_404(job_id)
    if not job.error_file:
        raise Http404("This import has no rejected rows.")
    base = job.original_name.rsplit(".", 1)[0] or "import"
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"{base}-errors.csv",
        content_type="text/csv; charset=utf-8",
    )
