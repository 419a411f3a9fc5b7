"""Websocket front doors of the WhatsApp numbers pages."""

from __future__ import annotations

import base64
import logging
from typing import Any
from urllib.parse import parse_qs

from apps.core.realtime.consumers import TenantConsumer
from apps.core.realtime.publish import group_name
from apps.senders.models import SenderProfile
from apps.senders.services.profiles import profile_qr_current, profile_status_event, qr_png

logger = logging.getLogger(__name__)

# One page watches one number (the list page needs none); a few more leave room for a page that
# shows several, without letting a client join an unbounded number of groups.
MAX_PROFILE_SUBSCRIPTIONS = 20


def _profile_topic(profile_id: int) -> str:
    return f"profile.{profile_id}"


# Profile ids are bigints; anything outside would fail in the database instead of being refused.
PROFILE_ID_MAX = 2**63 - 1


def _parse_profile_id(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= len(str(PROFILE_ID_MAX)):
        raw = int(raw)
    if isinstance(raw, int) and 0 < raw <= PROFILE_ID_MAX:
        return raw
    return None


def _profile_exists(profile_id: int) -> bool:
    return SenderProfile.objects.filter(id=profile_id).exists()


def _profile_snapshot(profile_id: int) -> list[dict[str, Any]]:
    """The events a page needs to catch up on one profile: its status, then its QR code while one
    is on screen (none if the profile was deleted meanwhile). Sync; runs in the tenant's schema."""
    profile = SenderProfile.objects.filter(id=profile_id).first()
    if profile is None:
        return []
    events = [profile_status_event(profile)]
    payload = profile_qr_current(profile_id=profile_id)
    if payload:
        # The same event the sender host publishes when the code changes (profile_qr_update).
        data_url = "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode()
        events.append({"kind": "profile.qr", "profile_id": profile_id, "png": data_url})
    return events


class ProfilesConsumer(TenantConsumer):
    """/ws/profiles/: status changes of every WhatsApp number of the tenant (`profiles`), plus the
    QR codes and status of the numbers the page asks for (`profile.<id>`), either with
    `?profile=<id>` or by sending {"type": "subscribe", "profile": <id>}.

    A number is watched only if it exists in this tenant's schema; the page is sent its current
    status and QR code at once, so a page opened in the middle of linking shows the code without
    waiting for the next refresh. Any member may watch; changing numbers happens in the portal.

    Extra messages to the browser: {"type": "subscribed", "profile": id} before the catch-up
    events, and {"type": "error", "code": "profile_not_found" | "too_many_subscriptions"}."""

    def topics(self) -> list[str]:
        return ["profiles"]

    async def connect(self) -> None:
        self.profile_ids: set[int] = set()
        await super().connect()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        for raw in query.get("profile", [])[:MAX_PROFILE_SUBSCRIPTIONS]:
            await self.subscribe_profile(raw)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "subscribe":
            await self.subscribe_profile(content.get("profile"))
            return
        await super().receive_json(content, **kwargs)

    async def subscribe_profile(self, raw: Any) -> None:
        profile_id = _parse_profile_id(raw)
        exists = profile_id is not None and await self.in_tenant_schema(_profile_exists, profile_id)
        if profile_id is None or not exists:
            logger.info(
                "realtime.profile_subscribe_refused",
                extra={"schema": self.scope["schema_name"], "user_id": self.scope["user"].pk},
            )
            await self.send_json({"type": "error", "code": "profile_not_found", "profile": str(raw)[:20]})
            return
        topic = _profile_topic(profile_id)
        if profile_id not in self.profile_ids:
            if len(self.profile_ids) >= MAX_PROFILE_SUBSCRIPTIONS:
                await self.send_json({"type": "error", "code": "too_many_subscriptions", "profile": profile_id})
                return
            # Join before reading the snapshot: a change published in between then arrives after
            # it (at worst twice) instead of being lost.
            group = group_name(self.scope["schema_name"], topic)
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined_groups.append(group)
            self.profile_ids.add(profile_id)
        snapshot = await self.in_tenant_schema(_profile_snapshot, profile_id)
        await self.send_json({"type": "subscribed", "profile": profile_id})
        for event in snapshot:
            await self.send_json({"type": "event", "topic": topic, "event": event})
