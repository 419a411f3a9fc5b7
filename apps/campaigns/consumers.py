"""Websocket front door of a campaign's live progress."""

from __future__ import annotations

import logging
from typing import Any

from apps.campaigns.models import Campaign
from apps.campaigns.services.progress import campaign_topic, latest_run, progress_event
from apps.core.realtime.consumers import TenantConsumer

logger = logging.getLogger(__name__)

# Close code for a campaign that is not in this workspace; realtime.js does not reconnect on it.
CLOSE_CAMPAIGN_NOT_FOUND = 4404
# Campaign ids are bigints; anything larger would fail in the database instead of being refused.
CAMPAIGN_ID_MAX = 2**63 - 1


def _campaign_exists(campaign_id: int) -> bool:
    return Campaign.objects.filter(id=campaign_id).exists()


def _campaign_event(campaign_id: int) -> dict[str, Any] | None:
    campaign = Campaign.objects.filter(id=campaign_id).first()
    return progress_event(campaign, latest_run(campaign)) if campaign is not None else None


class CampaignProgressConsumer(TenantConsumer):
    """/ws/campaigns/<campaign id>/: the live progress of one campaign (topic `campaign.<id>`:
    state, counts per state, rate and ETA, at most one event a second).

    The topic is joined only when the campaign exists in this tenant's schema, so an id from
    another workspace is refused (closed with 4404) even when it exists there. Right after
    joining, the page gets the campaign's current progress. Any member may watch."""

    def topics(self) -> list[str]:
        return [campaign_topic(self.campaign_id)]

    async def connect(self) -> None:
        raw = self.scope.get("url_route", {}).get("kwargs", {}).get("campaign_id")
        campaign_id = raw if isinstance(raw, int) and 0 < raw <= CAMPAIGN_ID_MAX else None
        if campaign_id is None or not await self.in_tenant_schema(_campaign_exists, campaign_id):
            logger.info(
                "realtime.campaign_subscribe_refused",
                extra={"schema": self.scope["schema_name"], "user_id": self.scope["user"].pk},
            )
            await self.accept()
            await self.close(code=CLOSE_CAMPAIGN_NOT_FOUND)
            return
        self.campaign_id = campaign_id
        # Join first, then read the state: an event published in between arrives after the
        # snapshot (at worst twice) instead of being lost.
        await super().connect()
        event = await self.in_tenant_schema(_campaign_event, campaign_id)
        if event is not None:
            await self.send_json({"type": "event", "topic": campaign_topic(campaign_id), "event": event})
