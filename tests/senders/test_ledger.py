import threading
import uuid

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from apps.contacts.models import Contact
from apps.core.exceptions import Conflict, ValidationFailed
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import ledger


def enqueue(profile, to="+919876543210", text="Hello", **kw):
    return ledger.message_enqueue(to=to, text=text, region="IN", profile=profile, kick=False, **kw)


def test_enqueue_normalises_the_number_to_e164(profile):
    message = enqueue(profile, to="098765 43210").message
    assert message.to_number == "+919876543210"
    assert message.state == MessageState.QUEUED
    assert message.queued_at is not None


@pytest.mark.parametrize(
    ("to", "text", "code"),
    [
        ("12", "Hi", "invalid_number"),
        ("+919876543210", "   ", "empty_text"),
        ("+919876543210", "x" * 4097, "text_too_long"),
    ],
)
def test_enqueue_refuses_bad_input_and_stores_nothing(profile, to, text, code):
    with pytest.raises(ValidationFailed) as excinfo:
        enqueue(profile, to=to, text=text)
    assert excinfo.value.code == code
    assert OutboundMessage.objects.count() == 0


def test_enqueue_without_any_profile_is_refused(in_alpha):
    with pytest.raises(ValidationFailed) as excinfo:
        ledger.message_enqueue(to="+919876543210", text="Hi", region="IN", kick=False)
    assert excinfo.value.code == "no_sender_profile"


def test_idempotency_key_replay_returns_the_same_message(profile):
    first = enqueue(profile, idempotency_key="key-1")
    again = enqueue(profile, idempotency_key="key-1")
    assert first.created is True
    assert again.created is False
    assert again.message.id == first.message.id
    assert OutboundMessage.objects.count() == 1


def test_idempotency_key_with_another_request_is_a_conflict(profile):
    enqueue(profile, idempotency_key="key-2", text="One")
    with pytest.raises(Conflict):
        enqueue(profile, idempotency_key="key-2", text="Two")
    assert OutboundMessage.objects.count() == 1


def test_claim_moves_rows_to_sending_oldest_first(profile):
    ids = [enqueue(profile, text=f"m{i}").message.id for i in range(3)]
    claimed = ledger.messages_claim(profile_id=profile.id, holder="w1", limit=2)
    assert [c.id for c in claimed] == ids[:2]
    assert all(c.attempts == 1 for c in claimed)
    states = dict(OutboundMessage.objects.values_list("id", "state"))
    assert states == {ids[0]: "sending", ids[1]: "sending", ids[2]: "queued"}


def test_claim_flags_opted_out_contacts(profile):
    Contact.objects.create(phone="+919876543210", opted_out_at="2026-01-01T00:00:00Z")
    enqueue(profile)
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    assert claim.opted_out is True
    ledger.messages_mark_skipped_opted_out(claims=[(claim.id, claim.claim_token)])
    message = OutboundMessage.objects.get()
    assert message.state == MessageState.SKIPPED_OPTED_OUT
    assert message.attempts == 0


def test_mark_sent_needs_the_current_claim_token(profile):
    enqueue(profile)
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    assert ledger.message_mark_sent(message_id=claim.id, claim_token=uuid.uuid4(), wa_message_id="x") is False
    assert OutboundMessage.objects.get().state == MessageState.SENDING
    assert ledger.message_mark_sent(message_id=claim.id, claim_token=claim.claim_token, wa_message_id="wa-1") is True
    message = OutboundMessage.objects.get()
    assert (message.state, message.wa_message_id, message.claim_token) == ("sent", "wa-1", None)


def test_acks_only_move_forward(profile):
    enqueue(profile)
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    ledger.message_mark_sent(message_id=claim.id, claim_token=claim.claim_token, wa_message_id="wa-1")
    assert ledger.message_mark_ack(profile_id=profile.id, wa_message_id="wa-1", state="read") is True
    assert ledger.message_mark_ack(profile_id=profile.id, wa_message_id="wa-1", state="delivered") is False
    message = OutboundMessage.objects.get()
    assert message.state == "read"
    assert message.delivered_at is not None and message.read_at is not None


def test_retryable_failures_back_off_then_fail_after_three_attempts(profile):
    message_id = enqueue(profile).message.id
    states = []
    for _ in range(3):
        OutboundMessage.objects.filter(id=message_id).update(next_attempt_at=None)
        (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
        states.append(
            ledger.message_mark_failed(
                message_id=claim.id, claim_token=claim.claim_token, code="timeout", retryable=True
            )
        )
    assert states == ["queued", "queued", "failed"]
    message = OutboundMessage.objects.get()
    assert message.attempts == 3
    assert [e.detail for e in message.events.all()] == [
        "attempt 1: timeout (will retry)",
        "attempt 2: timeout (will retry)",
        "attempt 3: timeout",
    ]


def test_retry_waits_for_its_backoff(profile):
    enqueue(profile)
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    ledger.message_mark_failed(message_id=claim.id, claim_token=claim.claim_token, code="timeout", retryable=True)
    assert ledger.messages_claim(profile_id=profile.id, holder="w1") == []


def test_invalid_number_is_final_without_retry(profile):
    enqueue(profile)
    (claim,) = ledger.messages_claim(profile_id=profile.id, holder="w1")
    state = ledger.message_mark_failed(
        message_id=claim.id, claim_token=claim.claim_token, code="invalid_number", retryable=False
    )
    assert state == "invalid_number"
    assert ledger.messages_claim(profile_id=profile.id, holder="w1") == []


@pytest.mark.parametrize(
    ("outcome", "state", "attempts"),
    [("found", "sent", 1), ("not_found", "queued", 0), ("undecidable", "uncertain", 1)],
)
def test_orphaned_rows_are_reconciled_never_blindly_resent(profile, outcome, state, attempts):
    enqueue(profile)
    ledger.messages_claim(profile_id=profile.id, holder="dead-worker")
    (orphan,) = ledger.messages_orphaned(profile_id=profile.id)
    assert ledger.message_reconcile(message_id=orphan.id, outcome=outcome) == state
    message = OutboundMessage.objects.get()
    assert (message.state, message.attempts) == (state, attempts)


def test_concurrent_claims_never_share_a_row(alpha_live):
    alpha = alpha_live
    with tenant_context(alpha.tenant):
        profile = SenderProfile.objects.create(label="concurrency", status="connected")
        OutboundMessage.objects.bulk_create(
            [OutboundMessage(profile=profile, to_number=f"+9198765{i:05d}", body="x") for i in range(200)]
        )
    results: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        try:
            with tenant_context(alpha.tenant):
                got: list[int] = []
                while batch := ledger.messages_claim(profile_id=profile.id, holder=name, limit=7):
                    got += [c.id for c in batch]
                results[name] = got
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        claimed = [i for ids in results.values() for i in ids]
        assert len(claimed) == 200
        assert len(set(claimed)) == 200
    finally:
        with tenant_context(alpha.tenant):
            OutboundMessage.objects.filter(profile=profile).delete()
            profile.delete()
