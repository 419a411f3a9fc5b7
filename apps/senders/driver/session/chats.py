"""Opening a chat and reading what it shows.

Chats are opened in place where WhatsApp Web allows it (a click on one of its chat links inside
the page), with a full load of the /send URL as the fallback; a chat already on screen is not
opened again. Its outgoing bubbles, with their ticks, are read once its history stopped
rendering (reconciliation and tick refreshes rely on that)."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.session.bubbles import READ_BUBBLES_JS, BubbleStatus, parse_pre_plain
from apps.senders.driver.session.errors import BrowserCrashed, InvalidNumber, Screen, StepTimeout
from apps.senders.driver.session.inbound import Inbound
from apps.senders.driver.session.page import PAGE_CONFIG

logger = logging.getLogger(__name__)

# A chat opened by URL renders its history a moment after the compose box appears. Its bubbles
# are read once their count has not changed for this long (longer when none showed up yet).
CHAT_SETTLE_S = 0.3
CHAT_EMPTY_SETTLE_S = 1.0
CHAT_SETTLE_POLL_S = 0.05
# A chat opened in place that does not show within this long is loaded by URL instead.
IN_PAGE_OPEN_TIMEOUT_S = 3.0

# Open a chat in place: click one of WhatsApp's chat links inside the page and wait until a new
# chat (a new #main with its compose box), the invalid-number dialog or the QR screen shows.
# '' when the page is not on the chats, or nothing showed in time (the caller loads the URL).
OPEN_IN_PAGE_JS = """
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


class Chats(Inbound):
    """Opening chats and reading their outgoing bubbles (incoming ones are collected on the way)."""

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
            return await self._page().evaluate(OPEN_IN_PAGE_JS, [href, PAGE_CONFIG, int(IN_PAGE_OPEN_TIMEOUT_S * 1000)])
        except PlaywrightError as exc:
            # The page navigated instead (the link was not routed in place) or is gone: loading
            # the URL settles which.
            logger.info("driver.open_in_page_failed", extra={"error": type(exc).__name__})
            return ""

    async def outgoing_bubbles(self) -> list[BubbleStatus]:
        """Outgoing messages of the open chat with their tick status, oldest first."""
        try:
            rows = await self._page().evaluate(
                READ_BUBBLES_JS,
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
