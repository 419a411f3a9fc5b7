"""The sender host's loop with the null transport: claims, pacing and bookkeeping, no browser."""

import time

import pytest
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.contacts.models import Contact
from apps.senders.host import SenderHost
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import ledger
from apps.senders.transport import NullTransport


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live_profile(alpha_live, settings):
    settings.SENDER_IDLE_PARK_S = 0.5
    with tenant_context(alpha_live.tenant):
        profile = SenderProfile.objects.create(
            label="null", status="connected", pacing_preset="off", batch_size=0, per_contact_daily_cap=5
        )
        profile.session_state = b'{"cookies": [], "origins": []}'
        profile.save()
    yield alpha_live, profile
    with tenant_context(alpha_live.tenant):
        OutboundMessage.objects.filter(profile=profile).delete()
        Contact.objects.filter(phone__startswith="+91987650").delete()
        profile.delete()
    UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def test_host_sends_every_queued_message_once_and_parks(live_profile):
    world, profile = live_profile
    with tenant_context(world.tenant):
        for i in range(30):
            ledger.message_enqueue(to=f"+91987650{i:04d}", text=f"hello {i}", region="IN", profile=profile, kick=False)
        Contact.objects.create(phone="+919876500007", opted_out_at="2026-01-01T00:00:00Z")
    transports: list[NullTransport] = []

    def factory():
        transports.append(NullTransport())
        return transports[-1]

    host = SenderHost(transport_factory=factory)
    try:
        assert host.kick(world.tenant.schema_name, profile.id) is True
        with tenant_context(world.tenant):
            wait_for(
                lambda: not OutboundMessage.objects.filter(profile=profile, state__in=["queued", "sending"]).exists(),
                what="queue drained",
            )
            states = dict(OutboundMessage.objects.filter(profile=profile).values_list("to_number", "state"))
        wait_for(lambda: not host.active_profiles(), what="the profile to park")
    finally:
        host.shutdown()
    assert list(states.values()).count(MessageState.SENT) == 29
    assert states["+919876500007"] == MessageState.SKIPPED_OPTED_OUT
    assert len(transports[0].sent) == 29
    assert len(set(transports[0].sent)) == 29
    assert UsageRecord.objects.get(tenant=world.tenant).messages_sent == 29


def test_second_host_cannot_drive_a_leased_profile(live_profile):
    world, profile = live_profile
    with tenant_context(world.tenant):
        ledger.message_enqueue(to="+919876500001", text="hi", region="IN", profile=profile, kick=False)
    first, second = SenderHost(transport_factory=NullTransport), SenderHost(transport_factory=NullTransport)
    try:
        first.start()
        # Hold the first host's loop busy with a lease only, to see the second one refused.
        from apps.senders import coordination

        assert coordination.lease_acquire(world.tenant.schema_name, profile.id, first.identity, 30)
        assert second.kick(world.tenant.schema_name, profile.id) is False
        coordination.lease_release(world.tenant.schema_name, profile.id, first.identity)
        assert second.kick(world.tenant.schema_name, profile.id) is True
    finally:
        first.shutdown()
        second.shutdown()


def test_profile_daily_cap_pauses_the_profile_until_tomorrow(live_profile):
    world, profile = live_profile
    with tenant_context(world.tenant):
        SenderProfile.objects.filter(id=profile.id).update(daily_cap=3, warmup_enabled=False)
        for i in range(5):
            ledger.message_enqueue(to=f"+91987650{i:04d}", text=f"m{i}", region="IN", profile=profile, kick=False)
    host = SenderHost(transport_factory=NullTransport)
    try:
        host.kick(world.tenant.schema_name, profile.id)
        with tenant_context(world.tenant):
            wait_for(lambda: SenderProfile.objects.get(id=profile.id).paused_until is not None, what="pause")
            wait_for(lambda: not host.active_profiles(), what="park")
            counts = {s: OutboundMessage.objects.filter(profile=profile, state=s).count() for s in ("sent", "queued")}
    finally:
        host.shutdown()
    assert counts == {"sent": 3, "queued": 2}


def test_an_attachment_that_times_out_is_retried_and_then_sent_once(live_profile, settings):
    """A browser timeout in the attach flow is retryable: the row goes back to queued with a
    backoff (scaled down here), the next attempt sends it, and it is sent exactly once."""
    from django.utils import timezone

    from apps.senders.driver import session as drv_session

    settings.PACING_TIME_SCALE = 0.001  # the 30 s retry backoff → 0.03 s
    world, profile = live_profile
    with tenant_context(world.tenant):
        row = OutboundMessage.objects.create(
            profile=profile,
            to_number="+919876500001",
            body="Your invoice",
            media="templates/t_alpha/invoice.pdf",
            state=MessageState.QUEUED,
            queued_at=timezone.now(),
        )

    class FlakyAttach(NullTransport):
        def __init__(self) -> None:
            super().__init__()
            self.media_calls: list[str] = []

        async def send_media(self, digits, caption, media, **kwargs):
            self.media_calls.append(media)
            if len(self.media_calls) == 1:
                raise drv_session.StepTimeout("the attach menu did not open")
            return await super().send_media(digits, caption, media, **kwargs)

    transport = FlakyAttach()
    host = SenderHost(transport_factory=lambda: transport)
    try:
        assert host.kick(world.tenant.schema_name, profile.id) is True
        with tenant_context(world.tenant):
            wait_for(
                lambda: OutboundMessage.objects.get(id=row.id).state == MessageState.SENT,
                what="the attachment to be sent on its second attempt",
            )
            row.refresh_from_db()
    finally:
        host.shutdown()

    assert transport.media_calls == ["templates/t_alpha/invoice.pdf"] * 2
    assert transport.sent == [("919876500001", "Your invoice")]
    assert (row.attempts, row.error_code) == (2, "")
