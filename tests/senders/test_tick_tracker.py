"""The driver's tick tracker (apps.senders.driver.session.TRACKER_JS) in real Chromium, on a page
built by hand the way WhatsApp Web lays out a chat and the chat list: when a submitted message
counts as sent (DESIGN.md, sending invariants: a row is `sent` only once its tick is seen), and
when the page cannot vouch for it (the driver then looks in the chat itself)."""

from __future__ import annotations

import pytest

from apps.senders.driver.session import TRACKER_CONFIG, TRACKER_JS, WATCH_SUBMIT_JS
from tests.simulator.conftest import chromium, new_context  # noqa: F401 - fixtures

CHAT = "+44 7700 900123"
OTHER = "+44 7700 900456"

PAGE = """<!doctype html><html><body>
<div id="side"><div id="pane-side"><div role="grid" id="rows"></div></div></div>
<div id="main"><header><span dir="auto" title="{title}">{title}</span></header>
<div id="bubbles"></div><footer><div contenteditable="true" data-tab="10"><p><br></p></div></footer></div>
</body></html>"""

# The page's own behaviour, reduced to what the tracker looks at.
APP_JS = """
() => {
  window.app = {
    row(title, text, icon, label) {
      const rows = document.getElementById('rows');
      const el = document.createElement('div');
      el.setAttribute('role', 'listitem');
      const tick = icon ? `<span data-icon="${icon}" aria-label="${label || ''}"></span>` : '';
      el.innerHTML = `<div role="gridcell"><div data-testid="cell-frame-title"><span dir="auto" title="${title}">${title}</span></div>`
        + `<span data-testid="last-msg-status">${tick}<span dir="ltr" title="${text}">${text}</span></span></div>`;
      rows.prepend(el);
      return el;
    },
    rows(list) {
      document.getElementById('rows').textContent = '';
      for (const r of list.slice().reverse()) this.row(...r);
    },
    bubble(id, text) {
      const el = document.createElement('div');
      el.setAttribute('role', 'row');
      el.innerHTML = `<div class="message-out" data-id="${id}"><div class="copyable-text"><span class="selectable-text">`
        + `<span>${text}</span></span></div><span data-icon="msg-time" aria-label=" Pending "></span></div>`;
      document.getElementById('bubbles').appendChild(el);
    },
    bubbleTick(id, icon, label) {
      const old = document.querySelector(`[data-id="${id}"] span[data-icon]`);
      const tick = document.createElement('span');
      tick.setAttribute('data-icon', icon);
      tick.setAttribute('aria-label', label);
      old.replaceWith(tick);
    },
    leaveChat() { document.getElementById('bubbles').textContent = ''; },
  };
}
"""


@pytest.fixture
def wa_page(new_context):  # noqa: F811 - fixture
    page = new_context().new_page()
    page.set_content(PAGE.format(title=CHAT))
    page.evaluate(APP_JS)
    page.evaluate(TRACKER_JS, TRACKER_CONFIG)
    return page


def submit(page, wa_id: str, text: str, *, row_on_clock: bool = True) -> None:
    """Press "Enter": the page adds the bubble on its clock and (like WhatsApp Web's local store)
    shows the message in the chat's row, on its clock, in the same step."""
    page.evaluate(WATCH_SUBMIT_JS, TRACKER_CONFIG)
    script = "([id, text, row]) => { app.bubble(id, text); if (row) app.rows(row); }"
    page.evaluate(script, [wa_id, text, [[CHAT, text, "status-time", " Pending "]] if row_on_clock else None])
    assert page.evaluate("() => window.__chorusTicks.submitted") == wa_id


def report(page, wa_id: str) -> dict:
    (state,) = page.evaluate("(id) => window.__chorusTicks.wait([id], 0)", wa_id)
    return state


def test_the_bubble_tick_counts_while_the_chat_is_open(wa_page):
    submit(wa_page, "true_447700900123@c.us_AAA1", "Hello")
    assert report(wa_page, "true_447700900123@c.us_AAA1")["status"] == ""

    wa_page.evaluate("() => app.bubbleTick('true_447700900123@c.us_AAA1', 'msg-check', ' Sent ')")

    assert report(wa_page, "true_447700900123@c.us_AAA1") == {
        "id": "true_447700900123@c.us_AAA1",
        "status": "sent",
        "via": "chat",
        "seen": "chat",
        "lost": False,
    }


def test_after_leaving_the_chat_its_row_counts_once_it_showed_the_message_on_its_clock(wa_page):
    submit(wa_page, "true_447700900123@c.us_AAA2", "Hello")
    wa_page.evaluate("() => app.leaveChat()")
    assert report(wa_page, "true_447700900123@c.us_AAA2")["seen"] == "list"

    wa_page.evaluate("(t) => app.rows([[t, 'Hello', 'status-dblcheck', ' Read ']])", CHAT)

    state = report(wa_page, "true_447700900123@c.us_AAA2")
    assert (state["status"], state["via"]) == ("read", "list")


def test_a_row_that_never_showed_the_message_on_its_clock_does_not_count(wa_page):
    # The list still shows an older message with the same text, already ticked.
    wa_page.evaluate("(t) => app.rows([[t, 'Hello', 'status-check', ' Sent ']])", CHAT)
    submit(wa_page, "true_447700900123@c.us_AAA3", "Hello", row_on_clock=False)
    wa_page.evaluate("() => app.leaveChat()")
    wa_page.evaluate("(t) => app.rows([[t, 'Hello', 'status-dblcheck', ' Delivered ']])", CHAT)

    assert report(wa_page, "true_447700900123@c.us_AAA3")["status"] == ""


def test_a_row_showing_another_message_does_not_count_and_says_so(wa_page):
    submit(wa_page, "true_447700900123@c.us_AAA4", "Hello")
    wa_page.evaluate("() => app.leaveChat()")
    # A reply arrived: the row shows it, with no ticks.
    wa_page.evaluate("(t) => app.rows([[t, 'Who is this?', '', '']])", CHAT)

    state = report(wa_page, "true_447700900123@c.us_AAA4")
    assert (state["status"], state["seen"]) == ("", "")


def test_two_chats_with_the_same_title_cannot_be_told_apart_in_the_list(wa_page):
    submit(wa_page, "true_447700900123@c.us_AAA5", "Hello")
    wa_page.evaluate("() => app.leaveChat()")
    wa_page.evaluate(
        "(t) => app.rows([[t, 'Hello', 'status-check', ' Sent '], [t, 'Hello', 'status-check', ' Sent ']])", CHAT
    )

    assert report(wa_page, "true_447700900123@c.us_AAA5")["status"] == ""


def test_after_a_later_message_to_the_same_chat_only_the_bubble_can_tell(wa_page):
    submit(wa_page, "true_447700900123@c.us_AAA6", "Hello")
    submit(wa_page, "true_447700900123@c.us_AAA7", "Hello")
    wa_page.evaluate("() => app.leaveChat()")
    wa_page.evaluate("(t) => app.rows([[t, 'Hello', 'status-check', ' Sent ']])", CHAT)

    assert report(wa_page, "true_447700900123@c.us_AAA6")["status"] == ""
    assert report(wa_page, "true_447700900123@c.us_AAA7")["status"] == "sent"


def test_a_message_forgotten_by_a_reload_is_reported_lost(wa_page):
    submit(wa_page, "true_447700900123@c.us_AAA8", "Hello")
    wa_page.goto("about:blank")
    wa_page.set_content(PAGE.format(title=OTHER))
    wa_page.evaluate(TRACKER_JS, TRACKER_CONFIG)

    assert report(wa_page, "true_447700900123@c.us_AAA8")["lost"] is True
