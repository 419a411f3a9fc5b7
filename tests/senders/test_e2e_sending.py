"""End to end: sending, ticks, invalid numbers, incoming messages and opt-out, an unlinked device
and a ban — real Chromium driven by the sender host against the simulator process, the test
PostgreSQL and Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.billing.models import UsageRecord
from apps.contacts.models import Contact
from apps.senders.models import InboundMessage, MessageState, OutboundMessage, SenderProfile
from apps.senders.services import ledger
from tests.senders.e2e_support import wait_for
from tests.simulator.conftest import simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

PHONE = "919811100002"


def enqueue(e2e, profile, to: str, text: str) -> OutboundMessage:
    with e2e.tenant():
        return ledger.message_enqueue(to=to, text=text, region="IN", profile=profile).message


def test_a_queued_message_is_sent_once_and_its_ticks_move_sent_delivered_read(e2e):
    # Slow enough ticks that the delivered tick is seen before the read one.
    e2e.sim.configure(ack_delay_ms=100, deliver_delay_ms=1000, read_delay_ms=2000)
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)

    message = enqueue(e2e, linked, "+919811100601", "Your order has shipped")
    assert e2e.kicks == [profile.id]  # enqueueing asks for a driver
    host.kick(e2e.schema, profile.id)
    seen: list[str] = []

    def read() -> bool:
        with e2e.tenant():
            state = OutboundMessage.objects.get(id=message.id).state
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == MessageState.READ

    wait_for(read, what="the read tick", interval=0.02)
    with e2e.tenant():
        message.refresh_from_db()

    assert [s for s in seen if s in ("sent", "delivered", "read")] == ["sent", "delivered", "read"]
    assert message.sent_at < message.delivered_at < message.read_at
    assert message.attempts == 1
    out = e2e.sim_outgoing(PHONE)
    assert [(m["chat"], m["text"]) for m in out] == [("919811100601", "Your order has shipped")]
    assert message.wa_message_id == out[0]["data_id"]
    assert UsageRecord.objects.get(tenant=e2e.world.tenant).messages_sent == 1


def test_a_number_not_on_whatsapp_ends_invalid_after_one_attempt(e2e):
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)

    invalid = enqueue(e2e, linked, "+919811110000", "Hello?")  # the simulator's "not on WhatsApp" suffix
    valid = enqueue(e2e, linked, "+919811100602", "Hello!")
    host.kick(e2e.schema, profile.id)
    invalid = e2e.settled(invalid.id)
    valid = e2e.settled(valid.id)

    assert invalid.state == MessageState.INVALID_NUMBER
    assert invalid.attempts == 1
    assert invalid.next_attempt_at is None
    assert invalid.error_code == "invalid_number"
    assert valid.state in (MessageState.SENT, MessageState.DELIVERED, MessageState.READ)
    assert [m["chat"] for m in e2e.sim_outgoing(PHONE)] == ["919811100602"]
    # No retry later either.
    with e2e.tenant():
        assert ledger.next_due_messages(profile_id=profile.id, limit=10) == []
    assert e2e.status(profile) == SenderProfile.Status.CONNECTED


def test_incoming_messages_are_captured_and_stop_opts_the_contact_out(e2e):
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    inbox = e2e.listen("inbox")
    stranger, customer = "919822200001", "919822200002"

    # A chat nobody has open: found by its unread badge.
    before = timezone.now()
    e2e.inject(PHONE, stranger, "Hello there", name="Asha")
    with e2e.tenant():
        first = wait_for(lambda: InboundMessage.objects.filter(profile=profile).first(), what="the first capture")
    assert (first.chat, first.from_number, first.sender_name, first.body) == (
        f"+{stranger}",
        f"+{stranger}",
        "Asha",
        "Hello there",
    )
    assert before - timedelta(minutes=1) < first.received_at <= timezone.now()
    assert not first.is_opt_out

    # A chat the runner has open (it sent there and watches the ticks): the page marks a new
    # message read at once, so there is no badge; it is still captured.
    sent = enqueue(e2e, linked, f"+{customer}", "Is Tuesday fine?")
    host.kick(e2e.schema, profile.id)
    assert e2e.settled(sent.id).state in (MessageState.SENT, MessageState.DELIVERED, MessageState.READ)
    e2e.inject(PHONE, customer, "Tuesday works")
    with e2e.tenant():
        wait_for(lambda: InboundMessage.objects.filter(profile=profile, body="Tuesday works").exists(), what="reply")

    e2e.inject(PHONE, customer, "STOP")
    with e2e.tenant():
        contact = wait_for(
            lambda: Contact.objects.filter(phone=f"+{customer}", opted_out_at__isnull=False).first(),
            what="the opt-out",
        )
    assert contact.opted_out_via == Contact.OptOutVia.KEYWORD

    later = enqueue(e2e, linked, f"+{customer}", "Reminder: see you Tuesday")
    host.kick(e2e.schema, profile.id)
    later = e2e.settled(later.id)

    assert later.state == MessageState.SKIPPED_OPTED_OUT
    assert [m["text"] for m in e2e.sim_outgoing(PHONE, chat=customer)] == ["Is Tuesday fine?"]
    with e2e.tenant():
        captured = list(InboundMessage.objects.filter(profile=profile).order_by("id"))
    assert [(m.from_number, m.body, m.is_opt_out) for m in captured] == [
        (f"+{stranger}", "Hello there", False),
        (f"+{customer}", "Tuesday works", False),
        (f"+{customer}", "STOP", True),
    ]
    sim_ids = {m["data_id"] for m in e2e.sim.get(f"/_sim/accounts/{PHONE}/messages")["messages"]}
    assert {m.wa_message_id for m in captured} <= sim_ids
    events = inbox.drain()
    assert [(e["from"], e["text"], e["opt_out"]) for e in events] == [
        (f"+{stranger}", "Hello there", False),
        (f"+{customer}", "Tuesday works", False),
        (f"+{customer}", "STOP", True),
    ]


def test_an_unlinked_device_is_noticed_while_idle_and_sending_stops(e2e):
    profile = e2e.profile()
    host = e2e.host()
    e2e.link(host, profile, PHONE)
    notifications = e2e.listen("notifications")
    events = e2e.listen(f"profile.{profile.id}")

    e2e.sim.post(f"/_sim/accounts/{PHONE}/unlink")
    unlinked = e2e.wait_status(profile, SenderProfile.Status.LOGGED_OUT)
    wait_for(lambda: e2e.parked(host), what="the runner to stop")

    assert unlinked.session_state is None
    assert e2e.reload(profile).session_state is None  # not saved back when the browser closed
    assert events.until(lambda e: e.get("status") == "logged_out")["detail"].startswith("WhatsApp Web shows the QR")
    toast = notifications.until(lambda e: e["kind"] == "notification" and e["level"] != "info")
    assert toast["level"] == "warning" and "Logged out" in toast["message"]
    assert [e for e in notifications.drain() if e["level"] != "info"] == [toast]

    message = enqueue(e2e, unlinked, "+919811100603", "Anyone there?")
    assert host.kick(e2e.schema, profile.id) is True
    wait_for(lambda: e2e.parked(host), what="the runner to give up")
    with e2e.tenant():
        message.refresh_from_db()
    assert (message.state, message.attempts) == (MessageState.QUEUED, 0)
    assert e2e.sim_outgoing(PHONE) == []
    assert e2e.status(profile) == SenderProfile.Status.LOGGED_OUT


def test_a_ban_stops_sending_and_tells_the_tenant(e2e):
    profile = e2e.profile()
    host = e2e.host()
    linked = e2e.link(host, profile, PHONE)
    first = enqueue(e2e, linked, "+919811100604", "Before the ban")
    host.kick(e2e.schema, profile.id)
    assert e2e.settled(first.id).state in (MessageState.SENT, MessageState.DELIVERED, MessageState.READ)
    notifications = e2e.listen("notifications")

    e2e.sim.post(f"/_sim/accounts/{PHONE}/flags", {"banned": True})
    held = [enqueue(e2e, linked, f"+91981110070{i}", f"After the ban {i}") for i in range(2)]
    host.kick(e2e.schema, profile.id)
    banned = e2e.wait_status(profile, SenderProfile.Status.BANNED)
    wait_for(lambda: e2e.parked(host), what="the runner to stop")

    assert "banned" in banned.status_detail
    toast = notifications.until(lambda e: e["kind"] == "notification" and e["level"] != "info")
    assert toast["level"] == "error" and "Banned" in toast["message"]
    assert [e for e in notifications.drain() if e["level"] != "info"] == [toast]
    with e2e.tenant():
        states = [(m.state, m.attempts) for m in OutboundMessage.objects.filter(id__in=[m.id for m in held])]
    assert states == [(MessageState.QUEUED, 0), (MessageState.QUEUED, 0)]
    assert [m["text"] for m in e2e.sim_outgoing(PHONE)] == ["Before the ban"]
    # A banned profile is not driven again.
    assert host.kick(e2e.schema, profile.id) is True
    wait_for(lambda: e2e.parked(host), what="the runner to give up")
    assert [m["text"] for m in e2e.sim_outgoing(PHONE)] == ["Before the ban"]
