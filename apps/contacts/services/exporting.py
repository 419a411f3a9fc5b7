"""Contact and group exports through the import-export resources (formula cells neutralised).

Small exports are rendered in the request (`contacts_export`, refused past
EXPORT_INLINE_MAX_ROWS). Anything bigger is a ContactExport: `contact_export_request` stores the
list's filters and hands the export to the `imports` queue after commit; the worker
(`contact_export_run`) reads the contacts in keyset chunks of EXPORT_CHUNK_ROWS and streams
every row through ContactResource (same columns, same neutralisation as the inline export) into
a file in private storage, publishing progress on `exports.<id>` at most once a second. The file
is kept EXPORT_FILE_MAX_AGE, then deleted by the sweep (`contact_exports_expire`) and the export
marked expired.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import StrEnum
from typing import IO, Any

from django.core.exceptions import FieldError
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from apps.contacts import selectors
from apps.contacts.models import Contact, ContactExport, Group
from apps.contacts.resources import ContactResource, GroupResource, contacts_with_group_names
from apps.core.exceptions import ChorusError, Conflict, NotFound, ValidationFailed
from apps.core.locks import advisory_lock
from apps.core.realtime.publish import publish_coalesced

logger = logging.getLogger(__name__)

EXPORT_FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# Excel reads UTF-8 CSV correctly only with a byte-order mark.
CSV_ENCODING = "utf-8-sig"
# Past this many contacts an export in the request takes long enough to time out (and holds the
# whole file in memory): the caller is sent to the background export instead.
EXPORT_INLINE_MAX_ROWS = 50_000
# Contacts read (and their groups prefetched) per query by the worker: memory stays flat at a
# million contacts, and each query is a short index range scan on the primary key.
EXPORT_CHUNK_ROWS = 10_000
# Progress is written to the export row and published at most this often (DESIGN.md: one event
# per second per topic).
PROGRESS_INTERVAL_S = 1.0
# How long a finished export's file is kept for download before the sweep deletes it.
EXPORT_FILE_MAX_AGE = datetime.timedelta(days=7)
XLSX_SHEET_TITLE = "contacts"
# An Excel sheet holds 1,048,576 rows, one of them the header; bigger exports must be CSV.
XLSX_MAX_ROWS = 1_048_575


class ExportError(StrEnum):
    INVALID_FORMAT = "invalid_format"
    INVALID_FILTERS = "invalid_filters"
    TOO_LARGE = "export_too_large"
    TOO_LARGE_FOR_XLSX = "export_too_large_for_xlsx"
    NOT_FOUND = "export_not_found"
    NOT_READY = "export_not_ready"
    EXPIRED = "export_expired"


class ExportTooLarge(ChorusError):
    # The request is well-formed but this way of exporting cannot serve it.
    status = 422
    default_code = ExportError.TOO_LARGE


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    content_type: str
    extension: str


def _check_format(file_format: str) -> None:
    if file_format not in EXPORT_FORMATS:
        raise ValidationFailed(
            f"Unknown export format {file_format!r}: use csv or xlsx.", code=ExportError.INVALID_FORMAT
        )


def _render(dataset, file_format: str) -> ExportFile:
    _check_format(file_format)
    data = dataset.export(file_format)
    content = data.encode(CSV_ENCODING) if isinstance(data, str) else data
    return ExportFile(content=content, content_type=EXPORT_FORMATS[file_format], extension=file_format)


def contacts_export(
    *, queryset: QuerySet[Contact] | None = None, file_format: str = "csv", max_rows: int | None = None
) -> ExportFile:
    """The whole export in memory, for the request that asked. With `max_rows`, more matching
    contacts than that is refused (ExportTooLarge) before anything is read."""
    _check_format(file_format)
    queryset = queryset if queryset is not None else Contact.objects.all()
    if max_rows is not None and queryset.order_by()[: max_rows + 1].count() > max_rows:
        raise ExportTooLarge(
            f"More than {max_rows:,} contacts match: export them in the background with "
            "POST /api/v1/contacts/exports (in the portal: Contacts → Exports).",
            details={"max_rows": max_rows, "exports": "/api/v1/contacts/exports"},
        )
    resource = ContactResource()
    return _render(resource.export(queryset.prefetch_related("groups").order_by("id")), file_format)


def groups_export(*, file_format: str = "csv") -> ExportFile:
    return _render(GroupResource().export(Group.objects.order_by("name")), file_format)


# --- background exports -------------------------------------------------------------------------


def export_topic(export_id: int) -> str:
    return f"exports.{export_id}"


def _filters_stored(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters as they will be stored (JSON), checked against the selector now so a bad one
    is refused to the asker rather than failing in the worker."""
    try:
        stored = json.loads(json.dumps(filters, cls=DjangoJSONEncoder))
    except TypeError as exc:
        raise ValidationFailed(
            "These filters cannot be saved with an export.", code=ExportError.INVALID_FILTERS
        ) from exc
    _queryset(stored)
    return stored


def _queryset(filters: dict[str, Any]) -> QuerySet[Contact]:
    try:
        return selectors.contacts_list(**filters)
    except (TypeError, ValueError, FieldError, DjangoValidationError) as exc:
        raise ValidationFailed("These filters cannot be applied.", code=ExportError.INVALID_FILTERS) from exc


def contact_export_request(*, filters: dict[str, Any], file_format: str, requested_by_id: int | None) -> ContactExport:
    """Records an export of the contacts matching `filters` (keyword arguments of
    selectors.contacts_list, stored as JSON) and starts the worker after commit. The worker
    applies them when it runs; filters it can no longer apply fail the export with a reason."""
    _check_format(file_format)
    stored = _filters_stored(filters)
    with transaction.atomic():
        export = ContactExport.objects.create(file_format=file_format, filters=stored, requested_by_id=requested_by_id)
        transaction.on_commit(lambda: contact_export_start(export.id))
    logger.info("contact_export.requested", extra={"export_id": export.id, "file_format": file_format})
    return export


def contact_export_start(export_id: int) -> None:
    from apps.contacts import tasks

    tasks.contacts_export.delay(export_id)


def contact_export_get(*, export_id: int) -> ContactExport:
    export = ContactExport.objects.filter(pk=export_id).first()
    if export is None:
        raise NotFound("No such export.", code=ExportError.NOT_FOUND)
    return export


def contact_exports_list() -> QuerySet[ContactExport]:
    return ContactExport.objects.order_by("-id")


def contact_export_file(*, export: ContactExport) -> File:
    """The finished file, open for binary reading (the caller closes it)."""
    expired = NotFound(
        "This export's file was deleted after a while. Export the contacts again.",
        code=ExportError.EXPIRED,
        status=410,
    )
    if export.state == ContactExport.State.EXPIRED:
        raise expired
    if export.state != ContactExport.State.COMPLETED or not export.file:
        raise Conflict("This export has no file yet.", code=ExportError.NOT_READY)
    try:
        return export.file.open("rb")
    except FileNotFoundError:  # the sweep deleted it a moment ago
        raise expired from None


def contact_export_event(export: ContactExport) -> dict[str, Any]:
    """The progress event for `export` as it stands now (also what a page that starts watching
    late catches up with)."""
    return {
        "export_id": export.id,
        "state": export.state,
        "rows_done": export.rows_done,
        "rows_total": export.rows_total,
        "progress": export.progress,
        "has_file": export.state == ContactExport.State.COMPLETED and bool(export.file),
        "error": export.error,
    }


def _export_lock(export_id: int) -> AbstractContextManager[bool]:
    """One runner per export across workers (a redelivered task finds the lock taken)."""
    return advisory_lock(f"contacts.export:{connection.schema_name}:{export_id}")


def contact_export_run(*, export_id: int) -> ContactExport | None:
    """Writes a queued export's file. Idempotent: a finished export is returned as it is; one
    left running by a dead worker starts over (its file is only stored at the very end)."""
    with _export_lock(export_id) as locked:
        if not locked:
            logger.info("contact_export.already_running", extra={"export_id": export_id})
            return None
        export = ContactExport.objects.filter(pk=export_id).first()
        if export is None:
            logger.info("contact_export.gone", extra={"export_id": export_id})
            return None
        if export.is_finished:
            return export
        return _run(export)


def _chunks(queryset: QuerySet[Contact]) -> Iterator[list[Contact]]:
    """The contacts in id order, EXPORT_CHUNK_ROWS at a time (keyset, no OFFSET)."""
    last_id = 0
    while True:
        chunk = list(contacts_with_group_names(queryset.filter(id__gt=last_id).order_by("id"))[:EXPORT_CHUNK_ROWS])
        if chunk:
            yield chunk
        if len(chunk) < EXPORT_CHUNK_ROWS:
            return
        last_id = chunk[-1].id


class _CsvSheet:
    """Rows as today's CSV export writes them (tablib's csv is the csv module's defaults)."""

    def __init__(self, binary: IO[bytes]):
        self.text = io.TextIOWrapper(binary, encoding=CSV_ENCODING, newline="")
        self.writer = csv.writer(self.text)

    def header(self, values: list[str]) -> None:
        self.writer.writerow(values)

    def row(self, values: list[Any]) -> None:
        self.writer.writerow(values)

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the caller still reads the binary file


class _XlsxSheet:
    """openpyxl's write-only mode: rows go to a temporary file as they come, never all in memory."""

    def __init__(self, binary: IO[bytes]):
        self.binary = binary
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet(XLSX_SHEET_TITLE)
        self.bold = Font(bold=True)

    def header(self, values: list[str]) -> None:
        cells = []
        for value in values:
            cell = WriteOnlyCell(self.sheet, value=value)
            cell.font = self.bold
            cells.append(cell)
        self.sheet.append(cells)

    def row(self, values: list[Any]) -> None:
        self.sheet.append(values)

    def close(self) -> None:
        self.workbook.save(self.binary)


class _Progress:
    def __init__(self, export: ContactExport):
        self.export = export
        self.last_published = 0.0

    def publish(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last_published >= PROGRESS_INTERVAL_S:
            self.last_published = now
            self.export.save(update_fields=["rows_done", "rows_total"])
            publish_coalesced(export_topic(self.export.id), contact_export_event(self.export))


def _too_large_for_xlsx() -> ValidationFailed:
    return ValidationFailed(
        f"An Excel sheet holds at most {XLSX_MAX_ROWS:,} contacts: export these as CSV.",
        code=ExportError.TOO_LARGE_FOR_XLSX,
    )


def _run(export: ContactExport) -> ContactExport:
    started = time.monotonic()
    export.state = ContactExport.State.RUNNING
    export.started_at = timezone.now()
    export.rows_done = 0
    export.rows_total = None
    export.error = ""
    export.save(update_fields=["state", "started_at", "rows_done", "rows_total", "error"])
    logger.info("contact_export.started", extra={"export_id": export.id, "file_format": export.file_format})
    progress = _Progress(export)
    try:
        queryset = _queryset(export.filters)
        try:
            export.rows_total = queryset.order_by().count()
        except (ValueError, DjangoValidationError) as exc:
            raise ValidationFailed("These filters cannot be applied.", code=ExportError.INVALID_FILTERS) from exc
        progress.publish(force=True)
        is_xlsx = export.file_format == ContactExport.Format.XLSX
        if is_xlsx and export.rows_total > XLSX_MAX_ROWS:
            raise _too_large_for_xlsx()
        resource = ContactResource()
        with tempfile.TemporaryFile() as binary:
            sheet = _XlsxSheet(binary) if is_xlsx else _CsvSheet(binary)
            sheet.header(resource.get_export_headers())
            for chunk in _chunks(queryset):
                for contact in chunk:
                    sheet.row(resource.export_resource(contact))
                export.rows_done += len(chunk)
                if is_xlsx and export.rows_done > XLSX_MAX_ROWS:
                    raise _too_large_for_xlsx()  # contacts were added while it ran
                progress.publish()
            sheet.close()
            binary.seek(0)
            export.file.save(f"{uuid.uuid4().hex}.{export.file_format}", File(binary), save=False)
        export.state = ContactExport.State.COMPLETED
        export.rows_total = export.rows_done
        export.finished_at = timezone.now()
        export.save(update_fields=["state", "rows_total", "rows_done", "file", "finished_at"])
    except (OperationalError, InterfaceError):
        raise  # the task retries; the run starts over
    except (ChorusError, OSError) as exc:
        _fail(export, exc)
    except Exception as exc:
        # A bug: the export says it failed (not "running" for ever) and the error goes on up.
        _fail(export, exc)
        raise
    if export.state == ContactExport.State.COMPLETED:
        logger.info(
            "contact_export.completed",
            extra={
                "export_id": export.id,
                "rows": export.rows_done,
                "rows_per_s": round(export.rows_done / max(time.monotonic() - started, 1e-6), 1),
            },
        )
    publish_coalesced(export_topic(export.id), contact_export_event(export))
    return export


def _fail(export: ContactExport, exc: Exception) -> None:
    if isinstance(exc, ChorusError):
        message = exc.message
    elif isinstance(exc, OSError):
        message = "The export file could not be written. Try again."
    else:
        message = "The export stopped on an internal error."
    export.state = ContactExport.State.FAILED
    export.error = message[:2000]
    export.finished_at = timezone.now()
    export.save(update_fields=["state", "error", "finished_at", "rows_done", "rows_total"])
    logger.warning(
        "contact_export.failed", extra={"export_id": export.id, "code": getattr(exc, "code", type(exc).__name__)}
    )


def contact_export_abandon(*, export_id: int, reason: str) -> bool:
    """Mark an export its worker gave up on failed with `reason` (see import_job_abandon)."""
    unfinished = (ContactExport.State.QUEUED, ContactExport.State.RUNNING)
    marked = ContactExport.objects.filter(pk=export_id, state__in=unfinished).update(
        state=ContactExport.State.FAILED, error=reason[:2000], finished_at=timezone.now()
    )
    if marked:
        logger.warning("contact_export.abandoned", extra={"export_id": export_id})
        export = ContactExport.objects.get(pk=export_id)
        transaction.on_commit(lambda: publish_coalesced(export_topic(export.id), contact_export_event(export)))
    return bool(marked)


# --- the sweep ----------------------------------------------------------------------------------


def _export_folder() -> str:
    return f"exports/{connection.schema_name}"


def contact_exports_expire(*, max_age: datetime.timedelta = EXPORT_FILE_MAX_AGE) -> int:
    """In the current tenant: deletes the files of exports finished more than `max_age` ago
    (marking them expired, so their page says so), and any file in the tenant's export folder
    older than that which no export points at (a worker that died between writing and
    recording). Returns how many files were deleted."""
    cutoff = timezone.now() - max_age
    deleted = 0
    for export in ContactExport.objects.filter(state=ContactExport.State.COMPLETED, finished_at__lt=cutoff):
        if export.file:
            export.file.delete(save=False)
            deleted += 1
        export.state = ContactExport.State.EXPIRED
        export.save(update_fields=["state", "file"])
        logger.info("contact_export.expired", extra={"export_id": export.id})
    folder = _export_folder()
    try:
        _dirs, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return deleted
    kept = set(ContactExport.objects.exclude(file="").values_list("file", flat=True))
    for name in names:
        path = f"{folder}/{name}"
        if path not in kept and default_storage.get_modified_time(path) < cutoff:
            default_storage.delete(path)
            deleted += 1
            logger.info("contact_export.orphan_deleted", extra={"schema": connection.schema_name})
    return deleted
