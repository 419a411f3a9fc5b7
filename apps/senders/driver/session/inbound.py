"""Incoming messages, collected wherever the session sees them: chats with an unread badge
(opened, so the page marks them read), and the chat that is open (a message that arrives there
is marked read by the page at once, so it never gets a badge). They are kept, each once, until
the runner drains them (`drain_incoming`)."""

from __future__ import annotations

import asyncio
import logging
import re

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.session.bubbles import READ_BUBBLES_JS, IncomingMessage, parse_pre_plain
from apps.senders.driver.session.errors import BrowserCrashed, StepTimeout
from apps.senders.driver.session.page import PageSession

logger = logging.getLogger(__name__)

# Incoming message ids remembered per session so one message is handed over once.
SEEN_INCOMING_MAX = 20_000
_CHAT_IN_ID = re.compile(r"^(?:true|false)_(?P<chat>[^@_]+)@")


class Inbound(PageSession):
    """Incoming messages seen by the session, kept until drained."""

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
                READ_BUBBLES_JS,
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
