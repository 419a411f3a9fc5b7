"""Websockets through a real uvicorn: admission per tenant host and tenant-isolated events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context

from apps.accounts.models import Membership, User
from apps.accounts.services.jwt import jwt_pair_issue
from apps.core.realtime.publish import publish
from apps.tenants.services import tenant_set_status
from tests.conftest import ROOT
from tests.core.conftest import ws_close_code, ws_open, ws_receive, ws_silent

pytestmark = pytest.mark.live


async def in_thread(func, *args, **kwargs):
    """Run sync code (publish, task.delay) from the test's event loop, in a worker thread whose
    database connection is closed afterwards (a leftover one would block dropping the test DB)."""

    def call():
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def access_token(user: User, tenant) -> str:
    return jwt_pair_issue(user=user, tenant=tenant).access


@pytest.fixture
def session_of() -> Iterator:
    """session_of(world, user) -> a committed session key for `user` (logged in on world.host)."""
    clients: list[Client] = []

    def make(world, user) -> str:
        client = Client(HTTP_HOST=world.host)
        client.force_login(user)
        clients.append(client)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    yield make
    for client in clients:
        client.logout()


def test_published_event_reaches_its_tenant_and_never_another(asgi_server, live_world):
    alpha, beta = live_world("alpha"), live_world("beta")
    alpha_token, beta_token = access_token(alpha.owner, alpha.tenant), access_token(beta.owner, beta.tenant)

    async def scenario():
        alpha_ws = await ws_open(asgi_server, alpha.host, token=alpha_token)
        beta_ws = await ws_open(asgi_server, beta.host, token=beta_token)
        try:
            await in_thread(
                publish, "notifications", {"kind": "notification", "message": "for alpha"}, schema_name="t_alpha"
            )
            assert await ws_receive(alpha_ws) == {
                "type": "event",
                "topic": "notifications",
                "event": {"kind": "notification", "message": "for alpha"},
            }
            await ws_silent(beta_ws)

            await in_thread(publish, "notifications", {"n": 2}, schema_name="t_beta")
            assert (await ws_receive(beta_ws))["event"] == {"n": 2}
            await ws_silent(alpha_ws)
        finally:
            await alpha_ws.close()
            await beta_ws.close()

    asyncio.run(scenario())


def test_user_topic_reaches_only_that_users_socket_in_that_tenant(asgi_server, live_world):
    alpha, beta = live_world("alpha"), live_world("beta")
    # beta's owner joins alpha too, so both sockets are on alpha; only the addressed user hears.
    Membership.objects.create(user=beta.owner, tenant=alpha.tenant, role="agent")
    try:
        owner_token, guest_token = access_token(alpha.owner, alpha.tenant), access_token(beta.owner, alpha.tenant)

        async def scenario():
            owner_ws = await ws_open(asgi_server, alpha.host, token=owner_token)
            guest_ws = await ws_open(asgi_server, alpha.host, token=guest_token)
            try:
                await in_thread(publish, f"user.{alpha.owner.pk}", {"kind": "mention"}, schema_name="t_alpha")
                assert (await ws_receive(owner_ws))["topic"] == f"user.{alpha.owner.pk}"
                await ws_silent(guest_ws)
            finally:
                await owner_ws.close()
                await guest_ws.close()

        asyncio.run(scenario())
    finally:
        Membership.objects.filter(user=beta.owner, tenant=alpha.tenant).delete()


def test_notify_task_sent_from_a_tenant_reaches_that_tenants_browsers_through_the_worker(
    asgi_server, celery_worker_process, live_world, session_of
):
    from apps.core.tasks import notify_tenant

    alpha, beta = live_world("alpha"), live_world("beta")
    alpha_session, beta_session = session_of(alpha, alpha.owner), session_of(beta, beta.owner)

    async def scenario():
        alpha_ws = await ws_open(asgi_server, alpha.host, session=alpha_session)
        beta_ws = await ws_open(asgi_server, beta.host, session=beta_session)
        try:

            def send():
                with tenant_context(alpha.tenant):
                    notify_tenant.delay("Import finished", "success")

            await in_thread(send)
            message = await ws_receive(alpha_ws, timeout=10)
            assert message["topic"] == "notifications"
            assert {k: message["event"][k] for k in ("kind", "level", "message")} == {
                "kind": "notification",
                "level": "success",
                "message": "Import finished",
            }
            await ws_silent(beta_ws)
        finally:
            await alpha_ws.close()
            await beta_ws.close()

    asyncio.run(scenario())


def test_ping_is_answered_with_pong_and_bad_json_is_ignored(asgi_server, live_world):
    alpha = live_world("alpha")
    token = access_token(alpha.owner, alpha.tenant)

    async def scenario():
        ws = await ws_open(asgi_server, alpha.host, token=token)
        try:
            await ws.send("not json")
            await ws.send('{"type": "ping"}')
            assert await ws_receive(ws) == {"type": "pong"}
        finally:
            await ws.close()

    asyncio.run(scenario())


def test_member_of_alpha_is_refused_on_beta_with_4403(asgi_server, live_world, session_of):
    alpha, beta = live_world("alpha"), live_world("beta")
    session = session_of(alpha, alpha.owner)

    assert asyncio.run(ws_close_code(asgi_server, beta.host, session=session)) == 4403
    # The same session is admitted on its own tenant: the refusal is about membership.
    ws_ok = asyncio.run(_opens(asgi_server, alpha.host, session=session))
    assert ws_ok is True


async def _opens(base_url: str, host: str, **credentials) -> bool:
    ws = await ws_open(base_url, host, **credentials)
    try:
        await ws.send('{"type": "ping"}')
        return (await ws_receive(ws)) == {"type": "pong"}
    finally:
        await ws.close()


def test_anonymous_is_refused_with_4401(asgi_server, live_world):
    alpha = live_world("alpha")

    assert asyncio.run(ws_close_code(asgi_server, alpha.host)) == 4401
    assert asyncio.run(ws_close_code(asgi_server, alpha.host, session="no-such-session")) == 4401
    assert asyncio.run(ws_close_code(asgi_server, alpha.host, token="not.a.jwt")) == 4401


def test_unknown_host_and_public_host_are_refused_with_4404(asgi_server, live_world):
    alpha = live_world("alpha")
    token = access_token(alpha.owner, alpha.tenant)

    assert asyncio.run(ws_close_code(asgi_server, "nobody.localhost", token=token)) == 4404
    assert asyncio.run(ws_close_code(asgi_server, settings.BASE_DOMAIN, token=token)) == 4404


def test_jwt_of_alpha_is_refused_on_beta_with_4403(asgi_server, live_world):
    alpha, beta = live_world("alpha"), live_world("beta")
    token = access_token(alpha.owner, alpha.tenant)

    assert asyncio.run(ws_close_code(asgi_server, beta.host, token=token)) == 4403
    assert asyncio.run(_opens(asgi_server, alpha.host, token=token)) is True
    # The server logs websocket paths; the token in the query string is blanked there.
    server_log = (ROOT / "var" / "test-asgi.log").read_text()
    assert "/ws/notifications/?token=[redacted]" in server_log
    assert token not in server_log


def test_superuser_without_membership_is_admitted(asgi_server, live_world):
    beta = live_world("beta")
    admin = User.objects.create_superuser("root@platform.test", "pw-unused-123")
    try:
        token = access_token(admin, beta.tenant)
        assert not Membership.objects.filter(user=admin).exists()
        assert asyncio.run(_opens(asgi_server, beta.host, token=token)) is True
    finally:
        admin.delete()


def test_suspended_tenant_refuses_its_own_members_with_4403(asgi_server, live_world):
    beta = live_world("beta")
    token = access_token(beta.owner, beta.tenant)
    tenant_set_status(tenant=beta.tenant, status="suspended")
    try:
        assert asyncio.run(ws_close_code(asgi_server, beta.host, token=token)) == 4403
    finally:
        tenant_set_status(tenant=beta.tenant, status="active")
    assert asyncio.run(_opens(asgi_server, beta.host, token=token)) is True
