"""`campaign.<id>` progress events: a page of the campaign's workspace gets its current progress
and then each (coalesced) change; other workspaces never hear of it, and their sockets for its
id are refused."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from apps.accounts.services.jwt import jwt_pair_issue
from apps.billing.models import UsageRecord
from apps.campaigns.consumers import CLOSE_CAMPAIGN_NOT_FOUND
from apps.campaigns.models import Campaign
from apps.campaigns.services import lifecycle
from apps.contacts.models import Contact
from apps.core.realtime.publish import publish
from apps.senders.models import OutboundMessage, SenderProfile
from tests.campaigns.conftest import make_campaign, make_contacts, make_profile, start
from tests.core.conftest import RECEIVE_TIMEOUT_S, ws_receive, ws_silent

pytestmark = pytest.mark.live


async def ws_campaign(base_url: str, host: str, token: str, campaign_id: int) -> ClientConnection:
    port = urlsplit(base_url).port
    return await connect(
        f"ws://{host}:{port}/ws/campaigns/{campaign_id}/?token={token}",
        host="127.0.0.1",
        port=port,
        origin=f"http://{host}:{port}",
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT_S,
    )


async def in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    def call() -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


@pytest.fixture
def live_campaigns(alpha_live, beta_live):
    made: list[tuple[Any, int]] = []

    def make(world, contacts: int = 0, campaign_id: int | None = None, **fields) -> Campaign:
        with tenant_context(world.tenant):
            profile = make_profile()
            make_contacts(contacts)
            if campaign_id is None:
                campaign = make_campaign(profiles=[profile], audience_all=True, **fields)
            else:
                # A given id (one the other workspace's sequence will not reach).
                campaign = Campaign.objects.create(id=campaign_id, body="Hi", audience_all=True, **fields)
        made.append((world, campaign.id))
        return campaign

    yield make
    for world in (alpha_live, beta_live):
        with tenant_context(world.tenant):
            ids = [campaign_id for w, campaign_id in made if w is world]
            OutboundMessage.objects.filter(campaign_id__in=ids).delete()
            Campaign.objects.filter(id__in=ids).delete()
            SenderProfile.objects.filter(label="Main").delete()
            Contact.objects.filter(phone__startswith="+9198760").delete()
        UsageRecord.objects.filter(tenant=world.tenant).delete()


def in_tenant(world, func, *args, **kwargs):
    with tenant_context(world.tenant):
        return func(*args, **kwargs)


def test_the_page_gets_the_progress_now_and_then_the_run_as_it_is_written(asgi_server, alpha_live, live_campaigns):
    campaign = live_campaigns(alpha_live, contacts=3)
    token = jwt_pair_issue(user=alpha_live.owner, tenant=alpha_live.tenant).access

    async def scenario() -> list[dict]:
        ws = await ws_campaign(asgi_server, alpha_live.host, token, campaign.id)
        try:
            seen = [await ws_receive(ws)]
            await in_thread(in_tenant, alpha_live, start, campaign)
            seen.append(await ws_receive(ws))
            return seen
        finally:
            await ws.close()

    snapshot, live = asyncio.run(scenario())

    topic = f"campaign.{campaign.id}"
    assert snapshot == {
        "type": "event",
        "topic": topic,
        "event": {
            "kind": "campaign.progress",
            "campaign_id": campaign.id,
            "state": "draft",
            "reason": "",
            "detail": "",
            "run": None,
        },
    }
    # The start's own event opened the one-second window; the materialized run's counts follow
    # in the window's trailing event or, without a worker to flush it, on the next page load.
    assert live["topic"] == topic
    assert live["event"]["state"] == "running"
    assert live["event"]["run"]["number"] == 1


def test_other_workspaces_never_hear_a_campaign_and_cannot_subscribe_to_it(
    asgi_server, alpha_live, beta_live, live_campaigns
):
    # An id far from alpha's own sequence, so it exists in beta only.
    beta_campaign = live_campaigns(beta_live, campaign_id=random.randint(10**12, 2 * 10**12), name="Beta's")
    alpha_campaign = live_campaigns(alpha_live, contacts=2)
    with tenant_context(alpha_live.tenant):
        assert not Campaign.objects.filter(id=beta_campaign.id).exists()
    alpha_token = jwt_pair_issue(user=alpha_live.owner, tenant=alpha_live.tenant).access
    beta_token = jwt_pair_issue(user=beta_live.owner, tenant=beta_live.tenant).access

    async def refused(host: str, token: str, campaign_id: int) -> int | None:
        ws = await ws_campaign(asgi_server, host, token, campaign_id)
        try:
            message = await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        finally:
            await ws.close()
        raise AssertionError(f"expected a refusal, received {message!r}")

    async def scenario() -> tuple[list[int | None], dict]:
        codes = [
            await refused(alpha_live.host, alpha_token, beta_campaign.id),
            await refused(beta_live.host, beta_token, alpha_campaign.id),
        ]
        ws = await ws_campaign(asgi_server, beta_live.host, beta_token, beta_campaign.id)
        try:
            snapshot = await ws_receive(ws)
            # Alpha's campaign starts and pauses, and an event for beta's campaign id is published
            # in alpha's schema: beta's page hears none of it.
            await in_thread(in_tenant, alpha_live, start, alpha_campaign)
            await in_thread(in_tenant, alpha_live, lifecycle.campaign_pause, campaign=alpha_campaign)
            await in_thread(
                publish, f"campaign.{beta_campaign.id}", {"kind": "x"}, schema_name=alpha_live.tenant.schema_name
            )
            await ws_silent(ws)
            return codes, snapshot
        finally:
            await ws.close()

    codes, snapshot = asyncio.run(scenario())

    assert codes == [CLOSE_CAMPAIGN_NOT_FOUND, CLOSE_CAMPAIGN_NOT_FOUND]
    assert snapshot["event"]["campaign_id"] == beta_campaign.id
