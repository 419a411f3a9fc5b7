"""kill -9 of a sender worker in the middle of a batch: after a new worker takes over, the
simulator's record matches the ledger — nothing lost, nothing sent twice (invariant 2).

Real processes throughout: the simulator, two Celery sender workers one after the other
(`celery -A config worker -Q senders --concurrency 1`), Chromium driven by Playwright, the test
PostgreSQL and Redis. The kill is placed deterministically in the worst window: the simulator
has accepted a message (the page pressed Send) but has not yet shown its sent tick, so the
ledger row is still `sending` under the dead worker's claim. The next driver must find it in the
chat and mark it sent instead of typing it again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

import pytest
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.senders import coordination
from apps.senders.models import MessageState, OutboundMessage
from apps.senders.services import ledger
from tests.conftest import process_env
from tests.senders.live_workers import (
    SenderWorker,
    alive,
    linked_profile_create,
    linked_session_state,
    start_sender_worker,
    take_over_and_drain,
    wait_for,
)
from tests.simulator.conftest import LINKED_PHONE, simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

MESSAGES = 30
# The worker is killed once this many messages reached the simulator.
KILL_AFTER = 10
# Pacing: custom 5 s gap, time scaled by 0.1 -> one message every 0.5 s (plus the send itself),
# so the batch takes well over ten seconds and the kill lands in its middle.
TIME_SCALE = "0.1"
GAP_S = 5.0
# A dead worker's lease expires after this; the heartbeat renews it every third.
LEASE_TTL_S = "3"
# While the kill is being aimed, the simulator holds each sent tick this long, so the moment
# "accepted by WhatsApp, not yet confirmed to the driver" is wide enough to hit.
SLOW_ACK_MS = 700
DONE_TIMEOUT_S = 120
SENT_STATES = {MessageState.SENT, MessageState.DELIVERED, MessageState.READ}


def recipient(i: int) -> str:
    # Never ends in 0000 (the simulator's "not on WhatsApp" suffix).
    return f"+919876{50000 + i:05d}1"


def worker_env(simulator_url: str) -> dict[str, str]:
    return {
        **process_env(),
        "WHATSAPP_WEB_URL": simulator_url,
        "PACING_TIME_SCALE": TIME_SCALE,
        "SENDER_LEASE_TTL_S": LEASE_TTL_S,
        "SENDER_IDLE_PARK_S": "3",
    }


@pytest.fixture
def crash_profile(alpha_live, simulator):  # noqa: F811 - fixture
    """A profile linked in the simulator (its stored session state, no QR), with 30 messages
    queued, committed so the workers see them."""
    state = linked_session_state(simulator.base_url, LINKED_PHONE)
    run = uuid.uuid4().hex[:8]
    with tenant_context(alpha_live.tenant):
        profile = linked_profile_create(
            state=state,
            phone=LINKED_PHONE,
            label=f"crash-{run}",
            pacing_preset="custom",
            pacing_min_s=GAP_S,
            pacing_max_s=GAP_S,
            batch_size=0,
        )
        texts = {}
        for i in range(MESSAGES):
            message = ledger.message_enqueue(
                to=recipient(i), text=f"crash {run} #{i}", region="IN", profile=profile, kick=False
            ).message
            texts[message.id] = message.body
    yield alpha_live, profile, texts
    with tenant_context(alpha_live.tenant):
        OutboundMessage.objects.filter(profile=profile).delete()
        profile.delete()
    UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def sim_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def sim_outgoing(simulator) -> list[dict]:  # noqa: F811 - fixture name
    return [m for m in simulator.messages(LINKED_PHONE) if m["direction"] == "out"]


def test_kill9_mid_batch_then_restart_sends_every_message_exactly_once(crash_profile, simulator):  # noqa: F811
    world, profile, texts = crash_profile
    schema = world.tenant.schema_name
    env = worker_env(simulator.base_url)
    simulator.configure(ack_delay_ms=SLOW_ACK_MS)

    first: SenderWorker = start_sender_worker(f"crash-a-{uuid.uuid4().hex[:6]}", env)
    second: SenderWorker | None = None
    try:
        first.kick(profile.id, schema=schema)

        # Aim: the simulator has the KILL_AFTER-th message or later, still without its tick.
        def in_flight() -> dict | None:
            out = sim_outgoing(simulator)
            if len(out) >= KILL_AFTER and out[-1]["status"] == "pending":
                return out[-1]
            return None

        pending = wait_for(in_flight, timeout=90, what="a message accepted but not yet ticked", interval=0.02)
        dead_pids = first.kill9()
        wait_for(lambda: not [pid for pid in dead_pids if alive(pid)], timeout=10, what="the killed worker to vanish")
        assert coordination.lease_holder(schema, profile.id) is not None  # the dead worker's lease

        with tenant_context(world.tenant):
            at_kill = Counter(OutboundMessage.objects.filter(profile=profile).values_list("state", flat=True))
            orphan = OutboundMessage.objects.get(profile=profile, state=MessageState.SENDING)
        sent_at_kill = sum(at_kill[s] for s in SENT_STATES)
        # The message the simulator shows without a tick is the one the dead worker had claimed.
        assert orphan.body == pending["text"]
        assert at_kill[MessageState.SENDING] == 1
        assert sent_at_kill == len(sim_outgoing(simulator)) - 1 >= KILL_AFTER - 1
        assert at_kill[MessageState.QUEUED] == MESSAGES - sent_at_kill - 1

        # Restart: a new worker, once the dead worker's lease has expired.
        simulator.configure(ack_delay_ms=150)
        second = start_sender_worker(f"crash-b-{uuid.uuid4().hex[:6]}", env)
        take_over_and_drain(second, tenant=world.tenant, profile=profile, timeout=DONE_TIMEOUT_S)
        with tenant_context(world.tenant):
            rows = list(OutboundMessage.objects.filter(profile=profile).order_by("id"))
            orphan.refresh_from_db()
            orphan_events = list(orphan.events.values_list("state", "detail"))
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()

    out = sim_outgoing(simulator)
    sim_count = Counter(m["text"] for m in out)
    # Every ledger row was sent; none is left queued/sending; none ended uncertain or failed: the
    # orphan was decidable (its bubble is in the chat), so it was settled as sent.
    assert Counter(r.state in SENT_STATES for r in rows) == Counter({True: MESSAGES})
    assert {r.body for r in rows} == set(texts.values())
    # The simulator has each text exactly once and nothing else.
    assert sim_count == Counter(set(texts.values()))
    assert len(out) == MESSAGES
    # count(sent in ledger) == count(distinct delivered in the simulator), with matching ids.
    sim_ids = {m["text"]: m["data_id"] for m in out if m["status"] != "failed"}
    assert len(sim_ids) == sum(r.state in SENT_STATES for r in rows) == MESSAGES
    assert {r.body: r.wa_message_id for r in rows} == sim_ids
    # The orphan was reconciled against the chat (found → sent), not typed again.
    assert orphan.state in SENT_STATES
    assert orphan.wa_message_id == pending["data_id"]
    assert orphan.attempts == 1
    assert (MessageState.SENT, "reconciled after a worker died: found") in orphan_events
    # Every other row took exactly one attempt.
    assert Counter(r.attempts for r in rows) == Counter({1: MESSAGES})


@pytest.fixture
def crash_profile_pacing_off(alpha_live, simulator):  # noqa: F811 - fixture
    """As `crash_profile`, pacing off: the worker types each message while earlier ones still
    wait for their ticks."""
    state = linked_session_state(simulator.base_url, LINKED_PHONE)
    run = uuid.uuid4().hex[:8]
    with tenant_context(alpha_live.tenant):
        profile = linked_profile_create(
            state=state,
            phone=LINKED_PHONE,
            label=f"crash-off-{run}",
            pacing_preset="off",
            batch_size=0,
        )
        texts = {}
        for i in range(MESSAGES):
            message = ledger.message_enqueue(
                to=recipient(i), text=f"crash off {run} #{i}", region="IN", profile=profile, kick=False
            ).message
            texts[message.id] = message.body
    yield alpha_live, profile, texts
    with tenant_context(alpha_live.tenant):
        OutboundMessage.objects.filter(profile=profile).delete()
        profile.delete()
    UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def test_kill9_with_several_messages_awaiting_their_ticks_then_restart_sends_each_once(
    crash_profile_pacing_off,
    simulator,  # noqa: F811 - fixture
):
    world, profile, texts = crash_profile_pacing_off
    schema = world.tenant.schema_name
    env = worker_env(simulator.base_url)
    simulator.configure(ack_delay_ms=SLOW_ACK_MS)

    first: SenderWorker = start_sender_worker(f"crash-c-{uuid.uuid4().hex[:6]}", env)
    second: SenderWorker | None = None
    try:
        first.kick(profile.id, schema=schema)

        # Aim: at least KILL_AFTER messages in WhatsApp, two or more of them still on the clock.
        def in_flight() -> list[dict] | None:
            out = sim_outgoing(simulator)
            pending = [m for m in out if m["status"] == "pending"]
            return pending if len(out) >= KILL_AFTER and len(pending) >= 2 else None

        pending = wait_for(in_flight, timeout=90, what="several messages awaiting their ticks", interval=0.02)
        dead_pids = first.kill9()
        wait_for(lambda: not [pid for pid in dead_pids if alive(pid)], timeout=10, what="the killed worker to vanish")

        out_at_kill = sim_outgoing(simulator)
        with tenant_context(world.tenant):
            at_kill = {m.body: (m.state, m.sent_at) for m in OutboundMessage.objects.filter(profile=profile)}
        sim_at_kill = {m["text"]: m for m in out_at_kill}
        # Every message in WhatsApp is recorded as sent or still `sending` (awaiting its tick, or
        # ticked but not yet recorded) ...
        assert {at_kill[text][0] for text in sim_at_kill} <= SENT_STATES | {MessageState.SENDING}, at_kill
        # ... and none was recorded as sent before WhatsApp sent it.
        for text, (state, sent_at) in at_kill.items():
            if state in SENT_STATES:
                assert sim_at_kill[text]["sent_at"] is not None, (text, sim_at_kill.get(text))
                assert sent_at >= sim_time(sim_at_kill[text]["sent_at"]), (text, sent_at, sim_at_kill[text])
        # The kill left messages between Enter and their record (those on the clock among them).
        unrecorded = {text for text in sim_at_kill if at_kill[text][0] == MessageState.SENDING}
        assert {m["text"] for m in pending} <= unrecorded | {t for t, (st, _) in at_kill.items() if st in SENT_STATES}
        assert unrecorded, (pending, at_kill)

        second = start_sender_worker(f"crash-d-{uuid.uuid4().hex[:6]}", env)
        take_over_and_drain(second, tenant=world.tenant, profile=profile, timeout=DONE_TIMEOUT_S)
        with tenant_context(world.tenant):
            rows = list(OutboundMessage.objects.filter(profile=profile).order_by("id"))
            reconciled = set(
                OutboundMessage.objects.filter(
                    profile=profile, events__detail="reconciled after a worker died: found"
                ).values_list("body", flat=True)
            )
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()

    out = sim_outgoing(simulator)
    # Each text in WhatsApp exactly once, every row sent with that message's id, one attempt each.
    assert Counter(m["text"] for m in out) == Counter(set(texts.values()))
    assert Counter(r.state in SENT_STATES for r in rows) == Counter({True: MESSAGES})
    assert {r.body: r.wa_message_id for r in rows} == {m["text"]: m["data_id"] for m in out}
    assert Counter(r.attempts for r in rows) == Counter({1: MESSAGES})
    # The messages in WhatsApp but not recorded at the kill were found in their chats, not typed again.
    assert unrecorded <= reconciled, (unrecorded, reconciled)
