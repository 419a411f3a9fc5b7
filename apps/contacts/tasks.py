"""Celery front doors of contacts (queue `imports`, routed by the `imports.` name prefix; the
hourly file sweep runs on `default`)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django_tenants.utils import get_public_schema_name, schema_context
from tenant_schemas_celery.app import get_schema_name_from_task

from apps.contacts.services import exporting, import_uploads, importing, usage
from config.celery import app

logger = logging.getLogger(__name__)

# A lost database connection is worth another try: the run is idempotent (its data lands in
# one transaction) and starts over.
IMPORT_MAX_RETRIES = 3
# The same for exports: a retried run writes its file again from the start.
EXPORT_MAX_RETRIES = 3
GAVE_UP = "The worker gave up ({error}). Start it again; nothing of this run was kept."


class _JobTask(app.Task):
    """A task running one job (its id is the first argument): when it fails for good — retries
    spent or an error nobody expected — the job is marked failed with the reason rather than
    left "running" for ever (the run itself keeps nothing: its data lands in one transaction)."""

    abstract = True

    def job_abandon(self, job_id: int, reason: str) -> bool:
        raise NotImplementedError

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        job_id = args[0] if args else next(iter(kwargs.values()), None)
        schema = get_schema_name_from_task(self, kwargs)
        if job_id is None or not schema or schema == get_public_schema_name():
            return
        with schema_context(schema):
            self.job_abandon(job_id, GAVE_UP.format(error=type(exc).__name__))


class _ImportTask(_JobTask):
    abstract = True

    def job_abandon(self, job_id: int, reason: str) -> bool:
        return importing.import_job_abandon(job_id=job_id, reason=reason)


class _ExportTask(_JobTask):
    abstract = True

    def job_abandon(self, job_id: int, reason: str) -> bool:
        return exporting.contact_export_abandon(export_id=job_id, reason=reason)


@app.task(
    base=_ImportTask,
    name="imports.contacts_import",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=IMPORT_MAX_RETRIES,
)
def contacts_import(job_id: int) -> None:
    """Run one contact import in the schema it was sent from."""
    importing.import_job_run(job_id=job_id)


@app.task(
    base=_ExportTask,
    name="imports.contacts_export",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=EXPORT_MAX_RETRIES,
)
def contacts_export(export_id: int) -> None:
    """Write one contact export's file in the schema it was asked for in."""
    exporting.contact_export_run(export_id=export_id)


@app.task(name="contacts.files_sweep", ignore_result=True)
def files_sweep() -> int:
    """Beat, hourly (public schema): delete wizard uploads nobody turned into an import, and
    the files of exports past their keeping time in every workspace. Returns how many files
    were deleted."""
    from apps.tenants.models import Tenant

    deleted = import_uploads.import_uploads_sweep()
    schemas = Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list("schema_name", flat=True)
    for schema in schemas:
        with schema_context(schema):
            deleted += exporting.contact_exports_expire()
    logger.info("contacts.files_swept", extra={"deleted": deleted})
    return deleted


@app.task(name="contacts.usage_rollup", ignore_result=True)
def usage_rollup() -> int:
    """Beat, hourly (public schema): ask every workspace for its current counts, one task per
    schema (each counts in its own schema; the public side never does). Returns how many were
    asked."""
    from apps.tenants.models import Tenant

    schemas = list(Tenant.objects.exclude(schema_name=get_public_schema_name()).values_list("schema_name", flat=True))
    for schema in schemas:
        with schema_context(schema):
            usage_snapshot.delay()
    return len(schemas)


@app.task(name="contacts.usage_snapshot", ignore_result=True, autoretry_for=(OperationalError, InterfaceError))
def usage_snapshot() -> None:
    """Record this workspace's contacts and numbers on today's usage row."""
    usage.usage_snapshot_record()
