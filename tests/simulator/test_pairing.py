"""QR screen, linking, and sessions kept in the browser's IndexedDB."""

from __future__ import annotations

import re
import time

from tests.simulator.conftest import LINKED_PHONE, page_link

PAYLOAD_RE = re.compile(r"^2@[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+,[A-Za-z0-9+/=]+$")
QR_CANVAS = 'div[data-ref] canvas[aria-label="Scan this QR code to link a device!"]'
RELOAD_BUTTON = 'div[data-ref] button:has-text("Click to reload QR code")'


def _dark_pixels(page) -> int:
    return page.evaluate(
        """() => {
            const c = document.querySelector('div[data-ref] canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let dark = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
            return dark;
        }"""
    )


def test_qr_screen_shows_the_pairing_payload_drawn_on_a_labelled_canvas(simulator, new_context):
    page = new_context().new_page()
    page.goto(simulator.base_url + "/")

    ref = page.locator("div[data-ref]").get_attribute("data-ref")
    assert PAYLOAD_RE.match(ref)
    page.locator(QR_CANVAS).wait_for()
    assert _dark_pixels(page) > 1000
    assert [p["ref"] for p in simulator.get("/_sim/pairings")["pairings"]] == [ref]
    assert page.locator("#pane-side").count() == 0


def test_qr_payload_rotates_and_then_asks_for_a_reload(simulator, new_context):
    simulator.configure(qr_refresh_s=0.6, qr_max_refreshes=2)
    page = new_context().new_page()
    page.goto(simulator.base_url + "/")

    seen: list[str] = []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and page.locator(RELOAD_BUTTON).count() == 0:
        ref = page.locator("div[data-ref]").get_attribute("data-ref")
        if not seen or seen[-1] != ref:
            seen.append(ref)
        time.sleep(0.05)

    assert page.locator(RELOAD_BUTTON).count() == 1
    assert len(seen) == 3  # the first QR and two refreshes
    assert len({s.split(",")[0] for s in seen}) == 3
    assert len({s.split(",", 1)[1] for s in seen}) == 1  # the keys stay, the ref rotates
    stalled_ref = page.locator("div[data-ref]").get_attribute("data-ref")
    time.sleep(1.5)
    assert page.locator("div[data-ref]").get_attribute("data-ref") == stalled_ref
    status, _ = simulator.request("POST", "/_sim/link", {"ref": stalled_ref, "phone": LINKED_PHONE})
    assert status == 404
    assert simulator.get("/_sim/accounts")["accounts"] == []

    page.locator(RELOAD_BUTTON).click()
    page.locator(RELOAD_BUTTON).wait_for(state="detached")
    fresh = page.locator("div[data-ref]").get_attribute("data-ref")
    assert fresh not in seen
    assert PAYLOAD_RE.match(fresh)


def test_linking_the_payload_shows_the_logged_in_screen(simulator, new_context):
    page = new_context().new_page()
    page.goto(simulator.base_url + "/")
    ref = page.locator("div[data-ref]").get_attribute("data-ref")

    simulator.link(ref, LINKED_PHONE, "Chorus Demo")

    page.locator("#side #pane-side").wait_for(timeout=3000)
    assert page.locator('#side [data-icon="search"]').is_visible()
    assert page.locator("div[data-ref]").count() == 0
    accounts = simulator.get("/_sim/accounts")["accounts"]
    assert [(a["phone"], a["name"], len(a["sessions"]), a["banned"]) for a in accounts] == [
        (LINKED_PHONE, "Chorus Demo", 1, False)
    ]
    assert simulator.get("/_sim/pairings")["pairings"] == []


def test_linking_an_unknown_payload_is_refused_and_creates_no_account(simulator):
    status, body = simulator.request("POST", "/_sim/link", {"ref": "2@nope,a,b,c", "phone": LINKED_PHONE})

    assert status == 404
    assert body["error"]["code"] == "qr_not_found"
    assert simulator.get("/_sim/accounts")["accounts"] == []


def test_storage_state_with_indexed_db_resumes_in_a_fresh_context_without_a_qr(simulator, new_context):
    first = new_context().new_page()
    page_link(simulator, first, LINKED_PHONE)
    saved = first.context.storage_state(indexed_db=True)

    page = new_context(storage_state=saved).new_page()
    page.goto(simulator.base_url + "/")

    page.locator("#pane-side").wait_for()
    assert page.locator("div[data-ref]").count() == 0
    assert page.locator("#side").inner_text().count("+" + LINKED_PHONE) == 1
    assert len(simulator.get(f"/_sim/accounts/{LINKED_PHONE}")["sessions"]) == 1


def test_storage_state_without_indexed_db_lands_on_the_qr_screen(simulator, new_context):
    first = new_context().new_page()
    page_link(simulator, first, LINKED_PHONE)
    cookies_only = first.context.storage_state()

    page = new_context(storage_state=cookies_only).new_page()
    page.goto(simulator.base_url + "/")

    page.locator("div[data-ref]").wait_for()
    assert page.locator("#pane-side").count() == 0


def test_two_browser_contexts_are_two_accounts(simulator, new_context):
    alice, bob = new_context().new_page(), new_context().new_page()
    page_link(simulator, alice, "919800000001")
    page_link(simulator, bob, "919800000002")

    alice.goto(simulator.base_url + "/send?phone=447700900123&text=from%20alice")
    alice.locator('button[aria-label="Send"]').click()
    alice.locator(
        'div.message-out span[data-icon="msg-check"], div.message-out span[data-icon="msg-dblcheck"]'
    ).wait_for()

    phones = sorted(a["phone"] for a in simulator.get("/_sim/accounts")["accounts"])
    assert phones == ["919800000001", "919800000002"]
    assert [m["text"] for m in simulator.messages("919800000001")] == ["from alice"]
    assert simulator.messages("919800000002") == []
    bob.reload()
    bob.locator("#pane-side").wait_for()
    assert bob.locator("#pane-side [role=listitem]").count() == 0
