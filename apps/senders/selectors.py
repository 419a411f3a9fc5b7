"""Reads of the sending engine for the API and pages: profiles without their secrets, ledger rows
with filters, opt-out words. All in the current tenant schema (the caller's connection)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.core.exceptions import NotFound
from apps.senders.driver.browser import parse_proxy
from apps.senders.models import OptOutKeyword, OutboundMessage, SenderProfile

# Columns nobody outside the driver reads: the encrypted browser session can be megabytes.
_PROFILE_HEAVY_FIELDS = ("session_state_encrypted",)


def profiles_list() -> QuerySet[SenderProfile]:
    return SenderProfile.objects.defer(*_PROFILE_HEAVY_FIELDS)


def profile_detail(*, profile_id: int) -> SenderProfile:
    """A profile for reading (session state not loaded), or NotFound like services.profile_get."""
    profile = profiles_list().filter(id=profile_id).first()
    if profile is None:
        raise NotFound("No such WhatsApp number.", code="profile_not_found")
    return profile


def profile_proxy_server(profile: SenderProfile) -> str | None:
    """The profile's proxy as `scheme://host:port`, credentials left out; None without one.

    The proxy URL itself is write-only: it may carry a user name and password."""
    if not profile.proxy_encrypted:
        return None
    try:
        proxy = parse_proxy(profile.proxy_url)
    except ValueError:
        # Stored before validation tightened: say there is one without echoing it.
        return "(unreadable)"
    return proxy.server if proxy is not None else None


def messages_list(
    *, state: str | None = None, profile_id: int | None = None, to_number: str | None = None
) -> QuerySet[OutboundMessage]:
    """Ledger rows, optionally filtered by state, profile and recipient (E.164)."""
    messages = OutboundMessage.objects.all()
    if state:
        messages = messages.filter(state=state)
    if profile_id is not None:
        messages = messages.filter(profile_id=profile_id)
    if to_number:
        messages = messages.filter(to_number=to_number)
    return messages


def opt_out_words_list() -> QuerySet[OptOutKeyword]:
    return OptOutKeyword.objects.all()
