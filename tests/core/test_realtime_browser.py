"""static/js/realtime.js in a real Chromium against the real ASGI server: injected into a bare page,
and as every portal page loads it (templates/layouts/app.html)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from apps.core.realtime.publish import publish
from apps.senders.driver.browser import chromium_executable, launch_args
from tests.conftest import ROOT

pytestmark = pytest.mark.live

PAGE_TIMEOUT_MS = 10_000
SCRIPT = (ROOT / "static" / "js" / "realtime.js").read_text()
LISTEN = 'window.__events = []; document.addEventListener("chorus:event", (e) => window.__events.push(e.detail))'


def in_thread(func: Callable[[], Any]) -> Any:
    """Run `func` in a fresh thread and return its result (re-raising its exception). Playwright's
    sync API runs an event loop in its thread, where the ORM and publish() refuse to work, so the
    browser and the publishing each get a thread of their own."""
    outcome: dict[str, Any] = {}

    def run():
        try:
            outcome["result"] = func()
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


@pytest.fixture
def session_of() -> Iterator[Callable[..., str]]:
    clients: list[Client] = []

    def make(world, user) -> str:
        client = Client(HTTP_HOST=world.host)
        client.force_login(user)
        clients.append(client)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    yield make
    for client in clients:
        client.logout()


def open_portal_page(browser, base_url: str, host: str, session: str):
    """A page from the real server on `host` with the session cookie, running realtime.js. (The
    page is /healthz, which needs no template; a page fulfilled by the test instead would count
    as public and Chromium's local-network checks would block its websocket to 127.0.0.1.)"""
    origin = f"http://{host}:{urlsplit(base_url).port}"
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": origin}])
    page = context.new_page()
    page.goto(f"{origin}/healthz")
    page.evaluate(LISTEN)
    page.add_script_tag(content=SCRIPT)
    return page


def open_real_portal_page(browser, base_url: str, host: str, session: str, path: str):
    """A portal page exactly as a signed-in user gets it: the layout loads realtime.js itself."""
    origin = f"http://{host}:{urlsplit(base_url).port}"
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": origin}])
    page = context.new_page()
    response = page.goto(f"{origin}{path}")
    assert response is not None and response.status == 200, path
    return page


def with_browser(scenario: Callable[[Any], Any]) -> Any:
    def run():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_executable(), args=launch_args(), headless=True
            )
            try:
                return scenario(browser)
            finally:
                browser.close()

    return in_thread(run)


def test_browser_shows_a_toast_and_dispatches_the_event_for_its_tenant_only(asgi_server, live_world, session_of):
    alpha, beta = live_world("alpha"), live_world("beta")
    alpha_session, beta_session = session_of(alpha, alpha.owner), session_of(beta, beta.owner)
    event = {"kind": "notification", "level": "success", "message": "Campaign finished"}

    def scenario(browser):
        alpha_page = open_portal_page(browser, asgi_server, alpha.host, alpha_session)
        beta_page = open_portal_page(browser, asgi_server, beta.host, beta_session)
        for page in (alpha_page, beta_page):
            page.wait_for_function("window.ChorusRealtime && window.ChorusRealtime.connected")

        in_thread(lambda: publish("notifications", event, schema_name="t_alpha"))

        toast = alpha_page.locator("#chorus-toasts .chorus-toast")
        toast.wait_for()
        beta_page.wait_for_timeout(500)
        return {
            "toast": toast.inner_text(),
            "alpha_events": alpha_page.evaluate("window.__events"),
            "beta_events": beta_page.evaluate("window.__events"),
            "beta_toasts": beta_page.locator("#chorus-toasts .chorus-toast").count(),
        }

    seen = with_browser(scenario)

    assert seen == {
        "toast": "Campaign finished",
        "alpha_events": [{"path": "/ws/notifications/", "topic": "notifications", "event": event}],
        "beta_events": [],
        "beta_toasts": 0,
    }


def test_browser_stops_reconnecting_when_refused(asgi_server, live_world, session_of):
    alpha, beta = live_world("alpha"), live_world("beta")
    session = session_of(alpha, alpha.owner)  # alpha's owner is not a member of beta

    def scenario(browser):
        page = open_portal_page(browser, asgi_server, beta.host, session)
        page.wait_for_function("window.ChorusRealtime && window.ChorusRealtime.refused === 'forbidden'")
        page.wait_for_timeout(1500)  # past the first reconnect delay
        return page.evaluate("window.ChorusRealtime")

    assert with_browser(scenario) == {"connected": False, "refused": "forbidden"}


# A page script's own socket through the hook realtime.js documents (what the WhatsApp numbers
# page does with /ws/profiles/), here on the notifications path, with toasts left to the layout's.
HOOK = """() => {
  window.__hooked = [];
  window.__hook = window.Chorus.realtime.connect(
    "/ws/notifications/", (topic, event) => window.__hooked.push({topic, event}), {toasts: false}
  );
}"""


def test_portal_pages_load_realtime_js_show_toasts_and_offer_the_hook_to_page_scripts(
    asgi_server, live_world, session_of
):
    alpha, beta = live_world("alpha"), live_world("beta")
    alpha_session, beta_session = session_of(alpha, alpha.owner), session_of(beta, beta.owner)
    event = {"kind": "notification", "level": "info", "message": "Import finished"}

    def scenario(browser):
        alpha_page = open_real_portal_page(browser, asgi_server, alpha.host, alpha_session, "/")
        beta_page = open_real_portal_page(browser, asgi_server, beta.host, beta_session, "/settings/team/")
        for page in (alpha_page, beta_page):
            page.wait_for_function("window.ChorusRealtime && window.ChorusRealtime.connected")
        alpha_page.evaluate(HOOK)
        alpha_page.wait_for_function("window.__hook.state.connected")

        in_thread(lambda: publish("notifications", event, schema_name="t_alpha"))

        alpha_page.locator("#chorus-toasts .chorus-toast").wait_for()
        alpha_page.wait_for_function("window.__hooked.length === 1")
        beta_page.wait_for_timeout(500)
        return {
            "realtime_scripts": alpha_page.locator('script[src$="/js/realtime.js"]').count(),
            "alpha_toasts": alpha_page.locator("#chorus-toasts .chorus-toast").all_inner_texts(),
            "hooked": alpha_page.evaluate("window.__hooked"),
            "beta_toasts": beta_page.locator("#chorus-toasts .chorus-toast").count(),
            "beta_connected": beta_page.evaluate("window.ChorusRealtime.connected"),
        }

    seen = with_browser(scenario)

    assert seen == {
        "realtime_scripts": 1,
        "alpha_toasts": ["Import finished"],
        "hooked": [{"topic": "notifications", "event": event}],
        "beta_toasts": 0,
        "beta_connected": True,
    }
