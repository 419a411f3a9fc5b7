"""Analytics: messages per day by state, campaign performance and contact growth over the last
30 days in the workspace's time zone, a campaign's throughput chart, exact for seeded rows; the
charts are drawn by the vendored Chart.js (no CDN); other workspaces see none of it."""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.campaigns import analytics
from apps.contacts.models import Contact
from apps.senders.models import OutboundMessage
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start

ZONE = "Asia/Kolkata"


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def chart_data(html: str) -> dict:
    match = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


@pytest.fixture
def seeded(alpha):
    """Ledger rows and contacts at known moments (oldest first, as ids grow with time)."""
    alpha.tenant.timezone = ZONE
    alpha.tenant.save(update_fields=["timezone"])
    now = timezone.now()

    def make():
        profile = make_profile()
        old = make_campaign(profiles=[profile], name="Old one", audience_all=True)
        diwali = make_campaign(profiles=[profile], name="Diwali", audience_all=True)
        plan = [
            (now - datetime.timedelta(days=40), old.id, "sent"),
            (now - datetime.timedelta(days=2), diwali.id, "delivered"),
            (now - datetime.timedelta(days=2), diwali.id, "delivered"),
            (now - datetime.timedelta(days=2), diwali.id, "failed"),
            (now, diwali.id, "sent"),
            (now, None, "queued"),
        ]
        for moment, campaign_id, state in plan:
            row = OutboundMessage.objects.create(
                profile=profile, to_number="+919876500001", body="Hi", campaign_id=campaign_id, state=state
            )
            OutboundMessage.objects.filter(id=row.id).update(created_at=moment)
        for days, count in ((40, 2), (5, 1), (0, 3)):
            made = make_contacts(count, start=100 + days * 10)
            Contact.objects.filter(id__in=[c.id for c in made]).update(created_at=now - datetime.timedelta(days=days))
        return {"old": old.id, "diwali": diwali.id, "now": now}

    return in_schema(alpha, make)


def local_day(moment: datetime.datetime) -> str:
    return timezone.localtime(moment, zoneinfo.ZoneInfo(ZONE)).date().isoformat()


def test_analytics_page_shows_exact_figures_for_the_last_30_days(alpha, client_for, seeded):
    html = client_for(alpha).get("/analytics/").content.decode()
    data = chart_data(html)
    now = seeded["now"]
    labels = data["daily"]["labels"]
    two_days_ago = labels.index(local_day(now - datetime.timedelta(days=2)))
    today = labels.index(local_day(now))

    assert len(labels) == 30 and labels[-1] == local_day(now)
    series = {item["state"]: item["values"] for item in data["daily"]["series"]}
    assert sorted(series) == ["delivered", "failed", "queued", "sent"]
    assert (series["delivered"][two_days_ago], series["failed"][two_days_ago]) == (2, 1)
    assert (series["sent"][today], series["queued"][today]) == (1, 1)
    assert sum(sum(values) for values in series.values()) == 5  # the 40-day-old row is outside
    assert '<tr data-daily-state="delivered"><th scope="row">Delivered</th><td>2</td></tr>' in html
    assert '<tr data-daily-state="sent"><th scope="row">Sent</th><td>1</td></tr>' in html

    row = re.search(rf'<tr data-performance-row="{seeded["diwali"]}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert cells == [
        f'<a href="/campaigns/{seeded["diwali"]}/">Diwali</a>',
        '<span class="badge state-draft">Draft</span>',
        *["4", "3", "2", "1", "0", "66.7%", "25.0%"],
    ]
    assert f'data-performance-row="{seeded["old"]}"' not in html

    assert data["growth"]["added"][-1] == 3 and sum(data["growth"]["added"]) == 4
    assert data["growth"]["total"][0] == 2 and data["growth"]["total"][-1] == 6
    assert "4 contacts added; 6 in total." in html
    assert '<script src="/static/vendor/chart.umd.min.js" defer></script>' in html
    assert 'class="nav-link is-active" href="/analytics/" aria-current="page"' in html
    assert "https://" not in html


def test_the_window_starts_at_the_first_ledger_row_of_its_first_day(alpha, seeded):
    def read():
        ids = list(OutboundMessage.objects.order_by("id").values_list("id", flat=True))
        start = seeded["now"] - datetime.timedelta(days=3)
        return ids, analytics.ledger_first_id_since(start), analytics.ledger_first_id_since(timezone.now())

    ids, since_three_days, since_now = in_schema(alpha, read)

    assert since_three_days == ids[1]
    assert since_now is None


def test_vendored_chart_js_is_the_umd_build():
    vendored = Path(settings.BASE_DIR, "static", "vendor", "chart.umd.min.js").read_text()

    assert vendored.startswith("/*!\n * Chart.js v4.")


def test_campaign_page_charts_throughput_and_states(alpha, client_for):
    alpha.tenant.timezone = ZONE
    alpha.tenant.save(update_fields=["timezone"])
    moment = timezone.now().replace(second=0, microsecond=0) - datetime.timedelta(minutes=5)

    def make():
        make_contacts(4)
        campaign = make_campaign(profiles=[make_profile()], audience_all=True)
        start(campaign)
        rows = list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id").values_list("id", flat=True))
        OutboundMessage.objects.filter(id__in=rows[:2]).update(state="sent", sent_at=moment)
        OutboundMessage.objects.filter(id=rows[2]).update(state="sent", sent_at=moment + datetime.timedelta(minutes=1))
        OutboundMessage.objects.filter(id=rows[3]).update(
            state="failed", failed_at=moment + datetime.timedelta(minutes=1)
        )
        return campaign.id

    campaign_id = in_schema(alpha, make)
    data = chart_data(client_for(alpha).get(f"/campaigns/{campaign_id}/").content.decode())
    local = timezone.localtime(moment, zoneinfo.ZoneInfo(ZONE))

    assert data["throughput"] == {
        "labels": [local.strftime("%H:%M"), (local + datetime.timedelta(minutes=1)).strftime("%H:%M")],
        "sent": [2, 1],
        "failed": [0, 1],
        "bucket": "minute",
    }
    assert data["states"] == {"labels": ["Failed", "Sent"], "values": [1, 3]}


def test_another_workspace_sees_none_of_it(alpha, beta, client_for, seeded):
    html = client_for(beta).get("/analytics/").content.decode()
    data = chart_data(html)

    assert data["daily"]["series"] == []
    assert "Diwali" not in html
    assert sum(data["growth"]["added"]) == 0 and data["growth"]["total"][-1] == 0
