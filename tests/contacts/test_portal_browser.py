"""static/js/contacts.js in a real Chromium against the real ASGI server: an import's page follows
its progress live to the final counts and the error report link; the list's selection drives the
bulk bar and a bulk action lands in the database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact, Group, GroupMembership, ImportJob
from apps.core.realtime.publish import publish
from tests.conftest import ROOT
from tests.core.test_realtime_browser import in_thread, open_real_portal_page, with_browser

pytestmark = pytest.mark.live

SCREENSHOTS = ROOT / "var" / "test-screenshots"


@pytest.fixture
def owner_session(alpha_live) -> Iterator[str]:
    client = Client(HTTP_HOST=alpha_live.host)
    client.force_login(alpha_live.owner)
    yield client.cookies[settings.SESSION_COOKIE_NAME].value
    client.logout()


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_an_import_page_follows_its_progress_live_to_the_result(asgi_server, alpha_live, owner_session):
    with tenant_context(alpha_live.tenant):
        job = ImportJob.objects.create(
            original_name="people.csv",
            format="csv",
            mapping={"phone": "Mobile"},
            state=ImportJob.State.RUNNING,
            processed_rows=100,
            progress=1,
        )
    topic = f"imports.{job.id}"
    schema = alpha_live.tenant.schema_name
    running = {
        "job_id": job.id,
        "state": "running",
        "processed_rows": 5000,
        "progress": 50,
        "rows_per_s": 2500.4,
        "error_count": 2,
    }
    completed = {
        **running,
        "state": "completed",
        "processed_rows": 10000,
        "progress": 100,
        "total_rows": 10000,
        "created": 9000,
        "updated": 500,
        "unchanged": 0,
        "skipped": 0,
        "duplicates": 496,
        "error_count": 4,
        "has_error_file": True,
        "failure": "",
    }

    def scenario(browser):
        page = open_real_portal_page(
            browser, asgi_server, alpha_live.host, owner_session, f"/contacts/imports/{job.id}/"
        )
        # The snapshot right after connecting.
        page.wait_for_function("window.ChorusImport.events.length === 1")
        result_hidden_before = page.locator("[data-show-when-finished]").is_hidden()

        in_thread(lambda: publish(topic, running, schema_name=schema))
        page.wait_for_function("window.ChorusImport.events.length === 2")
        live = {
            "rows": page.locator('[data-import-field="processed_rows"]').inner_text(),
            "rate": page.locator('[data-import-field="rows_per_s"]').inner_text(),
            "errors": page.locator('[data-import-field="error_count"]').first.inner_text(),
            "bar": page.locator("[data-import-progressbar]").get_attribute("aria-valuenow"),
        }

        in_thread(lambda: publish(topic, completed, schema_name=schema))
        page.wait_for_function("window.ChorusImport.events.length === 3")
        screenshot(page, "import-progress")
        return {
            "result_hidden_before": result_hidden_before,
            "live": live,
            "events": page.evaluate("window.ChorusImport.events"),
            "state": page.locator("[data-import-state]").inner_text(),
            "created": page.locator('[data-import-field="created"]').inner_text(),
            "duplicates": page.locator('[data-import-field="duplicates"]').inner_text(),
            "result_visible": page.locator("[data-show-when-finished]").is_visible(),
            "fill": page.locator("[data-import-fill]").evaluate("element => element.style.inlineSize"),
            "error_link": page.locator("[data-error-file] a").get_attribute("href"),
            "error_link_visible": page.locator("[data-error-file]").is_visible(),
        }

    try:
        seen = with_browser(scenario)
    finally:
        with tenant_context(alpha_live.tenant):
            ImportJob.objects.filter(id=job.id).delete()

    assert seen == {
        "result_hidden_before": True,
        "live": {"rows": "5,000", "rate": "2,500", "errors": "2", "bar": "50"},
        "events": ["running", "running", "completed"],
        "state": "Completed",
        "created": "9,000",
        "duplicates": "496",
        "result_visible": True,
        "fill": "100%",
        "error_link": f"/contacts/imports/{job.id}/errors/",
        "error_link_visible": True,
    }


def test_selecting_rows_and_tagging_them_from_the_list(asgi_server, alpha_live, owner_session):
    phones = ["+919811100001", "+919811100002", "+919811100003"]
    with tenant_context(alpha_live.tenant):
        ids = [Contact.objects.create(phone=phone, name=f"Browser {i}").id for i, phone in enumerate(phones)]

    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, owner_session, "/contacts/?q=Browser")
        apply_disabled = page.locator("[data-bulk-apply]").is_disabled()
        page.locator("[data-select-all]").check()
        counter = page.locator("[data-selected-count]").inner_text()
        page.locator("[data-bulk-action]").select_option("opt_out")
        group_hidden_for_opt_out = page.locator("[data-bulk-needs-group]").is_hidden()
        page.locator("[data-bulk-action]").select_option("add_to_group")
        page.locator(f'[data-select-row][value="{ids[0]}"]').uncheck()
        page.locator('input[name="new_group"]').fill("Browser tag")
        screenshot(page, "contacts-list")
        page.locator("[data-bulk-apply]").click()
        page.wait_for_url("**/contacts/?q=Browser")
        return {
            "apply_disabled": apply_disabled,
            "counter": counter,
            "group_hidden_for_opt_out": group_hidden_for_opt_out,
            "message": page.locator(".message").first.inner_text(),
        }

    try:
        seen = with_browser(scenario)
        with tenant_context(alpha_live.tenant):
            tagged = sorted(
                GroupMembership.objects.filter(group__name="Browser tag").values_list("contact_id", flat=True)
            )
    finally:
        with tenant_context(alpha_live.tenant):
            Contact.objects.filter(id__in=ids).delete()
            Group.objects.filter(name="Browser tag").delete()

    assert seen["apply_disabled"] is True
    assert seen["counter"] == "3 selected"
    assert seen["group_hidden_for_opt_out"] is True
    assert "2 contacts added to Browser tag." in seen["message"]
    assert tagged == ids[1:]
