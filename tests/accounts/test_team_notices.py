"""Team changes made through the accounts services reach the tenant's open pages live (after
commit), and never another tenant's."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection, transaction

from apps.accounts.models import ApiKey, Invitation, Membership, Role, User
from apps.accounts.services.api_keys import api_key_create
from apps.accounts.services.invitations import invitation_accept, invitation_create
from apps.accounts.services.jwt import jwt_pair_issue
from tests.accounts.factories import InvitationFactory, UserFactory
from tests.core.conftest import ws_open, ws_receive, ws_silent

pytestmark = pytest.mark.live

NOTICE_KEYS = ("kind", "level", "message")
KEY_NAMES = ["Zapier", "Never kept"]
EMAILS = ["joiner@people.test", "newcomer@people.test"]


class RolledBack(Exception):
    pass


async def in_thread(func):
    """Run sync service code off the event loop, closing the thread's database connection."""

    def call():
        try:
            return func()
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def notice(message: dict) -> tuple:
    assert (message["type"], message["topic"]) == ("event", "notifications")
    return tuple(message["event"][key] for key in NOTICE_KEYS)


def test_team_changes_reach_this_tenants_pages_after_commit_and_never_another_tenants(
    asgi_server, alpha_live, beta_live
):
    alpha, beta = alpha_live, beta_live
    alpha_token = jwt_pair_issue(user=alpha.owner, tenant=alpha.tenant).access
    beta_token = jwt_pair_issue(user=beta.owner, tenant=beta.tenant).access

    def create_key_then_roll_back():
        with transaction.atomic():
            api_key_create(tenant=alpha.tenant, name="Never kept", created_by=alpha.owner)
            raise RolledBack

    async def scenario():
        alpha_ws = await ws_open(asgi_server, alpha.host, token=alpha_token)
        beta_ws = await ws_open(asgi_server, beta.host, token=beta_token)
        try:
            await in_thread(
                lambda: invitation_create(
                    tenant=alpha.tenant, email="newcomer@people.test", role=Role.ADMIN, invited_by=alpha.owner
                )
            )
            invited = notice(await ws_receive(alpha_ws))
            await in_thread(lambda: invitation_accept(token="join-alpha", user=joiner, tenant=alpha.tenant))
            joined = notice(await ws_receive(alpha_ws))
            await in_thread(lambda: api_key_create(tenant=alpha.tenant, name="Zapier", created_by=alpha.owner))
            key_created = notice(await ws_receive(alpha_ws))
            with pytest.raises(RolledBack):
                await in_thread(create_key_then_roll_back)
            await ws_silent(alpha_ws)
            await ws_silent(beta_ws)
            return invited, joined, key_created
        finally:
            await alpha_ws.close()
            await beta_ws.close()

    try:
        joiner = UserFactory(email="joiner@people.test", full_name="Jo Iner")
        InvitationFactory(tenant=alpha.tenant, email=joiner.email, role=Role.VIEWER, token="join-alpha")
        seen = asyncio.run(scenario())
        kept_keys = list(ApiKey.objects.filter(tenant=alpha.tenant, name__in=KEY_NAMES).values_list("name", flat=True))
    finally:
        ApiKey.objects.filter(tenant=alpha.tenant, name__in=KEY_NAMES).delete()
        Invitation.objects.filter(tenant=alpha.tenant, email__in=EMAILS).delete()
        Membership.objects.filter(user__email__in=EMAILS).delete()
        User.objects.filter(email__in=EMAILS).delete()

    assert seen == (
        ("notification", "info", "alpha owner invited a new teammate as Admin."),
        ("notification", "success", "Jo Iner joined the workspace as Viewer."),
        ("notification", "info", "alpha owner created the API key “Zapier”."),
    )
    assert kept_keys == ["Zapier"]
