"""The campaigns pages: the list with states, one campaign's progress, buttons (role-checked),
recipients (state filter, keyset pages), the recipients CSV, and tenant isolation."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.campaigns.models import Campaign
from apps.contacts.models import Group
from apps.senders.models import OutboundMessage
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start
from tests.senders.api_support import member


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def running_campaign(world, contacts: int = 3, **values) -> tuple[Campaign, list[int]]:
    """A started, materialized campaign over `contacts` contacts of group Customers; returns it
    and its ledger row ids in order."""

    def make():
        group = Group.objects.create(name="Customers")
        made = make_contacts(contacts, group=group)
        campaign = make_campaign(profiles=[make_profile()], groups=[group], **values)
        start(campaign)
        rows = list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id").values_list("id", flat=True))
        assert len(rows) == len(made)
        return Campaign.objects.get(id=campaign.id), rows

    return in_schema(world, make)


def campaign_state(world, campaign_id: int) -> str:
    return in_schema(world, lambda: Campaign.objects.get(id=campaign_id).state)


@pytest.fixture
def agent(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


@pytest.fixture
def viewer(alpha, client_for):
    return client_for(alpha, member(alpha, Role.VIEWER))


def test_list_shows_each_campaign_with_its_state_and_filters_by_state(alpha, viewer):
    running, _rows = running_campaign(alpha, name="Diwali offer")
    draft = in_schema(
        alpha, lambda: make_campaign(profiles=[make_profile("Second")], name="Winter draft", audience_all=True)
    )

    html = viewer.get("/campaigns/").content.decode()
    drafts = viewer.get("/campaigns/?state=draft").content.decode()

    assert f'<tr data-campaign-row="{running.id}">' in html and f'<tr data-campaign-row="{draft.id}">' in html
    assert f'href="/campaigns/{running.id}/">Diwali offer</a>' in html
    assert '<span class="badge state-running" data-campaign-state="running">Running</span>' in html
    assert '<span class="badge state-draft" data-campaign-state="draft">Draft</span>' in html
    assert '<span class="badge tag">Customers</span>' in html
    assert f'<tr data-campaign-row="{draft.id}">' in drafts
    assert f'<tr data-campaign-row="{running.id}">' not in drafts
    assert 'class="nav-link is-active" href="/campaigns/" aria-current="page"' in html


def test_campaign_page_shows_counts_per_state_from_the_ledger_and_the_live_socket(alpha, viewer):
    campaign, rows = running_campaign(alpha, contacts=4)
    in_schema(
        alpha, lambda: OutboundMessage.objects.filter(id__in=rows[:2]).update(state="sent", sent_at=timezone.now())
    )
    in_schema(alpha, lambda: OutboundMessage.objects.filter(id=rows[2]).update(state="failed", error_code="boom"))

    html = viewer.get(f"/campaigns/{campaign.id}/").content.decode()

    assert f'data-ws-path="/ws/campaigns/{campaign.id}/"' in html
    assert '<dd data-live="recipients">4</dd>' in html
    assert '<dd data-live="sent">2</dd>' in html
    assert '<dd data-live="failed">1</dd>' in html
    assert '<dd data-live="done">3</dd>' in html
    assert '<dd data-live="pending">1</dd>' in html
    assert '<tr data-count-state="sent"><th scope="row">Sent</th><td>2</td></tr>' in html
    assert '<tr data-count-state="failed"><th scope="row">Failed</th><td>1</td></tr>' in html
    assert '<tr data-count-state="queued"><th scope="row">Queued</th><td>1</td></tr>' in html
    assert 'style="inline-size: 75%"' in html
    for row_id in rows:
        assert f'<tr data-recipient-row="{row_id}">' in html
    assert '<script src="/static/js/campaigns.js" defer></script>' in html
    # A viewer sees no buttons.
    assert "data-campaign-action" not in html


def test_agent_pauses_resumes_and_cancels_with_the_buttons(alpha, agent):
    campaign, _rows = running_campaign(alpha)

    page = agent.get(f"/campaigns/{campaign.id}/").content.decode()
    paused = agent.post(f"/campaigns/{campaign.id}/pause/")
    state_paused = campaign_state(alpha, campaign.id)
    resumed = agent.post(f"/campaigns/{campaign.id}/resume/")
    state_resumed = campaign_state(alpha, campaign.id)
    cancelled = agent.post(f"/campaigns/{campaign.id}/cancel/")

    assert 'data-campaign-action="pause"' in page and 'data-campaign-action="cancel"' in page
    assert 'data-campaign-action="resume"' not in page
    assert [r.status_code for r in (paused, resumed, cancelled)] == [302, 302, 302]
    assert paused["Location"] == f"/campaigns/{campaign.id}/"
    assert (state_paused, state_resumed, campaign_state(alpha, campaign.id)) == ("paused", "running", "cancelled")


def test_a_refused_transition_is_shown_and_changes_nothing(alpha, agent):
    campaign, _rows = running_campaign(alpha)

    response = agent.post(f"/campaigns/{campaign.id}/resume/", follow=True)

    assert response.status_code == 200
    assert "A running campaign cannot be resumed." in response.content.decode()
    assert campaign_state(alpha, campaign.id) == "running"


def test_agent_starts_a_draft(alpha, agent, handoffs, django_capture_on_commit_callbacks):
    draft = in_schema(
        alpha,
        lambda: make_campaign(profiles=[make_profile()], groups=[Group.objects.create(name="G")], name="Draft one"),
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = agent.post(f"/campaigns/{draft.id}/start/")

    assert response.status_code == 302
    assert campaign_state(alpha, draft.id) == "running"
    assert len(handoffs.materialize) == 1


def test_viewer_cannot_start_pause_or_cancel(alpha, viewer, handoffs):
    campaign, _rows = running_campaign(alpha)
    draft = in_schema(alpha, lambda: make_campaign(profiles=[make_profile("Second")], name="Draft", audience_all=True))
    materialized = len(handoffs.materialize)

    responses = [
        viewer.post(f"/campaigns/{campaign.id}/pause/"),
        viewer.post(f"/campaigns/{campaign.id}/cancel/"),
        viewer.post(f"/campaigns/{draft.id}/start/"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert (campaign_state(alpha, campaign.id), campaign_state(alpha, draft.id)) == ("running", "draft")
    assert len(handoffs.materialize) == materialized


def test_recipients_filter_by_state_and_page_by_id(alpha, viewer):
    campaign, rows = running_campaign(alpha, contacts=53)
    in_schema(alpha, lambda: OutboundMessage.objects.filter(id__in=rows[:3]).update(state="sent"))

    first = viewer.get(f"/campaigns/{campaign.id}/").content.decode()
    second = viewer.get(f"/campaigns/{campaign.id}/?after={rows[49]}").content.decode()
    sent = viewer.get(f"/campaigns/{campaign.id}/?state=sent").content.decode()

    assert [row for row in rows if f'<tr data-recipient-row="{row}">' in first] == rows[:50]
    assert f'href="?after={rows[49]}" data-page-next' in first
    assert [row for row in rows if f'<tr data-recipient-row="{row}">' in second] == rows[50:]
    assert "data-page-next" not in second
    assert [row for row in rows if f'<tr data-recipient-row="{row}">' in sent] == rows[:3]


def test_recipients_csv_has_exact_rows_and_neutralised_formulas(alpha, viewer):
    def make():
        group = Group.objects.create(name="Customers")
        contacts = make_contacts(2, group=group)
        contacts[0].name = "=HYPERLINK(1)"
        contacts[0].save()
        campaign = make_campaign(profiles=[make_profile()], groups=[group], body="{{name|there}}")
        start(campaign)
        rows = list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id"))
        return campaign, contacts, rows

    campaign, contacts, rows = in_schema(alpha, make)

    response = viewer.get(f"/campaigns/{campaign.id}/recipients.csv")
    body = b"".join(response.streaming_content).decode()
    table = list(csv.reader(io.StringIO(body)))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="campaign-{campaign.id}-recipients.csv"'
    assert table[0][:6] == ["message", "contact", "to", "profile", "state", "text"]
    profile = str(rows[0].profile_id)
    assert [r[:8] for r in table[1:]] == [
        [str(rows[0].id), str(contacts[0].id), contacts[0].phone, profile, "queued", "'=HYPERLINK(1)", "", ""],
        [str(rows[1].id), str(contacts[1].id), contacts[1].phone, profile, "queued", "Person 1", "", ""],
    ]


def test_another_tenant_cannot_open_export_or_act_on_a_campaign(alpha, beta, client_for):
    campaign, _rows = running_campaign(alpha)
    owner_beta = client_for(beta)

    responses = [
        owner_beta.get(f"/campaigns/{campaign.id}/"),
        owner_beta.get(f"/campaigns/{campaign.id}/recipients.csv"),
        owner_beta.post(f"/campaigns/{campaign.id}/pause/"),
        owner_beta.post(f"/campaigns/{campaign.id}/cancel/"),
    ]
    listing = owner_beta.get("/campaigns/").content.decode()

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert "Spring sale" not in listing
    assert campaign_state(alpha, campaign.id) == "running"


def test_agent_schedules_a_timed_draft_and_takes_it_back(alpha, agent):
    draft = in_schema(
        alpha,
        lambda: make_campaign(
            profiles=[make_profile()],
            audience_all=True,
            schedule="at",
            scheduled_at=timezone.now() + datetime.timedelta(days=2),
        ),
    )

    page = agent.get(f"/campaigns/{draft.id}/").content.decode()
    scheduled = agent.post(f"/campaigns/{draft.id}/schedule/")
    state_scheduled = campaign_state(alpha, draft.id)
    scheduled_page = agent.get(f"/campaigns/{draft.id}/").content.decode()
    back = agent.post(f"/campaigns/{draft.id}/unschedule/")

    assert 'data-campaign-action="schedule"' in page
    assert (scheduled.status_code, back.status_code) == (302, 302)
    assert 'data-campaign-action="unschedule"' in scheduled_page
    assert (state_scheduled, campaign_state(alpha, draft.id)) == ("scheduled", "draft")


def test_an_unknown_action_is_not_found(alpha, agent):
    campaign, _rows = running_campaign(alpha)

    assert agent.post(f"/campaigns/{campaign.id}/explode/").status_code == 404
    assert campaign_state(alpha, campaign.id) == "running"


def test_recipients_of_an_earlier_run_by_number_and_their_csv(alpha, viewer):
    from apps.campaigns.services import campaigns as campaign_services
    from apps.campaigns.services import ticks

    def make():
        group = Group.objects.create(name="Customers")
        make_contacts(3, group=group)
        campaign = make_campaign(
            profiles=[make_profile()], groups=[group], schedule="daily", send_time=datetime.time(8)
        )
        campaign_services.campaign_schedule(campaign=campaign)
        first = start(campaign)
        OutboundMessage.objects.filter(campaign_id=campaign.id).update(state="sent")
        ticks.run_tick(run_id=first.id)
        second = start(campaign)
        rows = {
            run.number: list(
                OutboundMessage.objects.filter(
                    campaign_id=campaign.id, id__gte=run.first_message_id, id__lte=run.last_message_id
                )
                .order_by("id")
                .values_list("id", flat=True)
            )
            for run in (first, second)
        }
        return campaign, first, rows

    campaign, first, rows = in_schema(alpha, make)

    latest = viewer.get(f"/campaigns/{campaign.id}/").content.decode()
    earlier = viewer.get(f"/campaigns/{campaign.id}/?run={first.id}&q=%2B91%2098760%2000001").content.decode()
    csv_body = b"".join(
        viewer.get(f"/campaigns/{campaign.id}/recipients.csv?run={first.id}&q=9876000001").streaming_content
    ).decode()
    other_campaign_run = viewer.get(f"/campaigns/{campaign.id}/?run=999999")

    def shown(html: str) -> list[int]:
        return [row for run_rows in rows.values() for row in run_rows if f'data-recipient-row="{row}"' in html]

    assert shown(latest) == rows[2] and 'data-shown-run="2"' in latest
    assert shown(earlier) == [rows[1][1]] and 'data-shown-run="1"' in earlier
    assert f"?run={first.id}&amp;q=%2B91+98760+00001" in earlier  # the CSV link keeps the filters
    table = list(csv.reader(io.StringIO(csv_body)))
    assert [(r[0], r[2], r[4]) for r in table[1:]] == [(str(rows[1][1]), "+919876000001", "sent")]
    # An id that is not one of this campaign's runs falls back to the latest run.
    assert other_campaign_run.status_code == 200 and shown(other_campaign_run.content.decode()) == rows[2]
