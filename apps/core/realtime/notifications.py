"""Notifications: short messages shown to a tenant's users as toasts, live."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from apps.core.exceptions import ValidationFailed
from apps.core.realtime.publish import publish
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

LEVELS = ("info", "success", "warning", "error")
# A toast, not a document.
MESSAGE_MAX_LENGTH = 500


def notification_send(
    *, tenant: Tenant, message: str, level: str = "info", user_id: int | None = None
) -> dict[str, Any]:
    """Show `message` to everyone connected to `tenant` (or only to `user_id`). Published after
    commit like every event; returns the event sent."""
    message = message.strip()
    if not message:
        raise ValidationFailed("A notification needs a message.", details={"field": "message"})
    if level not in LEVELS:
        raise ValidationFailed(f"Unknown level {level!r}.", details={"field": "level"})
    if tenant.is_public:
        raise ValidationFailed("Notifications go to a tenant, not the public site.")
    event = {
        "kind": "notification",
        "level": level,
        "message": message[:MESSAGE_MAX_LENGTH],
        "at": timezone.now().isoformat(),
    }
    topic = "notifications" if user_id is None else f"user.{user_id}"
    publish(topic, event, schema_name=tenant.schema_name)
    logger.info("notification.sent", extra={"tenant_id": tenant.id, "topic": topic, "level": level})
    return event
