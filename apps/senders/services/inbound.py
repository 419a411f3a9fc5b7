"""Messages received on linked numbers, and opt-out by keyword (invariant 8)."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.contacts.models import Contact
from apps.core.realtime.publish import publish
from apps.senders.models import InboundMessage, OptOutKeyword

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"\s+")
_EDGE_PUNCTUATION = " .!,;:?¡¿'\"()[]{}-_*~"


@dataclass(frozen=True)
class Received:
    wa_message_id: str
    from_number: str  # digits, as WhatsApp shows them
    sender_name: str
    text: str
    received_at: datetime | None = None  # when WhatsApp shows it arrived (None: now)


def normalize_keyword(text: str) -> str:
    """Case-fold, trim punctuation and collapse spaces so "Stop!" and " STOP " match "stop"."""
    text = unicodedata.normalize("NFKC", text).casefold().strip().strip(_EDGE_PUNCTUATION)
    return _SPACES.sub(" ", text)


def opt_out_words() -> set[str]:
    return {normalize_keyword(word) for word in OptOutKeyword.objects.values_list("word", flat=True)}


def contact_opt_out(*, phone: str, reason: str, via: str) -> Contact:
    """Opt a number out of everything at once (creating the contact if it is new). Queued
    messages to it are skipped when their turn comes (the claim sees the opt-out)."""
    contact, _ = Contact.objects.get_or_create(phone=phone)
    if contact.opted_out_at is None:
        contact.opted_out_at = timezone.now()
        contact.opted_out_reason = reason[:200]
        contact.opted_out_via = via
        contact.save(update_fields=["opted_out_at", "opted_out_reason", "opted_out_via", "updated_at"])
        logger.info("contact.opted_out", extra={"contact_id": contact.id, "via": via})
    return contact


def inbound_capture(*, profile_id: int, messages: Iterable[Received]) -> list[InboundMessage]:
    """Store newly seen incoming messages (already captured ids are ignored), opt out senders
    who sent an opt-out word, and tell the inbox. Returns the new rows."""
    incoming = [m for m in messages if m.wa_message_id]
    if not incoming:
        return []
    known = set(
        InboundMessage.objects.filter(
            profile_id=profile_id, wa_message_id__in=[m.wa_message_id for m in incoming]
        ).values_list("wa_message_id", flat=True)
    )
    words = opt_out_words()
    now = timezone.now()
    fresh: list[InboundMessage] = []
    seen: set[str] = set()
    for m in incoming:
        if m.wa_message_id in known or m.wa_message_id in seen:
            continue
        seen.add(m.wa_message_id)
        phone = "+" + m.from_number.lstrip("+")
        fresh.append(
            InboundMessage(
                profile_id=profile_id,
                chat=phone,
                from_number=phone,
                sender_name=m.sender_name[:200],
                body=m.text,
                wa_message_id=m.wa_message_id,
                received_at=m.received_at or now,
                is_opt_out=normalize_keyword(m.text) in words,
            )
        )
    if not fresh:
        return []
    with transaction.atomic():
        created = InboundMessage.objects.bulk_create(fresh, ignore_conflicts=True)
        for row in created:
            if row.is_opt_out:
                contact_opt_out(
                    phone=row.from_number, reason=f"replied “{row.body[:50]}”", via=Contact.OptOutVia.KEYWORD
                )
        for row in created:
            publish(
                "inbox",
                {
                    "kind": "inbox.message",
                    "profile_id": profile_id,
                    "from": row.from_number,
                    "name": row.sender_name,
                    "text": row.body[:200],
                    "opt_out": row.is_opt_out,
                },
            )
    logger.info("inbound.captured", extra={"profile_id": profile_id, "count": len(created)})
    return created
