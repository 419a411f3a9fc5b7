"""The import as users run it: uploaded in one process, run by a real Celery worker on the
`imports` queue in the uploading tenant's schema, progress streamed over the channel layer.
Everything here commits, so the test removes what it made."""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.contacts.models import Contact, ImportJob, ImportMapping
from apps.contacts.services import importing
from apps.core.realtime.publish import group_name
from tests.contacts.conftest import error_rows

EVENT_TIMEOUT_S = 60


async def _watch(group: str, start, timeout: float) -> list[dict]:
    """Join `group`, start the job, and collect its events until it finishes."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    events: list[dict] = []
    try:
        await sync_to_async(start)()
        deadline = time.monotonic() + timeout
        while True:
            message = await asyncio.wait_for(layer.receive(channel), max(deadline - time.monotonic(), 0.1))
            events.append(message["event"])
            if message["event"]["state"] in (ImportJob.State.COMPLETED, ImportJob.State.FAILED):
                return events
    finally:
        await layer.group_discard(group, channel)


@pytest.fixture
def alpha_usage_restored(alpha_live):
    """The worker records alpha's contact count in the public usage table; put it back."""
    before = dict(UsageRecord.objects.filter(tenant=alpha_live.tenant).values_list("id", "contacts"))
    yield
    for record in UsageRecord.objects.filter(tenant=alpha_live.tenant):
        if record.id not in before:
            record.delete()
        elif record.contacts != before[record.id]:
            UsageRecord.objects.filter(pk=record.pk).update(contacts=before[record.id])


@pytest.mark.live
def test_upload_is_imported_by_a_worker_in_its_tenant_with_live_progress(
    celery_worker_process, alpha_live, beta_live, alpha_usage_restored
):
    data = b"Name,Phone,City\nAsha,+91 98765-43210,Pune\nRavi,098765 43211,\nBad,123,\nAsha again,9876543210,Goa\n"
    with tenant_context(beta_live.tenant):
        beta_contacts = Contact.objects.count()
    with tenant_context(alpha_live.tenant):
        assert Contact.objects.count() == 0
        job = importing.import_job_create(
            stream=io.BytesIO(data),
            name="live.csv",
            mapping={"phone": "Phone", "name": "Name", "custom.city": "City"},
            start=False,
        )
    try:

        def start() -> None:
            with tenant_context(alpha_live.tenant):
                importing.import_job_start(job.id)

        events = async_to_sync(_watch)(
            group_name(alpha_live.tenant.schema_name, f"imports.{job.id}"), start, EVENT_TIMEOUT_S
        )

        with tenant_context(alpha_live.tenant):
            job.refresh_from_db()
            assert job.state == ImportJob.State.COMPLETED
            assert (job.total_rows, job.created_count, job.duplicate_count, job.error_count) == (4, 2, 1, 1)
            assert sorted(Contact.objects.values_list("phone", "name", "custom_fields")) == [
                ("+919876543210", "Asha", {"city": "Pune"}),
                ("+919876543211", "Ravi", {}),
            ]
            assert error_rows(job) == [
                ["line", "error", "Name", "Phone", "City"],
                ["4", "phone number too short", "Bad", "123", ""],
            ]
        assert events[0]["state"] == ImportJob.State.RUNNING
        assert events[-1] == {
            "job_id": job.id,
            "state": "completed",
            "processed_rows": 4,
            "progress": 100,
            "rows_per_s": job.rows_per_s,
            "error_count": 1,
            "total_rows": 4,
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "skipped": 0,
            "duplicates": 1,
            "has_error_file": True,
            "failure": "",
        }
        with tenant_context(beta_live.tenant):
            assert Contact.objects.count() == beta_contacts
            assert not ImportJob.objects.filter(pk=job.id).exists()
        assert UsageRecord.objects.filter(tenant=alpha_live.tenant).order_by("-day").first().contacts == 2
    finally:
        with tenant_context(alpha_live.tenant):
            job.refresh_from_db()
            for stored in (job.file, job.error_file):
                if stored:
                    stored.delete(save=False)
            Contact.objects.all().delete()
            ImportJob.objects.all().delete()
            ImportMapping.objects.all().delete()
