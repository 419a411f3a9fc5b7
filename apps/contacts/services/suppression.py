"""The suppression list: numbers never to message, whether or not they are contacts (complaints,
legal requests, numbers that said STOP elsewhere).

Three locks keep a suppressed number from getting a message:
- a campaign run never writes a queued row for it (apps.campaigns.services.audience);
- adding it here marks every row still waiting for it (`queued` or `held`) `skipped_suppressed`
  at once, in the same transaction (apps.senders.services.ledger.messages_skip_suppressed);
- the sender's claim re-checks the list and records a suppressed row instead of sending it, the
  way it re-checks a contact's opt-out (a row queued by a path that bypassed this service, or
  racing with it, still never goes out).
A single send to a suppressed number is refused before anything is written (ledger.message_enqueue).

Adding is idempotent: a number already on the list changes nothing and the result says so.
Removing a number lets future messages through; rows already skipped stay skipped (a skipped row
is final, like every other outcome in the ledger). Numbers are normalised to E.164 with the
workspace's region, exactly like contacts, so "098765 43210" and "+91 98765 43210" are one entry.
The list's reads live here too: the list is small and self-contained (one table, one index).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from django.db import connection, transaction

from apps.contacts.models import SuppressedNumber
from apps.contacts.resources import tenant_region
from apps.contacts.services.phones import REASON_MISSING, normalise_phone, normaliser_for
from apps.core.exceptions import NotFound, ValidationFailed
from apps.senders.services import ledger

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = SuppressedNumber._meta.get_field("reason").max_length
# One paste or API call: a day's complaints or a regulator's do-not-contact extract, small
# enough to normalise and insert in one short transaction.
BULK_MAX_LINES = 10_000
# A line longer than this is not a phone number (E.164 plus generous separators).
LINE_MAX_LENGTH = 64


class SuppressionError(StrEnum):
    INVALID_PHONE = "invalid_phone"
    INVALID_REASON = "invalid_reason"
    NOT_FOUND = "suppression_not_found"
    EMPTY = "empty_list"
    TOO_MANY = "list_too_long"


@dataclass(frozen=True)
class SuppressionAdded:
    suppressed: SuppressedNumber
    created: bool  # False: the number was already on the list and nothing changed
    messages_skipped: int  # waiting ledger rows to it that will now never be sent


@dataclass(frozen=True)
class BadLine:
    line: int  # 1-based, as the user sees the pasted text
    value: str
    error: str


@dataclass(frozen=True)
class BulkSuppressionResult:
    added: int
    already_suppressed: int
    duplicates: int  # lines repeating a number given earlier in the same list
    messages_skipped: int
    errors: list[BadLine] = field(default_factory=list)


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            f"A reason is at most {REASON_MAX_LENGTH} characters.",
            code=SuppressionError.INVALID_REASON,
            details={"reason": [f"at most {REASON_MAX_LENGTH} characters"]},
        )
    return reason


_INSERT_SQL = """
INSERT INTO contacts_suppressednumber (phone, reason, created_at)
SELECT phone, %s, now() FROM unnest(%s::text[]) AS phone
ON CONFLICT (phone) DO NOTHING
RETURNING phone
"""


def _insert(phones: list[str], reason: str) -> list[str]:
    """Adds the numbers not yet on the list and returns those it added; a number already there
    (or added by a concurrent request) is left alone, settled by the unique index. Runs inside
    the caller's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, [reason, phones])
        return [row[0] for row in cursor.fetchall()]


def suppression_add(*, phone: str, reason: str = "") -> SuppressionAdded:
    """Put one number on the list. An invalid number is a ValidationFailed (`invalid_phone`);
    a number already there is returned unchanged with created=False."""
    e164, why = normalise_phone(phone, tenant_region())
    if e164 is None:
        raise ValidationFailed(
            f"Invalid phone number: {why}.", code=SuppressionError.INVALID_PHONE, details={"phone": [why]}
        )
    reason = _reason(reason)
    with transaction.atomic():
        added = _insert([e164], reason)
        skipped = ledger.messages_skip_suppressed(phones=added) if added else 0
        suppressed = SuppressedNumber.objects.get(phone=e164)
    if added:
        logger.info("suppression.added", extra={"suppression_id": suppressed.id, "messages_skipped": skipped})
    return SuppressionAdded(suppressed=suppressed, created=bool(added), messages_skipped=skipped)


def suppression_lines(text: str) -> list[str]:
    """A pasted list as lines (any line ending)."""
    return (text or "").splitlines()


def suppressions_bulk_add(*, lines: list[str], reason: str = "") -> BulkSuppressionResult:
    """Put every valid number of `lines` (one per line) on the list in one transaction. Blank
    lines are ignored; a line that is not a phone number is reported with its 1-based line number
    and why, and the good lines go in regardless. A number repeated in the list counts once (the
    rest are `duplicates`); one already on the list is counted, not changed."""
    if len(lines) > BULK_MAX_LINES:
        raise ValidationFailed(
            f"At most {BULK_MAX_LINES:,} lines at a time.",
            code=SuppressionError.TOO_MANY,
            details={"max": BULK_MAX_LINES},
        )
    reason = _reason(reason)
    normalise = normaliser_for(tenant_region())
    errors: list[BadLine] = []
    phones: dict[str, None] = {}  # ordered set: first line of a number wins
    duplicates = 0
    for number, raw in enumerate(lines, start=1):
        text = (raw or "").strip()
        if not text:
            continue
        if len(text) > LINE_MAX_LENGTH:
            errors.append(BadLine(line=number, value=text[:LINE_MAX_LENGTH] + "…", error="not a phone number"))
            continue
        e164, why = normalise(text)
        if e164 is None:
            errors.append(BadLine(line=number, value=text, error=why or REASON_MISSING))
        elif e164 in phones:
            duplicates += 1
        else:
            phones[e164] = None
    if not phones and not errors:
        raise ValidationFailed("Give at least one number, one per line.", code=SuppressionError.EMPTY)
    added: list[str] = []
    skipped = 0
    if phones:
        with transaction.atomic():
            added = _insert(list(phones), reason)
            skipped = ledger.messages_skip_suppressed(phones=added) if added else 0
    logger.info(
        "suppressions.bulk_added",
        extra={
            "added_count": len(added),
            "existing_count": len(phones) - len(added),
            "error_count": len(errors),
            "messages_skipped": skipped,
        },
    )
    return BulkSuppressionResult(
        added=len(added),
        already_suppressed=len(phones) - len(added),
        duplicates=duplicates,
        messages_skipped=skipped,
        errors=errors,
    )


def suppression_remove(*, suppression_id: int | None = None, phone: str | None = None) -> SuppressedNumber:
    """Take a number off the list, by id or by number (normalised like suppression_add). Messages
    skipped while it was suppressed are not revived. Returns the removed entry."""
    if (suppression_id is None) == (phone is None):
        raise ValueError("give exactly one of suppression_id and phone")
    if suppression_id is not None:
        entries = SuppressedNumber.objects.filter(pk=suppression_id)
    else:
        e164, _why = normalise_phone(phone or "", tenant_region())
        entries = SuppressedNumber.objects.filter(phone=e164) if e164 else SuppressedNumber.objects.none()
    with transaction.atomic():
        suppressed = entries.select_for_update().first()
        if suppressed is None:
            raise NotFound("No such suppressed number.", code=SuppressionError.NOT_FOUND)
        removed_id = suppressed.pk
        suppressed.delete()
    suppressed.pk = removed_id
    logger.info("suppression.removed", extra={"suppression_id": removed_id})
    return suppressed
