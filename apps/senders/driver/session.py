"""One WhatsApp Web session in its own Chromium (Playwright, async).

The driver knows the page only through `selectors`. It reports what happened in the product's
terms — sent with an id, invalid number, logged out, banned, rate limited — and splits failures
into those that happened before the message was handed to WhatsApp (safe to retry) and after
(`SendOutcomeUnknown`: the caller reconciles against the chat instead of resending).

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

# Before Enter: remember the first outgoing bubble the page adds while still pending — that is
# the one for the message being sent (history rendered late arrives with its ticks already).
_WATCH_SUBMIT_JS = """
([sel, idAttr, pending]) => {
  if (window.__chorusWatch) window.__chorusWatch.disconnect();
  window.__chorusSubmitted = '';
  const watch = new MutationObserver(records => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        const found = node.matches(sel) ? [node] : Array.from(node.querySelectorAll(sel));
        for (const el of found) {
          const icon = el.querySelector('span[data-icon]');
          if (!icon || icon.getAttribute('data-icon') !== pending) continue;
          const holder = el.closest('[' + idAttr + ']') || el;
          window.__chorusSubmitted = holder.getAttribute(idAttr) || '';
          watch.disconnect();
          return;
        }
      }
    }
  });
  watch.observe(document.body, {childList: true, subtree: true});
  window.__chorusWatch = watch;
  const all = document.querySelectorAll(sel);
  const last = all.length ? (all[all.length - 1].closest('[' + idAttr + ']') || all[all.length - 1]) : null;
  return last ? (last.getAttribute(idAttr) || '') : '';
}
"""

# After Enter: the submitted bubble's tick, once it is past the clock ('' while pending).
_SUBMITTED_TICK_JS = """
([idAttr, pending, sent, delivered, readLabel]) => {
  const id = window.__chorusSubmitted;
  if (!id) return '';
  const el = document.querySelector('[' + idAttr + '="' + CSS.escape(id) + '"]');
  const icon = el && el.querySelector('span[data-icon]');
  const name = icon ? icon.getAttribute('data-icon') : pending;
  if (name === pending) return '';
  if (name === sent) return 'sent';
  if (name === delivered) return (icon.getAttribute('aria-label') === readLabel) ? 'read' : 'delivered';
  return 'sent';
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
        # Set just before Enter is pressed in send_text: from then on the message may be out.
        self.submitted = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> str:
        """Launch, restore the stored session and load WhatsApp Web. Returns the screen."""
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
        page = self._page()
        try:
            if await page.get_by_text(S.BANNED_TEXT).count():
                return Screen.BANNED
            if await page.get_by_text(S.RATE_LIMIT_TEXT).count():
                return Screen.RATE_LIMITED
            if await page.locator(S.LOGGED_IN).count():
                return Screen.READY
            if await page.locator(S.QR_CONTAINER).count():
                return Screen.QR
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc
        return Screen.QR

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
        """Navigate to the chat with `digits`. Raises InvalidNumber / LoggedOut / Banned."""
        page = self._page()
        # Whatever arrived in the chat being left is collected first: it is read already.
        await self._collect_open_chat()
        url = f"{self.base_url}/send?phone={digits}" + (f"&text={quote(text)}" if text else "")
        try:
            await page.goto(url, wait_until="domcontentloaded")
            await page.wait_for_selector(f"{S.COMPOSE_BOX}, {S.DIALOG}, {S.QR_CONTAINER}")
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"opening the chat timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"opening the chat failed: {exc}") from exc
        await self._raise_for_screen()
        try:
            dialog = page.locator(S.DIALOG)
            if await dialog.count() and S.INVALID_NUMBER_TEXT in (await dialog.first.inner_text()):
                ok = page.locator(S.DIALOG_OK)
                if await ok.count():
                    await ok.first.click()
                raise InvalidNumber(f"{digits} is not on WhatsApp")
        except PlaywrightError as exc:
            raise BrowserCrashed(f"reading the chat failed: {exc}") from exc

    async def send_text(
        self,
        digits: str,
        text: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: Callable[[SubmitNote], Awaitable[None]] | None = None,
    ) -> SendReceipt:
        """Type `text` into the chat with `digits` at a human pace and send it; returns once the
        sent tick shows. Failures before Enter are retryable; after it, SendOutcomeUnknown
        (or Banned/RateLimited when the page says so). `before_submit` is awaited just before
        Enter with what the chat showed then (the caller records it for reconciliation; if it
        raises, nothing is sent)."""
        self.submitted = False
        await self.open_chat(digits)
        page = self._page()
        try:
            box = page.locator(S.COMPOSE_BOX)
            await box.click()
            lines = text.split("\n")
            for index, line in enumerate(lines):
                if line:
                    await page.keyboard.type(line, delay=typing_delay_ms)
                if index < len(lines) - 1:
                    await page.keyboard.press("Shift+Enter")
            anchor = await page.evaluate(_WATCH_SUBMIT_JS, [S.MESSAGE_OUT, S.MESSAGE_ID_ATTR, S.ICON_PENDING])
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"typing timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"typing failed: {exc}") from exc
        if before_submit is not None:
            await before_submit(SubmitNote(anchor=anchor or ""))
        # From here on the message may be out: no plain retries.
        wa_id = ""
        self.submitted = True
        try:
            await page.keyboard.press("Enter")
            handle = await page.wait_for_function(
                _SUBMITTED_TICK_JS,
                arg=[S.MESSAGE_ID_ATTR, S.ICON_PENDING, S.ICON_SENT, S.ICON_DELIVERED, S.READ_ARIA_LABEL],
                timeout=self.sent_tick_timeout_ms,
            )
            status = await handle.json_value()
            wa_id = await page.evaluate("() => window.__chorusSubmitted || ''")
        except (PlaywrightTimeout, PlaywrightError) as exc:
            with contextlib.suppress(PlaywrightError):
                wa_id = await page.evaluate("() => window.__chorusSubmitted || ''")
            screen = await self._screen_or_none()
            if screen == Screen.BANNED:
                raise Banned("WhatsApp banned this number", after_submit=True) from exc
            if screen == Screen.RATE_LIMITED:
                raise RateLimited("WhatsApp is rate-limiting this number", after_submit=True) from exc
            raise SendOutcomeUnknown(f"no sent tick: {exc}", wa_message_id=wa_id or "") from exc
        return SendReceipt(wa_message_id=wa_id or "", status=status or "sent")

    async def _screen_or_none(self) -> str | None:
        try:
            return await self.current_screen()
        except DriverError:
            return None

    async def _raise_for_screen(self) -> None:
        screen = await self.current_screen()
        try:
            if screen == Screen.QR and not await self._page().locator(S.COMPOSE_BOX).count():
                raise LoggedOut("WhatsApp Web shows the QR code: the device was unlinked")
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc
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
