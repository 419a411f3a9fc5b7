"""A scheduled and a recurring campaign fire through the real beat and worker, in the tenant
they belong to and at the tenant's local time."""

from __future__ import annotations

import datetime
import time
import zoneinfo

import pytest
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, PeriodicTask
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import campaigns as campaign_services
from apps.contacts.models import Contact
from apps.senders.models import OutboundMessage, SenderProfile
from apps.tenants.models import Tenant
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile
from tests.core.conftest import beat_process, live_world  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

# Beat reads schedules within a second (--max-interval 1) and the worker materializes two
# recipients in well under a second; the deadline only bounds a broken run.
FIRE_DEADLINE_S = 45.0


@pytest.fixture
def scheduled(alpha_live, beta_live):
    """Campaigns made per world; everything they made is removed afterwards (and alpha's time
    zone restored)."""
    made: list[tuple[object, int]] = []
    zone = alpha_live.tenant.timezone

    def make(world, **values) -> Campaign:
        with tenant_context(world.tenant):
            profile = make_profile(f"beat-{world.tenant.slug}")  # connected, no session: never driven
            if not Contact.objects.filter(phone__startswith="+9198760").exists():
                make_contacts(2)
            campaign = make_campaign(profiles=[profile], audience_all=True, **values)
            campaign_services.campaign_schedule(campaign=campaign)
        made.append((world, campaign.id))
        return campaign

    yield make
    Tenant.objects.filter(pk=alpha_live.tenant.pk).update(timezone=zone)
    for world in (alpha_live, beta_live):
        with tenant_context(world.tenant):
            ids = [campaign_id for w, campaign_id in made if w is world]
            PeriodicTask.objects.filter(name__startswith=f"{world.tenant.schema_name}:campaign-").delete()
            ClockedSchedule.objects.filter(periodictask=None).delete()
            CrontabSchedule.objects.filter(periodictask=None).delete()
            OutboundMessage.objects.filter(campaign_id__in=ids).delete()
            Campaign.objects.filter(id__in=ids).delete()
            SenderProfile.objects.filter(label__startswith="beat-").delete()
            Contact.objects.filter(phone__startswith="+9198760").delete()
        UsageRecord.objects.filter(tenant=world.tenant).delete()


def wait_for_run(world, campaign: Campaign) -> CampaignRun:
    deadline = time.monotonic() + FIRE_DEADLINE_S
    while time.monotonic() < deadline:
        with tenant_context(world.tenant):
            run = CampaignRun.objects.filter(campaign_id=campaign.id, materialized_at__isnull=False).first()
        if run is not None:
            return run
        time.sleep(0.2)
    raise AssertionError(f"campaign {campaign.id} did not run within {FIRE_DEADLINE_S}s")


def ledger_of(world, campaign: Campaign) -> list[str]:
    with tenant_context(world.tenant):
        return sorted(OutboundMessage.objects.filter(campaign_id=campaign.id).values_list("to_number", flat=True))


def test_a_campaign_scheduled_for_a_time_fires_once_in_its_own_tenant(
    beat_process,  # noqa: F811
    alpha_live,
    beta_live,
    scheduled,
):
    soon = timezone.now() + datetime.timedelta(seconds=3)
    alpha_campaign = scheduled(alpha_live, schedule="at", scheduled_at=soon)
    beta_campaign = scheduled(beta_live, schedule="at", scheduled_at=soon + datetime.timedelta(hours=1))

    beat_process()
    run = wait_for_run(alpha_live, alpha_campaign)

    assert (run.number, run.trigger, run.recipients) == (1, "schedule", 2)
    assert ledger_of(alpha_live, alpha_campaign) == ["+919876000000", "+919876000001"]
    with tenant_context(alpha_live.tenant):
        assert Campaign.objects.get(id=alpha_campaign.id).state == "running"
        # The one-off entry is gone once it fired.
        assert not PeriodicTask.objects.filter(name=f"t_alpha:campaign-{alpha_campaign.id}").exists()
    with tenant_context(beta_live.tenant):
        assert Campaign.objects.get(id=beta_campaign.id).state == "scheduled"
        assert CampaignRun.objects.filter(campaign_id=beta_campaign.id).count() == 0
        assert OutboundMessage.objects.filter(campaign_id__in=[alpha_campaign.id, beta_campaign.id]).count() == 0


def test_a_daily_campaign_fires_at_the_tenants_local_time_and_starts_a_fresh_run(
    beat_process,  # noqa: F811
    alpha_live,
    beta_live,
    scheduled,
):
    Tenant.objects.filter(pk=alpha_live.tenant.pk).update(timezone="Asia/Kolkata")
    alpha_live.tenant.refresh_from_db()
    kolkata_now = timezone.now().astimezone(zoneinfo.ZoneInfo("Asia/Kolkata"))
    # Due two minutes ago in Kolkata, and beat last ran it ten minutes ago: it is due now. Read
    # as UTC, 5½ hours off, the same time of day would not fall in those ten minutes.
    send_time = (kolkata_now - datetime.timedelta(minutes=2)).time().replace(second=0, microsecond=0)
    alpha_campaign = scheduled(alpha_live, schedule="daily", send_time=send_time)
    beta_campaign = scheduled(beta_live, schedule="daily", send_time=send_time)
    with tenant_context(alpha_live.tenant):
        PeriodicTask.objects.filter(name=f"t_alpha:campaign-{alpha_campaign.id}").update(
            last_run_at=timezone.now() - datetime.timedelta(minutes=10)
        )
    with tenant_context(beta_live.tenant):
        # Beta's campaign fired today already (its tenant is on UTC): nothing is due there.
        PeriodicTask.objects.filter(name=f"t_beta:campaign-{beta_campaign.id}").update(last_run_at=timezone.now())

    beat_process()
    run = wait_for_run(alpha_live, alpha_campaign)

    assert (run.number, run.trigger, run.recipients) == (1, "schedule", 2)
    assert ledger_of(alpha_live, alpha_campaign) == ["+919876000000", "+919876000001"]
    with tenant_context(alpha_live.tenant):
        task = PeriodicTask.objects.select_related("crontab").get(name=f"t_alpha:campaign-{alpha_campaign.id}")
        assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == (
            str(send_time.hour),
            str(send_time.minute),
            "Asia/Kolkata",
        )
        assert task.enabled is True  # recurring: stays scheduled for tomorrow
    with tenant_context(beta_live.tenant):
        assert CampaignRun.objects.filter(campaign_id=beta_campaign.id).count() == 0
        assert Campaign.objects.get(id=beta_campaign.id).state == "scheduled"
