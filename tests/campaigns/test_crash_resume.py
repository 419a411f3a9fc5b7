"""kill -9 of the sender worker in the middle of a campaign, then pause, a new worker and a
resume: the run completes and nothing is sent twice.

Real processes throughout (as tests/senders/test_crash_recovery.py): the simulator, two Celery
sender workers one after the other, Chromium driven by Playwright, the test PostgreSQL and Redis.
The kill lands while the simulator has accepted a message whose sent tick it still holds back,
so a ledger row is left `sending` under the dead worker's claim across the pause and the resume.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import lifecycle, progress, ticks
from apps.contacts.models import Contact
from apps.senders.models import MessageState, OutboundMessage
from tests.campaigns.conftest import make_campaign, start
from tests.conftest import process_env
from tests.senders.live_workers import (
    SenderWorker,
    alive,
    linked_profile_create,
    linked_session_state,
    start_sender_worker,
    wait_for,
    wait_for_lease_release,
)
from tests.simulator.conftest import LINKED_PHONE, simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

RECIPIENTS = 20
# The worker is killed once this many of the campaign's messages reached the simulator.
KILL_AFTER = 6
# Pacing: custom 5 s gap, time scaled by 0.1 -> one message every 0.5 s (plus the send itself).
TIME_SCALE = "0.1"
GAP_S = 5.0
LEASE_TTL_S = "3"
# While the kill is aimed, the simulator holds each sent tick this long.
SLOW_ACK_MS = 700
DONE_TIMEOUT_S = 120
PHONE_PREFIX = "+91987654"
SENT_STATES = {MessageState.SENT, MessageState.DELIVERED, MessageState.READ}
UNFINISHED = [MessageState.QUEUED, MessageState.SENDING, MessageState.HELD]


def worker_env(simulator_url: str) -> dict[str, str]:
    return {
        **process_env(),
        "WHATSAPP_WEB_URL": simulator_url,
        "PACING_TIME_SCALE": TIME_SCALE,
        "SENDER_LEASE_TTL_S": LEASE_TTL_S,
        "SENDER_IDLE_PARK_S": "3",
    }


@pytest.fixture
def crash_campaign(alpha_live, simulator):  # noqa: F811 - fixture
    """A profile linked in the simulator (its stored session, no QR) and a started campaign to
    RECIPIENTS contacts, each text unique to this test run; committed so the workers see it."""
    state = linked_session_state(simulator.base_url, LINKED_PHONE)
    tag = uuid.uuid4().hex[:8]
    with tenant_context(alpha_live.tenant):
        profile = linked_profile_create(
            state=state,
            phone=LINKED_PHONE,
            label=f"crash-resume-{tag}",
            pacing_preset="custom",
            pacing_min_s=GAP_S,
            pacing_max_s=GAP_S,
            batch_size=0,
        )
        # Never ends in 0000 (the simulator's "not on WhatsApp" suffix).
        Contact.objects.bulk_create(
            [Contact(phone=f"{PHONE_PREFIX}{i:03d}1", name=f"Crash {i}") for i in range(RECIPIENTS)]
        )
        campaign = make_campaign(
            profiles=[profile], audience_all=True, body=f"Resume {tag}: hello {{{{name}}}}", name=f"Crash {tag}"
        )
        run = start(campaign)
    yield alpha_live, profile, campaign, run
    with tenant_context(alpha_live.tenant):
        OutboundMessage.objects.filter(campaign_id=campaign.id).delete()
        Campaign.objects.filter(id=campaign.id).delete()
        profile.delete()
        Contact.objects.filter(phone__startswith=PHONE_PREFIX).delete()
    UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def sim_outgoing(simulator, chats: set[str]) -> list[dict]:  # noqa: F811 - fixture name
    return [m for m in simulator.messages(LINKED_PHONE) if m["direction"] == "out" and m["chat"] in chats]


def test_kill9_mid_campaign_then_pause_and_resume_sends_nothing_twice(crash_campaign, simulator):  # noqa: F811
    world, profile, campaign, run = crash_campaign
    schema = world.tenant.schema_name
    env = worker_env(simulator.base_url)
    with tenant_context(world.tenant):
        rows_at_start = {m.body: m.to_number for m in OutboundMessage.objects.filter(campaign_id=campaign.id)}
    chats = {to.lstrip("+") for to in rows_at_start.values()}
    assert len(rows_at_start) == len(chats) == RECIPIENTS
    simulator.configure(ack_delay_ms=SLOW_ACK_MS)

    first: SenderWorker = start_sender_worker(f"cresume-a-{uuid.uuid4().hex[:6]}", env)
    second: SenderWorker | None = None
    try:
        first.kick(profile.id, schema=schema)

        # Aim: KILL_AFTER messages or more in WhatsApp, the latest still without its tick.
        def in_flight() -> dict | None:
            out = sim_outgoing(simulator, chats)
            if len(out) >= KILL_AFTER and out[-1]["status"] == "pending":
                return out[-1]
            return None

        pending = wait_for(in_flight, timeout=90, what="a message accepted but not yet ticked", interval=0.02)
        dead_pids = first.kill9()
        wait_for(lambda: not [pid for pid in dead_pids if alive(pid)], timeout=10, what="the killed worker to vanish")
        out_at_kill = sim_outgoing(simulator, chats)
        assert KILL_AFTER <= len(out_at_kill) < RECIPIENTS

        with tenant_context(world.tenant):
            campaign.refresh_from_db()
            lifecycle.campaign_pause(campaign=campaign)
            at_pause = Counter(OutboundMessage.objects.filter(campaign_id=campaign.id).values_list("state", flat=True))
            orphan = OutboundMessage.objects.get(campaign_id=campaign.id, state=MessageState.SENDING)
        # The dead worker's claim survives the pause; every other unsent row is held.
        assert orphan.body == pending["text"]
        sent_at_pause = sum(at_pause[s] for s in SENT_STATES)
        assert at_pause[MessageState.SENDING] == 1
        assert sent_at_pause == len(out_at_kill) - 1
        assert at_pause[MessageState.HELD] == RECIPIENTS - sent_at_pause - 1
        assert at_pause[MessageState.QUEUED] == 0

        simulator.configure(ack_delay_ms=150)
        second = start_sender_worker(f"cresume-b-{uuid.uuid4().hex[:6]}", env)
        wait_for_lease_release(schema, profile.id)
        with tenant_context(world.tenant):
            campaign.refresh_from_db()
            lifecycle.campaign_resume(campaign=campaign)
        # The resume's kick is recorded by the campaigns conftest; hand it to the new worker.
        second.kick(profile.id, schema=schema)
        with tenant_context(world.tenant):
            wait_for(
                lambda: not OutboundMessage.objects.filter(campaign_id=campaign.id, state__in=UNFINISHED).exists(),
                timeout=DONE_TIMEOUT_S,
                what="every campaign row to be final",
                interval=0.2,
            )
            assert ticks.run_tick(run_id=run.id) is False
            rows = list(OutboundMessage.objects.filter(campaign_id=campaign.id).order_by("id"))
            ledger_counts = progress.run_counts(run)
            run.refresh_from_db()
            campaign.refresh_from_db()
            orphan.refresh_from_db()
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()

    out = sim_outgoing(simulator, chats)
    sim_count = Counter(m["text"] for m in out)
    texts = set(rows_at_start)
    sent_rows = [r for r in rows if r.state in SENT_STATES]
    uncertain = [r for r in rows if r.state == MessageState.UNCERTAIN]
    # Every row ends sent, or uncertain (then in the simulator at most once); none is left
    # queued, sending or held.
    assert {r.body for r in rows} == texts
    assert len(sent_rows) + len(uncertain) == RECIPIENTS, Counter(r.state for r in rows)
    assert not [r for r in rows if r.state in UNFINISHED]
    assert all(sim_count[r.body] <= 1 for r in uncertain), [(r.body, sim_count[r.body]) for r in uncertain]
    # The simulator's record for the account holds these texts only, each sent row's exactly once.
    assert set(sim_count) <= texts
    assert all(sim_count[r.body] == 1 for r in sent_rows), sim_count
    # count(sent in ledger) == the simulator's outgoing count (less uncertain rows it does show),
    # with matching message ids.
    assert len(sent_rows) == len(out) - sum(sim_count[r.body] for r in uncertain)
    sent_bodies = {r.body for r in sent_rows}
    assert {r.body: r.wa_message_id for r in sent_rows} == {
        m["text"]: m["data_id"] for m in out if m["text"] in sent_bodies
    }
    # The orphan was settled against the chat, not typed again.
    assert sim_count[orphan.body] == 1
    # The run completed and its counters are the ledger's.
    assert (campaign.state, run.state) == (Campaign.State.COMPLETED, CampaignRun.State.COMPLETED)
    assert run.counts == ledger_counts == dict(Counter(r.state for r in rows))
    assert sum(run.counts.values()) == RECIPIENTS
