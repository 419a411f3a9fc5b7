"""Websocket front doors of the import and export progress pages."""

from __future__ import annotations

import logging
from typing import Any

from apps.contacts.models import ContactExport, ImportJob
from apps.contacts.services.exporting import contact_export_event, export_topic
from apps.contacts.services.importing import import_job_event, import_topic
from apps.core.realtime.consumers import TenantConsumer

logger = logging.getLogger(__name__)

# Close code for an import that is not in this workspace; realtime.js does not reconnect on it.
CLOSE_IMPORT_NOT_FOUND = 4404
CLOSE_EXPORT_NOT_FOUND = 4404
# Import ids are bigints; anything larger would fail in the database instead of being refused.
JOB_ID_MAX = 2**63 - 1


def _job_exists(job_id: int) -> bool:
    return ImportJob.objects.filter(id=job_id).exists()


def _job_event(job_id: int) -> dict[str, Any] | None:
    job = ImportJob.objects.filter(id=job_id).first()
    return import_job_event(job) if job is not None else None


class ImportProgressConsumer(TenantConsumer):
    """/ws/imports/<job id>/: the progress of one contact import (topic `imports.<id>`: rows
    read, rows/s, errors, then the final counts).

    The topic is joined only when the import exists in this tenant's schema, so an id from
    another workspace is refused (closed with 4404) even when it happens to exist there. Right
    after joining, the page gets the import's current state, so one opened late (or after the
    end) is up to date without waiting for the next event. Any member may watch."""

    def topics(self) -> list[str]:
        return [import_topic(self.job_id)]

    async def connect(self) -> None:
        raw = self.scope.get("url_route", {}).get("kwargs", {}).get("job_id")
        job_id = raw if isinstance(raw, int) and 0 < raw <= JOB_ID_MAX else None
        if job_id is None or not await self.in_tenant_schema(_job_exists, job_id):
            logger.info(
                "realtime.import_subscribe_refused",
                extra={"schema": self.scope["schema_name"], "user_id": self.scope["user"].pk},
            )
            await self.accept()
            await self.close(code=CLOSE_IMPORT_NOT_FOUND)
            return
        self.job_id = job_id
        # Join first, then read the state: an event published in between arrives after the
        # snapshot (at worst twice) instead of being lost.
        await super().connect()
        event = await self.in_tenant_schema(_job_event, job_id)
        if event is not None:
            await self.send_json({"type": "event", "topic": import_topic(job_id), "event": event})


def _export_exists(export_id: int) -> bool:
    return ContactExport.objects.filter(id=export_id).exists()


def _export_event(export_id: int) -> dict[str, Any] | None:
    export = ContactExport.objects.filter(id=export_id).first()
    return contact_export_event(export) if export is not None else None


class ExportProgressConsumer(TenantConsumer):
    """/ws/exports/<export id>/: the progress of one contact export (topic `exports.<id>`: rows
    written of the total, then the final state). Same rules as ImportProgressConsumer: joined
    only when the export exists in this tenant's schema (else closed with 4404), the current
    state first, any member may watch."""

    def topics(self) -> list[str]:
        return [export_topic(self.export_id)]

    async def connect(self) -> None:
        raw = self.scope.get("url_route", {}).get("kwargs", {}).get("export_id")
        export_id = raw if isinstance(raw, int) and 0 < raw <= JOB_ID_MAX else None
        if export_id is None or not await self.in_tenant_schema(_export_exists, export_id):
            logger.info(
                "realtime.export_subscribe_refused",
                extra={"schema": self.scope["schema_name"], "user_id": self.scope["user"].pk},
            )
            await self.accept()
            await self.close(code=CLOSE_EXPORT_NOT_FOUND)
            return
        self.export_id = export_id
        await super().connect()
        event = await self.in_tenant_schema(_export_event, export_id)
        if event is not None:
            await self.send_json({"type": "event", "topic": export_topic(export_id), "event": event})
