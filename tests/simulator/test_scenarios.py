"""Scenario controls: unlink, ban and rate-limit, slow network, page crash, restart, reset."""

from __future__ import annotations

import time
import urllib.request

from tests.conftest import stop
from tests.simulator.conftest import LINKED_PHONE, page_link, simulator_start

COMPOSE = '#main footer div[contenteditable="true"][data-tab="10"]'


def test_unlink_returns_the_page_to_the_qr_and_old_storage_no_longer_resumes(simulator, linked_page):
    saved = linked_page.context.storage_state(indexed_db=True)

    assert simulator.post(f"/_sim/accounts/{LINKED_PHONE}/unlink") == {"unlinked_sessions": 1}

    linked_page.locator("div[data-ref]").wait_for(timeout=3000)
    assert linked_page.locator("#pane-side").count() == 0
    restored = linked_page.context.browser.new_context(storage_state=saved)
    try:
        page = restored.new_page()
        page.goto(simulator.base_url + "/")
        page.locator("div[data-ref]").wait_for(timeout=5000)
        assert page.locator("#pane-side").count() == 0
    finally:
        restored.close()
    assert simulator.get(f"/_sim/accounts/{LINKED_PHONE}")["sessions"] == []


def test_ban_mode_shows_the_banner_and_the_send_is_recorded_as_failed(simulator, linked_page):
    simulator.post(f"/_sim/accounts/{LINKED_PHONE}/flags", {"banned": True})
    banner = linked_page.locator('div[data-testid="banned-banner"]')
    banner.wait_for()
    assert banner.inner_text() == "This account is not allowed to use WhatsApp"

    linked_page.goto(simulator.base_url + "/send?phone=447700900123&text=are%20you%20there")
    linked_page.locator('button[aria-label="Send"]').click()
    linked_page.locator("div.message-out").wait_for()
    time.sleep(1.0)  # well past every tick delay (150 ms each)

    assert linked_page.locator('div.message-out span[data-icon="msg-time"]').count() == 1
    assert linked_page.locator('div.message-out span[data-icon^="msg-"][data-icon$="check"]').count() == 0
    records = simulator.messages(LINKED_PHONE)
    assert [(m["text"], m["status"], m["error"], m["sent_at"]) for m in records] == [
        ("are you there", "failed", "banned", None)
    ]


def test_rate_limit_mode_shows_the_notice_and_the_send_fails(simulator, linked_page):
    simulator.post(f"/_sim/accounts/{LINKED_PHONE}/flags", {"rate_limited": True})
    linked_page.goto(simulator.base_url + "/send?phone=447700900123&text=quick")
    notice = linked_page.locator('div[data-testid="rate-limit-notice"]')
    notice.wait_for()
    assert "You're sending messages too quickly" in notice.inner_text()
    linked_page.locator(COMPOSE).press("Enter")
    linked_page.locator("div.message-out").wait_for()

    records = simulator.messages(LINKED_PHONE)
    assert [(m["status"], m["error"]) for m in records] == [("failed", "rate_limited")]

    simulator.post(f"/_sim/accounts/{LINKED_PHONE}/flags", {"rate_limited": False})
    notice.wait_for(state="detached")


def test_slow_network_delays_pages_but_not_the_control_api(simulator):
    simulator.configure(latency_ms=600)

    started = time.monotonic()
    with urllib.request.urlopen(simulator.base_url + "/", timeout=10) as resp:
        assert resp.status == 200
    page_s = time.monotonic() - started
    started = time.monotonic()
    simulator.get("/_sim/accounts")
    control_s = time.monotonic() - started

    assert page_s >= 0.6
    assert control_s < 0.6


def test_crash_breaks_the_open_page_and_then_the_next_page_load(simulator, linked_page):
    assert simulator.post("/_sim/crash", {"mode": "blank", "target": "open", "phone": LINKED_PHONE}) == {"affected": 1}
    linked_page.locator("#sim-crash").wait_for(timeout=3000)
    assert "Aw, Snap!" in linked_page.locator("#sim-crash").inner_text()
    assert linked_page.locator("#side").count() == 0

    simulator.post("/_sim/crash", {"mode": "blank", "target": "next_load", "count": 1})
    linked_page.goto(simulator.base_url + "/")
    assert linked_page.locator("#sim-crash").count() == 1
    assert linked_page.locator("#side").count() == 0

    linked_page.goto(simulator.base_url + "/")
    linked_page.locator("#pane-side").wait_for()


def test_reset_logs_every_page_out_and_forgets_accounts(simulator, linked_page):
    simulator.post("/_sim/reset")

    linked_page.locator("div[data-ref]").wait_for(timeout=3000)
    assert simulator.get("/_sim/accounts")["accounts"] == []


def test_a_restart_with_a_state_file_keeps_linked_sessions_and_messages(tmp_path, new_context):
    state_file = tmp_path / "sim-state.json"
    first = simulator_start(args=["--state-file", str(state_file)])
    try:
        page = new_context().new_page()
        page_link(first, page, LINKED_PHONE)
        page.goto(first.base_url + "/send?phone=447700900123&text=kept")
        page.locator('button[aria-label="Send"]').click()
        page.locator('div.message-out span[data-icon="msg-dblcheck"][aria-label=" Read "]').wait_for()
        saved = page.context.storage_state(indexed_db=True)
        before = first.messages(LINKED_PHONE)
    finally:
        stop(first.process)
    port = int(first.base_url.rsplit(":", 1)[1])

    second = simulator_start(args=["--state-file", str(state_file)], port=port)
    try:
        assert second.messages(LINKED_PHONE) == before
        page = new_context(storage_state=saved).new_page()
        page.goto(second.base_url + "/")
        page.locator("#pane-side").wait_for()
        assert page.locator("#pane-side [role=listitem]").count() == 1
    finally:
        stop(second.process)
