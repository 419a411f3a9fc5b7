"""The tenant's list of opt-out words (invariant 8): a contact who sends one of them alone is
opted out of everything at once (apps.senders.services.inbound matches them)."""

from __future__ import annotations

import logging
from enum import StrEnum

from django.db import IntegrityError, transaction

from apps.core.exceptions import Conflict, NotFound, ValidationFailed
from apps.senders.models import OptOutKeyword
from apps.senders.services.inbound import normalize_keyword

logger = logging.getLogger(__name__)

WORD_MAX_LENGTH = OptOutKeyword._meta.get_field("word").max_length


class OptOutWordError(StrEnum):
    INVALID = "invalid_opt_out_word"
    EXISTS = "opt_out_word_exists"
    NOT_FOUND = "opt_out_word_not_found"


def opt_out_word_add(*, word: str) -> OptOutKeyword:
    """Add a word, stored in the form incoming messages are compared in (normalize_keyword), so
    "Stop!" and "stop" are one entry. An existing word is a Conflict naming it."""
    normalized = normalize_keyword(word or "")
    if not normalized:
        raise ValidationFailed("Give a word or short phrase.", code=OptOutWordError.INVALID)
    if len(normalized) > WORD_MAX_LENGTH:
        raise ValidationFailed(
            f"Opt-out words are limited to {WORD_MAX_LENGTH} characters.", code=OptOutWordError.INVALID
        )
    existing = OptOutKeyword.objects.filter(word=normalized).first()
    if existing is None:
        try:
            with transaction.atomic():
                keyword = OptOutKeyword.objects.create(word=normalized)
        except IntegrityError:
            # A concurrent request added the same word first.
            existing = OptOutKeyword.objects.get(word=normalized)
        else:
            logger.info("opt_out_word.added", extra={"opt_out_word_id": keyword.id})
            return keyword
    raise Conflict(
        "This opt-out word is already in the list.",
        code=OptOutWordError.EXISTS,
        details={"id": existing.id, "word": existing.word},
    )


def opt_out_word_remove(*, word_id: int) -> None:
    deleted, _ = OptOutKeyword.objects.filter(id=word_id).delete()
    if not deleted:
        raise NotFound("No such opt-out word.", code=OptOutWordError.NOT_FOUND)
    logger.info("opt_out_word.removed", extra={"opt_out_word_id": word_id})
