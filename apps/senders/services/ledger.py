"""The outbound message ledger: enqueue, claim, and every state change of a message.

Invariants (DESIGN.md, sending invariants 1, 2 and 9):
- A row is claimed with SELECT … FOR UPDATE SKIP LOCKED and moves queued → sending with a fresh
  claim token; only the holder of that token may record the outcome, so a slow or split-brained
  worker can never overwrite the work of the next one.
- A row is sent at most once: a row left in `sending` by a worker that died is never simply
  re-queued. The next driver of the profile reconciles it against the chat first (found → sent,
  not found → queued again, undecidable → uncertain).
- Retryable failures (timeouts, browser crash, navigation) go back to `queued` with exponential
  backoff until MAX_ATTEMPTS; final failures (invalid number, opted out, bad data) are recorded
  and never retried.
- A number on the suppression list (contacts_suppressednumber) is never sent to: a single send is
  refused, waiting rows are skipped when the number is added, and the claim skips any it meets.
All functions work in the current tenant schema (the caller's connection).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from apps.contacts.models import SuppressedNumber
from apps.core.exceptions import Conflict, NotFound, ValidationFailed
from apps.senders import coordination
from apps.senders.models import FINAL_STATES, MessageEvent, MessageState, OutboundMessage, SenderProfile

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Backoff before retry n (1-based): BASE * 4^(n-1) seconds -> 30 s, 2 min, 8 min (times
# PACING_TIME_SCALE, 1.0 in production; tests shrink it like every other sending delay).
RETRY_BASE_S = 30
MAX_BODY_CHARS = 4096


class LedgerError:
    NO_SENDER = "no_sender_profile"
    INVALID_NUMBER = "invalid_number"
    EMPTY_TEXT = "empty_text"
    TEXT_TOO_LONG = "text_too_long"
    IDEMPOTENCY_REUSED = "idempotency_key_reused"
    NUMBER_SUPPRESSED = "number_suppressed"


@dataclass(frozen=True)
class Enqueued:
    message: OutboundMessage
    created: bool


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    to_number: str
    body: str
    attempts: int
    claim_token: uuid.UUID
    opted_out: bool
    campaign_id: int | None = None
    # The attachment's storage name ("" for text only): the driver sends it with `body` as caption.
    media: str = ""


def normalize_number(raw: str, *, region: str) -> str:
    """E.164 (`+919876543210`) or ValidationFailed with code invalid_number."""
    try:
        parsed = phonenumbers.parse(str(raw).strip(), region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"'{raw}' is not a phone number.", code=LedgerError.INVALID_NUMBER) from exc
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(f"'{raw}' is not a valid phone number.", code=LedgerError.INVALID_NUMBER)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _event(message_id: int, state: str, detail: str = "", at: datetime | None = None) -> MessageEvent:
    return MessageEvent(message_id=message_id, state=state, at=at or timezone.now(), detail=detail[:500])


def _pick_profile(profile: SenderProfile | None) -> SenderProfile:
    if profile is not None:
        if profile.status == SenderProfile.Status.BANNED:
            raise ValidationFailed("This WhatsApp number is banned.", code="profile_banned")
        return profile
    # The connected profile with the least queued work; any linked one as a fallback.
    candidates = SenderProfile.objects.exclude(status=SenderProfile.Status.BANNED)
    chosen = (
        candidates.filter(status=SenderProfile.Status.CONNECTED)
        .annotate(queued=Count("messages", filter=Q(messages__state=MessageState.QUEUED)))
        .order_by("queued", "id")
        .first()
    ) or candidates.order_by("id").first()
    if chosen is None:
        raise ValidationFailed("Link a WhatsApp number before sending.", code=LedgerError.NO_SENDER)
    return chosen


def request_fingerprint(*, to: str, text: str, profile_id: int | None) -> str:
    return hashlib.sha256(f"{to}\x00{text}\x00{profile_id or ''}".encode()).hexdigest()


def message_enqueue(
    *,
    to: str,
    text: str,
    region: str,
    profile: SenderProfile | None = None,
    idempotency_key: str | None = None,
    campaign_id: int | None = None,
    recipient_ref: str = "",
    kick: bool = True,
) -> Enqueued:
    """Queue one message. With an Idempotency-Key, a replay of the same request returns the
    message made the first time (created=False); the same key with a different request is a
    Conflict. A number on the suppression list is a Conflict (number_suppressed) and nothing is
    written. Quotas and pacing are applied when it is sent, like campaign messages."""
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("The message text is empty.", code=LedgerError.EMPTY_TEXT)
    if len(text) > MAX_BODY_CHARS:
        raise ValidationFailed(f"Messages are limited to {MAX_BODY_CHARS} characters.", code=LedgerError.TEXT_TOO_LONG)
    number = normalize_number(to, region=region)
    fingerprint = request_fingerprint(to=number, text=text, profile_id=profile.id if profile else None)
    if idempotency_key:
        existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _replay(existing, fingerprint)
    if SuppressedNumber.objects.filter(phone=number).exists():
        raise Conflict(
            "This number is on the suppression list.", code=LedgerError.NUMBER_SUPPRESSED, details={"to": number}
        )
    chosen = _pick_profile(profile)
    now = timezone.now()
    try:
        with transaction.atomic():
            message = OutboundMessage.objects.create(
                profile=chosen,
                to_number=number,
                body=text,
                campaign_id=campaign_id,
                recipient_ref=recipient_ref,
                idempotency_key=idempotency_key or None,
                request_fingerprint=fingerprint if idempotency_key else "",
                queued_at=now,
            )
            if kick:
                from apps.senders import tasks

                schema = connection.schema_name
                transaction.on_commit(lambda: tasks.profile_kick(chosen.id, schema=schema))
    except IntegrityError:
        # A concurrent request with the same key won the insert.
        return _replay(OutboundMessage.objects.get(idempotency_key=idempotency_key), fingerprint)
    logger.info("message.queued", extra={"message_id": message.id, "profile_id": chosen.id})
    return Enqueued(message=message, created=True)


def _replay(existing: OutboundMessage, fingerprint: str) -> Enqueued:
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used for a different request.", code=LedgerError.IDEMPOTENCY_REUSED)
    return Enqueued(message=existing, created=False)


# --- claiming ----------------------------------------------------------------------------------

# Campaign rows are claimable only while their campaign is running: pause, resume and cancel
# (apps.campaigns.services) flip the campaign's state, which stops claims at once, and rows of a
# campaign that no longer exists are never sent. Rows without a campaign (single sends) are not
# affected. Few campaigns run at a time, so the subquery is a small hash.
_RUNNING_CAMPAIGNS_SQL = "SELECT id FROM campaigns_campaign WHERE state = 'running'"
_CAMPAIGN_GATE_SQL = f"(campaign_id IS NULL OR campaign_id IN ({_RUNNING_CAMPAIGNS_SQL}))"


def campaign_gate_q() -> Q:
    """The claim's campaign condition for ORM queries over the ledger."""
    running = RawSQL(_RUNNING_CAMPAIGNS_SQL, ())  # noqa: S611 - a constant, no parameters
    return Q(campaign_id__isnull=True) | Q(campaign_id__in=running)


def campaign_sending_allowed(*, campaign_id: int) -> bool:
    """Whether a claimed row of this campaign may still be sent (re-checked by the host after a
    pacing wait and within long batches, so a pause lands before the next message)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (" + _RUNNING_CAMPAIGNS_SQL + " AND id = %s)", [campaign_id])
        return bool(cursor.fetchone()[0])


def requeue_state(campaign_id: int | None) -> str:
    """Where a claimed row that was not sent goes back to (a retry, a release, a reconciliation
    that found nothing): `queued` — unless its campaign is no longer running: `held` while it is
    paused (resume re-queues it), `cancelled` once it is cancelled or deleted. Call inside the transaction
    that writes the row: the campaign row is read FOR SHARE, so a pause or cancel that commits
    meanwhile waits, and its own UPDATE of the campaign's rows then sees this one."""
    if campaign_id is None:
        return MessageState.QUEUED
    with connection.cursor() as cursor:
        cursor.execute("SELECT state FROM campaigns_campaign WHERE id = %s FOR SHARE", [campaign_id])
        row = cursor.fetchone()
    if row is not None and row[0] == "running":
        return MessageState.QUEUED
    # A deleted campaign's row is cancelled with it.
    return MessageState.CANCELLED if row is None or row[0] == "cancelled" else MessageState.HELD


# The claim locks the due rows, then in the same statement records those whose number is on the
# suppression list as `skipped_suppressed` (with an event) and moves the rest to `sending`: a
# number suppressed after its row was queued is never sent, whichever path queued the row. One
# unique-index probe of contacts_suppressednumber.phone per row. Opt-out is re-checked as a flag
# the caller acts on (it skips the row after the claim).
_CLAIM_SQL = """
WITH picked AS (
    SELECT o.id,
        EXISTS (SELECT 1 FROM contacts_suppressednumber s WHERE s.phone = o.to_number) AS suppressed
    FROM senders_outboundmessage o
    WHERE o.profile_id = %(profile_id)s AND o.state = 'queued'
      AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
      AND {gate}
      {only_ids}
    ORDER BY o.id
    LIMIT %(limit)s
    FOR UPDATE OF o SKIP LOCKED
), skipped AS (
    UPDATE senders_outboundmessage AS m
    SET state = 'skipped_suppressed', error_code = 'suppressed', failed_at = now(), next_attempt_at = NULL
    FROM picked
    WHERE m.id = picked.id AND picked.suppressed
    RETURNING m.id
), skip_events AS (
    INSERT INTO senders_messageevent (message_id, state, at, detail)
    SELECT id, 'skipped_suppressed', now(), 'number on the suppression list' FROM skipped
)
UPDATE senders_outboundmessage AS m
SET state = 'sending', claim_token = %(token)s, claimed_at = now(), claimed_by = %(holder)s,
    attempts = m.attempts + 1, sending_at = now()
FROM picked
WHERE m.id = picked.id AND NOT picked.suppressed
RETURNING m.id, m.to_number, m.body, m.attempts,
    EXISTS (SELECT 1 FROM contacts_contact c WHERE c.phone = m.to_number AND c.opted_out_at IS NOT NULL),
    m.campaign_id, m.media
"""


def messages_claim(
    *, profile_id: int, holder: str, limit: int = 1, message_ids: list[int] | None = None
) -> list[ClaimedMessage]:
    """Claim up to `limit` due queued messages of a profile (only among `message_ids` when
    given), oldest first, skipping rows another transaction holds. Each claimed row is `sending`
    under one new claim token; `opted_out` tells the caller to skip it instead of sending. Rows
    to a suppressed number are recorded `skipped_suppressed` instead and not returned."""
    token = uuid.uuid4()
    sql = _CLAIM_SQL.format(
        gate=_CAMPAIGN_GATE_SQL, only_ids="AND o.id = ANY(%(ids)s)" if message_ids is not None else ""
    )
    if message_ids is not None:
        limit = len(message_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {"token": token, "holder": holder[:200], "profile_id": profile_id, "limit": limit, "ids": message_ids},
        )
        rows = cursor.fetchall()
    rows.sort(key=lambda row: row[0])
    return [
        ClaimedMessage(
            id=r[0],
            to_number=r[1],
            body=r[2],
            attempts=r[3],
            claim_token=token,
            opted_out=r[4],
            campaign_id=r[5],
            media=r[6],
        )
        for r in rows
    ]


def next_due_messages(*, profile_id: int, limit: int = 1) -> list[OutboundMessage]:
    """Peek (no lock) at the next messages a profile would send: pacing is reserved for them
    before they are claimed."""
    now = timezone.now()
    return list(
        OutboundMessage.objects.filter(profile_id=profile_id, state=MessageState.QUEUED)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .filter(campaign_gate_q())
        .order_by("id")
        .only("id", "to_number", "body", "campaign_id")[:limit]
    )


def next_due_at(*, profile_id: int) -> datetime | None:
    """When the profile next has something to send (None: nothing queued)."""
    queued = OutboundMessage.objects.filter(profile_id=profile_id, state=MessageState.QUEUED).filter(campaign_gate_q())
    row = queued.order_by(F("next_attempt_at").asc(nulls_first=True)).values_list("next_attempt_at", flat=True).first()
    if row is None and not queued.exists():
        return None
    return row or timezone.now()


# --- outcomes ----------------------------------------------------------------------------------


def messages_mark_sent(*, claims: list[tuple[int, uuid.UUID, str]], at: datetime | None = None) -> int:
    """Record sends: (message id, claim token, WhatsApp message id). Rows whose claim token is
    no longer theirs are left alone. An earlier attempt's error is cleared (its event stays in
    the history): a sent row shows no error. Returns how many rows changed."""
    if not claims:
        return 0
    at = at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE senders_outboundmessage AS m
            SET state = 'sent', sent_at = %s, wa_message_id = v.wa_id, claim_token = NULL,
                error_code = '', error_detail = ''
            FROM (SELECT unnest(%s::bigint[]) AS id, unnest(%s::uuid[]) AS token, unnest(%s::text[]) AS wa_id) AS v
            WHERE m.id = v.id AND m.claim_token = v.token AND m.state = 'sending'
            """,
            [at, [c[0] for c in claims], [c[1] for c in claims], [c[2] for c in claims]],
        )
        return cursor.rowcount


def message_mark_sent(*, message_id: int, claim_token: uuid.UUID, wa_message_id: str = "") -> bool:
    return messages_mark_sent(claims=[(message_id, claim_token, wa_message_id)]) == 1


_ACK_ORDER = {MessageState.SENT: 0, MessageState.DELIVERED: 1, MessageState.READ: 2}


def message_mark_ack(*, profile_id: int, wa_message_id: str, state: str, at: datetime | None = None) -> bool:
    """Delivered/read ticks. Only moves forward (sent → delivered → read)."""
    if state not in (MessageState.DELIVERED, MessageState.READ):
        raise ValueError(state)
    at = at or timezone.now()
    earlier = [s for s, rank in _ACK_ORDER.items() if rank < _ACK_ORDER[state]]
    fields = (
        {"state": state, "delivered_at": at} if state == MessageState.DELIVERED else {"state": state, "read_at": at}
    )
    if state == MessageState.READ:
        # A read message was delivered too, even if that tick was never seen.
        OutboundMessage.objects.filter(
            profile_id=profile_id, wa_message_id=wa_message_id, delivered_at__isnull=True
        ).update(delivered_at=at)
    return bool(
        OutboundMessage.objects.filter(profile_id=profile_id, wa_message_id=wa_message_id, state__in=earlier).update(
            **fields
        )
    )


def message_mark_failed(
    *, message_id: int, claim_token: uuid.UUID, code: str, detail: str = "", retryable: bool
) -> str | None:
    """Record a failed attempt. Retryable and under MAX_ATTEMPTS → queued again with backoff;
    otherwise final (`invalid_number` for that code, else `failed`). Returns the new state, or
    None when the claim was no longer ours."""
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .filter(id=message_id, claim_token=claim_token, state=MessageState.SENDING)
            .first()
        )
        if message is None:
            return None
        now = timezone.now()
        message.error_code = code[:40]
        message.error_detail = detail[:500]
        message.claim_token = None
        if retryable and message.attempts < MAX_ATTEMPTS:
            message.state = requeue_state(message.campaign_id)
            backoff_s = RETRY_BASE_S * 4 ** (message.attempts - 1) * coordination.time_scale()
            message.next_attempt_at = now + timedelta(seconds=backoff_s)
        elif code == LedgerError.INVALID_NUMBER:
            message.state = MessageState.INVALID_NUMBER
            message.failed_at = now
        else:
            message.state = MessageState.FAILED
            message.failed_at = now
        message.save(
            update_fields=["state", "error_code", "error_detail", "claim_token", "next_attempt_at", "failed_at"]
        )
        MessageEvent.objects.create(
            message=message,
            state=message.state,
            at=now,
            detail=f"attempt {message.attempts}: {code}{' (will retry)' if message.state in (MessageState.QUEUED, MessageState.HELD) else ''}",
        )
    logger.info("message.failed", extra={"message_id": message_id, "code": code, "state": message.state})
    return message.state


def message_release(*, message_id: int, claim_token: uuid.UUID, reason: str) -> bool:
    """Hand a claimed message back untouched (the send was never attempted: lease lost, profile
    paused before typing). The attempt does not count."""
    with transaction.atomic():
        claimed = OutboundMessage.objects.filter(id=message_id, claim_token=claim_token, state=MessageState.SENDING)
        campaign_id = claimed.values_list("campaign_id", flat=True).first()
        state = requeue_state(campaign_id)
        changed = claimed.update(state=state, claim_token=None, attempts=F("attempts") - 1)
        if changed:
            MessageEvent.objects.create(message_id=message_id, state=state, at=timezone.now(), detail=reason)
    return bool(changed)


def messages_mark_skipped_opted_out(*, claims: list[tuple[int, uuid.UUID]]) -> int:
    if not claims:
        return 0
    now = timezone.now()
    changed = 0
    for message_id, token in claims:
        changed += OutboundMessage.objects.filter(id=message_id, claim_token=token, state=MessageState.SENDING).update(
            state=MessageState.SKIPPED_OPTED_OUT,
            claim_token=None,
            attempts=F("attempts") - 1,
            failed_at=now,
            error_code="opted_out",
        )
    MessageEvent.objects.bulk_create(
        [_event(mid, MessageState.SKIPPED_OPTED_OUT, "contact opted out", now) for mid, _ in claims]
    )
    return changed


# Rows still waiting for their turn: a suppressed number's are skipped at once. Looked up through
# outbound_profile_to_sent (profile, to_number, …), one probe per profile and number: waiting rows
# always have a profile (only rows skipped when a run is written have none).
_SKIP_SUPPRESSED_SQL = """
WITH skipped AS (
    UPDATE senders_outboundmessage
    SET state = 'skipped_suppressed', error_code = 'suppressed', failed_at = %(now)s, next_attempt_at = NULL
    WHERE profile_id = ANY(ARRAY(SELECT id FROM senders_senderprofile))
      AND to_number = ANY(%(phones)s) AND state IN ('queued', 'held')
    RETURNING id
)
INSERT INTO senders_messageevent (message_id, state, at, detail)
SELECT id, 'skipped_suppressed', %(now)s, 'number added to the suppression list' FROM skipped
"""


def messages_skip_suppressed(*, phones: list[str]) -> int:
    """Record every waiting (`queued` or `held`) row to these E.164 numbers as
    `skipped_suppressed` (error_code `suppressed`), in one statement; call it in the transaction
    that adds the numbers to the suppression list. Rows being sent right now are not touched.
    Campaign counters follow: they are a roll-up of the ledger's states. Returns the rows skipped."""
    if not phones:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_SKIP_SUPPRESSED_SQL, {"now": timezone.now(), "phones": phones})
        skipped = cursor.rowcount
    logger.info("messages.skipped_suppressed", extra={"numbers": len(phones), "messages_skipped": skipped})
    return skipped


def messages_defer(*, message_ids: list[int], until: datetime, reason: str) -> int:
    """Push queued messages to a later time (quiet hours, caps) without counting an attempt."""
    return OutboundMessage.objects.filter(id__in=message_ids, state=MessageState.QUEUED).update(
        next_attempt_at=until, error_code=reason[:40]
    )


# --- crash recovery ----------------------------------------------------------------------------


class ReconcileOutcome:
    FOUND = "found"
    NOT_FOUND = "not_found"
    UNDECIDABLE = "undecidable"


def messages_orphaned(*, profile_id: int) -> list[OutboundMessage]:
    """Rows of a profile left in `sending`. Called by a driver that has just acquired the
    profile's lease: since only the lease holder sends, every such row belongs to a driver that
    is gone."""
    return list(OutboundMessage.objects.filter(profile_id=profile_id, state=MessageState.SENDING).order_by("id"))


def message_reconcile(*, message_id: int, outcome: str, wa_message_id: str = "", detail: str = "") -> str | None:
    """Settle an orphaned `sending` row from what the chat shows."""
    now = timezone.now()
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(id=message_id, state=MessageState.SENDING).first()
        if message is None:
            return None
        message.claim_token = None
        if outcome == ReconcileOutcome.FOUND:
            message.state = MessageState.SENT
            message.sent_at = message.sent_at or now
            message.wa_message_id = wa_message_id or message.wa_message_id
        elif outcome == ReconcileOutcome.NOT_FOUND:
            message.state = requeue_state(message.campaign_id)
            message.attempts = max(0, message.attempts - 1)
        else:
            message.state = MessageState.UNCERTAIN
            message.error_code = "uncertain"
            message.error_detail = (detail or "could not tell whether the message was sent")[:500]
        message.save(
            update_fields=["state", "claim_token", "sent_at", "wa_message_id", "attempts", "error_code", "error_detail"]
        )
        MessageEvent.objects.create(
            message=message, state=message.state, at=now, detail=f"reconciled after a worker died: {outcome}"
        )
    logger.warning("message.reconciled", extra={"message_id": message_id, "outcome": outcome})
    return message.state


# --- reading -----------------------------------------------------------------------------------


def message_get(*, message_id: int) -> OutboundMessage:
    message = OutboundMessage.objects.filter(id=message_id).first()
    if message is None:
        raise NotFound("No such message.", code="message_not_found")
    return message


def message_history(message: OutboundMessage) -> list[dict[str, object]]:
    """State changes in time order: the per-state timestamps plus recorded events (failures,
    retries, reconciliations)."""
    items: list[dict[str, object]] = []
    for state, at in (
        (MessageState.QUEUED, message.queued_at or message.created_at),
        (MessageState.SENDING, message.sending_at),
        (MessageState.SENT, message.sent_at),
        (MessageState.DELIVERED, message.delivered_at),
        (MessageState.READ, message.read_at),
    ):
        if at is not None:
            items.append({"state": str(state), "at": at, "detail": ""})
    for event in message.events.all():
        items.append({"state": event.state, "at": event.at, "detail": event.detail})
    items.sort(key=lambda item: item["at"])
    return items


def is_final(state: str) -> bool:
    return state in FINAL_STATES
