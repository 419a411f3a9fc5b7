"""End to end against the simulator: a campaign sent by the real sender host through Chromium,
paused, resumed and cancelled — every recipient gets its personalised text exactly once, and
nothing goes out while the campaign is paused or after it is cancelled."""

from __future__ import annotations

import time

import pytest

from apps.campaigns.models import Campaign
from apps.campaigns.services import lifecycle, progress
from apps.contacts.models import Contact
from apps.senders.models import OutboundMessage
from tests.campaigns.conftest import make_campaign, start
from tests.senders.conftest import e2e  # noqa: F401 - fixture
from tests.senders.e2e_support import wait_for
from tests.simulator.conftest import simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

PHONE = "919811100077"
# After a pause or cancel, one message may already be on its way (claimed and being typed);
# this long without another shows the sender stopped.
QUIET_S = 2.0


def recipients(count: int, start_at: int) -> list[Contact]:
    return Contact.objects.bulk_create(
        [Contact(phone=f"+919811106{start_at + i:03d}", name=f"Guest {start_at + i}") for i in range(count)]
    )


def chats_sent(e2e, contacts: list[Contact]) -> list[str]:  # noqa: F811
    wanted = {c.phone.lstrip("+") for c in contacts}
    return [m["chat"] for m in e2e.sim_outgoing(PHONE) if m["chat"] in wanted]


def test_a_campaign_is_paused_resumed_and_cancelled_on_the_simulator(e2e):  # noqa: F811
    profile = e2e.profile()
    host = e2e.host()
    e2e.link(host, profile, PHONE)
    made: list[int] = []
    try:
        with e2e.tenant():
            guests = recipients(6, 0)
            # The "safe" override paces each message 10–30 s apart (0.1–0.3 s at the test's
            # time scale), so a pause lands between messages.
            campaign = make_campaign(
                profiles=[profile],
                audience_all=True,
                body="Hello {{name}}, your table is ready",
                pacing_override="safe",
            )
            made.append(campaign.id)
            start(campaign)
        host.kick(e2e.schema, profile.id)
        wait_for(lambda: len(chats_sent(e2e, guests)) >= 2, timeout=60, what="two messages on the simulator")

        with e2e.tenant():
            lifecycle.campaign_pause(campaign=campaign)
        time.sleep(QUIET_S)
        at_pause = chats_sent(e2e, guests)
        time.sleep(QUIET_S)
        with e2e.tenant():
            paused_counts = progress.run_counts(progress.latest_run(campaign))

        assert chats_sent(e2e, guests) == at_pause
        assert 2 <= len(at_pause) <= 3
        sent_states = sum(n for s, n in paused_counts.items() if s in ("sent", "delivered", "read"))
        assert (sent_states, paused_counts.get("held")) == (len(at_pause), 6 - len(at_pause))

        with e2e.tenant():
            campaign.refresh_from_db()
            lifecycle.campaign_resume(campaign=campaign)
        host.kick(e2e.schema, profile.id)
        wait_for(lambda: len(chats_sent(e2e, guests)) >= 6, timeout=60, what="the rest after the resume")
        time.sleep(QUIET_S)

        everyone = chats_sent(e2e, guests)
        assert sorted(everyone) == sorted(g.phone.lstrip("+") for g in guests)  # each exactly once
        texts = {m["chat"]: m["text"] for m in e2e.sim_outgoing(PHONE)}
        assert texts["919811106004"] == "Hello Guest 4, your table is ready"
        with e2e.tenant():
            rows = list(OutboundMessage.objects.filter(campaign_id=campaign.id).values_list("state", "attempts"))
        assert all(state in ("sent", "delivered", "read") and attempts == 1 for state, attempts in rows)

        # A second campaign, cancelled after its first message: nothing more goes out.
        with e2e.tenant():
            others = recipients(5, 100)
            second = make_campaign(
                profiles=[profile],
                groups=[],
                audience_filter={"rules": [{"field": "name", "op": "contains", "value": "Guest 10"}]},
                body="Last call, {{name}}!",
                pacing_override="safe",
                name="Second",
            )
            made.append(second.id)
            start(second)
        host.kick(e2e.schema, profile.id)
        wait_for(lambda: len(chats_sent(e2e, others)) >= 1, timeout=60, what="the second campaign's first message")
        with e2e.tenant():
            lifecycle.campaign_cancel(campaign=second)
        time.sleep(QUIET_S)
        at_cancel = chats_sent(e2e, others)
        time.sleep(QUIET_S)
        with e2e.tenant():
            cancelled_counts = progress.run_counts(progress.latest_run(second))
            second.refresh_from_db()

        assert chats_sent(e2e, others) == at_cancel
        assert 1 <= len(at_cancel) <= 2
        assert second.state == Campaign.State.CANCELLED
        sent_states = sum(n for s, n in cancelled_counts.items() if s in ("sent", "delivered", "read"))
        assert (sent_states, cancelled_counts.get("cancelled")) == (len(at_cancel), 5 - len(at_cancel))
    finally:
        with e2e.tenant():
            OutboundMessage.objects.filter(campaign_id__in=made).delete()
            Campaign.objects.filter(id__in=made).delete()
            Contact.objects.filter(phone__startswith="+919811106").delete()
