"""Background contact exports: the job asked for from the portal or the API, the worker writing
the file in keyset chunks through ContactResource (same columns and neutralisation as the
inline export), downloads, roles, tenant isolation (pages, API, live progress) and failures.
The worker is the real task function, run in the test's process."""

from __future__ import annotations

import asyncio
import csv
import io
import random
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from apps.accounts.models import Membership, Role, User
from apps.contacts import selectors, tasks
from apps.contacts.consumers import CLOSE_EXPORT_NOT_FOUND
from apps.contacts.models import Contact, ContactExport, Group, GroupMembership
from apps.contacts.resources import CONTACT_EXPORT_FIELDS
from apps.contacts.services import exporting
from apps.core.exceptions import ValidationFailed
from apps.core.realtime.publish import publish
from tests.conftest import PASSWORD, TenantWorld
from tests.contacts.test_portal_import_progress import in_thread, token_for
from tests.core.conftest import RECEIVE_TIMEOUT_S, ws_receive, ws_silent

# An end-to-end export through the worker finishes well within this; it only bounds a broken run.
EXPORT_DEADLINE_S = 60.0


def member(world: TenantWorld, role: str) -> User:
    user = User.objects.create_user(f"exports-{role}@{world.tenant.slug}.test", PASSWORD)
    Membership.objects.create(user=user, tenant=world.tenant, role=role)
    return user


def in_schema(world: TenantWorld, fn: Callable[[], Any]) -> Any:
    with tenant_context(world.tenant):
        return fn()


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def used(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters that narrow the list (the others are stored empty)."""
    return {key: value for key, value in filters.items() if value not in ("", None)}


def file_bytes(export: ContactExport) -> bytes:
    with export.file.open("rb") as handle:
        return handle.read()


def seed_vip() -> tuple[Group, list[Contact]]:
    """Five contacts, three of them in VIP (one with formula-looking cells); ids ascending."""
    vip = Group.objects.create(name="=VIP")
    other = Group.objects.create(name="Pune")
    made = [
        Contact.objects.create(phone="+919800000001", name='=HYPERLINK("http://x.test")', email="@evil"),
        Contact.objects.create(phone="+919800000002", name="Not in VIP"),
        Contact.objects.create(phone="+919800000003", name="-2+3", custom_fields={"city": "Pune"}, language="hi"),
        Contact.objects.create(phone="+919800000004", name="Asha"),
        Contact.objects.create(phone="+919800000005", name="Also not"),
    ]
    for contact in (made[0], made[2], made[3]):
        GroupMembership.objects.create(group=vip, contact=contact)
    GroupMembership.objects.create(group=other, contact=made[2])
    return vip, made


@pytest.fixture
def small_chunks(monkeypatch):
    # Two contacts per query, so a handful of contacts crosses several keyset chunks.
    monkeypatch.setattr(exporting, "EXPORT_CHUNK_ROWS", 2)


@pytest.fixture
def request_and_run(monkeypatch, django_capture_on_commit_callbacks) -> Callable[..., ContactExport]:
    """request_and_run(filters=..., file_format=...): contact_export_request as a front door
    calls it, then the task it scheduled on commit (in this process), -> the export after."""

    def run(**fields: Any) -> ContactExport:
        started: list[int] = []
        monkeypatch.setattr(tasks.contacts_export, "delay", started.append)
        with django_capture_on_commit_callbacks(execute=True):
            export = exporting.contact_export_request(requested_by_id=None, **fields)
        assert started == [export.id]
        tasks.contacts_export(export.id)
        return ContactExport.objects.get(id=export.id)

    return run


# --- what the worker writes ---------------------------------------------------------------------


def test_a_filtered_csv_export_has_exactly_todays_columns_and_the_matching_rows(
    in_alpha, small_chunks, request_and_run
):
    vip, _made = seed_vip()
    filters = {"search": "", "group_id": vip.id, "opted_out": None}

    export = request_and_run(filters=filters, file_format="csv")

    content = file_bytes(export)
    rows = csv_rows(content)
    assert rows[0] == list(CONTACT_EXPORT_FIELDS)
    assert [row[:6] for row in rows[1:]] == [
        ["+919800000001", '\'=HYPERLINK("http://x.test")', "'@evil", "", "'=VIP", "{}"],
        ["+919800000003", "'-2+3", "", "hi", "'=VIP;Pune", '{"city": "Pune"}'],
        ["+919800000004", "Asha", "", "", "'=VIP", "{}"],
    ]
    # The same bytes as the inline export of the same contacts.
    inline = exporting.contacts_export(queryset=selectors.contacts_list(**filters), file_format="csv")
    assert content == inline.content
    assert (export.state, export.rows_done, export.rows_total, export.progress, export.error) == (
        "completed",
        3,
        3,
        100,
        "",
    )
    assert export.filters == filters
    assert export.file.name.startswith("exports/t_alpha/") and export.file.name.endswith(".csv")
    assert export.started_at is not None and export.finished_at is not None


def test_an_xlsx_export_is_readable_by_openpyxl_with_the_inline_exports_cells(in_alpha, small_chunks, request_and_run):
    seed_vip()

    export = request_and_run(filters={}, file_format="xlsx")

    def cells(content: bytes) -> list[list[Any]]:
        sheet = load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]

    written = cells(file_bytes(export))
    assert written[0] == list(CONTACT_EXPORT_FIELDS)
    assert [row[:2] for row in written[1:]] == [
        ["+919800000001", '\'=HYPERLINK("http://x.test")'],
        ["+919800000002", "Not in VIP"],
        ["+919800000003", "'-2+3"],
        ["+919800000004", "Asha"],
        ["+919800000005", "Also not"],
    ]
    assert written == cells(exporting.contacts_export(file_format="xlsx").content)
    assert export.rows_done == 5 and export.file.name.endswith(".xlsx")


def test_an_export_whose_filters_no_longer_apply_fails_and_records_why(in_alpha):
    Contact.objects.create(phone="+919800000001")
    export = ContactExport.objects.create(filters={"no_such_filter": "x"}, file_format="csv")

    tasks.contacts_export(export.id)
    again = exporting.contact_export_run(export_id=export.id)  # a redelivered task changes nothing

    export.refresh_from_db()
    assert (export.state, export.error, export.rows_done, bool(export.file)) == (
        "failed",
        "These filters cannot be applied.",
        0,
        False,
    )
    assert export.finished_at is not None
    assert again is not None and again.finished_at == export.finished_at


def test_an_xlsx_export_of_more_rows_than_a_sheet_holds_fails_and_says_to_use_csv(in_alpha, monkeypatch):
    monkeypatch.setattr(exporting, "XLSX_MAX_ROWS", 2)
    for index in range(3):
        Contact.objects.create(phone=f"+91980000000{index}")
    too_big = ContactExport.objects.create(filters={}, file_format="xlsx")
    fits = ContactExport.objects.create(filters={"search": "+919800000001"}, file_format="xlsx")

    tasks.contacts_export(too_big.id)
    tasks.contacts_export(fits.id)

    too_big.refresh_from_db()
    fits.refresh_from_db()
    assert (too_big.state, too_big.error, bool(too_big.file)) == (
        "failed",
        "An Excel sheet holds at most 2 contacts: export these as CSV.",
        False,
    )
    assert (fits.state, fits.rows_done) == ("completed", 1)


def test_a_request_with_filters_the_list_does_not_know_or_a_bad_format_is_refused(in_alpha):
    with pytest.raises(ValidationFailed) as bad_filters:
        exporting.contact_export_request(filters={"no_such_filter": 1}, file_format="csv", requested_by_id=None)
    with pytest.raises(ValidationFailed) as bad_format:
        exporting.contact_export_request(filters={}, file_format="pdf", requested_by_id=None)

    assert (bad_filters.value.code, bad_format.value.code) == ("invalid_filters", "invalid_format")
    assert ContactExport.objects.count() == 0


def test_an_export_that_is_gone_is_logged_and_skipped(in_alpha):
    assert exporting.contact_export_run(export_id=987654321) is None
    tasks.contacts_export(987654321)  # no exception, nothing written
    assert ContactExport.objects.count() == 0


# --- the portal ---------------------------------------------------------------------------------


def test_the_export_page_shows_progress_then_the_download_and_the_tab_lists_it(alpha, client_for):
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    def seed() -> tuple[int, int]:
        Contact.objects.create(phone="+919800000001", name="Asha")
        queued = ContactExport.objects.create(filters={"search": "asha", "group_id": None}, file_format="xlsx")
        done = ContactExport.objects.create(filters={}, file_format="csv")
        tasks.contacts_export(done.id)
        return queued.id, done.id

    queued_id, done_id = in_schema(alpha, seed)

    queued_page = viewer.get(f"/contacts/exports/{queued_id}/").content.decode()
    done_page = viewer.get(f"/contacts/exports/{done_id}/").content.decode()
    listing = viewer.get("/contacts/exports/").content.decode()
    not_ready = viewer.get(f"/contacts/exports/{queued_id}/download/")
    download = viewer.get(f"/contacts/exports/{done_id}/download/")

    assert f'data-ws-path="/ws/exports/{queued_id}/"' in queued_page
    assert 'data-export-state="queued"' in queued_page
    assert '<dt>Search</dt><dd dir="auto">asha</dd>' in queued_page
    assert "data-export-download hidden" in queued_page
    assert 'data-export-state="completed"' in done_page and "Every contact." in done_page
    assert f'href="/contacts/exports/{done_id}/download/"' in done_page
    assert "data-export-download hidden" not in done_page
    assert listing.count("data-export-row=") == 2 and 'href="/contacts/exports/"' in listing
    assert not_ready.status_code == 302 and not_ready["Location"] == f"/contacts/exports/{queued_id}/"
    assert download.status_code == 200
    assert csv_rows(b"".join(download.streaming_content))[1][:2] == ["+919800000001", "Asha"]


def test_another_workspace_cannot_see_or_download_an_export(alpha, beta, client_for):
    def seed() -> int:
        Contact.objects.create(phone="+919800000001", name="Secret")
        export = ContactExport.objects.create(filters={}, file_format="csv")
        tasks.contacts_export(export.id)
        return export.id

    export_id = in_schema(alpha, seed)
    beta_owner = client_for(beta)
    beta_on_alpha_host = client_for(alpha, beta.owner)

    assert beta_owner.get(f"/contacts/exports/{export_id}/").status_code == 404
    assert beta_owner.get(f"/contacts/exports/{export_id}/download/").status_code == 404
    assert beta_on_alpha_host.get(f"/contacts/exports/{export_id}/download/").status_code == 403
    assert beta_on_alpha_host.get(f"/api/v1/contacts/exports/{export_id}/file").status_code == 403
    missing = beta_owner.get(f"/api/v1/contacts/exports/{export_id}/file")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "export_not_found"
    assert beta_owner.get("/api/v1/contacts/exports").json()["results"] == []
    # Refused asks for an export leave nothing behind in alpha.
    refused = beta_on_alpha_host.post("/api/v1/contacts/exports", {}, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_a_member"
    assert in_schema(alpha, ContactExport.objects.count) == 1


# --- the API ------------------------------------------------------------------------------------


def test_api_export_is_accepted_then_followed_then_downloaded(alpha, client_for, django_capture_on_commit_callbacks):
    vip_id = in_schema(alpha, lambda: seed_vip()[0].id)
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    with django_capture_on_commit_callbacks() as started:
        accepted = viewer.post(
            "/api/v1/contacts/exports", {"group": vip_id, "file_format": "xlsx"}, content_type="application/json"
        )
        by_query = viewer.post("/api/v1/contacts/exports?q=Asha")
    bad = viewer.post("/api/v1/contacts/exports", {"file_format": "pdf"}, content_type="application/json")

    assert accepted.status_code == 202 and by_query.status_code == 202
    body = accepted.json()
    assert (body["state"], body["file_format"], body["has_file"], body["file_url"]) == ("queued", "xlsx", False, None)
    assert used(body["filters"]) == {"group_id": vip_id}
    assert used(by_query.json()["filters"]) == {"search": "Asha"}
    assert len(started) == 2
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    assert in_schema(alpha, ContactExport.objects.count) == 2

    early = viewer.get(f"/api/v1/contacts/exports/{body['id']}/file")
    assert early.status_code == 409 and early.json()["error"]["code"] == "export_not_ready"
    in_schema(alpha, lambda: tasks.contacts_export(body["id"]))
    status = viewer.get(f"/api/v1/contacts/exports/{body['id']}").json()
    download = viewer.get(status["file_url"])

    assert (status["state"], status["rows_done"], status["rows_total"], status["progress"]) == ("completed", 3, 3, 100)
    assert status["file_url"] == f"/api/v1/contacts/exports/{body['id']}/file"
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="contacts.xlsx"'
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True).worksheets[0]
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == [
        "phone",
        "+919800000001",
        "+919800000003",
        "+919800000004",
    ]


def test_the_inline_export_refuses_more_than_its_limit_in_the_one_error_shape(alpha, client_for, monkeypatch):
    monkeypatch.setattr(exporting, "EXPORT_INLINE_MAX_ROWS", 2)
    viewer = client_for(alpha, member(alpha, Role.VIEWER))
    in_schema(alpha, lambda: [Contact.objects.create(phone=f"+91980000000{i}", name=f"P{i}") for i in range(3)])

    too_many = viewer.get("/api/v1/contacts/export")
    filtered = viewer.get("/api/v1/contacts/export", {"q": "P1"})

    assert too_many.status_code == 422
    error = too_many.json()["error"]
    assert error["code"] == "export_too_large"
    assert "POST /api/v1/contacts/exports" in error["message"]
    assert error["details"] == {"max_rows": 2, "exports": "/api/v1/contacts/exports"}
    assert filtered.status_code == 200
    assert [row[0] for row in csv_rows(filtered.content)] == ["phone", "+919800000001"]
    assert in_schema(alpha, ContactExport.objects.count) == 0


# --- live progress over /ws/exports/<id>/ --------------------------------------------------------


async def ws_export(base_url: str, host: str, token: str, export_id: int | str) -> ClientConnection:
    port = urlsplit(base_url).port
    return await connect(
        f"ws://{host}:{port}/ws/exports/{export_id}/?token={token}",
        host="127.0.0.1",
        port=port,
        origin=f"http://{host}:{port}",
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT_S,
    )


async def export_close_code(base_url: str, host: str, token: str, export_id: int) -> int | None:
    ws = await ws_export(base_url, host, token, export_id)
    try:
        message = await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    finally:
        await ws.close()
    raise AssertionError(f"expected a refusal, received {message!r}")


@pytest.fixture
def live_exports() -> Iterator[Callable[..., ContactExport]]:
    """live_exports(world, **fields) -> a committed ContactExport, deleted (with its file) after."""
    made: list[tuple[TenantWorld, int]] = []

    def make(world: TenantWorld, **fields: Any) -> ContactExport:
        with tenant_context(world.tenant):
            export = ContactExport.objects.create(**{"filters": {}, "file_format": "csv", **fields})
        made.append((world, export.id))
        return export

    yield make
    for world, export_id in made:
        with tenant_context(world.tenant):
            for export in ContactExport.objects.filter(id=export_id):
                if export.file:
                    export.file.delete(save=False)
                export.delete()


@pytest.mark.live
def test_an_export_id_of_another_workspace_is_refused_on_the_socket(asgi_server, alpha_live, beta_live, live_exports):
    beta_export = live_exports(beta_live, id=random.randint(10**12, 2 * 10**12))
    with tenant_context(alpha_live.tenant):
        assert not ContactExport.objects.filter(id=beta_export.id).exists()
    alpha_token = token_for(alpha_live)

    async def scenario() -> list[int | None]:
        return [
            await export_close_code(asgi_server, alpha_live.host, alpha_token, beta_export.id),
            await export_close_code(asgi_server, alpha_live.host, alpha_token, 2**63 + 5),
        ]

    assert asyncio.run(scenario()) == [CLOSE_EXPORT_NOT_FOUND, CLOSE_EXPORT_NOT_FOUND]


@pytest.mark.live
def test_an_export_streams_its_progress_from_the_worker_and_another_workspace_hears_none_of_it(
    asgi_server, celery_worker_process, alpha_live, beta_live, live_exports
):
    """Asked for like the portal does → the Celery worker on `imports` → events on alpha's
    socket until the final state. beta has an export with the same id, watched on beta's
    host: it gets its own snapshot and then silence."""
    phones = [f"+9198777{index:05d}" for index in range(1500)]
    with tenant_context(alpha_live.tenant):
        Contact.objects.bulk_create([Contact(phone=phone, name=f"Live {i}") for i, phone in enumerate(phones)])
        export = exporting.contact_export_request(filters={"search": "Live"}, file_format="csv", requested_by_id=None)
    # No transaction was open: the request committed and the worker has started. beta gets an
    # export with the same id.
    beta_twin = live_exports(beta_live, id=export.id)
    alpha_token, beta_token = token_for(alpha_live), token_for(beta_live)

    async def scenario() -> tuple[list[dict], dict]:
        alpha_ws = await ws_export(asgi_server, alpha_live.host, alpha_token, export.id)
        beta_ws = await ws_export(asgi_server, beta_live.host, beta_token, beta_twin.id)
        events: list[dict] = []
        try:
            beta_snapshot = (await ws_receive(beta_ws))["event"]
            events.append((await ws_receive(alpha_ws))["event"])
            deadline = asyncio.get_running_loop().time() + EXPORT_DEADLINE_S
            while events[-1]["state"] not in ("completed", "failed"):
                remaining = deadline - asyncio.get_running_loop().time()
                assert remaining > 0, f"no final event; saw {events}"
                events.append((await ws_receive(alpha_ws, timeout=remaining))["event"])
            # An event published to beta's own export topic does reach beta's page...
            await in_thread(publish, f"exports.{export.id}", {"state": "beta"}, schema_name="t_beta")
            assert (await ws_receive(beta_ws))["event"] == {"state": "beta"}
            # ...and nothing of alpha's export ever did.
            await ws_silent(beta_ws)
            return events, beta_snapshot
        finally:
            await alpha_ws.close()
            await beta_ws.close()

    try:
        events, beta_snapshot = asyncio.run(scenario())
        with tenant_context(alpha_live.tenant):
            finished = ContactExport.objects.get(id=export.id)
            written = csv_rows(file_bytes(finished))

        assert beta_snapshot["state"] == "queued" and beta_snapshot["rows_done"] == 0
        assert {event["state"] for event in events[:-1]} <= {"queued", "running"}
        assert events[-1] == exporting.contact_export_event(finished)
        assert (events[-1]["state"], events[-1]["rows_done"], events[-1]["has_file"]) == ("completed", 1500, True)
        assert sorted(row[0] for row in written[1:]) == phones
    finally:
        with tenant_context(alpha_live.tenant):
            Contact.objects.filter(phone__in=phones).delete()
            for stored in ContactExport.objects.filter(id=export.id):
                if stored.file:
                    stored.file.delete(save=False)
                stored.delete()


@pytest.mark.live
def test_the_export_button_leads_to_a_page_that_follows_the_worker_to_the_download(
    asgi_server, celery_worker_process, alpha_live
):
    """static/js/contact_exports.js in a real Chromium: the list's Export button (a POST with
    its CSRF token), the export's page following the real worker to the end, the download."""
    from django.conf import settings
    from django.test import Client

    from tests.contacts.test_portal_browser import screenshot
    from tests.core.test_realtime_browser import open_real_portal_page, with_browser

    phones = [f"+9198666{index:05d}" for index in range(30)]
    with tenant_context(alpha_live.tenant):
        Contact.objects.bulk_create([Contact(phone=phone, name=f"=Browser {i}") for i, phone in enumerate(phones)])
    client = Client(HTTP_HOST=alpha_live.host)
    client.force_login(alpha_live.owner)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, session, "/contacts/?q=Browser")
        page.get_by_role("button", name="Export CSV").click()
        page.wait_for_url("**/contacts/exports/*/")
        page.wait_for_function(
            "window.ChorusExport.events.length > 0 && window.ChorusExport.events.slice(-1)[0] === 'completed'",
            timeout=EXPORT_DEADLINE_S * 1000,
        )
        screenshot(page, "contact-export")
        with page.expect_download() as download_info:
            page.locator("[data-export-download] a").click()
        download = download_info.value
        with open(download.path(), "rb") as handle:
            content = handle.read()
        return {
            "path": urlsplit(page.url).path,
            "state": page.locator("[data-export-state]").inner_text(),
            "rows": page.locator('[data-export-field="rows_done"]').inner_text(),
            "download_visible": page.locator("[data-export-download]").is_visible(),
            "filename": download.suggested_filename,
            "content": content,
        }

    try:
        seen = with_browser(scenario)
        with tenant_context(alpha_live.tenant):
            export = ContactExport.objects.get()
    finally:
        client.logout()
        with tenant_context(alpha_live.tenant):
            Contact.objects.filter(phone__in=phones).delete()
            for stored in ContactExport.objects.all():
                if stored.file:
                    stored.file.delete(save=False)
                stored.delete()

    assert seen["path"] == f"/contacts/exports/{export.id}/"
    assert (seen["state"], seen["rows"], seen["download_visible"]) == ("Completed", "30", True)
    assert used(export.filters) == {"search": "Browser"}
    assert seen["filename"] == "contacts.csv"
    rows = csv_rows(seen["content"])
    assert sorted(row[0] for row in rows[1:]) == phones
    assert {row[1][:9] for row in rows[1:]} == {"'=Browser"}


def test_a_file_deleted_under_a_completed_export_answers_gone_not_an_error(in_alpha, request_and_run):
    from django.core.files.storage import default_storage

    from apps.core.exceptions import NotFound

    Contact.objects.create(phone="+919876500001", name="Asha")
    export = request_and_run(filters={}, file_format="csv")
    default_storage.delete(export.file.name)  # as the sweep does, just before the download

    with pytest.raises(NotFound) as gone:
        exporting.contact_export_file(export=export)

    assert (gone.value.status, gone.value.code) == (410, "export_expired")
