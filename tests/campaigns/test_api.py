"""/api/v1/campaigns and /api/v1/templates: roles, the state machine over HTTP, stats,
recipients, previews, quota refusals and tenant isolation. Refused requests change nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.billing.models import UsageRecord
from apps.billing.selectors import tenant_local_today
from apps.campaigns.models import Campaign, CampaignRun, MessageTemplate
from apps.campaigns.services import materialize
from apps.contacts.models import Contact, Group
from apps.senders.models import OutboundMessage, SenderProfile
from tests.campaigns.conftest import make_contacts
from tests.senders.api_support import jwt_client, key_client, member


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def setup_world(world, contacts: int = 3) -> dict:
    def make():
        profile = SenderProfile.objects.create(label="Main", status="connected", pacing_preset="off")
        group = Group.objects.create(name="Customers")
        made = make_contacts(contacts, group=group)
        return {"profile": profile.id, "group": group.id, "contacts": [c.id for c in made]}

    return in_schema(world, make)


def payload(ids: dict, **extra) -> dict:
    return {
        "name": "Diwali offer",
        "body": "{Hi|Hello} {{name|there}}, 20% off this week!",
        "groups": [ids["group"]],
        "senders": [{"profile": ids["profile"]}],
        **extra,
    }


def create(client, ids, **extra):
    return client.post("/api/v1/campaigns", payload(ids, **extra), content_type="application/json")


def post(client, path: str, data=None):
    return client.post(path, data or {}, content_type="application/json")


def campaign_state(world, campaign_id: int) -> str:
    return in_schema(world, lambda: Campaign.objects.get(id=campaign_id).state)


@pytest.fixture
def agent(alpha):
    return jwt_client(alpha, member(alpha, Role.AGENT))


@pytest.fixture
def viewer(alpha):
    return jwt_client(alpha, member(alpha, Role.VIEWER))


# --- roles -----------------------------------------------------------------------------------------


def test_agent_creates_a_draft_and_reads_it_back(alpha, agent):
    ids = setup_world(alpha)

    response = create(agent, ids, rotation="round_robin", stop_failure_rate=0.2)

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["state"], body["groups"], body["senders"]) == (
        "Diwali offer",
        "draft",
        [ids["group"]],
        [{"profile": ids["profile"], "weight": 1}],
    )
    assert (body["text"], body["schedule"], body["stop_failure_rate"]) == (
        "{Hi|Hello} {{name|there}}, 20% off this week!",
        "now",
        0.2,
    )
    assert agent.get(f"/api/v1/campaigns/{body['id']}").json() == body
    assert [c["id"] for c in agent.get("/api/v1/campaigns").json()["results"]] == [body["id"]]


def test_viewer_reads_but_cannot_create_start_or_pause(alpha, agent, viewer):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]

    listed = viewer.get("/api/v1/campaigns")
    refused = [
        create(viewer, ids),
        post(viewer, f"/api/v1/campaigns/{campaign_id}/start"),
        post(viewer, f"/api/v1/campaigns/{campaign_id}/cancel"),
        viewer.patch(f"/api/v1/campaigns/{campaign_id}", {"name": "x"}, content_type="application/json"),
        viewer.post("/api/v1/templates", {"name": "x", "body": "y"}, content_type="application/json"),
    ]

    assert listed.status_code == 200 and len(listed.json()["results"]) == 1
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [(403, "role_required")] * 5
    assert in_schema(alpha, Campaign.objects.count) == 1
    assert campaign_state(alpha, campaign_id) == "draft"
    assert in_schema(alpha, lambda: MessageTemplate.objects.filter(name="x").exists()) is False


def test_only_admins_delete_campaigns_and_templates(alpha, agent):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]
    template_id = in_schema(alpha, lambda: MessageTemplate.objects.get(name="Order shipped").id)
    admin = jwt_client(alpha, member(alpha, Role.ADMIN))

    refused = [agent.delete(f"/api/v1/campaigns/{campaign_id}"), agent.delete(f"/api/v1/templates/{template_id}")]
    assert [r.status_code for r in refused] == [403, 403]
    assert in_schema(alpha, lambda: Campaign.objects.filter(id=campaign_id).exists())

    deleted = [admin.delete(f"/api/v1/campaigns/{campaign_id}"), admin.delete(f"/api/v1/templates/{template_id}")]
    assert [r.status_code for r in deleted] == [204, 204]
    assert in_schema(alpha, Campaign.objects.count) == 0
    assert in_schema(alpha, lambda: MessageTemplate.objects.filter(id=template_id).exists()) is False


def test_an_agent_api_key_can_send_a_campaign_and_a_viewer_key_cannot(alpha):
    ids = setup_world(alpha)
    agent_key, viewer_key = key_client(alpha, Role.AGENT), key_client(alpha, Role.VIEWER)

    assert create(viewer_key, ids).status_code == 403
    assert create(agent_key, ids).status_code == 201


# --- validation and the state machine ----------------------------------------------------------------


def test_an_unknown_placeholder_is_refused_with_the_list_and_nothing_is_saved(alpha, agent):
    ids = setup_world(alpha)

    response = create(agent, ids, body="Hi {{nmae}} from {{custom.city}} {{ shop }}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "unknown_placeholder"
    assert error["details"]["unknown"] == ["{{nmae}}", "{{ shop }}"]
    assert in_schema(alpha, Campaign.objects.count) == 0


def test_start_pause_resume_cancel_over_http(alpha, agent, handoffs, django_capture_on_commit_callbacks):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]

    with django_capture_on_commit_callbacks(execute=True):
        started = post(agent, f"/api/v1/campaigns/{campaign_id}/start")
    assert (started.status_code, started.json()["state"]) == (202, "running")
    run_id = in_schema(alpha, lambda: CampaignRun.objects.get(campaign_id=campaign_id).id)
    assert handoffs.materialize == [run_id]
    in_schema(alpha, lambda: materialize.run_materialize(run_id=run_id))

    again = post(agent, f"/api/v1/campaigns/{campaign_id}/start")
    paused = post(agent, f"/api/v1/campaigns/{campaign_id}/pause")
    paused_again = post(agent, f"/api/v1/campaigns/{campaign_id}/pause")
    held = agent.get(f"/api/v1/campaigns/{campaign_id}/stats").json()
    resumed = post(agent, f"/api/v1/campaigns/{campaign_id}/resume")
    cancelled = post(agent, f"/api/v1/campaigns/{campaign_id}/cancel")

    assert (again.status_code, again.json()["error"]["code"]) == (409, "illegal_transition")
    assert again.json()["error"]["details"] == {"state": "running", "to": "running"}
    assert (paused.status_code, paused.json()["state"], paused.json()["state_reason"]) == (200, "paused", "manual")
    assert paused_again.status_code == 409
    assert held["run"]["counts"] == {"held": 3}
    assert (resumed.status_code, resumed.json()["state"]) == (200, "running")
    assert (cancelled.status_code, cancelled.json()["state"]) == (200, "cancelled")
    assert in_schema(alpha, lambda: CampaignRun.objects.count()) == 1
    counts = in_schema(
        alpha, lambda: list(OutboundMessage.objects.filter(campaign_id=campaign_id).values_list("state", flat=True))
    )
    assert counts == ["cancelled"] * 3


def test_a_start_over_the_plans_limit_is_a_402_and_writes_nothing(alpha, agent):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]
    UsageRecord.objects.create(tenant=alpha.tenant, day=tenant_local_today(alpha.tenant), messages_sent=1000)

    response = post(agent, f"/api/v1/campaigns/{campaign_id}/start")

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "daily_message_limit"
    assert response.json()["error"]["message"].endswith("The campaign was not started.")
    assert campaign_state(alpha, campaign_id) == "draft"
    assert in_schema(alpha, lambda: (CampaignRun.objects.count(), OutboundMessage.objects.count())) == (0, 0)


def test_a_running_campaign_cannot_be_changed_or_deleted(alpha, agent):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]
    post(agent, f"/api/v1/campaigns/{campaign_id}/start")
    admin = jwt_client(alpha, member(alpha, Role.ADMIN))

    changed = agent.patch(f"/api/v1/campaigns/{campaign_id}", {"name": "New"}, content_type="application/json")
    deleted = admin.delete(f"/api/v1/campaigns/{campaign_id}")

    assert (changed.status_code, changed.json()["error"]["code"]) == (409, "campaign_not_editable")
    assert (deleted.status_code, deleted.json()["error"]["code"]) == (409, "campaign_not_deletable")
    assert in_schema(alpha, lambda: Campaign.objects.get(id=campaign_id).name) == "Diwali offer"


def test_schedule_and_unschedule_a_weekly_campaign(alpha, agent):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids, schedule="weekly", send_time="09:30", weekdays=[1, 4]).json()["id"]

    scheduled = post(agent, f"/api/v1/campaigns/{campaign_id}/schedule")
    unscheduled = post(agent, f"/api/v1/campaigns/{campaign_id}/unschedule")

    assert (scheduled.status_code, scheduled.json()["state"]) == (200, "scheduled")
    assert (scheduled.json()["send_time"], scheduled.json()["weekdays"]) == ("09:30:00", [1, 4])
    assert (unscheduled.status_code, unscheduled.json()["state"]) == (200, "draft")


# --- stats, recipients, previews ---------------------------------------------------------------------


def test_stats_before_the_first_run_count_the_audience(alpha, agent):
    ids = setup_world(alpha, contacts=4)
    in_schema(alpha, lambda: Contact.objects.filter(id=ids["contacts"][0]).update(opted_out_at="2026-01-01T00:00Z"))
    campaign_id = create(agent, ids).json()["id"]

    stats = agent.get(f"/api/v1/campaigns/{campaign_id}/stats").json()

    assert stats["run"] is None
    assert stats["audience"] == {"contacts": 4, "sendable": 3, "opted_out": 1, "suppressed": 0}


def test_stats_give_the_runs_rates_by_state(alpha, agent):
    from apps.campaigns.services import progress

    ids = setup_world(alpha, contacts=10)
    campaign_id = create(agent, ids).json()["id"]
    post(agent, f"/api/v1/campaigns/{campaign_id}/start")
    run_id = in_schema(alpha, lambda: CampaignRun.objects.get(campaign_id=campaign_id).id)
    in_schema(alpha, lambda: materialize.run_materialize(run_id=run_id))

    def outcomes():
        rows = list(OutboundMessage.objects.filter(campaign_id=campaign_id).order_by("id").values_list("id", flat=True))
        # 8 attempted: 2 sent, 3 delivered, 1 read, 2 failed; 2 still queued.
        for state, chunk in (("sent", rows[:2]), ("delivered", rows[2:5]), ("read", rows[5:6]), ("failed", rows[6:8])):
            OutboundMessage.objects.filter(id__in=chunk).update(state=state)
        progress.run_rollup(run=CampaignRun.objects.get(id=run_id))

    in_schema(alpha, outcomes)
    stats = agent.get(f"/api/v1/campaigns/{campaign_id}/stats").json()

    assert stats["rates"] == {"sent": 0.75, "failed": 0.25, "delivered": round(4 / 6, 4), "read": round(1 / 6, 4)}
    assert agent.get(f"/api/v1/campaigns/{create(agent, ids).json()['id']}/stats").json()["rates"] is None


def test_recipients_are_cursor_paginated_and_filtered_by_state(alpha, agent):
    ids = setup_world(alpha, contacts=5)
    in_schema(alpha, lambda: Contact.objects.filter(id=ids["contacts"][1]).update(opted_out_at="2026-01-01T00:00Z"))
    campaign_id = create(agent, ids).json()["id"]
    post(agent, f"/api/v1/campaigns/{campaign_id}/start")
    run_id = in_schema(alpha, lambda: CampaignRun.objects.get(campaign_id=campaign_id).id)
    in_schema(alpha, lambda: materialize.run_materialize(run_id=run_id))

    first = agent.get(f"/api/v1/campaigns/{campaign_id}/recipients", {"page_size": 2}).json()
    second = agent.get(first["next"]).json()
    skipped = agent.get(f"/api/v1/campaigns/{campaign_id}/recipients", {"state": "skipped_opted_out"}).json()
    stats = agent.get(f"/api/v1/campaigns/{campaign_id}/stats").json()

    assert [r["contact"] for r in first["results"]] == ids["contacts"][:2]
    assert [r["contact"] for r in second["results"]] == ids["contacts"][2:4]
    assert [(r["contact"], r["state"], r["error_code"]) for r in skipped["results"]] == [
        (ids["contacts"][1], "skipped_opted_out", "opted_out")
    ]
    assert first["results"][0]["to"] == "+919876000000"
    assert first["results"][0]["text"] in ("Hi Person 0, 20% off this week!", "Hello Person 0, 20% off this week!")
    assert stats["run"]["counts"] == {"queued": 4, "skipped_opted_out": 1}
    assert (stats["run"]["recipients"], stats["pending"], stats["state"]) == (5, 4, "running")


def test_template_crud_and_preview_against_a_contact_and_a_sample(alpha, agent, viewer):
    ids = setup_world(alpha, contacts=1)
    in_schema(alpha, lambda: Contact.objects.filter(id=ids["contacts"][0]).update(custom_fields={"city": "Pune"}))

    created = agent.post(
        "/api/v1/templates",
        {"name": "Pickup", "category": "order", "body": "Hi {{first_name|there}}, pick up in {{custom.city|town}}"},
        content_type="application/json",
    )
    duplicate = agent.post("/api/v1/templates", {"name": "pickup", "body": "x"}, content_type="application/json")
    template_id = created.json()["id"]
    changed = agent.patch(f"/api/v1/templates/{template_id}", {"name": "Pick-up"}, content_type="application/json")
    for_contact = post(viewer, "/api/v1/templates/preview", {"template": template_id, "contact": ids["contacts"][0]})
    for_sample = post(viewer, "/api/v1/templates/preview", {"body": "Hi {{name|there}} {{custom.x}}", "sample": {}})
    unknown = post(viewer, "/api/v1/templates/preview", {"body": "Hi {{nam}}", "sample": {}})
    other_contact = post(viewer, "/api/v1/templates/preview", {"body": "Hi", "contact": 999999})

    assert created.status_code == 201
    assert (created.json()["placeholders"], created.json()["category"]) == (["first_name", "custom.city"], "order")
    assert (duplicate.status_code, duplicate.json()["error"]["code"]) == (409, "template_exists")
    assert changed.json()["name"] == "Pick-up"
    assert for_contact.json() == {
        "text": "Hi Person, pick up in Pune",
        "fields": ["first_name", "custom.city"],
        "missing": [],
        "length": 26,
    }
    assert for_sample.json() == {"text": "Hi there ", "fields": ["name", "custom.x"], "missing": ["name", "custom.x"],
                                 "length": 9}  # fmt: skip
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "unknown_placeholder")
    assert (other_contact.status_code, other_contact.json()["error"]["code"]) == (404, "contact_not_found")
    names = [t["name"] for t in viewer.get("/api/v1/templates", {"page_size": 50}).json()["results"]]
    assert "Pick-up" in names and "Order shipped" in names


def test_campaign_preview_uses_the_campaigns_spintax_choice(alpha, agent):
    ids = setup_world(alpha, contacts=1)
    campaign_id = create(agent, ids).json()["id"]
    post(agent, f"/api/v1/campaigns/{campaign_id}/start")
    run_id = in_schema(alpha, lambda: CampaignRun.objects.get(campaign_id=campaign_id).id)
    in_schema(alpha, lambda: materialize.run_materialize(run_id=run_id))

    preview = post(agent, f"/api/v1/campaigns/{campaign_id}/preview", {"contact": ids["contacts"][0]}).json()

    sent = in_schema(alpha, lambda: OutboundMessage.objects.get(campaign_id=campaign_id).body)
    assert preview["text"] == sent


# --- tenant isolation --------------------------------------------------------------------------------


def test_beta_never_sees_or_touches_alphas_campaigns_and_templates(alpha, beta, agent):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]
    template_id = in_schema(alpha, lambda: MessageTemplate.objects.create(name="Alpha only", body="x").id)
    beta_owner = jwt_client(beta)

    responses = [
        beta_owner.get(f"/api/v1/campaigns/{campaign_id}"),
        beta_owner.get(f"/api/v1/campaigns/{campaign_id}/stats"),
        beta_owner.get(f"/api/v1/campaigns/{campaign_id}/recipients"),
        post(beta_owner, f"/api/v1/campaigns/{campaign_id}/start"),
        post(beta_owner, f"/api/v1/campaigns/{campaign_id}/cancel"),
        beta_owner.delete(f"/api/v1/campaigns/{campaign_id}"),
        beta_owner.get(f"/api/v1/templates/{template_id}"),
        post(beta_owner, "/api/v1/templates/preview", {"template": template_id, "sample": {}}),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404, 404, 404, 404, 400]
    assert beta_owner.get("/api/v1/campaigns").json()["results"] == []
    assert "Alpha only" not in [t["name"] for t in beta_owner.get("/api/v1/templates").json()["results"]]
    assert campaign_state(alpha, campaign_id) == "draft"
    # Beta cannot use alpha's numbers or groups in its own campaign either.
    refused = create(beta_owner, ids)
    assert refused.status_code == 400
    assert in_schema(beta, Campaign.objects.count) == 0


def test_an_alpha_token_is_refused_on_betas_host(alpha, beta, agent):
    ids = setup_world(alpha)
    campaign_id = create(agent, ids).json()["id"]
    crossing = jwt_client(alpha, host=beta.host)

    response = crossing.get(f"/api/v1/campaigns/{campaign_id}")

    assert response.status_code == 401


def test_a_template_takes_an_image_attachment_and_refuses_other_files(alpha, agent):
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("offer.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")
    program = SimpleUploadedFile("setup.exe", b"MZ", content_type="application/octet-stream")

    created = agent.post("/api/v1/templates", {"name": "With image", "body": "Look!", "media": image})
    refused = agent.post("/api/v1/templates", {"name": "With program", "body": "Run", "media": program})
    template_id = created.json()["id"]
    removed = agent.patch(f"/api/v1/templates/{template_id}", {"remove_media": True}, content_type="application/json")

    assert (created.status_code, created.json()["media_name"]) == (201, "offer.png")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_media")
    assert in_schema(alpha, lambda: MessageTemplate.objects.filter(name="With program").exists()) is False
    assert (removed.status_code, removed.json()["media_name"]) == (200, None)


def test_removing_an_attachment_keeps_the_file_while_messages_wait_for_it(
    alpha, agent, django_capture_on_commit_callbacks
):
    from django.core.files.storage import default_storage
    from django.core.files.uploadedfile import SimpleUploadedFile

    def image():
        return SimpleUploadedFile("offer.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png")

    first = agent.post("/api/v1/templates", {"name": "Waiting", "body": "Look!", "media": image()}).json()
    second = agent.post("/api/v1/templates", {"name": "Idle", "body": "Look!", "media": image()}).json()

    def names():
        return {t.id: t.media.name for t in MessageTemplate.objects.filter(id__in=[first["id"], second["id"]])}

    stored = in_schema(alpha, names)

    def queue_a_message_with_the_first():
        profile = SenderProfile.objects.create(label="Media")
        OutboundMessage.objects.create(
            profile=profile, to_number="+919876500001", body="Look!", media=stored[first["id"]]
        )

    in_schema(alpha, queue_a_message_with_the_first)
    with django_capture_on_commit_callbacks(execute=True):
        for template in (first, second):
            agent.patch(f"/api/v1/templates/{template['id']}", {"remove_media": True}, content_type="application/json")

    assert default_storage.exists(stored[first["id"]]) is True  # a queued message still needs it
    assert default_storage.exists(stored[second["id"]]) is False
