"""A contact import or export whose worker gives up for good (database retries spent) is marked
failed with the reason, never left "running" for ever; a finished job is left as it was."""

from __future__ import annotations

import io

from django.db import OperationalError

from apps.contacts import tasks
from apps.contacts.models import ContactExport, ImportJob
from apps.contacts.services import exporting, importing


def broken(**kwargs):
    raise OperationalError("server closed the connection unexpectedly")


def test_an_import_the_worker_gives_up_on_is_failed_with_the_reason(in_alpha, monkeypatch):
    job = importing.import_job_create(stream=io.BytesIO(b"phone\n+919876543210\n"), name="a.csv", start=False)
    ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.RUNNING)
    calls = []
    monkeypatch.setattr(importing, "import_job_run", lambda **kw: calls.append(kw) or broken())

    result = tasks.contacts_import.apply(args=(job.id,))

    job.refresh_from_db()
    assert result.failed() and len(calls) == tasks.IMPORT_MAX_RETRIES + 1
    assert job.state == ImportJob.State.FAILED
    assert job.failure == "The worker gave up (OperationalError). Start it again; nothing of this run was kept."
    assert job.finished_at is not None


def test_an_export_the_worker_gives_up_on_is_failed_and_a_finished_one_is_kept(in_alpha, monkeypatch):
    pending = exporting.contact_export_request(filters={}, file_format="csv", requested_by_id=None)
    done = exporting.contact_export_request(filters={}, file_format="csv", requested_by_id=None)
    ContactExport.objects.filter(pk=done.pk).update(state=ContactExport.State.COMPLETED)
    monkeypatch.setattr(exporting, "contact_export_run", broken)

    tasks.contacts_export.apply(args=(pending.id,))
    tasks.contacts_export.apply(args=(done.id,))

    pending.refresh_from_db()
    done.refresh_from_db()
    assert (pending.state, pending.error) == (
        ContactExport.State.FAILED,
        "The worker gave up (OperationalError). Start it again; nothing of this run was kept.",
    )
    assert (done.state, done.error) == (ContactExport.State.COMPLETED, "")
