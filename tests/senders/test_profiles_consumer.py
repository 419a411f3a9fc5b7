"""/ws/profiles/ through a real uvicorn: a number's page gets its status and current QR code at
once, then every change; tenants never hear each other's numbers."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import tenant_context
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from apps.accounts.models import Membership, User
from apps.accounts.services.jwt import jwt_pair_issue
from apps.senders.driver.browser import chromium_executable, launch_args
from apps.senders.models import SenderProfile
from apps.senders.services.profiles import profile_qr_update, profile_set_status, qr_png
from tests.conftest import PASSWORD, TenantWorld
from tests.core.conftest import RECEIVE_TIMEOUT_S, ws_receive, ws_silent

pytestmark = pytest.mark.live

Status = SenderProfile.Status
QR_PAYLOAD = "2@test-payload,abcdef==,ghijkl==,mnopqr=="
PAGE_TIMEOUT_MS = 15_000


def png_data_url(payload: str) -> str:
    return "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode()


def access_token(user: User, tenant) -> str:
    return jwt_pair_issue(user=user, tenant=tenant).access


async def ws_profiles(base_url: str, host: str, token: str, query: str = "") -> ClientConnection:
    port = urlsplit(base_url).port
    return await connect(
        f"ws://{host}:{port}/ws/profiles/?token={token}{query}",
        host="127.0.0.1",
        port=port,
        origin=f"http://{host}:{port}",
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT_S,
    )


async def in_thread(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Sync ORM/publish code from the test's event loop, in a thread whose connection is closed
    afterwards (a leftover one would block dropping the test database)."""

    def call() -> Any:
        try:
            return func(*args, **kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def in_tenant(world: TenantWorld, func: Callable[..., Any], **kwargs: Any) -> Callable[[], Any]:
    def run() -> Any:
        with tenant_context(world.tenant):
            return func(**kwargs)

    return run


@pytest.fixture
def live_profiles() -> Iterator[Callable[..., SenderProfile]]:
    """live_profiles(world, **fields) -> a committed SenderProfile, deleted at teardown."""
    made: list[tuple[TenantWorld, int]] = []

    def make(world: TenantWorld, **fields: Any) -> SenderProfile:
        with tenant_context(world.tenant):
            profile = SenderProfile.objects.create(**{"label": "Live", "status": Status.WAITING_FOR_QR, **fields})
        made.append((world, profile.id))
        return profile

    yield make
    for world, profile_id in made:
        with tenant_context(world.tenant):
            SenderProfile.objects.filter(id=profile_id).delete()


def status_event(profile: SenderProfile, status: str, label: str, phone: str = "", detail: str = "") -> dict:
    return {
        "kind": "profile.status",
        "profile_id": profile.id,
        "status": status,
        "status_label": label,
        "detail": detail,
        "phone": phone,
        "paused_until": None,
    }


def test_subscriber_gets_the_status_and_the_current_qr_at_once(asgi_server, alpha_live, live_profiles):
    profile = live_profiles(alpha_live)
    in_tenant(alpha_live, profile_qr_update, profile_id=profile.id, payload=QR_PAYLOAD)()
    token = access_token(alpha_live.owner, alpha_live.tenant)
    topic = f"profile.{profile.id}"

    async def scenario() -> list[dict]:
        ws = await ws_profiles(asgi_server, alpha_live.host, token, f"&profile={profile.id}")
        try:
            return [await ws_receive(ws) for _ in range(3)]
        finally:
            await ws.close()

    assert asyncio.run(scenario()) == [
        {"type": "subscribed", "profile": profile.id},
        {"type": "event", "topic": topic, "event": status_event(profile, "waiting_for_qr", "Waiting for QR scan")},
        {
            "type": "event",
            "topic": topic,
            "event": {"kind": "profile.qr", "profile_id": profile.id, "png": png_data_url(QR_PAYLOAD)},
        },
    ]


def test_a_published_qr_and_status_change_reach_the_subscribed_page(asgi_server, alpha_live, live_profiles):
    profile = live_profiles(alpha_live)
    token = access_token(alpha_live.owner, alpha_live.tenant)
    topic = f"profile.{profile.id}"

    async def scenario() -> tuple[list[dict], list[dict], list[dict]]:
        page = await ws_profiles(asgi_server, alpha_live.host, token, f"&profile={profile.id}")
        listing = await ws_profiles(asgi_server, alpha_live.host, token)
        try:
            # No QR yet: the catch-up is the status alone.
            caught_up = [await ws_receive(page) for _ in range(2)]
            await ws_silent(page, 0.3)

            await in_thread(in_tenant(alpha_live, profile_qr_update, profile_id=profile.id, payload=QR_PAYLOAD))
            qr = [await ws_receive(page)]
            await ws_silent(listing, 0.3)  # QR codes go to the number's page only

            def connect_it() -> None:
                with tenant_context(alpha_live.tenant):
                    row = SenderProfile.objects.get(id=profile.id)
                    profile_set_status(profile=row, status=Status.CONNECTED, extra_fields={"phone": "+919800000001"})

            await in_thread(connect_it)
            # The page hears the change on its number's topic and on the tenant-wide one.
            changes = [await ws_receive(page), await ws_receive(page), await ws_receive(listing)]
            await ws_silent(page, 0.3)
            await ws_silent(listing, 0.3)
            return caught_up, qr, changes
        finally:
            await page.close()
            await listing.close()

    caught_up, qr, changes = asyncio.run(scenario())

    assert caught_up == [
        {"type": "subscribed", "profile": profile.id},
        {"type": "event", "topic": topic, "event": status_event(profile, "waiting_for_qr", "Waiting for QR scan")},
    ]
    assert qr == [
        {
            "type": "event",
            "topic": topic,
            "event": {"kind": "profile.qr", "profile_id": profile.id, "png": png_data_url(QR_PAYLOAD)},
        }
    ]
    connected = status_event(profile, "connected", "Connected", phone="+919800000001")
    assert changes == [
        {"type": "event", "topic": topic, "event": connected},
        {"type": "event", "topic": "profiles", "event": connected},
        {"type": "event", "topic": "profiles", "event": connected},
    ]


def test_subscribe_message_joins_a_number_after_connecting(asgi_server, alpha_live, live_profiles):
    profile = live_profiles(alpha_live, status=Status.CONNECTED, phone="+919800000001")
    token = access_token(alpha_live.owner, alpha_live.tenant)

    async def scenario() -> list[dict]:
        ws = await ws_profiles(asgi_server, alpha_live.host, token)
        try:
            await ws.send(json.dumps({"type": "subscribe", "profile": profile.id}))
            seen = [await ws_receive(ws), await ws_receive(ws)]
            await ws.send(json.dumps({"type": "ping"}))
            seen.append(await ws_receive(ws))
            return seen
        finally:
            await ws.close()

    assert asyncio.run(scenario()) == [
        {"type": "subscribed", "profile": profile.id},
        {
            "type": "event",
            "topic": f"profile.{profile.id}",
            "event": status_event(profile, "connected", "Connected", phone="+919800000001"),
        },
        {"type": "pong"},
    ]


def test_unknown_or_malformed_profile_ids_are_refused_and_the_socket_stays_usable(asgi_server, alpha_live):
    token = access_token(alpha_live.owner, alpha_live.tenant)

    async def scenario() -> list[dict]:
        ws = await ws_profiles(asgi_server, alpha_live.host, token, "&profile=999999")
        try:
            seen = [await ws_receive(ws)]
            for bad in ("abc", -3, None, True, "1 OR 1=1", 2**70, "9" * 30):
                await ws.send(json.dumps({"type": "subscribe", "profile": bad}))
                seen.append((await ws_receive(ws))["code"])
            await ws.send(json.dumps({"type": "ping"}))
            seen.append(await ws_receive(ws))
            return seen
        finally:
            await ws.close()

    assert asyncio.run(scenario()) == [
        {"type": "error", "code": "profile_not_found", "profile": "999999"},
        *["profile_not_found"] * 7,
        {"type": "pong"},
    ]


def test_a_viewer_may_watch_a_number(asgi_server, alpha_live, live_profiles):
    profile = live_profiles(alpha_live)
    viewer = User.objects.create_user("viewer-ws@alpha.test", PASSWORD)
    Membership.objects.create(user=viewer, tenant=alpha_live.tenant, role="viewer")
    try:
        token = access_token(viewer, alpha_live.tenant)

        async def scenario() -> dict:
            ws = await ws_profiles(asgi_server, alpha_live.host, token, f"&profile={profile.id}")
            try:
                return await ws_receive(ws)
            finally:
                await ws.close()

        assert asyncio.run(scenario()) == {"type": "subscribed", "profile": profile.id}
    finally:
        viewer.delete()


def test_beta_cannot_subscribe_to_alphas_number_and_never_hears_its_events(
    asgi_server, alpha_live, beta_live, live_profiles
):
    profile = live_profiles(alpha_live)
    with tenant_context(beta_live.tenant):
        assert not SenderProfile.objects.filter(id=profile.id).exists()
    alpha_token = access_token(alpha_live.owner, alpha_live.tenant)
    beta_token = access_token(beta_live.owner, beta_live.tenant)

    async def scenario() -> tuple[list[dict], list[str]]:
        beta_ws = await ws_profiles(asgi_server, beta_live.host, beta_token, f"&profile={profile.id}")
        alpha_ws = await ws_profiles(asgi_server, alpha_live.host, alpha_token, f"&profile={profile.id}")
        try:
            refused = [await ws_receive(beta_ws)]
            await beta_ws.send(json.dumps({"type": "subscribe", "profile": profile.id}))
            refused.append(await ws_receive(beta_ws))
            for _ in range(2):  # alpha's catch-up: subscribed + status
                await ws_receive(alpha_ws)

            await in_thread(in_tenant(alpha_live, profile_qr_update, profile_id=profile.id, payload=QR_PAYLOAD))

            def fail_it() -> None:
                with tenant_context(alpha_live.tenant):
                    profile_set_status(
                        profile=SenderProfile.objects.get(id=profile.id), status=Status.FAILED, detail="x"
                    )

            await in_thread(fail_it)
            alpha_heard = [(await ws_receive(alpha_ws))["event"]["kind"] for _ in range(2)]
            await ws_silent(beta_ws)
            return refused, alpha_heard
        finally:
            await beta_ws.close()
            await alpha_ws.close()

    refused, alpha_heard = asyncio.run(scenario())

    assert refused == [
        {"type": "error", "code": "profile_not_found", "profile": str(profile.id)},
        {"type": "error", "code": "profile_not_found", "profile": str(profile.id)},
    ]
    assert alpha_heard == ["profile.qr", "profile.status"]


def test_alpha_member_is_refused_on_betas_profiles_socket(asgi_server, alpha_live, beta_live):
    token = access_token(alpha_live.owner, alpha_live.tenant)

    async def scenario() -> int | None:
        ws = await ws_profiles(asgi_server, beta_live.host, token)
        try:
            await asyncio.wait_for(ws.recv(), RECEIVE_TIMEOUT_S)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        finally:
            await ws.close()
        return None

    assert asyncio.run(scenario()) == 4403


# --- the page in a real browser ---------------------------------------------------------------


@pytest.fixture
def session_of() -> Iterator[Callable[..., str]]:
    clients: list[Client] = []

    def make(world: TenantWorld, user: User) -> str:
        client = Client(HTTP_HOST=world.host)
        client.force_login(user)
        clients.append(client)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    yield make
    for client in clients:
        client.logout()


def run_in_thread(func: Callable[[], Any]) -> Any:
    """Playwright's sync API runs an event loop in its thread, where the ORM refuses to work:
    the browser and the publishing each get a thread of their own."""
    import threading

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = func()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def test_numbers_page_in_chromium_shows_the_qr_live_and_flips_to_connected(
    asgi_server, alpha_live, live_profiles, session_of
):
    profile = live_profiles(alpha_live, label="Browser line")
    session = session_of(alpha_live, alpha_live.owner)
    origin = f"http://{alpha_live.host}:{urlsplit(asgi_server).port}"

    def scenario() -> dict[str, Any]:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=launch_args())
            try:
                context = browser.new_context()
                context.set_default_timeout(PAGE_TIMEOUT_MS)
                context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": origin}])
                page = context.new_page()
                page.goto(f"{origin}/numbers/{profile.id}/")
                # The server's catch-up (current status) arrives once the socket is subscribed.
                page.wait_for_function("window.ChorusNumbers && window.ChorusNumbers.events.length >= 1")
                seen: dict[str, Any] = {
                    "qr_hidden_before": page.locator("[data-qr-image]").is_hidden(),
                    # The socket is realtime.js's (the layout loads it), not numbers.js's fallback.
                    "via_realtime_js": page.evaluate("window.ChorusNumbers.live !== null"),
                }

                run_in_thread(in_tenant(alpha_live, profile_qr_update, profile_id=profile.id, payload=QR_PAYLOAD))
                page.wait_for_function(
                    "document.querySelector('[data-qr-image]').getAttribute('src') === "
                    + json.dumps(png_data_url(QR_PAYLOAD))
                )
                seen["qr_visible"] = page.locator("[data-qr-image]").is_visible()
                seen["waiting_hidden"] = page.locator("[data-qr-waiting]").is_hidden()

                def connect_it() -> None:
                    with tenant_context(alpha_live.tenant):
                        profile_set_status(
                            profile=SenderProfile.objects.get(id=profile.id),
                            status=Status.CONNECTED,
                            extra_fields={"phone": "+919800000001"},
                        )

                run_in_thread(connect_it)
                page.locator('[data-panel="connected"]').wait_for(state="visible")
                seen["linking_hidden"] = page.locator('[data-panel="linking"]').is_hidden()
                seen["badge"] = page.locator(".page-header [data-profile-status]").inner_text()
                seen["badge_class"] = page.locator(".page-header [data-profile-status]").get_attribute("class")
                return seen
            finally:
                browser.close()

    assert run_in_thread(scenario) == {
        "qr_hidden_before": True,
        "via_realtime_js": True,
        "qr_visible": True,
        "waiting_hidden": True,
        "linking_hidden": True,
        "badge": "Connected",
        "badge_class": "badge badge-success badge-dot",
    }
