"""The hourly file sweep (`contacts.files_sweep`, beat in the public schema): import-wizard
uploads nobody turned into an import go after a day, in every workspace's folder; finished
exports' files go after a week and the export says it expired. Real files, real mtimes."""

from __future__ import annotations

import datetime
import io
import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.contacts import tasks
from apps.contacts.models import Contact, ContactExport
from apps.contacts.services import exporting, import_uploads
from apps.contacts.services.import_uploads import PendingUpload
from apps.core.exceptions import NotFound

HOUR_S = 3600
DAY_S = 24 * HOUR_S


def age(path: str, seconds: float) -> None:
    """Make the stored file `seconds` old."""
    then = time.time() - seconds
    os.utime(Path(settings.MEDIA_ROOT) / path, (then, then))


def stash(world, name: str = "people.csv") -> tuple[PendingUpload, str]:
    with tenant_context(world.tenant):
        upload = import_uploads.import_upload_stash(stream=io.BytesIO(b"phone\n+919800000001\n"), name=name)
    return upload, f"imports/{world.tenant.schema_name}/pending/{upload.token}.csv"


def test_the_sweep_deletes_pending_uploads_older_than_a_day_in_every_workspace(alpha, beta):
    alpha_old, alpha_old_path = stash(alpha)
    _alpha_fresh, alpha_fresh_path = stash(alpha)
    _beta_old, beta_old_path = stash(beta)
    _beta_fresh, beta_fresh_path = stash(beta)
    gone_path = default_storage.save("imports/t_gone/pending/" + "a" * 32 + ".csv", ContentFile(b"x"))
    job_file = default_storage.save("imports/t_alpha/" + "b" * 32 + ".csv", ContentFile(b"x"))
    age(alpha_old_path, DAY_S + HOUR_S)
    age(alpha_fresh_path, DAY_S - HOUR_S)
    age(beta_old_path, 3 * DAY_S)
    age(beta_fresh_path, 60)
    age(gone_path, 2 * DAY_S)
    age(job_file, 30 * DAY_S)  # an import's own file: not a pending upload
    connection.set_schema_to_public()

    deleted = tasks.files_sweep()

    assert deleted == 3
    assert [default_storage.exists(p) for p in (alpha_old_path, beta_old_path, gone_path)] == [False] * 3
    assert [default_storage.exists(p) for p in (alpha_fresh_path, beta_fresh_path, job_file)] == [True] * 3
    # The wizard that left its upload behind finds it gone and says so.
    with tenant_context(alpha.tenant), pytest.raises(NotFound) as gone:
        import_uploads.import_upload_open(upload=alpha_old)
    assert gone.value.code == "upload_not_found"
    assert connection.schema_name == "public"


def test_the_sweep_with_no_upload_folder_at_all_deletes_nothing():
    assert not default_storage.exists("imports")
    assert import_uploads.import_uploads_sweep() == 0


def test_the_sweep_expires_exports_finished_more_than_a_week_ago(alpha, beta, client_for):
    now = timezone.now()

    def seed(world) -> dict[str, ContactExport]:
        with tenant_context(world.tenant):
            Contact.objects.create(phone="+919800000001")
            made = {}
            for key in ("old", "recent"):
                export = ContactExport.objects.create(filters={}, file_format="csv")
                tasks.contacts_export(export.id)
                made[key] = ContactExport.objects.get(id=export.id)
            made["failed"] = ContactExport.objects.create(
                filters={}, state="failed", error="boom", finished_at=now - datetime.timedelta(days=30)
            )
            ContactExport.objects.filter(id=made["old"].id).update(finished_at=now - datetime.timedelta(days=8))
            ContactExport.objects.filter(id=made["recent"].id).update(finished_at=now - datetime.timedelta(days=6))
            return made

    alpha_exports, beta_exports = seed(alpha), seed(beta)
    # A file no export points at (a worker that died between writing and recording it).
    orphan_old = default_storage.save("exports/t_alpha/" + "c" * 32 + ".csv", ContentFile(b"x"))
    orphan_fresh = default_storage.save("exports/t_alpha/" + "d" * 32 + ".csv", ContentFile(b"x"))
    age(orphan_old, 8 * DAY_S)
    age(orphan_fresh, HOUR_S)
    connection.set_schema_to_public()

    deleted = tasks.files_sweep()

    assert deleted == 3  # alpha's and beta's old export files, alpha's old orphan
    for world, made in ((alpha, alpha_exports), (beta, beta_exports)):
        with tenant_context(world.tenant):
            states = {key: ContactExport.objects.get(id=export.id) for key, export in made.items()}
        assert (states["old"].state, states["old"].file.name) == ("expired", "")
        assert not default_storage.exists(made["old"].file.name)
        assert states["recent"].state == "completed" and default_storage.exists(states["recent"].file.name)
        assert (states["failed"].state, states["failed"].error) == ("failed", "boom")
    assert not default_storage.exists(orphan_old) and default_storage.exists(orphan_fresh)

    # The expired export's page and API say so; its download is refused.
    owner = client_for(alpha)
    old_id = alpha_exports["old"].id
    page = owner.get(f"/contacts/exports/{old_id}/").content.decode()
    download = owner.get(f"/contacts/exports/{old_id}/download/")
    api = owner.get(f"/api/v1/contacts/exports/{old_id}/file")
    status = owner.get(f"/api/v1/contacts/exports/{old_id}").json()
    assert 'data-export-state="expired"' in page and "data-export-expired" in page
    assert f"deleted {exporting.EXPORT_FILE_MAX_AGE.days} days after" in page
    assert download.status_code == 302 and download["Location"] == f"/contacts/exports/{old_id}/"
    assert api.status_code == 410 and api.json()["error"]["code"] == "export_expired"
    assert (status["state"], status["has_file"], status["file_url"]) == ("expired", False, None)

    # A second sweep finds nothing more to do.
    connection.set_schema_to_public()
    assert tasks.files_sweep() == 0
