"""Chats opened in place by a chat link, and the chat list's rows: the last message with its ticks,
never taken back to an older message by a list the server made before a send."""

from __future__ import annotations

from urllib.parse import quote

from tests.simulator.conftest import LINKED_PHONE

COMPOSE = '#main footer div[contenteditable="true"][data-tab="10"]'
HEADER_TITLE = '#main header span[dir="auto"][title]'
ALICE, BOB = "447700900123", "447700900456"

# Records, for one chat-list row, every (last message text, tick icon) it shows: a row is drawn
# anew on each list render, so the recorder looks after every change of the list.
RECORD_ROW_JS = """
(title) => {
  window.__rowSeen = [];
  const read = () => {
    for (const row of document.querySelectorAll('#pane-side [role="listitem"]')) {
      const name = row.querySelector('[data-testid="cell-frame-title"] span[title]');
      if (!name || name.getAttribute('title') !== title) continue;
      const last = row.querySelector('[data-testid="last-msg-status"]');
      const text = last.querySelector('span[title]').getAttribute('title');
      const icon = last.querySelector('span[data-icon]');
      const seen = [text, icon ? icon.getAttribute('data-icon') : ''];
      const prev = window.__rowSeen[window.__rowSeen.length - 1];
      if (!prev || prev[0] !== seen[0] || prev[1] !== seen[1]) window.__rowSeen.push(seen);
    }
  };
  new MutationObserver(read).observe(document.getElementById('pane-side'), {childList: true, subtree: true});
  read();
}
"""


def click_link(page, href: str) -> None:
    """Click a link inside the page (as a link in a message would be clicked)."""
    page.evaluate(
        "(href) => { const a = document.createElement('a'); a.href = href; document.body.appendChild(a);"
        " a.click(); a.remove(); }",
        href,
    )


def row(page, title: str):
    return page.locator('#pane-side [role="listitem"]').filter(
        has=page.locator(f'[data-testid="cell-frame-title"] span[title="{title}"]')
    )


def send(page, text: str) -> None:
    page.locator(COMPOSE).press_sequentially(text)
    page.locator(COMPOSE).press("Enter")


def test_a_chat_link_clicked_in_the_page_opens_the_chat_in_place(simulator, linked_page):
    simulator.configure(invalid_numbers=["447700900777"])
    linked_page.evaluate("() => { window.__samePage = true; }")

    click_link(linked_page, f"https://api.whatsapp.com/send?phone={ALICE}&text={quote('Hi Alice')}")
    linked_page.locator(HEADER_TITLE, has_text=f"+{ALICE}").wait_for()
    assert linked_page.locator(COMPOSE).inner_text() == "Hi Alice"
    click_link(linked_page, f"https://wa.me/{BOB}")
    linked_page.locator(HEADER_TITLE, has_text=f"+{BOB}").wait_for()
    assert linked_page.locator(COMPOSE).inner_text().strip() == ""
    send(linked_page, "Hi Bob")
    linked_page.locator("#main div.message-out").wait_for()

    # A number not on WhatsApp: the same dialog as for the URL, and the open chat stays.
    click_link(linked_page, "https://api.whatsapp.com/send?phone=447700900777")
    dialog = linked_page.locator('div[role="dialog"]')
    dialog.wait_for()
    assert "Phone number shared via url is invalid." in dialog.inner_text()
    dialog.get_by_role("button", name="OK").click()
    dialog.wait_for(state="detached")

    assert linked_page.evaluate("() => window.__samePage") is True  # never reloaded
    assert linked_page.locator(HEADER_TITLE).get_attribute("title") == f"+{BOB}"
    assert [(m["chat"], m["text"]) for m in simulator.messages(LINKED_PHONE)] == [(BOB, "Hi Bob")]


def test_the_chat_list_shows_the_last_outgoing_message_with_its_ticks_while_another_chat_is_open(
    simulator, linked_page
):
    simulator.configure(ack_delay_ms=700, deliver_delay_ms=700, read_delay_ms=700)
    click_link(linked_page, f"https://api.whatsapp.com/send?phone={ALICE}")
    linked_page.locator(COMPOSE).wait_for()
    send(linked_page, "Your order has shipped")
    alice = row(linked_page, f"+{ALICE}")
    alice.locator('[data-testid="last-msg-status"] span[data-icon="status-time"]').wait_for(timeout=500)

    # Another chat is opened: Alice's row still walks every tick.
    click_link(linked_page, f"https://api.whatsapp.com/send?phone={BOB}")
    linked_page.locator(HEADER_TITLE, has_text=f"+{BOB}").wait_for()
    last = alice.locator('[data-testid="last-msg-status"]')
    last.locator('span[data-icon="status-check"][aria-label=" Sent "]').wait_for(timeout=3000)
    last.locator('span[data-icon="status-dblcheck"][aria-label=" Delivered "]').wait_for(timeout=3000)
    last.locator('span[data-icon="status-dblcheck"][aria-label=" Read "]').wait_for(timeout=3000)
    assert last.locator("span[title]").get_attribute("title") == "Your order has shipped"
    assert linked_page.locator("#main div.message-out").count() == 0  # Bob's chat is the open one

    # An incoming message becomes the last one: no ticks in the row.
    simulator.post(f"/_sim/accounts/{LINKED_PHONE}/incoming", {"from": ALICE, "text": "Thanks!"})
    last.locator('span[title="Thanks!"]').wait_for()
    assert last.locator("span[data-icon]").count() == 0


def test_a_row_shows_a_sent_message_at_once_and_never_an_older_one_again(simulator, linked_page):
    click_link(linked_page, f"https://api.whatsapp.com/send?phone={ALICE}")
    linked_page.locator(COMPOSE).wait_for()
    send(linked_page, "Same text")
    alice = row(linked_page, f"+{ALICE}")
    alice.locator('span[data-icon="status-dblcheck"][aria-label=" Read "]').wait_for(timeout=3000)
    # A slow network (the page's own row is all it has for a while); the new message is never
    # delivered, so a double tick in the row could only be the older message's.
    simulator.configure(latency_ms=400, ack_delay_ms=600, deliver_probability=0)
    linked_page.evaluate(RECORD_ROW_JS, f"+{ALICE}")

    send(linked_page, "Same text")
    linked_page.locator("#main div.message-out").nth(1).locator('span[data-icon="msg-check"]').wait_for(timeout=5000)
    alice.locator('span[data-icon="status-check"]').wait_for(timeout=5000)

    seen = linked_page.evaluate("() => window.__rowSeen")
    # The older message (read) never shows again once the new one is on its clock.
    assert seen[0] == ["Same text", "status-dblcheck"]
    assert seen[1] == ["Same text", "status-time"]
    assert ["Same text", "status-dblcheck"] not in seen[2:]
    assert seen[-1] == ["Same text", "status-check"]
    assert [m["text"] for m in simulator.messages(LINKED_PHONE)] == ["Same text", "Same text"]
