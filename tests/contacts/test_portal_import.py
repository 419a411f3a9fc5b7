"""The portal's import wizard through the Django test client: upload → preview with the detected
encoding and delimiter and a pre-filled column mapping → options → start (an ImportJob; the test
runs it with the service, since the request's after-commit hand-off to Celery never fires inside
the test transaction) → progress page, error report, past imports. Roles and tenant isolation.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import Membership, Role, User
from apps.contacts.models import Contact, Group, ImportJob, ImportMapping
from apps.contacts.services import importing
from tests.conftest import PASSWORD

# European Excel: UTF-8 with a byte-order mark, semicolons. One bad number, one duplicate.
FILE = codecs.BOM_UTF8 + (
    b"Mobile;Full name;City\n"
    b"+91 98765-43210;Asha Rao;Pune\n"
    b"098765 43211;Ravi Kumar;Mumbai\n"
    b"12;Broken Number;Nowhere\n"
    b"+919876543210;Asha again;Pune\n"
)


def member(world, role: str) -> User:
    user = User.objects.create_user(f"import-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def upload(client, data: bytes = FILE, name: str = "people.csv"):
    return client.post("/contacts/imports/new/", {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def pending_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(root.glob("imports/*/pending/*")) if root.exists() else []


def selected(html: str, index: int) -> str | None:
    """The option chosen for column `index` of the mapping."""
    select = re.search(rf'<select name="col_{index}"[^>]*>(.*?)</select>', html, re.S)
    assert select, f"no select for column {index}"
    match = re.search(r'<option value="([^"]*)" selected>', select.group(1))
    return match.group(1) if match else None


@pytest.fixture
def agent(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


def test_the_wizard_reads_maps_starts_and_reports_an_import(alpha, agent):
    # Step 1: the upload is kept aside until the import starts.
    assert agent.get("/contacts/imports/new/").status_code == 200
    uploaded = upload(agent)
    assert uploaded.status_code == 302 and uploaded["Location"] == "/contacts/imports/new/map/"
    assert len(pending_files()) == 1

    # Step 2: how the file was read, its first rows, a guessed mapping.
    preview = agent.get("/contacts/imports/new/map/")
    html = preview.content.decode()
    assert preview.status_code == 200
    assert "<dd data-layout-encoding>UTF-8 (BOM)</dd>" in html
    assert "<dd data-layout-delimiter>Semicolon ( ; )</dd>" in html
    assert '<th scope="col" dir="auto">Full name</th>' in html
    assert '<td dir="auto">098765 43211</td>' in html
    assert (selected(html, 0), selected(html, 1), selected(html, 2)) == ("phone", "name", "")

    # Step 3: options and start.
    started = agent.post(
        "/contacts/imports/new/map/",
        {
            "delimiter": ";",
            "col_0": "phone",
            "col_1": "name",
            "col_2": "custom",
            "custom_2": "",  # empty: the key comes from the header ("city")
            "mode": "skip",
            "new_group": " Leads ",
        },
    )

    jobs = in_schema(alpha, lambda: list(ImportJob.objects.select_related("group")))
    assert len(jobs) == 1
    job = jobs[0]
    assert started.status_code == 302 and started["Location"] == f"/contacts/imports/{job.id}/"
    assert (job.state, job.original_name, job.delimiter, job.encoding, job.mode, job.group.name) == (
        "queued",
        "people.csv",
        ";",
        "utf-8-sig",
        "skip",
        "Leads",
    )
    assert job.mapping == {"phone": "Mobile", "name": "Full name", "custom.city": "City"}
    assert job.created_by_id == User.objects.get(email="import-agent@alpha.test").id
    assert pending_files() == []
    assert in_schema(alpha, lambda: list(ImportMapping.objects.values_list("mapping", flat=True))) == [job.mapping]

    # The worker's part, run here with the service.
    finished = in_schema(alpha, lambda: importing.import_job_run(job_id=job.id))
    assert (finished.state, finished.total_rows, finished.created_count, finished.duplicate_count) == (
        "completed",
        4,
        2,
        1,
    )
    assert finished.error_count == 1

    def imported():
        return sorted(
            (c.phone, c.name, c.custom_fields["city"], [g.name for g in c.groups.all()]) for c in Contact.objects.all()
        )

    assert in_schema(alpha, imported) == [
        ("+919876543210", "Asha Rao", "Pune", ["Leads"]),
        ("+919876543211", "Ravi Kumar", "Mumbai", ["Leads"]),
    ]

    # The progress page: final counts, the live socket, the error report.
    page = agent.get(f"/contacts/imports/{job.id}/").content.decode()
    assert f'data-ws-path="/ws/imports/{job.id}/"' in page
    assert '<script src="/static/js/contacts.js" defer></script>' in page
    assert 'data-import-state="completed">Completed</span>' in page
    assert '<dd data-import-field="created">2</dd>' in page
    assert '<dd data-import-field="duplicates">1</dd>' in page
    assert f'href="/contacts/imports/{job.id}/errors/"' in page
    assert "data-error-file hidden" not in page

    report = agent.get(f"/contacts/imports/{job.id}/errors/")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert report.status_code == 200
    assert report["Content-Disposition"] == 'attachment; filename="people-errors.csv"'
    assert [row[0] for row in rows] == ["line", "4"]
    assert rows[1][2:] == ["12", "Broken Number", "Nowhere"]

    # Past imports list it; the next file with these columns gets the remembered mapping.
    listing = agent.get("/contacts/imports/").content.decode()
    assert f'data-import-row="{job.id}"' in listing and "people.csv" in listing
    upload(agent, name="more.csv")
    again = agent.get("/contacts/imports/new/map/").content.decode()
    assert (selected(again, 0), selected(again, 1), selected(again, 2)) == ("phone", "name", "custom")
    assert 'name="custom_2" value="city"' in again


def test_reading_with_another_delimiter_and_starting_an_xlsx_without_one(alpha, agent):
    from openpyxl import Workbook

    upload(agent, data=b"phone,name\n+919876543210,Asha\n", name="plain.csv")
    as_semicolons = agent.get("/contacts/imports/new/map/", {"delimiter": ";"}).content.decode()
    assert "<dd data-layout-delimiter>Semicolon ( ; )</dd>" in as_semicolons
    assert '<th scope="col" dir="auto">phone,name</th>' in as_semicolons

    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name"])
    sheet.append([919876543210, "Asha"])
    buffer = io.BytesIO()
    book.save(buffer)
    upload(agent, data=buffer.getvalue(), name="sheet.xlsx")
    assert len(pending_files()) == 1  # the CSV upload was replaced

    page = agent.get("/contacts/imports/new/map/").content.decode()
    assert "Excel (.xlsx)" in page and "data-layout-delimiter" not in page
    started = agent.post("/contacts/imports/new/map/", {"col_0": "phone", "col_1": "name", "mode": "update"})
    job = in_schema(alpha, ImportJob.objects.get)
    assert started.status_code == 302
    assert (job.format, job.delimiter, job.mapping) == ("xlsx", "", {"phone": "Phone", "name": "Name"})


def test_a_mapping_without_a_phone_column_or_with_a_field_twice_starts_nothing(alpha, agent):
    upload(agent)

    no_phone = agent.post("/contacts/imports/new/map/", {"delimiter": ";", "col_1": "name", "mode": "update"})
    twice = agent.post(
        "/contacts/imports/new/map/", {"delimiter": ";", "col_0": "phone", "col_1": "name", "col_2": "name"}
    )
    bad_key = agent.post(
        "/contacts/imports/new/map/",
        {"delimiter": ";", "col_0": "phone", "col_2": "custom", "custom_2": "2nd city", "mode": "update"},
    )

    assert no_phone.status_code == 400
    assert "Choose the column that holds phone numbers." in no_phone.content.decode()
    assert twice.status_code == 400
    assert "“Full name” already feeds this field; each field takes one column." in twice.content.decode()
    assert bad_key.status_code == 400
    assert "Use lowercase letters, digits and _, starting with a letter" in bad_key.content.decode()
    assert in_schema(alpha, lambda: (ImportJob.objects.count(), Group.objects.count())) == (0, 0)
    assert len(pending_files()) == 1  # still there to try again


def test_unreadable_uploads_are_refused_with_a_reason_and_not_kept(alpha, agent):
    wrong_type = upload(agent, data=b"%PDF-1.4", name="contacts.pdf")
    assert wrong_type.status_code == 400
    assert "Upload a .csv, .tsv, .txt, .xlsx file." in wrong_type.content.decode()
    assert pending_files() == []

    # Kept, then found unreadable when read for the preview: back to step 1 with the reason.
    for data, reason in [
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "Old Excel (.xls) files cannot be read"),
        (b"\n\n", "The file is empty."),
    ]:
        assert upload(agent, data=data).status_code == 302
        step1 = agent.get("/contacts/imports/new/map/", follow=True)
        assert step1.redirect_chain == [("/contacts/imports/new/", 302)]
        assert reason in step1.content.decode()
        assert pending_files() == []
    assert in_schema(alpha, ImportJob.objects.count) == 0


def test_the_map_step_without_an_upload_goes_back_to_step_one(alpha, agent):
    response = agent.get("/contacts/imports/new/map/")

    assert response.status_code == 302 and response["Location"] == "/contacts/imports/new/"


def test_viewer_reads_imports_but_cannot_upload_or_start(alpha, client_for, run_import):
    job = in_schema(alpha, lambda: run_import(b"phone\n+919876543210\nbad\n"))
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    listing = viewer.get("/contacts/imports/")
    page = viewer.get(f"/contacts/imports/{job.id}/")
    report = viewer.get(f"/contacts/imports/{job.id}/errors/")
    refused = [viewer.get("/contacts/imports/new/"), upload(viewer), viewer.post("/contacts/imports/new/map/", {})]

    assert (listing.status_code, page.status_code, report.status_code) == (200, 200, 200)
    assert 'href="/contacts/imports/new/"' not in listing.content.decode()
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert pending_files() == []
    assert in_schema(alpha, ImportJob.objects.count) == 1


def test_an_import_without_rejected_rows_has_no_error_report(alpha, client_for, run_import):
    job = in_schema(alpha, lambda: run_import(b"phone\n+919876543210\n"))

    page = client_for(alpha).get(f"/contacts/imports/{job.id}/").content.decode()
    report = client_for(alpha).get(f"/contacts/imports/{job.id}/errors/")

    assert "data-error-file hidden" in page
    assert report.status_code == 404


def test_another_tenant_cannot_open_an_import_or_its_error_report(alpha, beta, client_for, run_import):
    job = in_schema(alpha, lambda: run_import(b"phone\n+919876543210\nbad\n"))
    in_schema(beta, lambda: ImportJob.objects.filter(id=job.id).delete())
    beta_owner = client_for(beta)

    own_host = [
        beta_owner.get(f"/contacts/imports/{job.id}/"),
        beta_owner.get(f"/contacts/imports/{job.id}/errors/"),
    ]
    listing = beta_owner.get("/contacts/imports/").content.decode()
    beta_owner.defaults["HTTP_HOST"] = alpha.host
    alpha_host = [
        beta_owner.get(f"/contacts/imports/{job.id}/"),
        beta_owner.get(f"/contacts/imports/{job.id}/errors/"),
    ]

    assert [r.status_code for r in own_host] == [404, 404]
    assert f'data-import-row="{job.id}"' not in listing
    assert [r.status_code for r in alpha_host] == [403, 403]
    assert all("people" not in r.content.decode() and "line,error" not in r.content.decode() for r in alpha_host)


def test_a_pending_upload_belongs_to_the_workspace_it_was_uploaded_to(alpha, beta, client_for):
    """One person in two workspaces, one session: a file uploaded in alpha is not beta's step 2."""
    user = member(alpha, Role.AGENT)
    Membership.objects.create(user=user, tenant=beta.tenant, role=Role.AGENT)
    client = client_for(alpha, user)
    upload(client)

    client.defaults["HTTP_HOST"] = beta.host
    in_beta = client.get("/contacts/imports/new/map/")
    started_in_beta = client.post("/contacts/imports/new/map/", {"col_0": "phone", "mode": "update"})
    client.defaults["HTTP_HOST"] = alpha.host
    in_alpha = client.get("/contacts/imports/new/map/")

    assert in_beta.status_code == 302 and in_beta["Location"] == "/contacts/imports/new/"
    assert started_in_beta.status_code == 302
    assert in_schema(beta, ImportJob.objects.count) == 0
    assert in_alpha.status_code == 200 and "people.csv" in in_alpha.content.decode()
    assert [path.parent.parent.name for path in pending_files()] == [alpha.tenant.schema_name]


def test_starting_an_import_hands_it_to_the_imports_queue_after_commit(
    alpha, agent, monkeypatch, django_capture_on_commit_callbacks
):
    from apps.contacts import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.contacts_import, "delay", lambda job_id: queued.append(job_id))
    upload(agent)

    with django_capture_on_commit_callbacks(execute=True):
        agent.post(
            "/contacts/imports/new/map/", {"delimiter": ";", "col_0": "phone", "col_1": "name", "mode": "update"}
        )
        assert queued == []  # not before the commit

    job = in_schema(alpha, ImportJob.objects.get)
    assert queued == [job.id]
