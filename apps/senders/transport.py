"""What a profile runner sends through: WhatsApp Web in a browser, or nothing at all.

`NullTransport` accepts every message instantly; the ledger benchmark uses it to measure the
claims, pacing and bookkeeping without a browser."""

from __future__ import annotations

import itertools
import json
from typing import Protocol

from django.conf import settings

from apps.senders.driver import session as drv
from apps.senders.driver.browser import ProxySettings


class Transport(Protocol):
    screen: str
    logged_in: bool
    # Messages sent back to back when pacing is off (1 for a browser: each is recorded at once).
    max_batch: int

    @property
    def is_open(self) -> bool: ...
    async def open(self) -> str: ...
    async def close(self) -> None: ...
    async def current_screen(self) -> str: ...
    async def qr_payload(self) -> str | None: ...
    async def own_number(self) -> str: ...
    async def storage_state(self) -> bytes: ...
    async def send_text(self, digits: str, text: str, *, typing_delay_ms: int = 0) -> drv.SendReceipt: ...
    async def chat_statuses(self, digits: str) -> list[drv.BubbleStatus]: ...
    async def unread_chats(self) -> int: ...
    async def read_unread_chats(self) -> list[drv.IncomingMessage]: ...


class BrowserTransport:
    """WhatsApp Web through Playwright (`driver.session.WhatsAppSession`)."""

    def __init__(self, playwright, *, storage_state: dict | None, proxy: ProxySettings | None):
        self.session = drv.WhatsAppSession(
            playwright,
            base_url=settings.WHATSAPP_WEB_URL,
            storage_state=storage_state,
            proxy=proxy,
            timeout_s=settings.SENDER_PAGE_TIMEOUT_S,
            sent_tick_timeout_s=settings.SENDER_SENT_TICK_TIMEOUT_S,
        )
        self.screen = ""
        self.logged_in = False
        self.max_batch = 1

    @property
    def is_open(self) -> bool:
        return self.session.is_open

    async def open(self) -> str:
        self.screen = await self.session.open()
        self.logged_in = self.screen == drv.Screen.READY
        return self.screen

    async def close(self) -> None:
        await self.session.close()

    async def current_screen(self) -> str:
        self.screen = await self.session.current_screen()
        self.logged_in = self.screen == drv.Screen.READY
        return self.screen

    async def qr_payload(self) -> str | None:
        return await self.session.qr_payload()

    async def own_number(self) -> str:
        return await self.session.own_number()

    async def storage_state(self) -> bytes:
        return await self.session.storage_state()

    async def send_text(self, digits: str, text: str, *, typing_delay_ms: int = 0) -> drv.SendReceipt:
        try:
            return await self.session.send_text(digits, text, typing_delay_ms=typing_delay_ms)
        except drv.LoggedOut:
            self.logged_in = False
            raise

    async def chat_statuses(self, digits: str) -> list[drv.BubbleStatus]:
        return await self.session.chat_statuses(digits)

    async def unread_chats(self) -> int:
        return await self.session.unread_chats()

    async def read_unread_chats(self) -> list[drv.IncomingMessage]:
        return await self.session.read_unread_chats()


class NullTransport:
    """Sends nothing and confirms everything at once."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.screen = drv.Screen.READY
        self.logged_in = True
        self.max_batch = 200
        self._open = False
        self.sent: list[tuple[str, str]] = []

    @property
    def is_open(self) -> bool:
        return self._open

    async def open(self) -> str:
        self._open = True
        return self.screen

    async def close(self) -> None:
        self._open = False

    async def current_screen(self) -> str:
        return self.screen

    async def qr_payload(self) -> str | None:
        return None

    async def own_number(self) -> str:
        return ""

    async def storage_state(self) -> bytes:
        return json.dumps({"cookies": [], "origins": []}).encode()

    async def send_text(self, digits: str, text: str, *, typing_delay_ms: int = 0) -> drv.SendReceipt:
        self.sent.append((digits, text))
        return drv.SendReceipt(wa_message_id=f"null_{next(self._ids)}")

    async def chat_statuses(self, digits: str) -> list[drv.BubbleStatus]:
        return []

    async def unread_chats(self) -> int:
        return 0

    async def read_unread_chats(self) -> list[drv.IncomingMessage]:
        return []
