"""End to end: rows a dead driver left in `sending` are reconciled against the chat before
anything is resent (DESIGN.md, sending invariant 2) — real Chromium, the host and the simulator.

The dead driver is staged: its rows are written as it would have left them, and its messages
are put into the chats by a second browser linked to the same account (as a driver that pressed
Enter and died before recording the send would have)."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from apps.senders import coordination
from apps.senders.models import MessageState, OutboundMessage
from tests.senders.e2e_support import other_device_sends
from tests.simulator.conftest import simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

PHONE = "919811100003"
NOTED, NOT_SENT, AMBIGUOUS = "919833300001", "919833300002", "919833300003"


def orphan(e2e, profile, chat: str, text: str) -> OutboundMessage:
    """A row as a driver that died mid-send leaves it: `sending`, one attempt, its claim."""
    now = timezone.now()
    with e2e.tenant():
        return OutboundMessage.objects.create(
            profile_id=profile.id,
            to_number=f"+{chat}",
            body=text,
            state=MessageState.SENDING,
            attempts=1,
            claim_token=uuid.uuid4(),
            claimed_at=now,
            claimed_by="dead-host:1:abc",
            queued_at=now,
            sending_at=now,
        )


def test_orphans_are_settled_from_the_chat_and_only_unsent_ones_are_sent_again(e2e):
    profile = e2e.profile()
    first = e2e.host()
    e2e.link(first, profile, PHONE)
    first.shutdown()
    # What the dead driver got out before it died (typed by another device of the account).
    other_device_sends(e2e.sim, PHONE, [(NOTED, "Your code is 4821"), (AMBIGUOUS, "Your code is 1200")])

    # 1. Enter was pressed (the submit note says the chat was empty before): the bubble is it.
    noted = orphan(e2e, profile, NOTED, "Your code is 4821")
    coordination.submit_note_set(e2e.schema, noted.id, "")
    # 2. Died before Enter: nothing in the chat.
    not_sent = orphan(e2e, profile, NOT_SENT, "Your code is 7765")
    # 3. No note, and the chat has the same text from the claim's minute: it cannot be told
    #    whether that bubble is this row's, so it is neither resent nor called sent.
    ambiguous = orphan(e2e, profile, AMBIGUOUS, "Your code is 1200")

    second = e2e.host()
    assert second.kick(e2e.schema, profile.id) is True
    noted, not_sent, ambiguous = (e2e.settled(m.id) for m in (noted, not_sent, ambiguous))

    noted_bubble = e2e.sim_outgoing(PHONE, chat=NOTED)
    assert [m["text"] for m in noted_bubble] == ["Your code is 4821"]
    assert (noted.state, noted.wa_message_id, noted.attempts) == (MessageState.SENT, noted_bubble[0]["data_id"], 1)

    assert not_sent.state in (MessageState.SENT, MessageState.DELIVERED, MessageState.READ)
    assert not_sent.attempts == 1
    assert [m["text"] for m in e2e.sim_outgoing(PHONE, chat=NOT_SENT)] == ["Your code is 7765"]

    assert ambiguous.state == MessageState.UNCERTAIN
    assert "minutes only" in ambiguous.error_detail
    assert [m["text"] for m in e2e.sim_outgoing(PHONE, chat=AMBIGUOUS)] == ["Your code is 1200"]

    with e2e.tenant():
        details = set(OutboundMessage.objects.get(id=noted.id).events.values_list("detail", flat=True))
    assert details == {"reconciled after a worker died: found"}
    assert coordination.submit_note_get(e2e.schema, noted.id) is None
