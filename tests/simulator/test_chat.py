"""Chat by URL, the compose box, ticks, the invalid-number dialog and incoming messages."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

from tests.simulator.conftest import LINKED_PHONE

COMPOSE = '#main footer div[contenteditable="true"][data-tab="10"]'
SEND = 'button[aria-label="Send"]:has(span[data-icon="send"])'
PRE_PLAIN_PREFIX = r"^\[\d\d:\d\d, \d\d/\d\d/\d{4}\] "


def _pre_plain_re(name: str) -> str:
    return PRE_PLAIN_PREFIX + re.escape(name) + ": $"


CONTACT = "447700900123"


def _open_chat(simulator, page, phone: str, text: str = "") -> None:
    page.goto(f"{simulator.base_url}/send?phone={phone}&text={quote(text)}")
    page.locator(COMPOSE).wait_for()


def test_send_url_prefills_the_compose_box_and_the_bubble_walks_every_tick(simulator, linked_page):
    simulator.configure(ack_delay_ms=700, deliver_delay_ms=700, read_delay_ms=700)
    text = "Hello 👋 from Chorus & friends"
    _open_chat(simulator, linked_page, CONTACT, text)

    compose = linked_page.locator(COMPOSE)
    assert compose.get_attribute("role") == "textbox"
    assert compose.locator("p").inner_text() == text
    linked_page.locator(SEND).click()

    bubble = linked_page.locator("div.message-out")
    bubble.locator('span[data-icon="msg-time"]').wait_for(timeout=500)
    bubble.locator('span[data-icon="msg-check"]').wait_for(timeout=2000)
    bubble.locator('span[data-icon="msg-dblcheck"][aria-label=" Delivered "]').wait_for(timeout=2000)
    bubble.locator('span[data-icon="msg-dblcheck"][aria-label=" Read "]').wait_for(timeout=2000)
    assert bubble.locator("div.copyable-text span.selectable-text").inner_text() == text
    assert re.match(_pre_plain_re("Me"), bubble.locator("div.copyable-text").get_attribute("data-pre-plain-text"))
    assert compose.inner_text().strip() == ""

    records = simulator.messages(LINKED_PHONE)
    assert [(m["direction"], m["chat"], m["text"], m["status"]) for m in records] == [("out", CONTACT, text, "read")]
    assert bubble.get_attribute("data-id") == f"true_{CONTACT}@c.us_{records[0]['id']}" == records[0]["data_id"]
    assert records[0]["sent_at"] < records[0]["delivered_at"] < records[0]["read_at"]


def test_enter_sends_what_was_typed_and_each_send_is_recorded(simulator, linked_page):
    _open_chat(simulator, linked_page, CONTACT)
    compose = linked_page.locator(COMPOSE)

    compose.click()
    linked_page.keyboard.type("typed by keyboard")
    linked_page.keyboard.press("Enter")
    compose.fill("same text")
    compose.press("Enter")
    compose.press_sequentially("same text")
    compose.press("Enter")

    linked_page.locator("div.message-out").nth(2).wait_for()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(simulator.messages(LINKED_PHONE)) < 3:
        time.sleep(0.05)
    texts = [m["text"] for m in simulator.messages(LINKED_PHONE)]
    assert texts == ["typed by keyboard", "same text", "same text"]
    assert linked_page.locator("div.message-out span.selectable-text").all_inner_texts() == texts
    assert compose.locator("p").count() == 1
    assert compose.inner_text().strip() == ""


def test_shift_enter_makes_a_second_line_instead_of_sending(simulator, linked_page):
    _open_chat(simulator, linked_page, CONTACT)
    compose = linked_page.locator(COMPOSE)

    compose.press_sequentially("line one")
    compose.press("Shift+Enter")
    compose.press_sequentially("line two")
    time.sleep(0.3)
    assert simulator.messages(LINKED_PHONE) == []
    compose.press("Enter")

    linked_page.locator("div.message-out").wait_for()
    assert [m["text"] for m in simulator.messages(LINKED_PHONE)] == ["line one\nline two"]


def test_numbers_not_on_whatsapp_get_the_invalid_dialog_and_nothing_is_sent(simulator, linked_page):
    simulator.configure(invalid_numbers=["447700900777"])

    for phone in ("447700900000", "447700900777"):
        linked_page.goto(f"{simulator.base_url}/send?phone={phone}&text=hello")
        dialog = linked_page.locator('div[role="dialog"]')
        dialog.wait_for()
        assert "Phone number shared via url is invalid." in dialog.inner_text()
        assert linked_page.locator(COMPOSE).count() == 0
        dialog.get_by_role("button", name="OK").click()
        dialog.wait_for(state="detached")

    assert simulator.messages(LINKED_PHONE) == []


def test_incoming_messages_show_an_unread_badge_then_in_bubbles(simulator, linked_page):
    simulator.post(f"/_sim/accounts/{LINKED_PHONE}/incoming", {"from": "447700900555", "text": "Hi!", "name": "Asha"})
    row = linked_page.locator('#pane-side [role="listitem"]', has_text="Asha")
    row.locator('span[aria-label="1 unread message"]').wait_for()
    simulator.post(f"/_sim/accounts/{LINKED_PHONE}/incoming", {"from": "447700900555", "text": "Are you there?"})
    row.locator('span[aria-label="2 unread messages"]').wait_for()
    assert row.locator('span[aria-label$="unread messages"]').inner_text() == "2"

    row.click()

    incoming = linked_page.locator("#main div.message-in")
    incoming.nth(1).wait_for()
    assert incoming.locator("span.selectable-text").all_inner_texts() == ["Hi!", "Are you there?"]
    for pre in incoming.locator("div.copyable-text").evaluate_all("els => els.map(e => e.dataset.prePlainText)"):
        assert re.match(_pre_plain_re("Asha"), pre)
    assert incoming.first.get_attribute("data-id").startswith("false_447700900555@c.us_")
    row.locator('span[aria-label$="unread message"], span[aria-label$="unread messages"]').wait_for(state="detached")
    records = simulator.messages(LINKED_PHONE)
    assert [(m["direction"], m["chat"], m["status"]) for m in records] == [
        ("in", "447700900555", "read"),
        ("in", "447700900555", "read"),
    ]


def test_search_finds_a_chat_by_number(simulator, linked_page):
    for sender, name in (("447700900555", "Asha"), ("447700900666", "Bilal")):
        simulator.post(f"/_sim/accounts/{LINKED_PHONE}/incoming", {"from": sender, "text": "hey", "name": name})
    linked_page.locator('#pane-side [role="listitem"]').nth(1).wait_for()

    linked_page.locator('[data-icon="search"]').click()
    linked_page.keyboard.type("900666")

    rows = linked_page.locator('#pane-side [role="listitem"]')
    rows.filter(has_text="Asha").wait_for(state="detached")
    assert rows.all_inner_texts()[0].startswith("Bilal")
