"""Campaign services: definitions are checked up front, the state machine refuses illegal moves,
quotas are enforced at start and while sending, stop rules pause, and schedules reach beat."""

from __future__ import annotations

import copy
import datetime
import json

import pytest
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, PeriodicTask

from apps.billing.models import Plan, UsageRecord
from apps.billing.selectors import tenant_local_today
from apps.campaigns.dispatch import campaign_pacing_for_batch
from apps.campaigns.models import Campaign, CampaignRun, MessageTemplate
from apps.campaigns.services import campaigns as campaign_services
from apps.campaigns.services import lifecycle, materialize, progress, ticks
from apps.contacts.models import Group
from apps.core.exceptions import Conflict, QuotaExceeded, ValidationFailed
from apps.senders.models import OutboundMessage, SenderProfile
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start


def rows(campaign: Campaign) -> dict[str, int]:
    return progress.run_counts(progress.latest_run(campaign)) if progress.latest_run(campaign) else {}


def set_usage(world, *, today: int = 0, month_earlier: int = 0) -> None:
    """Messages sent today and earlier this month (a row on the 1st when that is not today)."""
    day = tenant_local_today(world.tenant)
    UsageRecord.objects.update_or_create(tenant=world.tenant, day=day, defaults={"messages_sent": today})
    if month_earlier:
        assert day.day != 1, "pick another way to put usage earlier in the month"
        UsageRecord.objects.update_or_create(
            tenant=world.tenant, day=day.replace(day=1), defaults={"messages_sent": month_earlier}
        )


# --- definitions ---------------------------------------------------------------------------------


def test_a_campaign_needs_text_and_an_audience_and_known_placeholders(in_alpha):
    profile = make_profile()
    template = MessageTemplate.objects.get(name="Order shipped")
    cases = [
        ({"body": "", "audience_all": True}, "no_text"),
        ({"template": template, "body": "Hi", "audience_all": True}, "template_or_body"),
        ({"body": "Hi {{nmae}}", "audience_all": True}, "unknown_placeholder"),
        ({"body": "Hi"}, "no_audience"),
        ({"body": "Hi", "audience_filter": {"rules": [{"field": "city", "op": "eq", "value": "x"}]}}, "invalid_filter"),
        ({"body": "Hi", "audience_all": True, "schedule": "weekly", "send_time": datetime.time(9)}, "invalid_schedule"),
        ({"body": "Hi", "audience_all": True, "schedule": "monthly", "send_time": datetime.time(9), "day_of_month": 31},
         "invalid_schedule"),
    ]  # fmt: skip
    for values, code in cases:
        with pytest.raises(ValidationFailed) as refused:
            make_campaign(profiles=[profile], **values)
        assert refused.value.code == code, values
    assert Campaign.objects.count() == 0


def test_the_filter_error_names_the_rule(in_alpha):
    with pytest.raises(ValidationFailed) as refused:
        make_campaign(
            profiles=[],
            audience_filter={
                "rules": [
                    {"field": "language", "op": "eq", "value": "hi"},
                    {"field": "consent", "op": "eq", "value": "maybe"},
                ]
            },
        )

    assert refused.value.details == {"audience_filter": ["Rule 2: consent is one of granted, revoked, unknown."]}


def test_a_template_campaign_renders_the_templates_text(in_alpha):
    profile = make_profile()
    make_contacts(1)
    template = MessageTemplate.objects.create(name="Mine", body="Hey {{first_name}}")
    campaign = make_campaign(profiles=[profile], template=template, body="", audience_all=True)

    run = start(campaign)

    assert run.body == "Hey {{first_name}}"
    assert OutboundMessage.objects.get(campaign_id=campaign.id).body == "Hey Person"


# --- the state machine ---------------------------------------------------------------------------


def test_illegal_moves_are_refused_and_change_nothing(in_alpha):
    profile = make_profile()
    make_contacts(3)
    draft = make_campaign(profiles=[profile], audience_all=True)
    running = make_campaign(profiles=[profile], audience_all=True, name="Running")
    start(running)

    refusals = [
        (lifecycle.campaign_pause, draft),
        (lifecycle.campaign_resume, draft),
        (lifecycle.campaign_resume, running),
        (lifecycle.campaign_start, running),
        (campaign_services.campaign_unschedule, draft),
    ]
    for action, campaign in refusals:
        with pytest.raises(Conflict) as refused:
            action(campaign=campaign)
        assert refused.value.code == "illegal_transition", action.__name__
    with pytest.raises(Conflict) as not_editable:
        campaign_services.campaign_update(campaign=running, name="Renamed")
    with pytest.raises(Conflict) as not_deletable:
        campaign_services.campaign_delete(campaign=running)

    assert (not_editable.value.code, not_deletable.value.code) == ("campaign_not_editable", "campaign_not_deletable")
    draft.refresh_from_db()
    running.refresh_from_db()
    assert (draft.state, running.state, running.name) == ("draft", "running", "Running")
    assert CampaignRun.objects.filter(campaign=running).count() == 1
    assert rows(running) == {"queued": 3}


def test_a_cancelled_campaign_stays_cancelled(in_alpha):
    profile = make_profile()
    make_contacts(2)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    start(campaign)
    lifecycle.campaign_pause(campaign=campaign)
    lifecycle.campaign_cancel(campaign=campaign)

    for action in (
        lifecycle.campaign_start,
        lifecycle.campaign_resume,
        lifecycle.campaign_cancel,
    ):
        with pytest.raises(Conflict):
            action(campaign=campaign)

    assert rows(campaign) == {"cancelled": 2}
    assert set(OutboundMessage.objects.filter(campaign_id=campaign.id).values_list("error_code", flat=True)) == {
        "cancelled"
    }


def test_pause_holds_queued_rows_and_resume_requeues_exactly_those(in_alpha):
    profile = make_profile()
    make_contacts(5)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = start(campaign)
    sent = OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id")[:2]
    OutboundMessage.objects.filter(id__in=[m.id for m in sent]).update(state="sent", sent_at=timezone.now())

    lifecycle.campaign_pause(campaign=campaign)
    paused = rows(campaign)
    lifecycle.campaign_resume(campaign=campaign)

    assert paused == {"sent": 2, "held": 3}
    assert rows(campaign) == {"sent": 2, "queued": 3}
    run.refresh_from_db()
    campaign.refresh_from_db()
    assert (campaign.state, run.state) == ("running", "running")


def test_a_pause_before_the_rows_exist_writes_them_held(in_alpha):
    profile = make_profile()
    make_contacts(4)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = lifecycle.campaign_start(campaign=campaign)
    lifecycle.campaign_pause(campaign=campaign)

    materialize.run_materialize(run_id=run.id)

    assert rows(campaign) == {"held": 4}


def test_a_cancel_before_the_rows_exist_writes_nothing(in_alpha):
    profile = make_profile()
    make_contacts(4)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = lifecycle.campaign_start(campaign=campaign)
    lifecycle.campaign_cancel(campaign=campaign)

    materialize.run_materialize(run_id=run.id)

    assert OutboundMessage.objects.filter(campaign_id=campaign.id).count() == 0


def test_a_start_without_a_number_that_can_send_is_refused(in_alpha):
    banned = make_profile(status=SenderProfile.Status.BANNED)
    make_contacts(2)
    campaign = make_campaign(profiles=[banned], audience_all=True)

    with pytest.raises(ValidationFailed) as refused:
        lifecycle.campaign_start(campaign=campaign)

    assert refused.value.code == "no_sender_profile"
    campaign.refresh_from_db()
    assert (campaign.state, campaign.runs.count()) == ("draft", 0)


# --- quotas --------------------------------------------------------------------------------------


def test_start_is_refused_when_no_message_is_left_today_and_nothing_is_written(in_alpha):
    profile = make_profile()
    make_contacts(3)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    set_usage(in_alpha, today=1000)  # the business plan's daily limit

    with pytest.raises(QuotaExceeded) as refused:
        lifecycle.campaign_start(campaign=campaign)

    assert refused.value.code == "daily_message_limit"
    assert refused.value.message == (
        "Your plan allows 1000 messages per day; 1000 used, 1 more requested. The campaign was not started."
    )
    assert refused.value.details == {"action": "send_messages", "limit": 1000, "used": 1000, "remaining": 0}
    campaign.refresh_from_db()
    assert (campaign.state, campaign.runs.count()) == ("draft", 0)
    assert OutboundMessage.objects.count() == 0


def test_start_is_refused_when_the_workspace_has_more_contacts_than_its_plan(in_alpha):
    Plan.objects.filter(slug="business").update(max_contacts=2)
    profile = make_profile()
    make_contacts(3)
    campaign = make_campaign(profiles=[profile], audience_all=True)

    with pytest.raises(QuotaExceeded) as refused:
        lifecycle.campaign_start(campaign=campaign)

    assert refused.value.code == "contact_limit"
    assert refused.value.message == (
        "Your plan allows 2 contacts and this workspace has 3. Remove contacts or upgrade to start campaigns."
    )
    assert OutboundMessage.objects.count() == 0


def test_a_run_larger_than_the_month_left_starts_with_a_note(in_alpha):
    profile = make_profile()
    make_contacts(5)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    Plan.objects.filter(slug="business").update(messages_per_month=3, messages_per_day=100)

    run = start(campaign)

    assert run.quota_note == (
        "5 messages to send and 3 left on the plan this month: the campaign pauses when the monthly limit is reached."
    )
    assert rows(campaign) == {"queued": 5}


def test_reaching_the_daily_limit_pauses_the_campaign_and_the_watchdog_resumes_it_the_next_day(in_alpha):
    profile = make_profile()
    make_contacts(3)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = start(campaign)
    set_usage(in_alpha, today=1000)

    assert ticks.run_tick(run_id=run.id) is False
    campaign.refresh_from_db()
    assert (campaign.state, campaign.state_reason) == ("paused", "daily_message_limit")
    assert campaign.state_detail == "Your plan allows 1000 messages per day; 1000 used, 1 more requested."
    assert rows(campaign) == {"held": 3}
    assert ticks.watchdog_pass().resumed == []

    UsageRecord.objects.filter(tenant=in_alpha.tenant).delete()  # a new day
    result = ticks.watchdog_pass()

    campaign.refresh_from_db()
    assert result.resumed == [campaign.id]
    assert (campaign.state, campaign.state_reason) == ("running", "")
    assert rows(campaign) == {"queued": 3}


def test_a_manual_pause_is_never_resumed_by_the_watchdog(in_alpha):
    profile = make_profile()
    make_contacts(1)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    start(campaign)
    lifecycle.campaign_pause(campaign=campaign)

    assert ticks.watchdog_pass().resumed == []
    campaign.refresh_from_db()
    assert campaign.state == "paused"


def test_resume_is_refused_while_the_plan_cannot_send(in_alpha):
    profile = make_profile()
    make_contacts(2)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    start(campaign)
    lifecycle.campaign_pause(campaign=campaign)
    set_usage(in_alpha, today=1000)

    with pytest.raises(QuotaExceeded):
        lifecycle.campaign_resume(campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert rows(campaign) == {"held": 2}


# --- stop rules ----------------------------------------------------------------------------------


def test_a_failure_rate_over_the_threshold_pauses_after_the_minimum_sample(in_alpha):
    profile = make_profile()
    make_contacts(100)
    campaign = make_campaign(profiles=[profile], audience_all=True, stop_failure_rate=0.3, stop_min_sample=50)
    run = start(campaign)
    ids = list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id").values_list("id", flat=True))
    OutboundMessage.objects.filter(id__in=ids[:20]).update(state="sent")
    OutboundMessage.objects.filter(id__in=ids[20:40]).update(state="failed")

    assert ticks.run_tick(run_id=run.id) is True  # 40 attempted: under the minimum sample

    OutboundMessage.objects.filter(id__in=ids[40:45]).update(state="sent")
    OutboundMessage.objects.filter(id__in=ids[45:50]).update(state="invalid_number")
    assert ticks.run_tick(run_id=run.id) is False

    campaign.refresh_from_db()
    assert (campaign.state, campaign.state_reason) == ("paused", "failure_rate")
    assert campaign.state_detail == (
        "25 of 50 messages failed (50%), above the 30% limit. Check the list before resuming."
    )
    assert rows(campaign) == {"sent": 25, "failed": 20, "invalid_number": 5, "held": 50}


def test_a_banned_number_pauses_the_campaign_and_resume_moves_its_rows_to_the_others(in_alpha):
    a, b = make_profile("A"), make_profile("B")
    make_contacts(10)
    campaign = make_campaign(profiles=[a, b], audience_all=True)
    run = start(campaign)
    SenderProfile.objects.filter(id=b.id).update(status=SenderProfile.Status.BANNED)

    assert ticks.run_tick(run_id=run.id) is False
    campaign.refresh_from_db()
    assert (campaign.state, campaign.state_reason) == ("paused", "profile_banned")
    assert campaign.state_detail.startswith("WhatsApp banned B")

    lifecycle.campaign_resume(campaign=campaign)

    assert set(OutboundMessage.objects.filter(campaign_id=campaign.id).values_list("profile_id", flat=True)) == {a.id}
    assert rows(campaign) == {"queued": 10}
    assert ticks.run_tick(run_id=run.id) is True


# --- pacing override -----------------------------------------------------------------------------


def test_a_campaigns_pacing_override_paces_its_rows_and_cuts_the_batch(in_alpha):
    profile = make_profile(pacing_preset="off")
    make_contacts(3)
    safe = make_campaign(profiles=[profile], audience_all=True, pacing_override="safe")
    start(safe)
    plain = make_campaign(profiles=[profile], audience_all=True, name="Plain")
    start(plain)
    safe_rows = list(OutboundMessage.objects.filter(campaign_id=safe.id).order_by("id"))
    plain_rows = list(OutboundMessage.objects.filter(campaign_id=plain.id).order_by("id"))

    paced, batch = campaign_pacing_for_batch(profile, safe_rows + plain_rows)
    unpaced, rest = campaign_pacing_for_batch(profile, plain_rows + safe_rows)

    assert (paced.pacing_gap_s, [m.id for m in batch]) == ((10.0, 30.0), [safe_rows[0].id])
    assert (unpaced.pacing_gap_s, [m.id for m in rest]) == ((0.0, 0.0), [m.id for m in plain_rows])
    assert profile.pacing_preset == "off"  # the number's own setting is untouched
    assert copy.copy(profile).pacing_gap_s == (0.0, 0.0)


# --- schedules -----------------------------------------------------------------------------------


def stored_task(world, campaign: Campaign) -> PeriodicTask:
    return PeriodicTask.objects.select_related("crontab", "clocked").get(
        name=f"{world.tenant.schema_name}:campaign-{campaign.id}"
    )


def test_a_weekly_campaign_is_scheduled_on_a_crontab_in_the_tenants_time_zone(in_alpha):
    from apps.tenants.models import Tenant

    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(timezone="Asia/Kolkata")
    profile = make_profile()
    campaign = make_campaign(
        profiles=[profile], audience_all=True, schedule="weekly", send_time=datetime.time(9, 30), weekdays=[5, 1, 3]
    )

    campaign_services.campaign_schedule(campaign=campaign)

    task = stored_task(in_alpha, campaign)
    assert task.task == "campaigns.fire"
    assert json.loads(task.kwargs) == {"campaign_id": campaign.id}
    assert json.loads(task.headers) == {"_schema_name": "t_alpha"}
    assert task.queue == "default"
    crontab = task.crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month, str(crontab.timezone)) == (
        "30",
        "9",
        "1,3,5",
        "*",
        "Asia/Kolkata",
    )
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"

    campaign_services.campaign_unschedule(campaign=campaign)
    assert not PeriodicTask.objects.filter(name__endswith=f"campaign-{campaign.id}").exists()


def test_a_monthly_campaign_fires_on_its_day_at_the_local_time(in_alpha):
    campaign = make_campaign(
        profiles=[make_profile()], audience_all=True, schedule="monthly", send_time=datetime.time(7, 5), day_of_month=28
    )

    campaign_services.campaign_schedule(campaign=campaign)

    crontab = stored_task(in_alpha, campaign).crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month, crontab.month_of_year) == (
        "5",
        "7",
        "*",
        "28",
        "*",
    )


def test_a_one_off_campaign_is_a_clocked_task_at_its_local_time_and_starting_it_early_removes_it(in_alpha):
    from apps.tenants.models import Tenant

    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(timezone="Asia/Kolkata")
    profile = make_profile()
    make_contacts(1)
    later = (timezone.now() + datetime.timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    campaign = make_campaign(profiles=[profile], audience_all=True, schedule="at", scheduled_at=later)
    campaign_services.campaign_schedule(campaign=campaign)

    task = stored_task(in_alpha, campaign)
    assert task.one_off is True
    assert task.clocked.clocked_time == later.replace(tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))

    start(campaign)

    assert not PeriodicTask.objects.filter(name=task.name).exists()
    assert not ClockedSchedule.objects.filter(id=task.clocked_id).exists()


def test_a_recurring_run_that_completes_goes_back_to_scheduled_and_the_next_run_is_fresh(in_alpha):
    profile = make_profile()
    make_contacts(2)
    campaign = make_campaign(profiles=[profile], audience_all=True, schedule="daily", send_time=datetime.time(8))
    campaign_services.campaign_schedule(campaign=campaign)
    first = start(campaign)
    OutboundMessage.objects.filter(campaign_id=campaign.id).update(state="sent")

    assert ticks.run_tick(run_id=first.id) is False
    campaign.refresh_from_db()
    assert campaign.state == "scheduled"

    second = start(campaign)

    assert (first.number, second.number) == (1, 2)
    assert progress.run_counts(first) == {"sent": 2}
    assert progress.run_counts(second) == {"queued": 2}
    assert second.first_message_id > first.last_message_id


def test_a_recurrence_that_finds_the_last_run_still_going_is_skipped(in_alpha):
    from apps.campaigns import tasks

    profile = make_profile()
    make_contacts(2)
    campaign = make_campaign(profiles=[profile], audience_all=True, schedule="daily", send_time=datetime.time(8))
    campaign_services.campaign_schedule(campaign=campaign)
    start(campaign)

    tasks.fire(campaign.id)

    assert campaign.runs.count() == 1
    assert OutboundMessage.objects.filter(campaign_id=campaign.id).count() == 2


def test_groups_are_kept_on_the_campaign(in_alpha):
    profile = make_profile()
    first, second = Group.objects.create(name="A"), Group.objects.create(name="B")
    campaign = make_campaign(profiles=[profile], groups=[second, first])

    campaign_services.campaign_update(campaign=campaign, groups=[first])

    assert list(campaign.groups.values_list("name", flat=True)) == ["A"]


# --- large runs: rows moved by a worker, window by window ---------------------------------------


@pytest.fixture
def large_runs(monkeypatch):
    """Every run counts as large (moved by a worker) and windows hold two rows."""
    from apps.campaigns.services import rows as row_moves

    monkeypatch.setattr(row_moves, "ROWS_MOVE_SYNC_MAX", 0)
    monkeypatch.setattr(row_moves, "ROWS_MOVE_BATCH", 2)


def test_a_large_run_is_paused_at_once_and_its_rows_held_by_a_worker(in_alpha, handoffs, large_runs):
    from apps.campaigns import tasks

    profile = make_profile()
    make_contacts(5)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = start(campaign)

    lifecycle.campaign_pause(campaign=campaign)

    campaign.refresh_from_db()
    assert campaign.state == "paused"
    assert rows(campaign) == {"queued": 5}  # not claimable: the campaign is paused
    assert handoffs.moves == [(run.id, "hold")]
    assert ticks.watchdog_pass().moves == [(run.id, "hold")]

    tasks.rows_move(run.id, "hold")

    assert rows(campaign) == {"held": 5}
    assert ticks.watchdog_pass().moves == []


def test_a_resume_during_a_large_pause_wins_and_nothing_is_left_held(in_alpha, handoffs, large_runs):
    from apps.campaigns import tasks

    profile = make_profile()
    make_contacts(5)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = start(campaign)
    lifecycle.campaign_pause(campaign=campaign)
    tasks.rows_move(run.id, "hold")
    handoffs.kicks.clear()

    lifecycle.campaign_resume(campaign=campaign)
    assert handoffs.moves[-1] == (run.id, "release")
    tasks.rows_move(run.id, "hold")  # a late hold for the earlier pause: the campaign runs, it does nothing
    assert rows(campaign) == {"held": 5}
    tasks.rows_move(run.id, "release")

    assert rows(campaign) == {"queued": 5}
    assert handoffs.kicks == [profile.id]  # woken after the first window


def test_a_large_cancel_ends_every_unsent_row(in_alpha, handoffs, large_runs):
    from apps.campaigns import tasks

    profile = make_profile()
    make_contacts(5)
    campaign = make_campaign(profiles=[profile], audience_all=True)
    run = start(campaign)
    OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id").filter(id=run.first_message_id).update(
        state="sent"
    )
    lifecycle.campaign_pause(campaign=campaign)
    tasks.rows_move(run.id, "hold")

    lifecycle.campaign_cancel(campaign=campaign)
    tasks.rows_move(run.id, "cancel")

    assert rows(campaign) == {"sent": 1, "cancelled": 4}


def test_a_number_removed_while_paused_has_its_rows_sent_by_the_others_on_resume(in_alpha):
    from apps.senders.services.profiles import profile_delete

    a, b = make_profile("A"), make_profile("B")
    make_contacts(6)
    campaign = make_campaign(profiles=[a, b], audience_all=True)
    run = start(campaign)
    lifecycle.campaign_pause(campaign=campaign)

    profile_delete(profile=b)
    lifecycle.campaign_resume(campaign=campaign)

    assert (
        list(OutboundMessage.objects.filter(campaign_id=campaign.id).values_list("profile_id", flat=True)) == [a.id] * 6
    )
    assert rows(campaign) == {"queued": 6}
    run.refresh_from_db()
    assert run.profile_ids == [a.id]


def test_a_template_in_use_by_a_scheduled_campaign_cannot_be_deleted(in_alpha):
    from apps.campaigns.services import templates

    template = MessageTemplate.objects.create(name="Weekly", body="Hi {{name}}")
    campaign = make_campaign(
        profiles=[make_profile()],
        template=template,
        body="",
        audience_all=True,
        schedule="weekly",
        send_time=datetime.time(9),
        weekdays=[1],
    )
    campaign_services.campaign_schedule(campaign=campaign)

    with pytest.raises(Conflict) as refused:
        templates.template_delete(template=template)

    assert refused.value.code == "template_in_use"
    assert refused.value.details == {"campaigns": ["Spring sale"]}
    assert MessageTemplate.objects.filter(id=template.id).exists()
