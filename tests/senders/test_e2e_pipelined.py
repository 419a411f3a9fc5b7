"""End to end, pacing off: the next message is typed while earlier ones wait for their sent ticks
(read from the chat list once the driver has moved on). Still every message goes out once, and
a row is `sent` only after its tick was seen (DESIGN.md, sending invariants) — real Chromium,
the host and the simulator."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from apps.billing.models import UsageRecord
from apps.senders.models import InboundMessage, MessageState, OutboundMessage
from apps.senders.services import ledger
from apps.senders.transport import BROWSER_PACING_OFF_BATCH
from tests.senders.e2e_support import wait_for
from tests.simulator.conftest import simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

PHONE = "919811100004"
SENT_STATES = {MessageState.SENT, MessageState.DELIVERED, MessageState.READ}


def enqueue(e2e, profile, to: str, text: str) -> OutboundMessage:
    with e2e.tenant():
        return ledger.message_enqueue(to=to, text=text, region="IN", profile=profile).message


def sim_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_messages_in_flight_together_are_each_sent_once_and_recorded_after_their_tick(e2e):
    # Ticks slow enough that several messages wait for theirs at once.
    e2e.sim.configure(ack_delay_ms=400)
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    chats = [f"9198115{i:04d}1" for i in range(BROWSER_PACING_OFF_BATCH)]
    # More than one batch, and two chats that get a second message while the first may be in flight.
    sends = [(chat, f"Order {i} has shipped") for i, chat in enumerate(chats)]
    # Inserted in one step (no typing delay with pacing off): lines and emoji arrive as typed.
    sends[2] = (chats[2], "Order 2 has shipped 📦\nTrack it: https://example.test/t/2")
    sends += [(chats[0], "Order 0: out for delivery"), (chats[1], "Order 1: out for delivery")]
    messages = [enqueue(e2e, linked, f"+{chat}", text) for chat, text in sends]
    host.kick(e2e.schema, profile.id)
    settled = [e2e.settled(m.id) for m in messages]

    out = e2e.sim_outgoing(PHONE)
    assert Counter((m["chat"], m["text"]) for m in out) == Counter(sends)
    by_text = {m["text"]: m for m in out}
    for message in settled:
        record = by_text[message.body]
        assert message.state in SENT_STATES
        assert message.attempts == 1
        assert message.wa_message_id == record["data_id"]
        # Recorded as sent only once WhatsApp had sent it.
        assert message.sent_at >= sim_time(record["sent_at"])
    # The second message of a chat went after the first.
    for chat in chats[:2]:
        assert [m["text"] for m in e2e.sim_outgoing(PHONE, chat=chat)][1].endswith("out for delivery")
    assert UsageRecord.objects.get(tenant=e2e.world.tenant).messages_sent == len(sends)


def test_messages_whose_tick_never_comes_are_left_uncertain_not_sent(e2e, settings):
    settings.SENDER_SENT_TICK_TIMEOUT_S = 1.0
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    e2e.sim.configure(ack_delay_ms=60_000)
    sends = [(f"9198116{i:04d}1", f"Reminder {i}") for i in range(3)]
    messages = [enqueue(e2e, linked, f"+{chat}", text) for chat, text in sends]
    host.kick(e2e.schema, profile.id)
    settled = [e2e.settled(m.id) for m in messages]

    assert [(m.state, m.attempts) for m in settled] == [(MessageState.UNCERTAIN, 1)] * 3
    assert all(m.sent_at is None for m in settled)
    # In WhatsApp once each (still on the clock), never typed again.
    assert sorted((m["chat"], m["text"], m["status"]) for m in e2e.sim_outgoing(PHONE)) == [
        (chat, text, "pending") for chat, text in sends
    ]
    with e2e.tenant():
        assert ledger.next_due_messages(profile_id=profile.id, limit=10) == []


def test_a_reply_that_takes_over_the_chat_row_sends_the_driver_to_the_chat_for_the_tick(e2e):
    # The reply arrives before the tick, so the chat list never shows the message ticked.
    e2e.sim.configure(ack_delay_ms=1500)
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    first, *others = [f"9198117{i:04d}1" for i in range(3)]
    messages = [enqueue(e2e, linked, f"+{chat}", f"Hello {chat}") for chat in (first, *others)]
    host.kick(e2e.schema, profile.id)
    wait_for(lambda: e2e.sim_outgoing(PHONE, chat=first), what="the first message in WhatsApp", interval=0.01)
    e2e.inject(PHONE, first, "Who is this?")
    settled = [e2e.settled(m.id) for m in messages]

    out = e2e.sim_outgoing(PHONE)
    assert sorted(m["text"] for m in out) == sorted(m.body for m in settled)
    assert [(m.state in SENT_STATES, m.attempts) for m in settled] == [(True, 1)] * 3
    assert {m.body: m.wa_message_id for m in settled} == {m["text"]: m["data_id"] for m in out}
    with e2e.tenant():
        wait_for(
            lambda: InboundMessage.objects.filter(profile=profile, body="Who is this?").count() == 1,
            what="the reply to be captured",
        )
