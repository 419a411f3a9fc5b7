"""A user's own settings: display name and preferred language."""

from __future__ import annotations

import logging

from django.conf import settings

from apps.accounts.models import User
from apps.core.exceptions import ValidationFailed

logger = logging.getLogger(__name__)


def user_profile_update(*, user: User, full_name: str, language: str) -> User:
    """`language` is one of settings.LANGUAGES or "" (follow the browser)."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationFailed(f"Unknown language {language!r}.", details={"field": "language"})
    user.full_name = full_name.strip()
    user.language = language
    user.save(update_fields=["full_name", "language"])
    logger.info("account.profile_updated", extra={"user_id": user.pk})
    return user
