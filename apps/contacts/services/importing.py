"""Contact imports: upload → ImportJob → worker (queue `imports`) → contacts.

`import_preview` reads the first rows of an upload and suggests a column mapping (the wizard).
`import_job_create` validates the file and mapping, stores the upload and starts the worker
after commit. `import_job_run` (the worker, and `manage.py import_contacts`) streams the file
through import_staging — parse, normalise, de-duplicate, COPY — publishing progress (rows,
rows/s, errors) on `imports.<job id>` at most once a second, then applies it in one
transaction: the file's contacts land together or not at all, and a re-run after a crash
starts clean. Rows that cannot be imported go to a CSV error report (line, reason, the row as
it was) that the tenant downloads.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Any

from django.core.files import File
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.billing import services as billing
from apps.contacts.models import Group, ImportJob
from apps.contacts.services import import_files, import_staging
from apps.contacts.services.import_files import FileLayout, ImportFileError
from apps.contacts.services.import_mapping import mapping_remember, mapping_suggest, mapping_validate
from apps.contacts.services.phones import PhoneNormaliser
from apps.contacts.spreadsheets import row_neutralise
from apps.core.exceptions import ChorusError, NotFound, ValidationFailed
from apps.core.locks import advisory_lock
from apps.core.realtime.publish import publish_coalesced
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

PREVIEW_ROWS = 5
# Progress is written to the job row and published at most this often (DESIGN.md: one event
# per second per topic).
PROGRESS_INTERVAL_S = 1.0
# Excel reads a UTF-8 CSV correctly only with a byte-order mark.
ERROR_FILE_ENCODING = "utf-8-sig"
ALLOWED_EXTENSIONS = (".csv", ".tsv", ".txt", ".xlsx")

ProgressCallback = Callable[[dict[str, Any]], None]


def import_topic(job_id: int) -> str:
    return f"imports.{job_id}"


@dataclass(frozen=True)
class ImportPreview:
    layout: FileLayout
    headers: list[str]
    rows: list[list[str]]
    mapping: dict[str, str]


def _header_and_rows(stream: IO[bytes], layout: FileLayout) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    rows = import_files.read_rows(stream, layout)
    for _, cells in rows:
        if "".join(cells).strip():
            return import_files.clean_headers(cells), rows
    raise ImportFileError("The file is empty.", code="import_file_empty")


def import_preview(*, stream: IO[bytes], name: str, delimiter: str | None = None) -> ImportPreview:
    """How the file will be read (format, encoding, delimiter), its first rows and the mapping
    to offer (remembered for these headers, else guessed)."""
    layout = import_files.detect_layout(stream, name, delimiter=delimiter)
    headers, rows = _header_and_rows(stream, layout)
    sample = []
    for _, cells in rows:
        sample.append(cells)
        if len(sample) >= PREVIEW_ROWS:
            break
    rows.close()
    return ImportPreview(layout=layout, headers=headers, rows=sample, mapping=mapping_suggest(headers))


def import_job_create(
    *,
    stream: IO[bytes],
    name: str,
    mapping: dict[str, str] | None = None,
    mode: str = ImportJob.Mode.UPDATE,
    group: Group | None = None,
    delimiter: str | None = None,
    created_by_id: int | None = None,
    start: bool = True,
) -> ImportJob:
    """Checks the upload (readable format, a header row, a mapping with a phone column),
    stores it, remembers the mapping for files with these headers, and hands the job to the
    `imports` queue after commit (unless `start=False`: the caller runs it itself)."""
    if mode not in ImportJob.Mode.values:
        raise ValidationFailed(f"Unknown mode {mode!r}: use update or skip.", code="invalid_mode")
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        raise ImportFileError(f"Upload a {', '.join(ALLOWED_EXTENSIONS)} file.", code="import_file_type")
    layout = import_files.detect_layout(stream, name, delimiter=delimiter)
    headers, rows = _header_and_rows(stream, layout)
    rows.close()
    mapping = mapping_validate(mapping if mapping is not None else mapping_suggest(headers), headers)
    stream.seek(0)
    extension = os.path.splitext(name)[1].lower()
    with transaction.atomic():
        job = ImportJob(
            original_name=os.path.basename(name)[:255],
            format=layout.format,
            encoding=layout.encoding,
            delimiter=layout.delimiter,
            headers=headers,
            mapping=mapping,
            mode=mode,
            group=group,
            created_by_id=created_by_id,
        )
        # Unguessable stored name; the original is kept for display only.
        job.file.save(f"{uuid.uuid4().hex}{extension}", File(stream), save=False)
        job.save()
        mapping_remember(headers=headers, mapping=mapping)
        if start:
            transaction.on_commit(lambda: import_job_start(job.id))
    logger.info("contact_import.created", extra={"job_id": job.id, "format": layout.format, "mode": mode})
    return job


def import_job_start(job_id: int) -> None:
    from apps.contacts import tasks

    tasks.contacts_import.delay(job_id)


def _job_lock(job_id: int) -> AbstractContextManager[bool]:
    """One runner per job across workers (a redelivered task finds the lock taken)."""
    return advisory_lock(f"contacts.import:{connection.schema_name}:{job_id}")


def import_job_run(*, job_id: int, on_progress: ProgressCallback | None = None) -> ImportJob | None:
    """Runs a queued job to the end. Idempotent: a finished job is returned as it is, a job
    left running by a dead worker starts over (nothing of it was committed)."""
    with _job_lock(job_id) as locked:
        if not locked:
            logger.info("contact_import.already_running", extra={"job_id": job_id})
            return None
        job = ImportJob.objects.select_related("group").filter(pk=job_id).first()
        if job is None:
            logger.info("contact_import.job_gone", extra={"job_id": job_id})
            return None
        if job.is_finished:
            return job
        return _run(job, on_progress)


def _event(job: ImportJob) -> dict[str, Any]:
    event = {
        "job_id": job.id,
        "state": job.state,
        "processed_rows": job.processed_rows,
        "progress": job.progress,
        "rows_per_s": job.rows_per_s,
        "error_count": job.error_count,
    }
    if job.is_finished:
        event.update(
            total_rows=job.total_rows,
            created=job.created_count,
            updated=job.updated_count,
            unchanged=job.unchanged_count,
            skipped=job.skipped_count,
            duplicates=job.duplicate_count,
            has_error_file=bool(job.error_file),
            failure=job.failure,
        )
    return event


def import_job_event(job: ImportJob) -> dict[str, Any]:
    """The progress event for `job` as it stands now: what a page that starts watching late
    catches up with before the live events."""
    return _event(job)


class _Progress:
    """Turns COPY chunks into progress: the callback every chunk, the job row and a realtime
    event at most once per PROGRESS_INTERVAL_S."""

    def __init__(self, job: ImportJob, *, started: float, position: Callable[[int], float], on_progress):
        self.job, self.started, self.position, self.on_progress = job, started, position, on_progress
        self.last_published = 0.0

    def chunk(self, counts: import_staging.StageCounts) -> None:
        job = self.job
        now = time.monotonic()
        job.processed_rows = counts.total
        job.error_count = counts.errors
        job.progress = min(99, int(self.position(counts.total) * 100))
        job.rows_per_s = round(counts.total / max(now - self.started, 1e-6), 1)
        if self.on_progress is not None:
            self.on_progress(_event(job))
        if now - self.last_published >= PROGRESS_INTERVAL_S:
            self.last_published = now
            job.save(update_fields=["processed_rows", "error_count", "progress", "rows_per_s"])
            publish_coalesced(import_topic(job.id), _event(job))


class _ErrorReport:
    """The rejected rows, as a CSV people open in a spreadsheet (cells neutralised)."""

    def __init__(self, headers: list[str]):
        self.binary = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.text = io.TextIOWrapper(self.binary, encoding=ERROR_FILE_ENCODING, newline="")
        self.writer = csv.writer(self.text)
        self.writer.writerow(["line", "error", *headers])
        self.rows = 0

    def add(self, line: int, reason: str, cells: list[str]) -> None:
        self.rows += 1
        self.writer.writerow([line, reason, *row_neutralise(cells)])

    def save_to(self, job: ImportJob) -> None:
        self.text.flush()
        self.binary.seek(0)
        job.error_file.save(f"{uuid.uuid4().hex}-errors.csv", File(self.binary), save=False)

    def close(self) -> None:
        self.text.close()


def _tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)


def _run(job: ImportJob, on_progress: ProgressCallback | None) -> ImportJob:
    started = time.monotonic()
    job.state = ImportJob.State.RUNNING
    job.started_at = timezone.now()
    job.processed_rows = job.progress = job.error_count = 0
    job.failure = ""
    job.save(update_fields=["state", "started_at", "processed_rows", "progress", "error_count", "failure"])
    publish_coalesced(import_topic(job.id), _event(job))
    logger.info("contact_import.started", extra={"job_id": job.id})
    tenant = _tenant()
    report = _ErrorReport(job.headers)
    try:
        layout = FileLayout(format=job.format, encoding=job.encoding, delimiter=job.delimiter)
        plan = import_staging.ColumnPlan.build(job.headers, job.mapping)
        import_staging.stage_create(plan)
        with job.file.open("rb") as stored:
            stream = import_files.raw_binary(stored)
            if layout.format == ImportJob.Format.XLSX:
                declared = import_files.xlsx_row_count(stream) or 0
                position = (lambda rows: rows / declared) if declared > 1 else (lambda rows: 0.0)
            else:
                size = max(job.file.size, 1)
                position = lambda rows: stream.tell() / size  # noqa: E731 - a one-line probe
            headers, rows = _header_and_rows(stream, layout)
            if headers != job.headers:
                raise ImportFileError("The stored file no longer matches its columns.", code="import_file_changed")
            counts = import_staging.stage_rows(
                rows,
                plan=plan,
                normalise=PhoneNormaliser(tenant.default_region),
                strict_width=layout.format == ImportJob.Format.CSV,
                on_error=report.add,
                on_chunk=_Progress(job, started=started, position=position, on_progress=on_progress).chunk,
            )
        with transaction.atomic():
            applied = import_staging.stage_apply(
                plan=plan,
                staged=counts.staged,
                update_existing=job.mode == ImportJob.Mode.UPDATE,
                group_id=job.group_id,
                source=f"import: {job.original_name}"[:200],
            )
            if applied.created:
                billing.quota_require(
                    tenant=tenant,
                    action=billing.QuotaAction.ADD_CONTACTS,
                    amount=applied.created,
                    current=applied.existing_before,
                )
            if report.rows:
                report.save_to(job)
            _finish(job, counts, applied, started)
    except (ChorusError, UnicodeDecodeError, csv.Error) as exc:
        _fail(job, exc)
    except DatabaseError:
        raise  # the task retries; nothing of this run was committed
    except Exception as exc:
        # A bug: the job says it failed (not "running" for ever) and the error goes on up.
        _fail(job, exc)
        raise
    finally:
        report.close()
        try:
            import_staging.stage_drop()
        except DatabaseError:
            # Temporary tables go with the session anyway; the original error matters more.
            logger.warning("contact_import.stage_drop_failed", extra={"job_id": job.id})
    if job.state == ImportJob.State.COMPLETED:
        billing.usage_snapshot_set(tenant=tenant, contacts=applied.existing_before + applied.created)
        logger.info(
            "contact_import.completed",
            extra={
                "job_id": job.id,
                "rows": job.total_rows,
                "created_count": job.created_count,
                "rows_per_s": job.rows_per_s,
            },
        )
    publish_coalesced(import_topic(job.id), _event(job))
    if on_progress is not None:
        on_progress(_event(job))
    return job


def _finish(job: ImportJob, counts, applied, started: float) -> None:
    elapsed = max(time.monotonic() - started, 1e-6)
    job.state = ImportJob.State.COMPLETED
    job.finished_at = timezone.now()
    job.processed_rows = job.total_rows = counts.total
    job.progress = 100
    job.created_count = applied.created
    job.updated_count = applied.updated
    job.unchanged_count = applied.unchanged
    job.skipped_count = applied.skipped
    job.duplicate_count = counts.duplicates
    job.error_count = counts.errors
    job.rows_per_s = round(counts.total / elapsed, 1)
    job.save()


def _fail(job: ImportJob, exc: Exception) -> None:
    if isinstance(exc, ChorusError):
        message = exc.message
    elif isinstance(exc, UnicodeDecodeError):
        message = f"The file is not valid {exc.encoding} text."
    elif isinstance(exc, csv.Error):
        message = f"The file could not be read as CSV: {exc}"
    else:
        message = "The import stopped on an internal error."
    job.state = ImportJob.State.FAILED
    job.failure = message[:2000]
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "failure", "finished_at", "processed_rows", "error_count", "progress"])
    logger.warning("contact_import.failed", extra={"job_id": job.id, "code": getattr(exc, "code", type(exc).__name__)})


def import_job_abandon(*, job_id: int, reason: str) -> bool:
    """Mark a job its worker gave up on (retries spent, an unexpected error) failed with
    `reason`, so it never stays "running"; a finished or missing job is left alone. Returns
    whether the job was marked."""
    marked = ImportJob.objects.filter(pk=job_id, state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING)).update(
        state=ImportJob.State.FAILED, failure=reason[:2000], finished_at=timezone.now()
    )
    if marked:
        logger.warning("contact_import.abandoned", extra={"job_id": job_id})
        job = ImportJob.objects.get(pk=job_id)
        transaction.on_commit(lambda: publish_coalesced(import_topic(job.id), _event(job)))
    return bool(marked)


def import_job_get(*, job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such import.", code="import_not_found")
    return job
