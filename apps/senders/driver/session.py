"""One WhatsApp Web session in its own Chromium (Playwright, async).

The driver knows the page only through `selectors`. It reports what happened in the product's
terms — sent with an id, invalid number, logged out, banned, rate limited — and splits failures
into those that happened before the message was handed to WhatsApp (safe to retry) and after
(`SendOutcomeUnknown`: the caller reconciles against the chat instead of resending).

Sending is split in two so messages can follow each other without waiting for every tick:
`submit_text` opens the chat, types and presses Enter, and returns once the page shows the
message's own bubble (on its clock); `wait_sent` then waits for the sent tick of submitted
messages. A tracker installed in the page watches every submitted message: its bubble while its
chat is open (exact, by the bubble's id), and its chat-list row once the driver has moved on —
the row counts only when it showed this message on its clock after Enter and then with a tick,
and only while no later message went to that chat. A message the page cannot vouch for that way
is looked up in its own chat. `send_text` is the two in a row.

Chats are opened in place where WhatsApp Web allows it (a click on one of its chat links inside
the page), with a full load of the /send URL as the fallback.

Incoming messages are collected wherever the session sees them: chats with an unread badge,
and the chat that is open (a message that arrives there is marked read by the page at once, so
it never gets a badge). They are kept until the runner drains them (`drain_incoming`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from playwright.async_api import Browser, BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.browser import ProxySettings, chromium_executable, launch_args

logger = logging.getLogger(__name__)

# The page shows times in the browser's time zone; UTC keeps the bubble times comparable with
# the database's without knowing where the sender host runs.
PAGE_TIMEZONE = "UTC"
# A chat opened by URL renders its history a moment after the compose box appears. Its bubbles
# are read once their count has not changed for this long (longer when none showed up yet).
CHAT_SETTLE_S = 0.3
CHAT_EMPTY_SETTLE_S = 1.0
CHAT_SETTLE_POLL_S = 0.05
# Incoming message ids remembered per session so one message is handed over once.
SEEN_INCOMING_MAX = 20_000
# A chat opened in place that does not show within this long is loaded by URL instead.
IN_PAGE_OPEN_TIMEOUT_S = 3.0
# A submitted message whose tick the page has not vouched for this long after Enter (its chat
# row shows something else, or the page was reloaded) is looked up in its own chat.
TICK_LIST_GRACE_S = 2.0


class Screen:
    QR = "qr"
    READY = "ready"
    BANNED = "banned"
    RATE_LIMITED = "rate_limited"


class DriverError(Exception):
    code = "driver_error"
    retryable = True


class BrowserCrashed(DriverError):
    code = "browser_crashed"


class StepTimeout(DriverError):
    code = "timeout"


class InvalidNumber(DriverError):
    code = "invalid_number"
    retryable = False


class LoggedOut(DriverError):
    code = "logged_out"


class Banned(DriverError):
    code = "banned"
    retryable = False

    def __init__(self, message: str = "", *, after_submit: bool = False):
        super().__init__(message)
        # True when Enter was already pressed: the message may be out (never resend it).
        self.after_submit = after_submit


class RateLimited(DriverError):
    code = "rate_limited"

    def __init__(self, message: str = "", *, after_submit: bool = False):
        super().__init__(message)
        # True when Enter was already pressed: the message may be out (reconcile, never resend).
        self.after_submit = after_submit


class SendOutcomeUnknown(DriverError):
    """The message was typed and submitted but no sent tick came: it may or may not be out."""

    code = "outcome_unknown"
    retryable = False

    def __init__(self, message: str = "", *, wa_message_id: str = ""):
        super().__init__(message)
        # The id of the bubble the page made for it, when it showed one.
        self.wa_message_id = wa_message_id


@dataclass(frozen=True)
class Submission:
    """A message handed to WhatsApp (Enter pressed, its bubble shown on the clock) whose sent
    tick is still to be seen."""

    wa_message_id: str
    digits: str
    submitted_at: float  # event-loop time of Enter
    deadline: float  # event-loop time by which its sent tick must show


@dataclass(frozen=True)
class SendReceipt:
    wa_message_id: str
    status: str = "sent"  # the tick seen when the send was confirmed: sent, delivered or read


@dataclass(frozen=True)
class BubbleStatus:
    wa_message_id: str
    text: str
    status: str  # "pending" | "sent" | "delivered" | "read"
    # When it was sent, to the minute (the page shows no seconds): every reading of the
    # bubble's date that makes sense (day/month order differs by locale). Empty: unknown.
    at: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class IncomingMessage:
    wa_message_id: str
    chat: str
    from_number: str
    sender_name: str
    text: str
    at: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class SubmitNote:
    """What the open chat showed just before Enter: the id of its last outgoing bubble ("" when
    it had none). A reconciler looks for the message only after this bubble."""

    anchor: str


def normalize_text(text: str) -> str:
    """Bubble text as compared with a ledger body: whitespace differences do not count."""
    return " ".join((text or "").split())


_PRE_PLAIN = re.compile(r"^\[(?P<time>[^,\]]+),\s*(?P<date>[^\]]+)\]\s*(?P<name>.*?):\s*$")
_CLOCK = re.compile(r"^(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:\s*(?P<ampm>[AaPp])\.?\s*[Mm]\.?)?$")
_DATE = re.compile(r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})\.?$")
_CHAT_IN_ID = re.compile(r"^(?:true|false)_(?P<chat>[^@_]+)@")


def parse_pre_plain(meta: str) -> tuple[tuple[datetime, ...], str]:
    """`data-pre-plain-text` ("[14:05, 31/01/2026] Name: ") → (possible times in UTC, name).

    WhatsApp writes the clock and date in the browser's locale: 24 h or AM/PM, day or month
    first. Every reading that is a real date is returned; the caller decides what to do when
    they disagree."""
    match = _PRE_PLAIN.match(meta or "")
    if not match:
        return (), ""
    name = match.group("name")
    clock = _CLOCK.match(match.group("time").strip())
    date = _DATE.match(match.group("date").strip())
    if not clock or not date:
        return (), name
    hour, minute = int(clock.group("h")), int(clock.group("m"))
    ampm = (clock.group("ampm") or "").lower()
    if ampm:
        hour = hour % 12 + (12 if ampm == "p" else 0)
    a, b, c = date.group("a"), date.group("b"), date.group("c")
    orders = [(int(a), int(b), int(c))] if len(a) == 4 else [(_year(c), int(b), int(a)), (_year(c), int(a), int(b))]
    found: list[datetime] = []
    for year, month, day in orders:
        try:
            moment = datetime(year, month, day, hour, minute, tzinfo=UTC)
        except ValueError:
            continue
        if moment not in found:
            found.append(moment)
    return tuple(found), name


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def latest_plausible(candidates: tuple[datetime, ...], now: datetime) -> datetime | None:
    """The most recent reading of a bubble time that is not in the future (a minute's grace)."""
    past = [moment for moment in candidates if moment <= now + timedelta(minutes=1)]
    return max(past) if past else None


# JavaScript run in the page: every bubble of one direction in the open chat.
_READ_BUBBLES_JS = """
([sel, textSel, metaSel, idAttr, pending, sent, delivered, readLabel]) =>
  Array.from(document.querySelectorAll(sel)).map(el => {
    const holder = el.closest('[' + idAttr + ']') || el;
    const icon = el.querySelector('span[data-icon]');
    const name = icon ? icon.getAttribute('data-icon') : '';
    const label = icon ? (icon.getAttribute('aria-label') || '') : '';
    let status = 'pending';
    if (name === sent) status = 'sent';
    if (name === delivered) status = (label === readLabel) ? 'read' : 'delivered';
    const textEl = el.querySelector(textSel);
    const meta = el.querySelector(metaSel);
    return {id: holder.getAttribute(idAttr) || '', text: textEl ? textEl.innerText : '', status,
            meta: meta ? meta.getAttribute('data-pre-plain-text') : ''};
  })
"""

# The tick tracker, installed once per document: follows every submitted message until its sent
# tick is seen. While the message's bubble is on screen, its own tick decides (exact: by id).
# Elsewhere, its chat-list row decides, but only when the row showed this message's text on the
# clock after Enter and then with a tick, the row's title names one chat only, and no later
# message of ours went to that chat (the row shows a chat's last message only).
TRACKER_JS = """
(cfg) => {
  if (window.__chorusTicks) return;
  const norm = (s) => (s || '').split(/\\s+/).filter(Boolean).join(' ');
  const T = {entries: new Map(), waiters: new Set(), watch: null, submitted: null};
  window.__chorusTicks = T;
  const tickOf = (icon, pending, sent, delivered) => {
    const name = icon ? icon.getAttribute('data-icon') : '';
    if (name === pending) return 'pending';
    if (name === sent) return 'sent';
    if (name === delivered) return icon.getAttribute('aria-label') === cfg.readLabel ? 'read' : 'delivered';
    return '';
  };
  const rowTick = (e) => {
    if (!e.latest || !e.title) return '';
    let found = null;
    for (const row of document.querySelectorAll(cfg.row)) {
      const title = row.querySelector(cfg.rowTitle);
      if (!title || (title.getAttribute('title') || title.textContent) !== e.title) continue;
      if (found) return '';
      found = row;
    }
    const last = found && found.querySelector(cfg.rowLast);
    const text = last && last.querySelector(cfg.rowText);
    if (!text || norm(text.getAttribute('title') || text.textContent) !== e.text) return '';
    return tickOf(last.querySelector(cfg.rowIcons), cfg.listPending, cfg.listSent, cfg.listDelivered);
  };
  const check = (e) => {
    if (e.status) return;
    const row = rowTick(e);
    if (row === 'pending') e.listPending = true;
    const holder = document.querySelector('[' + cfg.idAttr + '="' + CSS.escape(e.id) + '"]');
    if (holder) {
      const tick = tickOf(holder.querySelector(cfg.tickIcons), cfg.pending, cfg.sent, cfg.delivered);
      e.seen = 'chat';
      if (tick && tick !== 'pending') { e.status = tick; e.via = 'chat'; }
      return;
    }
    e.seen = row ? 'list' : '';
    if (row && row !== 'pending' && e.listPending) { e.status = row; e.via = 'list'; }
  };
  T.sweep = () => {
    for (const e of T.entries.values()) check(e);
    for (const waiter of Array.from(T.waiters)) waiter();
  };
  T.add = (id, title, text) => {
    for (const other of T.entries.values()) if (other.title === title) other.latest = false;
    const e = {id, title, text: norm(text), latest: true, listPending: false, status: '', via: '', seen: ''};
    T.entries.set(id, e);
    check(e);
    return e;
  };
  T.report = (ids) => ids.map((id) => {
    const e = T.entries.get(id);
    return e ? {id, status: e.status, via: e.via, seen: e.seen, lost: false} : {id, status: '', via: '', seen: '', lost: true};
  });
  T.wait = (ids, ms) => new Promise((resolve) => {
    let timer = null;
    const finish = () => { clearTimeout(timer); T.waiters.delete(waiter); resolve(T.report(ids)); };
    const waiter = () => { if (ids.every((id) => { const e = T.entries.get(id); return !e || e.status; })) finish(); };
    T.waiters.add(waiter);
    timer = setTimeout(finish, Math.max(0, ms));
    T.sweep();
  });
  T.forget = (ids) => { for (const id of ids) T.entries.delete(id); };
  new MutationObserver(T.sweep).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ['data-icon', 'aria-label', 'title'],
  });
}
"""

# What the page-state and in-place-open scripts read.
PAGE_CONFIG = {
    "loggedIn": S.LOGGED_IN,
    "dialog": S.DIALOG,
    "qr": S.QR_CONTAINER,
    "main": S.MAIN,
    "compose": S.COMPOSE_BOX,
    "headerTitle": S.MAIN_HEADER_TITLE,
    "bannedText": S.BANNED_TEXT,
    "rateLimitText": S.RATE_LIMIT_TEXT,
}

# What the tracker and the submit watch read, by the names the scripts use.
TRACKER_CONFIG = {
    "out": S.MESSAGE_OUT,
    "text": S.MESSAGE_TEXT,
    "idAttr": S.MESSAGE_ID_ATTR,
    "tickIcons": S.TICK_ICONS,
    "pending": S.ICON_PENDING,
    "sent": S.ICON_SENT,
    "delivered": S.ICON_DELIVERED,
    "readLabel": S.READ_ARIA_LABEL,
    "headerTitle": S.MAIN_HEADER_TITLE,
    "row": S.CHAT_LIST_ROW,
    "rowTitle": S.CHAT_ROW_TITLE,
    "rowLast": S.CHAT_ROW_LAST_MESSAGE,
    "rowText": S.CHAT_ROW_LAST_TEXT,
    "rowIcons": S.LIST_TICK_ICONS,
    "listPending": S.LIST_ICON_PENDING,
    "listSent": S.LIST_ICON_SENT,
    "listDelivered": S.LIST_ICON_DELIVERED,
}

# Before Enter: watch for the first outgoing bubble the page adds on its clock — the one for the
# message being sent (history rendered late arrives with its ticks already) — and start tracking
# it under the open chat's title. Returns the id of the chat's last outgoing bubble until now.
WATCH_SUBMIT_JS = (
    """
(cfg) => {
  ("""
    + TRACKER_JS.strip()
    + """)(cfg);
  const T = window.__chorusTicks;
  if (T.watch) T.watch.disconnect();
  let found = null;
  T.submitted = new Promise((resolve) => { found = resolve; });
  const header = document.querySelector(cfg.headerTitle);
  const title = header ? (header.getAttribute('title') || header.textContent || '') : '';
  const watch = new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        const bubbles = node.matches(cfg.out) ? [node] : Array.from(node.querySelectorAll(cfg.out));
        for (const el of bubbles) {
          const icon = el.querySelector(cfg.tickIcons);
          if (!icon || icon.getAttribute('data-icon') !== cfg.pending) continue;
          const holder = el.closest('[' + cfg.idAttr + ']') || el;
          const id = holder.getAttribute(cfg.idAttr) || '';
          const text = el.querySelector(cfg.text);
          watch.disconnect();
          T.watch = null;
          if (id) T.add(id, title, text ? text.innerText : '');
          found(id);
          return;
        }
      }
    }
  });
  watch.observe(document.body, {childList: true, subtree: true});
  T.watch = watch;
  const all = document.querySelectorAll(cfg.out);
  const last = all.length ? (all[all.length - 1].closest('[' + cfg.idAttr + ']') || all[all.length - 1]) : null;
  return last ? (last.getAttribute(cfg.idAttr) || '') : '';
}
"""
)

# After Enter: the id of the bubble the page made for the message ('' if none showed in time).
_SUBMITTED_ID_JS = """
(ms) => Promise.race([window.__chorusTicks.submitted, new Promise((resolve) => setTimeout(() => resolve(''), ms))])
"""

# The tracker's report on `ids` once all have a tick or `ms` ran out (installed first if the page
# was reloaded: ids it does not know come back `lost`).
_TICKS_WAIT_JS = "([ids, ms, cfg]) => { (" + TRACKER_JS.strip() + ")(cfg); return window.__chorusTicks.wait(ids, ms); }"
_TICKS_ADD_JS = "(ids) => { for (const id of ids) window.__chorusTicks.add(id, '', ''); }"
_TICKS_FORGET_JS = "(ids) => window.__chorusTicks && window.__chorusTicks.forget(ids)"

# Open a chat in place: click one of WhatsApp's chat links inside the page and wait until a new
# chat (a new #main with its compose box), the invalid-number dialog or the QR screen shows.
# '' when the page is not on the chats, or nothing showed in time (the caller loads the URL).
_OPEN_IN_PAGE_JS = """
([href, cfg, ms]) => {
  if (!document.querySelector(cfg.loggedIn) || document.querySelector(cfg.dialog)) return '';
  const old = document.querySelector(cfg.main);
  const shown = () => {
    if (document.querySelector(cfg.dialog)) return 'dialog';
    if (document.querySelector(cfg.qr)) return 'qr';
    const main = document.querySelector(cfg.main);
    return main && main !== old && document.querySelector(cfg.compose) ? 'chat' : '';
  };
  return new Promise((resolve) => {
    let timer = null;
    const watch = new MutationObserver(() => { const what = shown(); if (what) done(what); });
    const done = (what) => { watch.disconnect(); clearTimeout(timer); resolve(what); };
    watch.observe(document.body, {childList: true, subtree: true});
    timer = setTimeout(() => done(''), ms);
    const link = document.createElement('a');
    link.href = href;
    link.rel = 'noopener noreferrer';
    link.style.display = 'none';
    document.body.appendChild(link);
    link.click();
    link.remove();
  });
}
"""

# What the page shows, in one look: the screen (a ban or rate-limit notice anywhere in the page's
# text — scripts and styles aside — wins), whether a compose box is there, the text of an open
# dialog (null: none) and the title of the open chat ('' when no chat with a compose box is open).
_PAGE_STATE_JS = """
(cfg) => {
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').toLowerCase();
  const root = document.body || document.documentElement;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) => /^(SCRIPT|STYLE|NOSCRIPT|TEMPLATE)$/.test(node.parentNode.nodeName)
      ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
  });
  let text = '';
  while (walker.nextNode()) text += walker.currentNode.nodeValue;
  text = norm(text);
  let screen = 'qr';
  if (text.includes(norm(cfg.bannedText))) screen = 'banned';
  else if (text.includes(norm(cfg.rateLimitText))) screen = 'rate_limited';
  else if (document.querySelector(cfg.loggedIn)) screen = 'ready';
  const compose = !!document.querySelector(cfg.compose);
  const dialog = document.querySelector(cfg.dialog);
  const header = document.querySelector(cfg.headerTitle);
  const title = header && compose && !dialog ? (header.getAttribute('title') || header.textContent || '') : '';
  return {screen, compose, dialog: dialog ? dialog.innerText : null, title};
}
"""

# Before typing: is the compose box focused, and is it empty?
_COMPOSE_STATE_JS = """
(sel) => {
  const box = document.querySelector(sel);
  if (!box) return {focused: false, empty: true};
  const active = document.activeElement;
  return {focused: !!active && (active === box || box.contains(active)), empty: !box.innerText.trim()};
}
"""


class WhatsAppSession:
    """A browser, a context and one page on WhatsApp Web for one profile."""

    def __init__(
        self,
        playwright: Playwright,
        *,
        base_url: str,
        storage_state: dict | None = None,
        proxy: ProxySettings | None = None,
        timeout_s: float = 45.0,
        sent_tick_timeout_s: float = 30.0,
    ):
        self._playwright = playwright
        self.base_url = base_url.rstrip("/")
        self._storage_state = storage_state
        self._proxy = proxy
        self.timeout_ms = int(timeout_s * 1000)
        self.sent_tick_timeout_ms = int(sent_tick_timeout_s * 1000)
        self.browser: Browser | None = None
        self.context: BrowserContext | None = None
        self.page: Page | None = None
        self._incoming: list[IncomingMessage] = []
        self._seen_incoming: set[str] = set()
        # Set just before Enter is pressed in submit_text: from then on the message may be out.
        self.submitted = False
        # The chat open_chat last opened (digits, header title): sending there again needs no
        # navigation while the page still shows it.
        self._open_chat: tuple[str, str] | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> str:
        """Launch, restore the stored session and load WhatsApp Web. Returns the screen."""
        self._open_chat = None
        try:
            self.browser = await self._playwright.chromium.launch(
                executable_path=chromium_executable(),
                headless=True,
                args=launch_args(),
                proxy=self._proxy.as_playwright() if self._proxy else None,
                timeout=self.timeout_ms,
            )
            self.context = await self.browser.new_context(
                storage_state=self._storage_state,
                viewport={"width": 1100, "height": 800},
                locale="en-US",
                timezone_id=PAGE_TIMEZONE,
            )
            self.context.set_default_timeout(self.timeout_ms)
            self.page = await self.context.new_page()
            await self.page.goto(self.base_url + "/", wait_until="domcontentloaded")
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"opening WhatsApp Web timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"could not open WhatsApp Web: {exc}") from exc
        return await self.wait_screen()

    async def close(self) -> None:
        for closer in (self.context, self.browser):
            if closer is not None:
                # Already gone (crashed): nothing left to release.
                with contextlib.suppress(PlaywrightError):
                    await closer.close()
        self.context = self.browser = self.page = None

    @property
    def is_open(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    async def storage_state(self) -> bytes:
        """Cookies, local storage and IndexedDB, as JSON bytes (stored encrypted by the caller)."""
        assert self.context is not None
        try:
            state = await self.context.storage_state(indexed_db=True)
        except PlaywrightError as exc:
            raise BrowserCrashed(f"could not read the session state: {exc}") from exc
        return json.dumps(state).encode()

    # --- screens -------------------------------------------------------------------------------

    async def wait_screen(self, timeout_ms: int | None = None) -> str:
        page = self._page()
        try:
            await page.wait_for_selector(f"{S.QR_CONTAINER}, {S.LOGGED_IN}", timeout=timeout_ms or self.timeout_ms)
        except PlaywrightTimeout as exc:
            raise StepTimeout("WhatsApp Web did not show the QR code or the chats") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc
        return await self.current_screen()

    async def current_screen(self) -> str:
        return (await self._page_state())["screen"]

    async def _page_state(self) -> dict:
        """See _PAGE_STATE_JS (one round trip: it is looked at before every message)."""
        try:
            return await self._page().evaluate(_PAGE_STATE_JS, PAGE_CONFIG)
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc

    async def qr_payload(self) -> str | None:
        """The pairing payload on the QR screen; clicks "reload" when the code expired."""
        page = self._page()
        try:
            reload_button = page.locator(S.QR_RELOAD_BUTTON)
            if await reload_button.count():
                await reload_button.first.click()
            container = page.locator(S.QR_CONTAINER)
            if not await container.count():
                return None
            return await container.first.get_attribute("data-ref") or None
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc

    async def own_number(self) -> str:
        """The linked account's phone (digits), from the page's local storage."""
        page = self._page()
        try:
            raw = await page.evaluate(
                "(keys) => { for (const k of keys) { const v = localStorage.getItem(k); if (v) return v; } return ''; }",
                list(S.OWN_NUMBER_STORAGE_KEYS),
            )
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc
        digits = re.match(r"^\"?(\d+)", raw or "")
        return digits.group(1) if digits else ""

    # --- sending -------------------------------------------------------------------------------

    async def open_chat(self, digits: str, text: str = "") -> None:
        """Open the chat with `digits`: in place when the page allows it, else by loading the
        /send URL. Raises InvalidNumber / LoggedOut / Banned / RateLimited."""
        page = self._page()
        # Whatever arrived in the chat being left is collected first: it is read already.
        await self._collect_open_chat()
        if not text and await self._chat_still_open(digits):
            return
        self._open_chat = None
        shown = await self._open_chat_in_page(digits, text)
        if not shown:
            url = self.base_url + S.SEND_URL.format(phone=digits) + (f"&text={quote(text)}" if text else "")
            try:
                await page.goto(url, wait_until="domcontentloaded")
                await page.wait_for_selector(f"{S.COMPOSE_BOX}, {S.DIALOG}, {S.QR_CONTAINER}")
            except PlaywrightTimeout as exc:
                raise StepTimeout(f"opening the chat timed out: {exc}") from exc
            except PlaywrightError as exc:
                raise BrowserCrashed(f"opening the chat failed: {exc}") from exc
        state = await self._page_state()
        self._raise_for_state(state)
        if state["dialog"] is not None and S.INVALID_NUMBER_TEXT in state["dialog"]:
            try:
                ok = page.locator(S.DIALOG_OK)
                if await ok.count():
                    await ok.first.click()
            except PlaywrightError as exc:
                raise BrowserCrashed(f"closing the dialog failed: {exc}") from exc
            raise InvalidNumber(f"{digits} is not on WhatsApp")
        if state["dialog"] is not None or not state["compose"]:
            # Typing now could go into the chat that was open before: nothing is typed.
            raise StepTimeout("the chat did not open (a dialog is in the way or no compose box)")
        self._open_chat = (digits, state["title"]) if state["title"] else None

    async def _chat_still_open(self, digits: str) -> bool:
        """Whether the chat open_chat last opened for `digits` is still the one on screen."""
        if self._open_chat is None or self._open_chat[0] != digits:
            return False
        state = await self._page_state()
        return state["screen"] == Screen.READY and state["title"] == self._open_chat[1]

    async def _open_chat_in_page(self, digits: str, text: str) -> str:
        """Click a chat link inside the page. Returns what showed ('chat', 'dialog', 'qr'), or ''
        when the chat must be loaded by URL instead (not on the chats, or nothing in time)."""
        href = S.CHAT_LINK.format(phone=digits) + (f"&text={quote(text)}" if text else "")
        try:
            return await self._page().evaluate(
                _OPEN_IN_PAGE_JS, [href, PAGE_CONFIG, int(IN_PAGE_OPEN_TIMEOUT_S * 1000)]
            )
        except PlaywrightError as exc:
            # The page navigated instead (the link was not routed in place) or is gone: loading
            # the URL settles which.
            logger.info("driver.open_in_page_failed", extra={"error": type(exc).__name__})
            return ""

    async def send_text(
        self,
        digits: str,
        text: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: Callable[[SubmitNote], Awaitable[None]] | None = None,
    ) -> SendReceipt:
        """Type `text` into the chat with `digits` and send it; returns once the sent tick shows
        (`submit_text`, then `wait_sent` for it)."""
        submission = await self.submit_text(digits, text, typing_delay_ms=typing_delay_ms, before_submit=before_submit)
        (result,) = await self.wait_sent([submission])
        if isinstance(result, DriverError):
            raise result
        return result

    async def submit_text(
        self,
        digits: str,
        text: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: Callable[[SubmitNote], Awaitable[None]] | None = None,
    ) -> Submission:
        """Type `text` into the chat with `digits` (at a human pace when `typing_delay_ms` is
        set, in one step otherwise), press Enter and return once the page shows the message's
        bubble; its sent tick is for `wait_sent`. Failures before Enter are retryable; after it,
        SendOutcomeUnknown (or Banned/RateLimited when the page says so). `before_submit` is
        awaited just before Enter with what the chat showed then (the caller records it for
        reconciliation; if it raises, nothing is sent)."""
        self.submitted = False
        await self.open_chat(digits)
        page = self._page()
        try:
            await self._type(text, typing_delay_ms)
            anchor = await page.evaluate(WATCH_SUBMIT_JS, TRACKER_CONFIG)
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"typing timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"typing failed: {exc}") from exc
        if before_submit is not None:
            await before_submit(SubmitNote(anchor=anchor or ""))
        # From here on the message may be out: no plain retries.
        self.submitted = True
        loop = asyncio.get_running_loop()
        submitted_at = loop.time()
        wa_id = ""
        try:
            await page.keyboard.press("Enter")
            wa_id = await page.evaluate(_SUBMITTED_ID_JS, self.sent_tick_timeout_ms)
        except PlaywrightError as exc:
            raise await self._after_submit_failure(f"no bubble after Enter: {exc}", "") from exc
        if not wa_id:
            raise await self._after_submit_failure("the page showed no bubble for the message", "")
        return Submission(
            wa_message_id=wa_id,
            digits=digits,
            submitted_at=submitted_at,
            deadline=submitted_at + self.sent_tick_timeout_ms / 1000,
        )

    async def _type(self, text: str, typing_delay_ms: int) -> None:
        """Type into the compose box: key by key at `typing_delay_ms`, or each line inserted in
        one step when there is no delay (a new line is Shift+Enter either way)."""
        page = self._page()
        state = await page.evaluate(_COMPOSE_STATE_JS, S.COMPOSE_BOX)
        if typing_delay_ms or not state["focused"] or not state["empty"]:
            await page.locator(S.COMPOSE_BOX).click()
        if not state["empty"]:
            # A draft left by an attempt that never got to Enter: it is not part of this message.
            await page.keyboard.press("ControlOrMeta+A")
            await page.keyboard.press("Backspace")
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if line and typing_delay_ms:
                await page.keyboard.type(line, delay=typing_delay_ms)
            elif line:
                await page.keyboard.insert_text(line)
            if index < len(lines) - 1:
                await page.keyboard.press("Shift+Enter")

    async def wait_sent(self, submissions: list[Submission]) -> list[SendReceipt | DriverError]:
        """The sent tick of each submitted message, in order: a receipt, or the error that
        stands for it (SendOutcomeUnknown when no tick showed by its deadline; Banned or
        RateLimited, after submit, when the page says so). Ticks are read from wherever the page
        shows them (the tracker); a message the page has not vouched for within
        TICK_LIST_GRACE_S is looked up in its own chat."""
        if not submissions:
            return []
        loop = asyncio.get_running_loop()
        results: dict[str, SendReceipt | DriverError] = {}
        ids = [s.wa_message_id for s in submissions]
        try:
            page = self._page()
            now = loop.time()
            grace_end = max(s.submitted_at for s in submissions) + TICK_LIST_GRACE_S
            budget = max(0.0, min(grace_end, min(s.deadline for s in submissions)) - now)
            reports = await page.evaluate(_TICKS_WAIT_JS, [ids, int(budget * 1000), TRACKER_CONFIG])
            for submission, report in zip(submissions, reports, strict=True):
                if report["status"]:
                    logger.debug("driver.sent_tick_seen", extra={"via": report["via"]})
                    results[submission.wa_message_id] = SendReceipt(submission.wa_message_id, report["status"])
            lost = [r["id"] for r in reports if r["lost"]]
            if lost:
                # The page was reloaded since: only the bubbles themselves can tell now.
                await page.evaluate(_TICKS_ADD_JS, lost)
            for submission in submissions:
                if submission.wa_message_id not in results:
                    results[submission.wa_message_id] = await self._wait_sent_in_chat(submission)
        except DriverError as exc:
            for submission in submissions:
                results.setdefault(submission.wa_message_id, self._after_submit_error(exc, submission))
        except PlaywrightError as exc:
            for submission in submissions:
                results.setdefault(
                    submission.wa_message_id,
                    SendOutcomeUnknown(f"no sent tick: {exc}", wa_message_id=submission.wa_message_id),
                )
        with contextlib.suppress(PlaywrightError, DriverError):
            await self._page().evaluate(_TICKS_FORGET_JS, ids)
        return [results[s.wa_message_id] for s in submissions]

    async def _wait_sent_in_chat(self, submission: Submission) -> SendReceipt | DriverError:
        """Open the message's chat and wait for its bubble's tick until its deadline."""
        loop = asyncio.get_running_loop()
        page = self._page()
        wa_id = submission.wa_message_id
        (report,) = await page.evaluate(_TICKS_WAIT_JS, [[wa_id], 0, TRACKER_CONFIG])
        if not report["status"] and loop.time() < submission.deadline:
            await self.open_chat(submission.digits)
            remaining = max(0.0, submission.deadline - loop.time())
            (report,) = await page.evaluate(_TICKS_WAIT_JS, [[wa_id], int(remaining * 1000), TRACKER_CONFIG])
        if report["status"]:
            logger.debug("driver.sent_tick_seen", extra={"via": report["via"], "looked_up": True})
            return SendReceipt(wa_id, report["status"])
        return await self._after_submit_failure("no sent tick", wa_id)

    async def _after_submit_failure(self, detail: str, wa_id: str) -> DriverError:
        """What a message whose tick did not come stands for: the page's ban or rate-limit
        notice when it shows one, else an unknown outcome (the caller reconciles)."""
        screen = await self._screen_or_none()
        if screen == Screen.BANNED:
            return Banned("WhatsApp banned this number", after_submit=True)
        if screen == Screen.RATE_LIMITED:
            return RateLimited("WhatsApp is rate-limiting this number", after_submit=True)
        return SendOutcomeUnknown(detail, wa_message_id=wa_id)

    @staticmethod
    def _after_submit_error(exc: DriverError, submission: Submission) -> DriverError:
        """A driver error met while waiting for a submitted message's tick, as that message's
        outcome: it may be out whatever happened, so never a plain retryable failure."""
        if isinstance(exc, Banned | RateLimited):
            return type(exc)(str(exc), after_submit=True)
        if isinstance(exc, SendOutcomeUnknown):
            return SendOutcomeUnknown(str(exc), wa_message_id=exc.wa_message_id or submission.wa_message_id)
        return SendOutcomeUnknown(f"no sent tick: {exc.code}", wa_message_id=submission.wa_message_id)

    async def _screen_or_none(self) -> str | None:
        try:
            return await self.current_screen()
        except DriverError:
            return None

    @staticmethod
    def _raise_for_state(state: dict) -> None:
        screen = state["screen"]
        if screen == Screen.QR and not state["compose"]:
            raise LoggedOut("WhatsApp Web shows the QR code: the device was unlinked")
        if screen == Screen.BANNED:
            raise Banned("WhatsApp banned this number")
        if screen == Screen.RATE_LIMITED:
            raise RateLimited("WhatsApp is rate-limiting this number")

    # --- reading -------------------------------------------------------------------------------

    async def outgoing_bubbles(self) -> list[BubbleStatus]:
        """Outgoing messages of the open chat with their tick status, oldest first."""
        try:
            rows = await self._page().evaluate(
                _READ_BUBBLES_JS,
                [
                    S.MESSAGE_OUT,
                    S.MESSAGE_TEXT,
                    S.MESSAGE_META,
                    S.MESSAGE_ID_ATTR,
                    S.ICON_PENDING,
                    S.ICON_SENT,
                    S.ICON_DELIVERED,
                    S.READ_ARIA_LABEL,
                ],
            )
        except PlaywrightError as exc:
            raise BrowserCrashed(f"reading the chat failed: {exc}") from exc
        return [
            BubbleStatus(wa_message_id=r["id"], text=r["text"], status=r["status"], at=parse_pre_plain(r["meta"])[0])
            for r in rows
        ]

    async def chat_statuses(self, digits: str) -> list[BubbleStatus]:
        """Open the chat with `digits`, let its history render, and read its outgoing bubbles
        (its incoming ones are collected on the way)."""
        await self.open_chat(digits)
        await self._wait_chat_settled()
        await self._collect_open_chat()
        return await self.outgoing_bubbles()

    async def _wait_chat_settled(self) -> None:
        """Wait until the open chat's bubbles stop changing (history renders after the chat
        opens; reading earlier would miss messages that are there)."""
        page = self._page()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_ms / 1000
        bubbles = page.locator(f"{S.MESSAGE_OUT}, {S.MESSAGE_IN}")
        count, since = -1, loop.time()
        while loop.time() < deadline:
            try:
                now_count = await bubbles.count()
            except PlaywrightError as exc:
                raise BrowserCrashed(f"reading the chat failed: {exc}") from exc
            if now_count != count:
                count, since = now_count, loop.time()
            elif loop.time() - since >= (CHAT_SETTLE_S if count else CHAT_EMPTY_SETTLE_S):
                return
            await asyncio.sleep(CHAT_SETTLE_POLL_S)
        raise StepTimeout("the chat kept changing while it was read")

    async def unread_chats(self) -> int:
        page = self._page()
        try:
            return await page.locator(f"{S.LOGGED_IN} {S.UNREAD_BADGE}").count()
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc

    async def read_unread_chats(self, limit: int = 20) -> None:
        """Open chats with an unread badge (the page marks them read) and collect their
        incoming messages."""
        page = self._page()
        # Chats are opened here by clicking their rows: what open_chat opened is no longer on screen.
        self._open_chat = None
        try:
            if not await page.locator(S.LOGGED_IN).count():
                await page.goto(self.base_url + "/", wait_until="domcontentloaded")
                await page.wait_for_selector(S.LOGGED_IN)
            for _ in range(limit):
                badge = page.locator(f"{S.LOGGED_IN} {S.UNREAD_BADGE}")
                if not await badge.count():
                    break
                await self._collect_open_chat()
                await badge.first.click()
                await page.wait_for_selector(S.MESSAGE_IN, timeout=self.timeout_ms)
                await self._collect_open_chat()
                await asyncio.sleep(0.05)
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"reading chats timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"reading chats failed: {exc}") from exc

    async def drain_incoming(self) -> list[IncomingMessage]:
        """Incoming messages seen since the last call (the open chat's included), each once."""
        await self._collect_open_chat()
        drained, self._incoming = self._incoming, []
        return drained

    async def _collect_open_chat(self) -> None:
        """Remember the open chat's incoming messages not seen before. Best effort: a page that
        cannot be read now (navigating, crashed) is reported by the next real step instead."""
        if self.page is None or self.page.is_closed():
            return
        try:
            rows = await self.page.evaluate(
                _READ_BUBBLES_JS,
                [S.MESSAGE_IN, S.MESSAGE_TEXT, S.MESSAGE_META, S.MESSAGE_ID_ATTR, "", "", "", ""],
            )
        except PlaywrightError as exc:
            logger.warning("driver.incoming_not_read", extra={"error": type(exc).__name__})
            return
        if len(self._seen_incoming) > SEEN_INCOMING_MAX:
            # Forgetting is safe: the inbox de-duplicates by message id.
            self._seen_incoming.clear()
        for row in rows:
            wa_id = row["id"] or ""
            chat_match = _CHAT_IN_ID.match(wa_id)
            if not chat_match or wa_id in self._seen_incoming:
                continue
            self._seen_incoming.add(wa_id)
            at, name = parse_pre_plain(row["meta"] or "")
            chat = chat_match.group("chat")
            self._incoming.append(
                IncomingMessage(
                    wa_message_id=wa_id, chat=chat, from_number=chat, sender_name=name, text=row["text"], at=at
                )
            )

    def _page(self) -> Page:
        if self.page is None or self.page.is_closed():
            raise BrowserCrashed("the page is gone")
        return self.page
