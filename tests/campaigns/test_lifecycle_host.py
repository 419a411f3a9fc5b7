"""A campaign through the real sender host (null transport, committed data): pause, resume and
cancel land before the next message, and nothing is ever sent twice."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import lifecycle, progress, ticks
from apps.contacts.models import Contact
from apps.core.exceptions import Conflict
from apps.senders.host import CAMPAIGN_GATE_RECHECK_S, SenderHost
from apps.senders.models import OutboundMessage, SenderProfile
from apps.senders.transport import NullTransport
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start

EMPTY_SESSION = b'{"cookies": [], "origins": []}'


def wait_for(predicate, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class GatedTransport(NullTransport):
    """Sends like the null transport, but the message number `block_at` (0-based) waits inside
    its send until `gate` is set."""

    def __init__(self, block_at: int | None = None):
        super().__init__()
        self.block_at = block_at
        self.blocked = threading.Event()
        self.gate = threading.Event()

    async def send_text(self, digits, text, **kwargs):
        if self.block_at is not None and len(self.sent) == self.block_at and not self.gate.is_set():
            self.blocked.set()
            while not self.gate.is_set():
                await asyncio.sleep(0.01)
        return await super().send_text(digits, text, **kwargs)


@pytest.fixture
def world(alpha_live, settings):
    settings.SENDER_IDLE_PARK_S = 0.3
    made: dict[str, list[int]] = {"campaigns": [], "profiles": []}
    with tenant_context(alpha_live.tenant):
        yield alpha_live, made
        OutboundMessage.objects.filter(campaign_id__in=made["campaigns"]).delete()
        Campaign.objects.filter(id__in=made["campaigns"]).delete()
        SenderProfile.objects.filter(id__in=made["profiles"]).delete()
        Contact.objects.filter(phone__startswith="+9198760").delete()
    UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def live_setup(made, count: int, **campaign_values) -> tuple[Campaign, SenderProfile]:
    profile = make_profile("null", per_contact_daily_cap=5, warmup_enabled=False, daily_cap=10_000)
    profile.session_state = EMPTY_SESSION
    profile.save()
    made["profiles"].append(profile.id)
    make_contacts(count)
    campaign = make_campaign(profiles=[profile], audience_all=True, body="Hello {{name}}", **campaign_values)
    made["campaigns"].append(campaign.id)
    return campaign, profile


def states(campaign: Campaign) -> dict[str, int]:
    return progress.run_counts(progress.latest_run(campaign))


def drained(campaign: Campaign) -> bool:
    return not OutboundMessage.objects.filter(campaign_id=campaign.id, state__in=["queued", "sending"]).exists()


def test_a_campaign_is_sent_once_to_everyone_and_completes(world):
    alpha, made = world
    campaign, profile = live_setup(made, 120)
    run = start(campaign)
    transport = GatedTransport()
    host = SenderHost(transport_factory=lambda: transport)
    try:
        host.kick(alpha.tenant.schema_name, profile.id)
        wait_for(lambda: drained(campaign), what="the campaign to drain")
    finally:
        host.shutdown()

    assert ticks.run_tick(run_id=run.id) is False
    campaign.refresh_from_db()
    run.refresh_from_db()
    assert (campaign.state, run.state) == (Campaign.State.COMPLETED, CampaignRun.State.COMPLETED)
    assert run.counts == {"sent": 120}
    assert len(transport.sent) == 120
    assert len(set(transport.sent)) == 120
    assert ("919876000007", "Hello Person 7") in transport.sent
    assert UsageRecord.objects.get(tenant=alpha.tenant).messages_sent == 120


def test_pause_stops_before_the_next_message_and_resume_sends_the_rest_once(world):
    alpha, made = world
    campaign, profile = live_setup(made, 60)
    run = start(campaign)
    transport = GatedTransport(block_at=20)
    host = SenderHost(transport_factory=lambda: transport)
    try:
        host.kick(alpha.tenant.schema_name, profile.id)
        assert transport.blocked.wait(20)
        # Message 21 is being typed; the pause lands before message 22.
        lifecycle.campaign_pause(campaign=campaign)
        time.sleep(CAMPAIGN_GATE_RECHECK_S + 0.1)
        transport.gate.set()
        wait_for(lambda: not OutboundMessage.objects.filter(campaign_id=campaign.id, state="sending").exists())
        wait_for(lambda: not host.active_profiles(), what="the idle profile to park")
        paused_counts = states(campaign)
        paused_sent = len(transport.sent)

        campaign.refresh_from_db()
        lifecycle.campaign_resume(campaign=campaign)
        host.kick(alpha.tenant.schema_name, profile.id)
        wait_for(lambda: drained(campaign), what="the rest to be sent")
    finally:
        host.shutdown()

    assert paused_sent == 21
    assert paused_counts == {"sent": 21, "held": 39}
    assert states(campaign) == {"sent": 60}
    assert len(transport.sent) == 60
    assert len(set(transport.sent)) == 60
    assert ticks.run_tick(run_id=run.id) is False
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.COMPLETED


def test_cancel_stops_before_the_next_message_and_cancels_every_unsent_row(world):
    alpha, made = world
    campaign, profile = live_setup(made, 50)
    run = start(campaign)
    transport = GatedTransport(block_at=10)
    host = SenderHost(transport_factory=lambda: transport)
    try:
        host.kick(alpha.tenant.schema_name, profile.id)
        assert transport.blocked.wait(20)
        lifecycle.campaign_cancel(campaign=campaign)
        time.sleep(CAMPAIGN_GATE_RECHECK_S + 0.1)
        transport.gate.set()
        wait_for(lambda: drained(campaign), what="the batch to be settled")
        wait_for(lambda: not host.active_profiles(), what="the idle profile to park")
    finally:
        host.shutdown()

    assert len(transport.sent) == 11
    assert states(campaign) == {"sent": 11, "cancelled": 39}
    campaign.refresh_from_db()
    run.refresh_from_db()
    assert (campaign.state, run.state) == (Campaign.State.CANCELLED, CampaignRun.State.CANCELLED)
    with pytest.raises(Conflict) as refused:
        lifecycle.campaign_resume(campaign=campaign)
    assert refused.value.code == "illegal_transition"


def test_rows_queued_before_a_pause_are_held_and_never_claimed(world):
    alpha, made = world
    campaign, profile = live_setup(made, 30)
    start(campaign)
    lifecycle.campaign_pause(campaign=campaign)
    transport = GatedTransport()
    host = SenderHost(transport_factory=lambda: transport)
    try:
        host.kick(alpha.tenant.schema_name, profile.id)
        wait_for(lambda: not host.active_profiles(), what="the idle profile to park")
    finally:
        host.shutdown()

    assert transport.sent == []
    assert states(campaign) == {"held": 30}
