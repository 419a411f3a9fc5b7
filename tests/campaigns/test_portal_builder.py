"""The campaign builder: the review shows the audience and the estimated duration before
anything is created; creating makes exactly one draft with the chosen audience, numbers and
schedule; bad input and refused roles create nothing."""

from __future__ import annotations

import datetime
import re
import zoneinfo

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.campaigns.models import Campaign, MessageTemplate
from apps.contacts.models import Contact, Group
from tests.campaigns.conftest import make_contacts, make_profile
from tests.senders.api_support import member


def in_schema(world, fn):
    with tenant_context(world.tenant):
        return fn()


def campaign_count(world) -> int:
    return in_schema(world, lambda: Campaign.objects.count())


@pytest.fixture
def world(alpha):
    """Group Customers (4 contacts, one opted out), group Other (1), numbers Main and Backup at
    balanced pacing (mean gap 7.5 s)."""

    def make():
        customers = Group.objects.create(name="Customers")
        other = Group.objects.create(name="Other")
        made = make_contacts(4, group=customers)
        Contact.objects.filter(id=made[0].id).update(opted_out_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        make_contacts(1, start=10, group=other)
        main = make_profile("Main", pacing_preset="balanced")
        backup = make_profile("Backup", pacing_preset="balanced")
        return {"customers": customers.id, "other": other.id, "main": main.id, "backup": backup.id}

    return in_schema(alpha, make)


@pytest.fixture
def agent(alpha, client_for):
    return client_for(alpha, member(alpha, Role.AGENT))


def form(world, **extra) -> dict:
    return {
        "name": "Diwali offer",
        "groups": [world["customers"]],
        "body": "{Hi|Hello} {{name|there}}",
        "profiles": [world["main"], world["backup"]],
        "rotation": "round_robin",
        "pacing_override": "",
        "schedule": "now",
        **extra,
    }


def test_the_builder_page_offers_groups_templates_and_numbers(alpha, agent, world):
    html = agent.get("/campaigns/new/").content.decode()

    assert f'value="{world["customers"]}"' in html and "Customers" in html
    assert f'value="{world["main"]}"' in html and "Backup" in html
    assert "Order shipped" in html  # a built-in template
    assert "data-review-campaign" in html and "data-create-campaign" not in html


def test_review_shows_recipient_count_and_duration_and_creates_nothing(alpha, agent, world):
    response = agent.post("/campaigns/new/", form(world))
    html = response.content.decode()

    assert response.status_code == 200
    assert '<dd data-review="contacts">4</dd>' in html
    assert '<dd data-review="sendable">3</dd>' in html
    assert '<dd data-review="opted_out">1</dd>' in html
    assert '<dd data-review="numbers">2</dd>' in html
    # 3 messages over 2 numbers: 2 on one number at 7.5 s each.
    assert 'data-seconds="15"' in html and "under a minute" in html
    assert "data-create-campaign" in html
    assert campaign_count(alpha) == 0


def test_confirming_creates_exactly_one_draft_with_the_choices(alpha, agent, world):
    response = agent.post(
        "/campaigns/new/",
        form(
            world,
            groups=[world["customers"], world["other"]],
            profiles=[world["backup"]],
            rotation="sticky",
            pacing_override="safe",
            schedule="at",
            scheduled_at="2030-05-01T09:30",
            confirm="1",
        ),
    )

    def read():
        campaign = Campaign.objects.get()
        return (
            campaign.name,
            campaign.state,
            campaign.body,
            sorted(campaign.groups.values_list("id", flat=True)),
            list(campaign.profiles.values_list("id", flat=True)),
            campaign.rotation,
            campaign.pacing_override,
            campaign.schedule,
            campaign.scheduled_at,
            campaign.id,
        )

    assert campaign_count(alpha) == 1
    name, state, body, groups, profiles, rotation, pacing, schedule, at, campaign_id = in_schema(alpha, read)
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign_id}/"
    # The time chosen in the builder is scheduled at once (beat fires it).
    assert (name, state, body) == ("Diwali offer", "scheduled", "{Hi|Hello} {{name|there}}")
    assert groups == sorted([world["customers"], world["other"]])
    assert profiles == [world["backup"]]
    assert (rotation, pacing, schedule) == ("sticky", "safe", "at")
    zone = zoneinfo.ZoneInfo(alpha.tenant.timezone)
    assert at == datetime.datetime(2030, 5, 1, 9, 30, tzinfo=zone)
    from apps.campaigns.services.schedule import schedule_exists

    assert in_schema(alpha, lambda: schedule_exists(campaign=Campaign.objects.get(), tenant=alpha.tenant))


def test_a_send_time_in_the_past_creates_nothing(alpha, agent, world):
    response = agent.post("/campaigns/new/", form(world, schedule="at", scheduled_at="2020-01-01T09:00", confirm="1"))

    assert response.status_code == 400
    assert "The send time has passed." in response.content.decode()
    assert campaign_count(alpha) == 0


def test_weekly_schedule_with_a_template(alpha, agent, world):
    template_id = in_schema(alpha, lambda: MessageTemplate.objects.get(name="Order shipped").id)

    response = agent.post(
        "/campaigns/new/",
        form(
            world, body="", template=template_id, schedule="weekly", send_time="08:15", weekdays=["1", "3"], confirm="1"
        ),
    )

    campaign = in_schema(alpha, lambda: Campaign.objects.get())
    assert response.status_code == 302
    assert (campaign.template_id, campaign.body, campaign.schedule) == (template_id, "", "weekly")
    assert (campaign.send_time, campaign.weekdays) == (datetime.time(8, 15), [1, 3])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"groups": []}, "Choose at least one group, all contacts, a saved filter or upload a list."),
        ({"body": ""}, "Choose a template or write the text."),
        ({"body": "Hi {{nmae}}"}, "Unknown placeholder: {{nmae}}."),
        ({"profiles": []}, "This field is required."),
        ({"schedule": "at"}, "Give the date and time to send at."),
    ],
)
def test_bad_input_is_shown_and_creates_nothing(alpha, agent, world, extra, message):
    response = agent.post("/campaigns/new/", form(world, confirm="1", **extra))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert campaign_count(alpha) == 0


def test_viewer_cannot_open_or_use_the_builder(alpha, client_for, world):
    viewer = client_for(alpha, member(alpha, Role.VIEWER))

    responses = [viewer.get("/campaigns/new/"), viewer.post("/campaigns/new/", form(world, confirm="1"))]

    assert [r.status_code for r in responses] == [403, 403]
    assert campaign_count(alpha) == 0


def test_another_tenants_groups_and_numbers_are_not_accepted(alpha, beta, client_for, world):
    response = client_for(beta).post("/campaigns/new/", form(world, confirm="1"))

    assert response.status_code == 400
    assert campaign_count(alpha) == 0
    assert in_schema(beta, lambda: Campaign.objects.count()) == 0


def test_weights_stop_rules_and_a_saved_filter_are_kept(alpha, agent, world):
    from apps.contacts.services import saved_filters

    saved_id = in_schema(
        alpha,
        lambda: saved_filters.saved_filter_create(name="Named", spec={"rules": [{"field": "name", "op": "exists"}]}).id,
    )
    extra = {
        "saved_filter": saved_id,
        "rotation": "weighted",
        f"weight_{world['main']}": "3",
        f"weight_{world['backup']}": "1",
        "stop_failure_percent": "12",
        "stop_min_sample": "20",
    }

    review = agent.post("/campaigns/new/", form(world, **extra))
    response = agent.post("/campaigns/new/", form(world, confirm="1", **extra))

    def read():
        campaign = Campaign.objects.get()
        weights = dict(campaign.senders.values_list("profile_id", "weight"))
        return campaign, weights

    campaign, weights = in_schema(alpha, read)
    # 3 sendable: the main number's share is ⌈3 × 3/4⌉ = 3 messages at 7.5 s (22.5 s); the backup's 1.
    assert 'data-seconds="22"' in review.content.decode(), re.findall(r'data-seconds="[0-9]+"', review.content.decode())
    assert response.status_code == 302
    assert (campaign.saved_filter_id, campaign.rotation) == (saved_id, "weighted")
    assert weights == {world["main"]: 3, world["backup"]: 1}
    # stop_on_ban was not ticked: a form left unticked means "no".
    assert (campaign.stop_failure_rate, campaign.stop_min_sample, campaign.stop_on_ban) == (0.12, 20, False)
    page = agent.get(response["Location"]).content.decode()
    assert "Named" in page and "×3" in page and "Pause above 12% failed after 20 sends" in page


def test_uploading_a_list_imports_it_into_a_new_group_and_reviews_before_creating(alpha, agent, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.contacts.models import ImportJob

    upload = SimpleUploadedFile("vip.csv", b"phone,name\n+919876011111,Asha\n+919876022222,Ravi\n", "text/csv")

    response = agent.post("/campaigns/new/", form(world, groups=[], audience_file=upload, confirm="1"))
    html = response.content.decode()
    job = in_schema(alpha, lambda: ImportJob.objects.select_related("group").get())

    assert response.status_code == 200
    assert campaign_count(alpha) == 0  # reviewed first, even with the create button pressed
    assert job.original_name == "vip.csv" and job.group.name.startswith("Diwali offer · list ")
    assert re.search(rf'name="groups" value="{job.group_id}"[^>]* checked', html), re.findall(
        r'<input[^>]*name="groups"[^>]*>', html
    )
    assert f'data-import-page="{job.pk}"' in html and "data-create-campaign" in html


def test_a_list_the_import_cannot_read_is_shown_and_nothing_is_made(alpha, agent, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from apps.contacts.models import Group, ImportJob

    upload = SimpleUploadedFile("vip.csv", b"name\nAsha\n", "text/csv")

    response = agent.post("/campaigns/new/", form(world, groups=[], audience_file=upload))

    assert response.status_code == 400
    assert "phone" in response.content.decode().lower()
    assert in_schema(alpha, lambda: (ImportJob.objects.count(), Group.objects.count())) == (0, 2)
    assert campaign_count(alpha) == 0
