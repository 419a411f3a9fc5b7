"""One WhatsApp Web session in its own Chromium (Playwright, async).

The driver knows the page only through `selectors`. It reports what happened in the product's
terms — sent with an id, invalid number, logged out, banned, rate limited — and splits failures
into those that happened before the message was handed to WhatsApp (safe to retry) and after
(`SendOutcomeUnknown`: the caller reconciles against the chat instead of resending).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from dataclasses import dataclass
from urllib.parse import quote

from playwright.async_api import Browser, BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.browser import ProxySettings, chromium_executable, launch_args

logger = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class SendReceipt:
    wa_message_id: str
    status: str = "sent"  # the tick seen when the send was confirmed: sent, delivered or read


@dataclass(frozen=True)
class BubbleStatus:
    wa_message_id: str
    text: str
    status: str  # "pending" | "sent" | "delivered" | "read"


@dataclass(frozen=True)
class IncomingMessage:
    wa_message_id: str
    chat: str
    from_number: str
    sender_name: str
    text: str


_PRE_PLAIN = re.compile(r"^\[(?P<time>[^\]]*)\]\s*(?P<name>.*?):\s*$")
_CHAT_IN_ID = re.compile(r"^(?:true|false)_(?P<chat>[^@_]+)@")

# JavaScript run in the page: the status of every outgoing bubble in the open chat.
_READ_BUBBLES_JS = """
([outSel, textSel, idAttr, pending, sent, delivered, readLabel]) =>
  Array.from(document.querySelectorAll(outSel)).map(el => {
    const holder = el.closest('[' + idAttr + ']') || el;
    const icon = el.querySelector('span[data-icon]');
    const name = icon ? icon.getAttribute('data-icon') : '';
    const label = icon ? (icon.getAttribute('aria-label') || '') : '';
    let status = 'pending';
    if (name === sent) status = 'sent';
    if (name === delivered) status = (label === readLabel) ? 'read' : 'delivered';
    const textEl = el.querySelector(textSel);
    return {id: holder.getAttribute(idAttr) || '', text: textEl ? textEl.innerText : '', status};
  })
"""

_READ_INCOMING_JS = """
([inSel, textSel, metaSel, idAttr]) =>
  Array.from(document.querySelectorAll(inSel)).map(el => {
    const holder = el.closest('[' + idAttr + ']') || el;
    const meta = el.querySelector(metaSel);
    const textEl = el.querySelector(textSel);
    return {id: holder.getAttribute(idAttr) || '', meta: meta ? meta.getAttribute('data-pre-plain-text') : '',
            text: textEl ? textEl.innerText : ''};
  })
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
        raw = await page.evaluate(
            "(keys) => { for (const k of keys) { const v = localStorage.getItem(k); if (v) return v; } return ''; }",
            list(S.OWN_NUMBER_STORAGE_KEYS),
        )
        digits = re.match(r"^\"?(\d+)", raw or "")
        return digits.group(1) if digits else ""

    # --- sending -------------------------------------------------------------------------------

    async def open_chat(self, digits: str, text: str = "") -> None:
        """Navigate to the chat with `digits`. Raises InvalidNumber / LoggedOut / Banned."""
        page = self._page()
        url = f"{self.base_url}/send?phone={digits}" + (f"&text={quote(text)}" if text else "")
        try:
            await page.goto(url, wait_until="domcontentloaded")
            await page.wait_for_selector(f"{S.COMPOSE_BOX}, {S.DIALOG}, {S.QR_CONTAINER}")
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"opening the chat timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"opening the chat failed: {exc}") from exc
        await self._raise_for_screen()
        dialog = page.locator(S.DIALOG)
        if await dialog.count() and S.INVALID_NUMBER_TEXT in (await dialog.first.inner_text()):
            ok = page.locator(S.DIALOG_OK)
            if await ok.count():
                await ok.first.click()
            raise InvalidNumber(f"{digits} is not on WhatsApp")

    async def send_text(self, digits: str, text: str, *, typing_delay_ms: int = 0) -> SendReceipt:
        """Type `text` into the chat with `digits` at a human pace and send it; returns once the
        sent tick shows. Failures before Enter are retryable; after it, SendOutcomeUnknown
        (or Banned/RateLimited when the page says so)."""
        await self.open_chat(digits)
        page = self._page()
        try:
            before = await page.locator(S.MESSAGE_OUT).count()
            box = page.locator(S.COMPOSE_BOX)
            await box.click()
            lines = text.split("\n")
            for index, line in enumerate(lines):
                if line:
                    await page.keyboard.type(line, delay=typing_delay_ms)
                if index < len(lines) - 1:
                    await page.keyboard.press("Shift+Enter")
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"typing timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"typing failed: {exc}") from exc
        # From here on the message may be out: no plain retries.
        try:
            await page.keyboard.press("Enter")
            bubble = page.locator(S.MESSAGE_OUT).nth(before)
            await bubble.wait_for(timeout=self.sent_tick_timeout_ms)
            await page.wait_for_function(
                """([sel, i, pending]) => {
                    const el = document.querySelectorAll(sel)[i];
                    const icon = el && el.querySelector('span[data-icon]');
                    return icon && icon.getAttribute('data-icon') !== pending;
                }""",
                arg=[S.MESSAGE_OUT, before, S.ICON_PENDING],
                timeout=self.sent_tick_timeout_ms,
            )
            holder = bubble.locator(f"xpath=ancestor-or-self::*[@{S.MESSAGE_ID_ATTR}][1]")
            wa_id = await holder.get_attribute(S.MESSAGE_ID_ATTR) if await holder.count() else None
        except (PlaywrightTimeout, PlaywrightError) as exc:
            screen = await self._screen_or_none()
            if screen == Screen.BANNED:
                raise Banned("WhatsApp banned this number") from exc
            if screen == Screen.RATE_LIMITED:
                raise RateLimited("WhatsApp is rate-limiting this number", after_submit=True) from exc
            raise SendOutcomeUnknown(f"no sent tick: {exc}") from exc
        return SendReceipt(wa_message_id=wa_id or "")

    async def _screen_or_none(self) -> str | None:
        try:
            return await self.current_screen()
        except DriverError:
            return None

    async def _raise_for_screen(self) -> None:
        screen = await self.current_screen()
        if screen == Screen.QR and not await self._page().locator(S.COMPOSE_BOX).count():
            raise LoggedOut("WhatsApp Web shows the QR code: the device was unlinked")
        if screen == Screen.BANNED:
            raise Banned("WhatsApp banned this number")
        if screen == Screen.RATE_LIMITED:
            raise RateLimited("WhatsApp is rate-limiting this number")

    # --- reading -------------------------------------------------------------------------------

    async def outgoing_bubbles(self) -> list[BubbleStatus]:
        """Outgoing messages of the open chat with their tick status."""
        rows = await self._page().evaluate(
            _READ_BUBBLES_JS,
            [
                S.MESSAGE_OUT,
                S.MESSAGE_TEXT,
                S.MESSAGE_ID_ATTR,
                S.ICON_PENDING,
                S.ICON_SENT,
                S.ICON_DELIVERED,
                S.READ_ARIA_LABEL,
            ],
        )
        return [BubbleStatus(wa_message_id=r["id"], text=r["text"], status=r["status"]) for r in rows]

    async def chat_statuses(self, digits: str) -> list[BubbleStatus]:
        await self.open_chat(digits)
        return await self.outgoing_bubbles()

    async def unread_chats(self) -> int:
        page = self._page()
        try:
            return await page.locator(f"{S.LOGGED_IN} {S.UNREAD_BADGE}").count()
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc

    async def read_unread_chats(self, limit: int = 20) -> list[IncomingMessage]:
        """Open chats with an unread badge (the page marks them read) and return their incoming
        messages. Messages already captured are de-duplicated by the caller by id."""
        page = self._page()
        found: list[IncomingMessage] = []
        try:
            if not await page.locator(S.LOGGED_IN).count():
                await page.goto(self.base_url + "/", wait_until="domcontentloaded")
                await page.wait_for_selector(S.LOGGED_IN)
            for _ in range(limit):
                badge = page.locator(f"{S.LOGGED_IN} {S.UNREAD_BADGE}")
                if not await badge.count():
                    break
                await badge.first.click()
                await page.wait_for_selector(S.MESSAGE_IN, timeout=self.timeout_ms)
                found += await self._incoming_in_open_chat()
                await asyncio.sleep(0.05)
        except PlaywrightTimeout as exc:
            raise StepTimeout(f"reading chats timed out: {exc}") from exc
        except PlaywrightError as exc:
            raise BrowserCrashed(f"reading chats failed: {exc}") from exc
        return found

    async def _incoming_in_open_chat(self) -> list[IncomingMessage]:
        rows = await self._page().evaluate(
            _READ_INCOMING_JS, [S.MESSAGE_IN, S.MESSAGE_TEXT, S.MESSAGE_META, S.MESSAGE_ID_ATTR]
        )
        messages = []
        for row in rows:
            chat_match = _CHAT_IN_ID.match(row["id"] or "")
            meta = _PRE_PLAIN.match(row["meta"] or "")
            chat = chat_match.group("chat") if chat_match else ""
            messages.append(
                IncomingMessage(
                    wa_message_id=row["id"],
                    chat=chat,
                    from_number=chat,
                    sender_name=meta.group("name") if meta else "",
                    text=row["text"],
                )
            )
        return [m for m in messages if m.wa_message_id and m.chat]

    def _page(self) -> Page:
        if self.page is None or self.page.is_closed():
            raise BrowserCrashed("the page is gone")
        return self.page
