"""The browser, its context and the one page on WhatsApp Web, and what that page shows.

`PageSession` launches Chromium (restoring the stored session), closes it, saves its state, and
reads the page's screen in one look (`PAGE_STATE_JS`): the QR code, the chats, or an account
problem (ban, rate limit) — the notice anywhere in the page's text wins. The other parts of the
session (`apps.senders.driver.session`) build on it."""

from __future__ import annotations

import contextlib
import json

from playwright.async_api import Browser, BrowserContext, Page, Playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.browser import ProxySettings, chromium_executable, launch_args
from apps.senders.driver.session.bubbles import IncomingMessage
from apps.senders.driver.session.errors import (
    Banned,
    BrowserCrashed,
    DriverError,
    LoggedOut,
    RateLimited,
    Screen,
    StepTimeout,
)

# The page shows times in the browser's time zone; UTC keeps the bubble times comparable with
# the database's without knowing where the sender host runs.
PAGE_TIMEZONE = "UTC"

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

# What the page shows, in one look: the screen (a ban or rate-limit notice anywhere in the page's
# text — scripts and styles aside — wins), whether a compose box is there, the text of an open
# dialog (null: none) and the title of the open chat ('' when no chat with a compose box is open).
PAGE_STATE_JS = """
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


class PageSession:
    """A browser, a context and one page on WhatsApp Web for one profile: launch, close, the
    stored state, and the screen the page shows."""

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
        """See PAGE_STATE_JS (one round trip: it is looked at before every message)."""
        try:
            return await self._page().evaluate(PAGE_STATE_JS, PAGE_CONFIG)
        except PlaywrightError as exc:
            raise BrowserCrashed(str(exc)) from exc

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

    def _page(self) -> Page:
        if self.page is None or self.page.is_closed():
            raise BrowserCrashed("the page is gone")
        return self.page
