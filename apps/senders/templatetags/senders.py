"""Template helpers for the WhatsApp numbers pages."""

from __future__ import annotations

from django import template

from apps.senders.models import SenderProfile

register = template.Library()

Status = SenderProfile.Status

# Badge class per profile status; static/js/numbers.js reads the same map (json_script), so a
# badge updated live looks like one rendered by the server.
STATUS_BADGE_CLASSES: dict[str, str] = {
    Status.NEW: "badge",
    Status.WAITING_FOR_QR: "badge badge-info",
    Status.CONNECTING: "badge badge-info",
    Status.CONNECTED: "badge badge-success",
    Status.LOGGED_OUT: "badge badge-warn",
    Status.RATE_LIMITED: "badge badge-warn",
    Status.BANNED: "badge badge-danger",
    Status.FAILED: "badge badge-danger",
}

MESSAGE_BADGE_CLASSES: dict[str, str] = {
    "queued": "badge badge-info",
    "sending": "badge badge-info",
    "sent": "badge badge-success",
    "delivered": "badge badge-success",
    "read": "badge badge-success",
    "failed": "badge badge-danger",
    "invalid_number": "badge badge-danger",
    "skipped_opted_out": "badge badge-warn",
    "uncertain": "badge badge-warn",
}


@register.filter
def status_badge_class(status: str) -> str:
    return STATUS_BADGE_CLASSES.get(status, "badge")


@register.filter
def message_badge_class(state: str) -> str:
    return MESSAGE_BADGE_CLASSES.get(state, "badge")


@register.simple_tag
def status_badge_classes() -> dict[str, str]:
    return {str(status): classes for status, classes in STATUS_BADGE_CLASSES.items()}
