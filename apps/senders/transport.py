"""What a profile runner sends through: WhatsApp Web in a browser, or nothing at all.

`NullTransport` accepts every message instantly; the ledger benchmark uses it to measure the
claims, pacing and bookkeeping without a browser.

Every browser step is bounded here (invariant 9): a page that stops answering (a hung renderer
never returns from an evaluate) becomes a `BrowserCrashed`, or `SendOutcomeUnknown` when Enter
may already have been pressed."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from django.conf import settings

from apps.senders.driver import session as drv
from apps.senders.driver.browser import ProxySettings

T = TypeVar("T")
SubmitHook = Callable[[drv.SubmitNote], Awaitable[None]]
# Reading unread chats opens several of them; it gets this many page timeouts.
UNREAD_READ_TIMEOUTS = 4
# With pacing off a browser claims this many messages at a time and records them together:
# enough that waiting for the last tick of a batch costs little per message, few enough that a
# crash leaves little to reconcile.
BROWSER_PACING_OFF_BATCH = 12
# Messages a browser may have submitted whose sent tick it has not seen yet (pacing off): the
# next one is typed while earlier ones wait for their ticks (WhatsApp's server ack takes a
# fraction of a second; typing and opening a chat take about as long).
BROWSER_TICK_WINDOW = 4


class Transport(Protocol):
    screen: str
    logged_in: bool
    # Messages claimed and sent back to back when pacing is off.
    max_batch: int
    # Messages that may await their sent tick while the next is typed (1: each send waits).
    tick_window: int

    @property
    def is_open(self) -> bool: ...
    async def open(self) -> str: ...
    async def close(self) -> None: ...
    async def current_screen(self) -> str: ...
    async def qr_payload(self) -> str | None: ...
    async def own_number(self) -> str: ...
    async def storage_state(self) -> bytes: ...
    async def send_text(
        self, digits: str, text: str, *, typing_delay_ms: int = 0, before_submit: SubmitHook | None = None
    ) -> drv.SendReceipt: ...
    async def submit_text(
        self, digits: str, text: str, *, typing_delay_ms: int = 0, before_submit: SubmitHook | None = None
    ) -> drv.Submission: ...
    async def send_media(
        self,
        digits: str,
        caption: str,
        media: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: SubmitHook | None = None,
    ) -> drv.SendReceipt: ...
    async def wait_sent(self, submissions: list[drv.Submission]) -> list[drv.SendReceipt | drv.DriverError]: ...
    async def chat_statuses(self, digits: str) -> list[drv.BubbleStatus]: ...
    async def incoming(self) -> list[drv.IncomingMessage]: ...


class BrowserTransport:
    """WhatsApp Web through Playwright (`driver.session.WhatsAppSession`)."""

    def __init__(self, playwright, *, storage_state: dict | None, proxy: ProxySettings | None):
        self.step_timeout_s = settings.SENDER_PAGE_TIMEOUT_S
        self.tick_timeout_s = settings.SENDER_SENT_TICK_TIMEOUT_S
        self.session = drv.WhatsAppSession(
            playwright,
            base_url=settings.WHATSAPP_WEB_URL,
            storage_state=storage_state,
            proxy=proxy,
            timeout_s=self.step_timeout_s,
            sent_tick_timeout_s=self.tick_timeout_s,
        )
        self.screen = ""
        self.logged_in = False
        self.max_batch = BROWSER_PACING_OFF_BATCH
        self.tick_window = BROWSER_TICK_WINDOW

    async def _bounded(self, step: Awaitable[T], seconds: float | None = None) -> T:
        """Run a browser step with an outer time limit (Playwright's own timeouts do not cover
        a page whose renderer hangs)."""
        try:
            return await asyncio.wait_for(step, timeout=seconds or self.step_timeout_s * 2)
        except TimeoutError as exc:
            raise drv.BrowserCrashed("the page stopped responding") from exc

    @property
    def is_open(self) -> bool:
        return self.session.is_open

    async def open(self) -> str:
        # Launch + page load + waiting for the first screen.
        self.screen = await self._bounded(self.session.open(), self.step_timeout_s * 3)
        self.logged_in = self.screen == drv.Screen.READY
        return self.screen

    async def close(self) -> None:
        await self._bounded(self.session.close())

    async def current_screen(self) -> str:
        self.screen = await self._bounded(self.session.current_screen())
        self.logged_in = self.screen == drv.Screen.READY
        return self.screen

    async def qr_payload(self) -> str | None:
        return await self._bounded(self.session.qr_payload())

    async def own_number(self) -> str:
        return await self._bounded(self.session.own_number())

    async def storage_state(self) -> bytes:
        return await self._bounded(self.session.storage_state())

    async def send_text(
        self, digits: str, text: str, *, typing_delay_ms: int = 0, before_submit: SubmitHook | None = None
    ) -> drv.SendReceipt:
        typing_s = len(text) * typing_delay_ms / 1000
        # Opening the chat, typing, submitting, the tick, and (at worst) a second look at the chat.
        limit = self.step_timeout_s * 4 + typing_s + self.tick_timeout_s
        return await self._submitting(
            self.session.send_text(digits, text, typing_delay_ms=typing_delay_ms, before_submit=before_submit), limit
        )

    async def submit_text(
        self, digits: str, text: str, *, typing_delay_ms: int = 0, before_submit: SubmitHook | None = None
    ) -> drv.Submission:
        typing_s = len(text) * typing_delay_ms / 1000
        limit = self.step_timeout_s * 3 + typing_s + self.tick_timeout_s
        return await self._submitting(
            self.session.submit_text(digits, text, typing_delay_ms=typing_delay_ms, before_submit=before_submit), limit
        )

    async def send_media(
        self,
        digits: str,
        caption: str,
        media: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: SubmitHook | None = None,
    ) -> drv.SendReceipt:
        typing_s = len(caption) * typing_delay_ms / 1000
        # Reading the file, opening the chat, attaching it, the caption, Send, the tick, and (at
        # worst) a second look at the chat.
        limit = self.step_timeout_s * 6 + typing_s + self.tick_timeout_s
        step = self.session.send_media(
            digits, caption, media, typing_delay_ms=typing_delay_ms, before_submit=before_submit
        )
        return await self._submitting(step, limit)

    async def _submitting(self, step: Awaitable[T], limit: float) -> T:
        try:
            return await asyncio.wait_for(step, timeout=limit)
        except TimeoutError as exc:
            if self.session.submitted:
                raise drv.SendOutcomeUnknown("the page stopped responding after Enter") from exc
            raise drv.BrowserCrashed("the page stopped responding before Enter") from exc
        except drv.LoggedOut:
            self.logged_in = False
            raise

    async def wait_sent(self, submissions: list[drv.Submission]) -> list[drv.SendReceipt | drv.DriverError]:
        # The ticks (each due by its own deadline), and (at worst) a visit to each message's chat.
        limit = self.tick_timeout_s + self.step_timeout_s * (2 + len(submissions))
        try:
            return await asyncio.wait_for(self.session.wait_sent(submissions), timeout=limit)
        except TimeoutError:
            return [
                drv.SendOutcomeUnknown("the page stopped responding after Enter", wa_message_id=s.wa_message_id)
                for s in submissions
            ]

    async def chat_statuses(self, digits: str) -> list[drv.BubbleStatus]:
        try:
            return await self._bounded(self.session.chat_statuses(digits), self.step_timeout_s * 3)
        except drv.LoggedOut:
            self.logged_in = False
            raise

    async def incoming(self) -> list[drv.IncomingMessage]:
        if await self._bounded(self.session.unread_chats()):
            await self._bounded(self.session.read_unread_chats(), self.step_timeout_s * UNREAD_READ_TIMEOUTS)
        return await self._bounded(self.session.drain_incoming())


class NullTransport:
    """Sends nothing and confirms everything at once."""

    _ids = itertools.count(1)

    def __init__(self) -> None:
        self.screen = drv.Screen.READY
        self.logged_in = True
        self.max_batch = 200
        self.tick_window = 1
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

    async def send_text(
        self, digits: str, text: str, *, typing_delay_ms: int = 0, before_submit: SubmitHook | None = None
    ) -> drv.SendReceipt:
        self.sent.append((digits, text))
        return drv.SendReceipt(wa_message_id=f"null_{next(self._ids)}")

    async def submit_text(
        self, digits: str, text: str, *, typing_delay_ms: int = 0, before_submit: SubmitHook | None = None
    ) -> drv.Submission:
        self.sent.append((digits, text))
        return drv.Submission(wa_message_id=f"null_{next(self._ids)}", digits=digits, submitted_at=0.0, deadline=0.0)

    async def send_media(
        self,
        digits: str,
        caption: str,
        media: str,
        *,
        typing_delay_ms: int = 0,
        before_submit: SubmitHook | None = None,
    ) -> drv.SendReceipt:
        self.sent.append((digits, caption))
        return drv.SendReceipt(wa_message_id=f"null_{next(self._ids)}")

    async def wait_sent(self, submissions: list[drv.Submission]) -> list[drv.SendReceipt | drv.DriverError]:
        return [drv.SendReceipt(wa_message_id=s.wa_message_id) for s in submissions]

    async def chat_statuses(self, digits: str) -> list[drv.BubbleStatus]:
        return []

    async def incoming(self) -> list[drv.IncomingMessage]:
        return []
