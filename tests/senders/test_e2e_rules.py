"""The rules the end-to-end behaviour rests on, checked without a browser: reading bubble times,
deciding a reconciliation, retry backoff on the scaled clock, never saving a logged-out session,
forgiving rate-limit strikes, the `connecting` status, and parking on worker shutdown."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from celery.signals import worker_process_shutdown, worker_shutdown, worker_shutting_down
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.senders import coordination, tasks
from apps.senders.driver import session as drv
from apps.senders.host import SenderHost, received_at, reconcile_decision
from apps.senders.models import OutboundMessage, SenderProfile
from apps.senders.services import ledger, profiles
from apps.senders.transport import NullTransport
from tests.senders.e2e_support import wait_for

FOUND, NOT_FOUND, UNDECIDABLE = (
    ledger.ReconcileOutcome.FOUND,
    ledger.ReconcileOutcome.NOT_FOUND,
    ledger.ReconcileOutcome.UNDECIDABLE,
)


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 3, 4, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("meta", "times", "name"),
    [
        ("[14:05, 04/03/2026] Asha: ", (at(14, 5), datetime(2026, 4, 3, 14, 5, tzinfo=UTC)), "Asha"),
        (
            "[2:05 PM, 3/4/2026] +91 98220 00001: ",
            (datetime(2026, 4, 3, 14, 5, tzinfo=UTC), at(14, 5)),
            "+91 98220 00001",
        ),
        ("[12:30 am, 31/12/2025] Me: ", (datetime(2025, 12, 31, 0, 30, tzinfo=UTC),), "Me"),
        ("[09:15, 2026-03-04] Bob: ", (at(9, 15),), "Bob"),
        ("[9:15, yesterday] Bob: ", (), "Bob"),
        ("", (), ""),
    ],
)
def test_bubble_times_are_read_in_every_plausible_date_order(meta, times, name):
    assert drv.parse_pre_plain(meta) == (times, name)


def test_an_incoming_message_gets_its_own_minute_unless_that_minute_is_now():
    now = at(14, 7) + timedelta(seconds=20)
    assert received_at((at(14, 5),), now) == at(14, 5)
    assert received_at((at(14, 7),), now) == now
    # Day and month swapped would be in the future: the other reading wins.
    assert received_at((datetime(2026, 4, 3, 14, 5, tzinfo=UTC), at(14, 5)), now) == at(14, 5)
    assert received_at((), now) == now


def bubble(wa_id: str, text: str, minute: datetime | None, status: str = "read") -> drv.BubbleStatus:
    return drv.BubbleStatus(wa_message_id=wa_id, text=text, status=status, at=(minute,) if minute else ())


CLAIM = at(14, 5) + timedelta(seconds=30)


@pytest.mark.parametrize(
    ("bubbles", "known", "note", "expected"),
    [
        # With the submit note: only bubbles after the anchor can be it.
        ([bubble("old", "Hi", at(14, 5)), bubble("new", "Hi", at(14, 5))], set(), "old", (FOUND, "new")),
        ([bubble("old", "Hi", at(14, 5))], set(), "old", (NOT_FOUND, "")),
        ([bubble("new", "Hi", at(14, 5))], set(), "", (FOUND, "new")),
        ([], set(), "", (NOT_FOUND, "")),
        ([bubble("new", "Hi  there", at(14, 5))], set(), "", (UNDECIDABLE, "")),
        ([bubble("new", "Hi", at(14, 5), status="pending")], set(), "", (UNDECIDABLE, "")),
        ([bubble("mine", "Hi", at(14, 5))], {"mine"}, "", (NOT_FOUND, "")),
        # An old identical text is not it, even when the note's anchor is off screen.
        ([bubble("older", "Hi", at(13, 0))], set(), "", (NOT_FOUND, "")),
        # Without the note: by time, to the minute.
        ([bubble("b", "Hi", at(14, 7))], set(), None, (FOUND, "b")),
        ([bubble("b", "Hi", at(14, 5))], set(), None, (UNDECIDABLE, "")),
        ([bubble("b", "Hi", at(14, 4))], set(), None, (NOT_FOUND, "")),
        ([bubble("b", "Hi", at(14, 3))], set(), None, (NOT_FOUND, "")),
        ([bubble("b", "Hi", at(14, 7))], {"b"}, None, (NOT_FOUND, "")),
        ([bubble("b", "Hi", None)], set(), None, (UNDECIDABLE, "")),
        ([bubble("", "Hi", at(14, 7))], set(), None, (UNDECIDABLE, "")),
        ([bubble("b", "Bye", at(14, 7))], set(), None, (NOT_FOUND, "")),
        ([bubble("b", "Hi", at(14, 7))], set(), "gone-anchor", (FOUND, "b")),
    ],
)
def test_reconcile_decision(bubbles, known, note, expected):
    outcome, wa_id, why = reconcile_decision(
        bubbles=bubbles, body="Hi", claimed_at=CLAIM, known_ids=known, note_anchor=note
    )
    assert (outcome, wa_id) == expected
    assert bool(why) == (outcome == UNDECIDABLE)


def test_reconcile_leaves_a_bubble_within_the_clock_margin_of_the_claim_undecided():
    outcome, _wa_id, _why = reconcile_decision(
        bubbles=[bubble("b", "Hi", at(14, 6))],
        body="Hi",
        claimed_at=at(14, 5) + timedelta(seconds=55),
        known_ids=set(),
        note_anchor=None,
    )
    assert outcome == UNDECIDABLE


def test_reconcile_compares_text_without_whitespace_differences():
    assert reconcile_decision(
        bubbles=[bubble("b", "Line one\nline  two", at(14, 5))],
        body="Line one line two",
        claimed_at=CLAIM,
        known_ids=set(),
        note_anchor="",
    ) == (FOUND, "b", "")


def test_retry_backoff_follows_the_time_scale(profile, settings):
    settings.PACING_TIME_SCALE = 0.01
    message = ledger.message_enqueue(to="+919876543210", text="Hi", region="IN", profile=profile, kick=False).message
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    before = timezone.now()
    ledger.message_mark_failed(message_id=claim.id, claim_token=claim.claim_token, code="timeout", retryable=True)
    message.refresh_from_db()
    assert timedelta(seconds=0.29) <= message.next_attempt_at - before <= timedelta(seconds=1.3)

    settings.PACING_TIME_SCALE = 1.0
    OutboundMessage.objects.filter(id=message.id).update(next_attempt_at=None)
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    before = timezone.now()
    ledger.message_mark_failed(message_id=claim.id, claim_token=claim.claim_token, code="timeout", retryable=True)
    message.refresh_from_db()
    assert timedelta(seconds=120) <= message.next_attempt_at - before <= timedelta(seconds=121)


def test_a_logged_out_profile_never_gets_its_session_saved_back(profile):
    profile.session_state = b'{"cookies": [], "origins": []}'
    profile.save()
    profiles.profile_logout(profile=profile)

    assert profiles.profile_session_save(profile_id=profile.id, state=b'{"stale": true}') is False
    profile.refresh_from_db()
    assert profile.session_state is None
    assert profile.session_saved_at is None


def test_a_connected_profile_saves_its_session(profile):
    assert profiles.profile_session_save(profile_id=profile.id, state=b'{"fresh": true}') is True
    profile.refresh_from_db()
    assert profile.session_state == b'{"fresh": true}'


def test_rate_limit_strikes_are_forgiven_after_a_clean_window(profile, settings):
    settings.PACING_TIME_SCALE = 0.0001  # 6 h -> about 2 s; the 15 min pause -> 0.09 s
    profiles.profile_rate_limited(profile_id=profile.id, detail="test")
    profiles.profile_rate_limited(profile_id=profile.id, detail="test")
    profile.refresh_from_db()
    assert profile.rate_limit_strikes == 2

    # Sending right after the pause is not a clean window yet.
    assert profiles.profile_strikes_forgive(profile_id=profile.id) is False
    profile.refresh_from_db()
    assert profile.rate_limit_strikes == 2
    # Three (scaled) seconds of sending since the pause ended: strikes start over.
    coordination.client().set(profiles.strikes_key(connection.schema_name, profile.id), time.time() - 3)
    assert profiles.profile_strikes_forgive(profile_id=profile.id) is True
    profile.refresh_from_db()
    assert profile.rate_limit_strikes == 0


def test_strikes_without_a_record_start_a_clean_window_instead_of_being_forgiven(profile):
    SenderProfile.objects.filter(id=profile.id).update(rate_limit_strikes=3)
    assert profiles.profile_strikes_forgive(profile_id=profile.id) is False
    profile.refresh_from_db()
    assert profile.rate_limit_strikes == 3


class _BrokenBrowser(NullTransport):
    async def open(self) -> str:
        raise drv.BrowserCrashed("chromium would not start")


@pytest.fixture
def stored_profile(alpha_live):
    with tenant_context(alpha_live.tenant):
        profile = SenderProfile.objects.create(label="stored", status="connected", pacing_preset="off")
        profile.session_state = b'{"cookies": [], "origins": []}'
        profile.save()
    yield alpha_live, profile
    with tenant_context(alpha_live.tenant):
        profile.delete()


def test_a_session_that_cannot_be_opened_goes_back_to_connected_for_a_retry(stored_profile):
    world, profile = stored_profile
    host = SenderHost(transport_factory=_BrokenBrowser)
    try:
        assert host.kick(world.tenant.schema_name, profile.id) is True
        wait_for(lambda: not host.active_profiles(), what="the runner to give up")
    finally:
        host.shutdown()
    with tenant_context(world.tenant):
        profile.refresh_from_db()
    assert profile.status == SenderProfile.Status.CONNECTED
    assert profile.status_detail == "WhatsApp Web could not be opened; retrying."
    assert profile.session_state == b'{"cookies": [], "origins": []}'
    assert coordination.lease_holder(world.tenant.schema_name, profile.id) is None


def test_a_profile_left_connecting_is_offered_to_the_workers_again(profile):
    SenderProfile.objects.filter(id=profile.id).update(status=SenderProfile.Status.CONNECTING)
    ledger.message_enqueue(to="+919876543210", text="Hi", region="IN", profile=profile, kick=False)
    assert tasks.profiles_needing_a_driver() == [profile.id]


def test_a_row_left_sending_by_a_dead_driver_gets_its_profile_a_driver(profile):
    message = ledger.message_enqueue(to="+919876543210", text="Hi", region="IN", profile=profile, kick=False).message
    ledger.messages_claim(profile_id=profile.id, holder="w1")
    assert tasks.profiles_needing_a_driver() == []  # claimed just now: its driver is alive
    OutboundMessage.objects.filter(id=message.id).update(claimed_at=timezone.now() - timedelta(minutes=5))
    assert tasks.profiles_needing_a_driver() == [profile.id]


def test_sender_hosts_park_in_the_process_that_owns_them_on_shutdown(monkeypatch):
    from apps.senders import host as host_module

    receivers = {
        signal: {ref() for _key, ref in signal.receivers}
        for signal in (worker_process_shutdown, worker_shutdown, worker_shutting_down)
    }
    assert tasks.park_profiles_on_shutdown in receivers[worker_process_shutdown]
    assert tasks.park_profiles_on_shutdown in receivers[worker_shutdown]
    assert tasks.park_profiles_on_shutdown not in receivers[worker_shutting_down]

    calls = []

    class FakeHost:
        def shutdown(self, timeout: float) -> None:
            calls.append(timeout)

    monkeypatch.setattr(host_module, "_host", None)
    worker_process_shutdown.send(sender="test", pid=1, exitcode=0)
    assert calls == []  # a process without a host (the prefork parent) has nothing to park
    monkeypatch.setattr(host_module, "_host", FakeHost())
    worker_process_shutdown.send(sender="test", pid=1, exitcode=0)
    assert calls == [tasks.SHUTDOWN_PARK_TIMEOUT_S]
