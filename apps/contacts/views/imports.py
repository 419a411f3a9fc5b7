"""Portal pages of contact imports: the list of imports and the wizard (upload → preview and
column mapping with options → live progress → error report). Front doors only.

Every member reads imports and downloads error reports; agents and up import. Live import
progress comes over /ws/imports/<id>/ (apps.contacts.consumers) and static/js/contacts.js.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection, transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.models import Role
from apps.contacts import selectors
from apps.contacts.forms import DELIMITER_CHOICES, DelimiterForm, ImportMappingForm, ImportUploadForm
from apps.contacts.models import ImportJob
from apps.contacts.services import import_uploads, importing
from apps.contacts.services.groups import group_get_or_create
from apps.contacts.services.import_uploads import PendingUpload
from apps.core.exceptions import ChorusError, NotFound
from apps.portal.access import has_role, role_required

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


def _job_or_404(job_id: int) -> ImportJob:
    try:
        return importing.import_job_get(job_id=job_id)
    except NotFound:
        raise Http404("No such import.") from None


def _state_labels() -> dict[str, str]:
    return {value: str(label) for value, label in ImportJob.State.choices}


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
