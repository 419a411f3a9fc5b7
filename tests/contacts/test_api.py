"""The contacts API: roles, CRUD, bulk upsert, import upload → job → status → error file,
exports, and tenant isolation. Refused requests leave nothing behind."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import Membership, Role, User
from apps.contacts.models import Contact, Group, GroupMembership, ImportJob
from apps.contacts.services import importing
from tests.conftest import PASSWORD


def member(world, role: str) -> User:
    user = User.objects.create_user(f"contacts-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


@pytest.fixture
def agent_client(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


def test_viewer_reads_but_cannot_write(alpha, client_for):
    in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Asha"))
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    listed = viewer.get("/api/v1/contacts")
    refused = viewer.post("/api/v1/contacts", {"phone": "+919876543211"}, content_type="application/json")
    refused_bulk = viewer.post(
        "/api/v1/contacts/bulk", {"contacts": [{"phone": "+919876543212"}]}, content_type="application/json"
    )

    assert listed.status_code == 200
    assert [c["phone"] for c in listed.json()["results"]] == ["+919876543210"]
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_required"
    assert refused_bulk.status_code == 403
    assert in_schema(alpha, Contact.objects.count) == 1


def test_agent_creates_with_a_normalised_number_and_a_duplicate_is_refused(alpha, agent_client):
    group = in_schema(alpha, lambda: Group.objects.create(name="VIP"))

    created = agent_client.post(
        "/api/v1/contacts",
        {"phone": "098765 43210", "name": "Asha", "custom_fields": {"city": "Pune"}, "groups": [group.id]},
        content_type="application/json",
    )
    again = agent_client.post("/api/v1/contacts", {"phone": "+91 98765-43210"}, content_type="application/json")
    bad = agent_client.post("/api/v1/contacts", {"phone": "12"}, content_type="application/json")

    assert created.status_code == 201
    body = created.json()
    assert (body["phone"], body["name"], body["custom_fields"], body["groups"]) == (
        "+919876543210",
        "Asha",
        {"city": "Pune"},
        [group.id],
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "contact_exists"
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_phone"
    assert in_schema(alpha, Contact.objects.count) == 1


def test_search_by_name_number_and_email_and_filter_by_group(alpha, agent_client):
    def seed():
        vip = Group.objects.create(name="VIP")
        asha = Contact.objects.create(phone="+919876543210", name="Asha Rao", email="Asha@Example.com")
        Contact.objects.create(phone="+919812345678", name="Ravi Kumar")
        GroupMembership.objects.create(group=vip, contact=asha)
        return vip

    vip = in_schema(alpha, seed)

    def names(query: str) -> list[str]:
        response = agent_client.get("/api/v1/contacts" + query)
        assert response.status_code == 200
        return [c["name"] for c in response.json()["results"]]

    assert names("?q=rao") == ["Asha Rao"]
    assert names("?q=98765%2043210") == ["Asha Rao"]
    assert names("?q=%2B9198") == ["Ravi Kumar", "Asha Rao"]
    assert names("?q=asha@example.com") == ["Asha Rao"]
    assert names(f"?group={vip.id}") == ["Asha Rao"]
    assert names("?q=nobody") == []


def test_number_cannot_change_and_only_admins_delete(alpha, client_for, agent_client):
    contact = in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Old"))

    phone_change = agent_client.patch(
        f"/api/v1/contacts/{contact.id}", {"phone": "+919876543299"}, content_type="application/json"
    )
    renamed = agent_client.patch(f"/api/v1/contacts/{contact.id}", {"name": "New"}, content_type="application/json")
    agent_delete = agent_client.delete(f"/api/v1/contacts/{contact.id}")

    assert phone_change.status_code == 400 and phone_change.json()["error"]["code"] == "phone_immutable"
    assert renamed.status_code == 200 and renamed.json()["name"] == "New"
    assert agent_delete.status_code == 403
    assert in_schema(alpha, lambda: list(Contact.objects.values_list("phone", "name"))) == [("+919876543210", "New")]

    admin_delete = client_for(alpha, member(alpha, Role.ADMIN)).delete(f"/api/v1/contacts/{contact.id}")

    assert admin_delete.status_code == 204
    assert in_schema(alpha, Contact.objects.count) == 0


def test_bulk_upsert_reports_bad_items_by_index(alpha, agent_client):
    in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Old", email="keep@x.io"))
    group = in_schema(alpha, lambda: Group.objects.create(name="API"))

    response = agent_client.post(
        "/api/v1/contacts/bulk",
        {
            "contacts": [
                {"phone": "+91 98765-43210", "name": "Updated"},
                {"phone": "098765 43211", "name": "New", "tags": ["lead"], "custom_fields": {"city": "Goa"}},
                {"phone": "12", "name": "Bad"},
                {"phone": "9876543211", "name": "Duplicate"},
                {"phone": "9876543212", "email": "nope"},
            ],
            "group": group.id,
        },
        content_type="application/json",
    )

    assert response.status_code == 200
    assert response.json() == {
        "created": 1,
        "updated": 1,
        "unchanged": 0,
        "skipped": 0,
        "duplicates": 1,
        "errors": [
            {"index": 2, "error": "phone number too short"},
            {"index": 4, "error": "invalid e-mail address 'nope'"},
        ],
    }

    def stored():
        return sorted(Contact.objects.values_list("phone", "name", "email", "custom_fields"))

    assert in_schema(alpha, stored) == [
        ("+919876543210", "Updated", "keep@x.io", {}),
        ("+919876543211", "New", "", {"city": "Goa"}),
    ]
    assert in_schema(alpha, lambda: sorted(Group.objects.values_list("name", flat=True))) == ["API", "lead"]
    assert in_schema(alpha, lambda: group.memberships.count()) == 2


def test_bulk_upsert_refuses_more_than_1000(alpha, agent_client):
    items = [{"phone": f"+9198765{n:05d}"} for n in range(1001)]

    response = agent_client.post("/api/v1/contacts/bulk", {"contacts": items}, content_type="application/json")

    assert response.status_code == 400
    assert in_schema(alpha, Contact.objects.count) == 0


def test_import_upload_returns_a_job_then_status_and_error_file(
    alpha, agent_client, django_capture_on_commit_callbacks
):
    upload = SimpleUploadedFile("people.csv", b"Name;Phone\nAsha;+91 98765-43210\nBad;12\n", content_type="text/csv")

    with django_capture_on_commit_callbacks() as callbacks:
        response = agent_client.post(
            "/api/v1/imports", {"file": upload, "mapping": '{"phone": "Phone", "name": "Name"}', "mode": "skip"}
        )

    assert response.status_code == 202
    job = response.json()
    assert (job["state"], job["delimiter"], job["mapping"], job["mode"]) == (
        "queued",
        ";",
        {"phone": "Phone", "name": "Name"},
        "skip",
    )
    assert len(callbacks) == 1  # the worker is started after commit
    assert (
        in_schema(alpha, lambda: ImportJob.objects.get().created_by_id)
        == User.objects.get(email=f"contacts-agent@{alpha.tenant.slug}.test").pk
    )
    in_schema(alpha, lambda: importing.import_job_run(job_id=job["id"]))

    status = agent_client.get(f"/api/v1/imports/{job['id']}").json()
    errors = agent_client.get(f"/api/v1/imports/{job['id']}/errors")

    assert (status["state"], status["created_count"], status["error_count"], status["has_error_file"]) == (
        "completed",
        1,
        1,
        True,
    )
    assert errors.status_code == 200
    assert errors["Content-Disposition"] == 'attachment; filename="people-errors.csv"'
    rows = list(csv.reader(io.StringIO(b"".join(errors.streaming_content).decode("utf-8-sig"))))
    assert rows == [["line", "error", "Name", "Phone"], ["3", "phone number too short", "Bad", "12"]]


def test_import_preview_suggests_a_mapping(alpha, agent_client):
    upload = SimpleUploadedFile("p.csv", b"Mobile Number,Full Name\n+919876543210,Asha\n")

    response = agent_client.post("/api/v1/imports/preview", {"file": upload})

    assert response.status_code == 200
    assert response.json() == {
        "format": "csv",
        "encoding": "utf-8",
        "delimiter": ",",
        "headers": ["Mobile Number", "Full Name"],
        "rows": [["+919876543210", "Asha"]],
        "mapping": {"phone": "Mobile Number", "name": "Full Name"},
    }
    assert in_schema(alpha, ImportJob.objects.count) == 0


def test_export_downloads_csv_with_formulas_neutralised(alpha, agent_client):
    in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="=cmd()"))

    response = agent_client.get("/api/v1/contacts/export")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="contacts.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [(r["phone"], r["name"]) for r in rows] == [("+919876543210", "'=cmd()")]


def test_beta_cannot_reach_alphas_contacts_imports_or_error_file(alpha, beta, client_for, run_import):
    job = in_schema(alpha, lambda: run_import(b"Name,Phone\nA,+919876543210\nBad,1\n"))
    beta_owner = client_for(beta)
    beta_on_alpha_host = client_for(alpha, beta.owner)

    assert beta_on_alpha_host.get("/api/v1/contacts").status_code == 403
    assert beta_on_alpha_host.get(f"/api/v1/imports/{job.id}/errors").status_code == 403
    assert beta_owner.get(f"/api/v1/imports/{job.id}").status_code == 404
    missing = beta_owner.get(f"/api/v1/imports/{job.id}/errors")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "import_not_found"
    assert beta_owner.get("/api/v1/contacts").json()["results"] == []


def opt_out_fields(world, contact_id: int) -> tuple:
    def read():
        contact = Contact.objects.get(pk=contact_id)
        return (contact.opted_out_at is not None, contact.opted_out_reason, contact.opted_out_via)

    return in_schema(world, read)


def test_opt_out_and_back_in_through_the_api_are_recorded_as_api(alpha, agent_client):
    contact = in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Asha"))
    url = f"/api/v1/contacts/{contact.id}"

    opted = agent_client.post(f"{url}/opt-out", {"reason": "Asked on the phone"}, content_type="application/json")
    first_at = in_schema(alpha, lambda: Contact.objects.get(pk=contact.id).opted_out_at)
    again = agent_client.post(f"{url}/opt-out", {"reason": "Second time"}, content_type="application/json")

    assert opted.status_code == 200
    body = opted.json()
    assert (body["id"], body["is_opted_out"], body["opted_out_reason"], body["opted_out_via"]) == (
        contact.id,
        True,
        "Asked on the phone",
        "api",
    )
    assert body["opted_out_at"] is not None
    # Already opted out: the original when, why and how stay.
    assert again.status_code == 200 and again.json()["opted_out_reason"] == "Asked on the phone"
    assert opt_out_fields(alpha, contact.id) == (True, "Asked on the phone", "api")
    assert in_schema(alpha, lambda: Contact.objects.get(pk=contact.id).opted_out_at) == first_at

    back_in = agent_client.post(f"{url}/opt-in")

    assert back_in.status_code == 200
    body = back_in.json()
    assert (body["is_opted_out"], body["opted_out_at"], body["opted_out_reason"], body["opted_out_via"]) == (
        False,
        None,
        "",
        "",
    )
    assert opt_out_fields(alpha, contact.id) == (False, "", "")

    no_reason = agent_client.post(f"{url}/opt-out")

    assert no_reason.status_code == 200
    assert opt_out_fields(alpha, contact.id) == (True, "", "api")


def test_opt_out_refusals_change_nothing(alpha, client_for, agent_client):
    contact = in_schema(alpha, lambda: Contact.objects.create(phone="+919876543210", name="Asha"))
    opted = in_schema(
        alpha,
        lambda: Contact.objects.create(
            phone="+919876543211", opted_out_at="2026-01-01T00:00:00Z", opted_out_reason="STOP", opted_out_via="keyword"
        ),
    )
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    viewer_out = viewer.post(f"/api/v1/contacts/{contact.id}/opt-out", {"reason": "x"}, content_type="application/json")
    viewer_in = viewer.post(f"/api/v1/contacts/{opted.id}/opt-in")
    too_long = agent_client.post(
        f"/api/v1/contacts/{contact.id}/opt-out", {"reason": "x" * 201}, content_type="application/json"
    )
    missing = agent_client.post(f"/api/v1/contacts/{opted.id + 1000}/opt-out")

    assert (viewer_out.status_code, viewer_out.json()["error"]["code"]) == (403, "role_required")
    assert (viewer_in.status_code, viewer_in.json()["error"]["code"]) == (403, "role_required")
    assert too_long.status_code == 400 and list(too_long.json()["error"]["details"]) == ["reason"]
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "contact_not_found")
    assert opt_out_fields(alpha, contact.id) == (False, "", "")
    assert opt_out_fields(alpha, opted.id) == (True, "STOP", "keyword")


def test_bulk_upsert_records_opt_outs_as_api_and_keeps_earlier_ones(alpha, agent_client):
    def seed():
        Contact.objects.create(phone="+919876543210", name="Existing")
        Contact.objects.create(
            phone="+919876543211", opted_out_at="2026-01-01T00:00:00Z", opted_out_reason="STOP", opted_out_via="keyword"
        )

    in_schema(alpha, seed)

    response = agent_client.post(
        "/api/v1/contacts/bulk",
        {
            "contacts": [
                {"phone": "+919876543210", "opted_out": True},
                {"phone": "+919876543211", "opted_out": True},
                {"phone": "+919876543212", "opted_out": True},
                {"phone": "+919876543213", "opted_out": False},
            ]
        },
        content_type="application/json",
    )

    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (2, 1, 1)

    def opt_outs():
        return sorted(
            (c.phone, c.opted_out_at is not None, c.opted_out_reason, c.opted_out_via) for c in Contact.objects.all()
        )

    assert in_schema(alpha, opt_outs) == [
        ("+919876543210", True, "Sent as opted out through the API", "api"),
        ("+919876543211", True, "STOP", "keyword"),
        ("+919876543212", True, "Sent as opted out through the API", "api"),
        ("+919876543213", False, "", ""),
    ]


def test_a_file_import_still_records_opt_outs_as_import(in_alpha, run_import):
    run_import(b"Phone,Opted out\n+919876543210,yes\n")

    assert list(Contact.objects.values_list("opted_out_reason", "opted_out_via")) == [
        ("Imported as opted out", "import")
    ]
