"""Websocket front doors. Each consumer joins groups of the tenant it was admitted to
(TenantWebsocketMiddleware) and relays what publish() sends there."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django_tenants.utils import schema_context

from apps.core.realtime.publish import group_name

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TenantConsumer(AsyncJsonWebsocketConsumer):
    """Base for tenant websockets. Subclasses name their topics; the groups joined are always
    `<this tenant's schema>.<topic>`, so no client can subscribe to another tenant's events.

    Messages to the browser: {"type": "event", "topic": ..., "event": {...}} for published
    events and {"type": "pong"} in answer to {"type": "ping"}."""

    def topics(self) -> list[str]:
        return []

    async def connect(self) -> None:
        schema_name = self.scope["schema_name"]
        self.joined_groups = [group_name(schema_name, topic) for topic in self.topics()]
        for group in self.joined_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        # Accept only after joining, so an event published once the client sees "open" arrives.
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None:
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            logger.info("realtime.bad_message", extra={"schema": self.scope["schema_name"]})
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def realtime_event(self, message: dict[str, Any]) -> None:
        await self.send_json({"type": "event", "topic": message["topic"], "event": message["event"]})

    async def in_tenant_schema(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run sync ORM code in this connection's tenant schema (and restore the schema after)."""
        schema_name = self.scope["schema_name"]

        def call() -> T:
            with schema_context(schema_name):
                return func(*args, **kwargs)

        return await database_sync_to_async(call)()


class NotificationsConsumer(TenantConsumer):
    """/ws/notifications/: tenant-wide notifications plus the ones addressed to this user."""

    def topics(self) -> list[str]:
        return ["notifications", f"user.{self.scope['user'].pk}"]
