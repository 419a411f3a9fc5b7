"""static/js/campaigns.js and analytics.js in a real Chromium against the real ASGI server: the
campaign page follows its progress live over /ws/campaigns/<id>/ and draws its charts with the
vendored Chart.js; the template page's preview (HTMX) shows the unknown-placeholder error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import tenant_context

from apps.campaigns.models import Campaign
from apps.campaigns.services import progress
from apps.campaigns.services.progress import campaign_topic
from apps.contacts.models import Contact
from apps.core.realtime.publish import publish
from apps.senders.models import OutboundMessage, SenderProfile
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start
from tests.core.test_realtime_browser import in_thread, open_real_portal_page, with_browser

pytestmark = pytest.mark.live


@pytest.fixture
def owner_session(alpha_live) -> Iterator[str]:
    client = Client(HTTP_HOST=alpha_live.host)
    client.force_login(alpha_live.owner)
    yield client.cookies[settings.SESSION_COOKIE_NAME].value
    client.logout()


@pytest.fixture
def live_campaign(alpha_live) -> Iterator[Campaign]:
    with tenant_context(alpha_live.tenant):
        contacts = make_contacts(4, start=900)
        profile = make_profile("Browser test")
        campaign = make_campaign(profiles=[profile], name="Browser campaign", audience_all=True)
        run = start(campaign)
        rows = list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id").values_list("id", flat=True))
        OutboundMessage.objects.filter(id__in=rows[:2]).update(state="sent", sent_at=campaign.created_at)
        # What the run's tick does each second: the snapshot sent on connect carries these counts.
        progress.run_rollup(run=run)
        campaign = Campaign.objects.get(id=campaign.id)
    try:
        yield campaign
    finally:
        with tenant_context(alpha_live.tenant):
            OutboundMessage.objects.filter(campaign_id=campaign.id).delete()
            Campaign.objects.filter(id=campaign.id).delete()
            SenderProfile.objects.filter(id=profile.id).delete()
            Contact.objects.filter(id__in=[c.id for c in contacts]).delete()


def test_campaign_page_updates_live_and_draws_its_charts(asgi_server, alpha_live, owner_session, live_campaign):
    topic = campaign_topic(live_campaign.id)
    schema = alpha_live.tenant.schema_name
    run = {
        "id": 1,
        "number": 1,
        "state": "running",
        "materialized": True,
        "recipients": 4,
        "duplicates": 0,
        "counts": {"sent": 3, "queued": 1},
        "pending": 1,
        "done": 3,
        "sent": 3,
        "failed": 0,
        "rate_per_s": 0.5,
        "eta_s": 125,
        "quota_note": "",
    }
    event = {
        "kind": "campaign.progress",
        "campaign_id": live_campaign.id,
        "state": "running",
        "reason": "",
        "detail": "",
        "run": run,
    }

    def scenario(browser):
        page = open_real_portal_page(
            browser, asgi_server, alpha_live.host, owner_session, f"/campaigns/{live_campaign.id}/"
        )
        page.wait_for_function("window.ChorusCampaign && window.ChorusCampaign.events.length === 1")
        before = page.locator('[data-live="done"]').inner_text()
        in_thread(lambda: publish(topic, event, schema_name=schema))
        page.wait_for_function("window.ChorusCampaign.events.length === 2")
        return {
            "before": before,
            "done": page.locator('[data-live="done"]').inner_text(),
            "rate": page.locator('[data-live="rate"]').inner_text(),
            "eta": page.locator('[data-live="eta"]').inner_text(),
            "fill": page.locator("[data-live-bar]").evaluate("element => element.style.inlineSize"),
            "queued": page.locator('[data-count-state="queued"] td').inner_text(),
            "charts": page.evaluate(
                "Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => !!c.chart && c.chart.config.type)"
            ),
        }

    seen = with_browser(scenario)

    assert seen == {
        "before": "2",
        "done": "3",
        "rate": "30",
        "eta": "2 min 5 s",
        "fill": "75%",
        "queued": "1",
        "charts": ["line", "doughnut"],
    }


def test_template_preview_shows_the_unknown_placeholder(asgi_server, alpha_live, owner_session):
    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, owner_session, "/templates/new/")
        page.fill("#id_body", "Hi {{nmae}}")
        page.click("text=Show preview")
        page.wait_for_selector("[data-unknown-placeholder]")
        bad = page.locator("[data-unknown-placeholder]").inner_text()
        page.fill("#id_body", "Hello {{name|friend}}")
        page.click("text=Show preview")
        page.wait_for_selector("[data-preview-text]")
        return bad, page.locator("[data-preview-text]").inner_text()

    assert with_browser(scenario) == ("{{nmae}}", "Hello friend")


def test_analytics_page_draws_its_charts_with_the_vendored_library(asgi_server, alpha_live, owner_session):
    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, owner_session, "/analytics/")
        page.wait_for_function("document.querySelectorAll('canvas[data-chart]')[1].chart !== undefined")
        return page.evaluate(
            "Array.from(document.querySelectorAll('canvas[data-chart]')).map(c => c.chart.config.type)"
        )

    assert with_browser(scenario) == ["bar", "line"]


def test_builder_previews_the_chosen_template(asgi_server, alpha_live, owner_session):
    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, owner_session, "/campaigns/new/")
        page.select_option("#id_template", label="Simple message")
        page.click("text=Show preview")
        page.wait_for_selector("[data-preview-text]")
        return page.locator("[data-preview-text]").inner_text()

    assert with_browser(scenario) == "Hello there, thank you for being with us. Reply STOP to opt out."


def test_builder_imports_an_uploaded_list_and_follows_its_progress(
    asgi_server, celery_worker_process, alpha_live, owner_session
):
    """The builder's "upload a list": the file goes to the `imports` worker, the page shows the
    new group chosen and the import's progress live until it is done."""
    from apps.billing.models import UsageRecord
    from apps.contacts.models import Group, ImportJob, ImportMapping

    phones = [f"+9198761{index:05d}" for index in range(300)]
    data = ("mobile,name\n" + "".join(f"{phone},Listed {i}\n" for i, phone in enumerate(phones))).encode()
    with tenant_context(alpha_live.tenant):
        profile = make_profile("List sender")

    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, owner_session, "/campaigns/new/")
        page.fill("#id_name", "List campaign")
        page.fill("#id_body", "Hello {{name|there}}")
        page.check(f'input[name="profiles"][value="{profile.id}"]')
        page.set_input_files("#id_audience_file", files=[{"name": "list.csv", "mimeType": "text/csv", "buffer": data}])
        page.click("[data-review-campaign]")
        page.wait_for_selector("[data-builder-import]")
        page.wait_for_selector("[data-builder-import] [data-show-when-finished]:not([hidden])", timeout=60_000)
        return (
            page.locator("[data-builder-import] [data-import-state]").get_attribute("data-import-state"),
            page.locator('[data-builder-import] [data-import-field="processed_rows"]').inner_text(),
            page.locator('input[name="groups"]:checked').evaluate_all("(nodes) => nodes.map((n) => n.value)"),
        )

    try:
        state, processed, checked = with_browser(scenario)
        with tenant_context(alpha_live.tenant):
            job = ImportJob.objects.select_related("group").get(original_name="list.csv")
            members = job.group.memberships.count()

        assert state == "completed" and processed.replace(",", "") == "300"
        assert checked == [str(job.group_id)] and job.group.name.startswith("List campaign · list ")
        assert members == 300
    finally:
        with tenant_context(alpha_live.tenant):
            Contact.objects.filter(phone__in=phones).delete()
            ImportMapping.objects.filter(headers=["mobile", "name"]).delete()
            for stored in ImportJob.objects.filter(original_name="list.csv"):
                stored.file.delete(save=False)
                if stored.error_file:
                    stored.error_file.delete(save=False)
                stored.delete()
            Group.objects.filter(name__startswith="List campaign · list ").delete()
            SenderProfile.objects.filter(id=profile.id).delete()
        UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def test_builder_shows_weights_only_for_weighted_rotation(asgi_server, alpha_live, owner_session):
    with tenant_context(alpha_live.tenant):
        profile = make_profile("Weighted sender")

    def scenario(browser):
        page = open_real_portal_page(browser, asgi_server, alpha_live.host, owner_session, "/campaigns/new/")
        weight = page.locator(f"#id_weight_{profile.id}")
        before = weight.is_visible()
        page.select_option("#id_rotation", "weighted")
        during = weight.is_visible()
        page.select_option("#id_rotation", "sticky")
        return before, during, weight.is_visible()

    try:
        assert with_browser(scenario) == (False, True, False)
    finally:
        with tenant_context(alpha_live.tenant):
            SenderProfile.objects.filter(id=profile.id).delete()
