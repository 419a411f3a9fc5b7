"""Typing and submitting a text message.

Sending is split in two so messages can follow each other without waiting for every tick:
`submit_text` opens the chat, types and presses Enter, and returns once the page shows the
message's own bubble (on its clock); `wait_sent` (`ticks`) then waits for the sent tick of
submitted messages. `send_text` is the two in a row. Failures before Enter are retryable; after
it the message may be out (`SendOutcomeUnknown`, or the account problem the page shows)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from apps.senders.driver import selectors as S
from apps.senders.driver.session.errors import BrowserCrashed, DriverError, StepTimeout
from apps.senders.driver.session.ticks import TRACKER_CONFIG, TRACKER_JS, SendReceipt, Submission, TickWaiting


@dataclass(frozen=True)
class SubmitNote:
    """What the open chat showed just before Enter: the id of its last outgoing bubble ("" when
    it had none). A reconciler looks for the message only after this bubble."""

    anchor: str


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
SUBMITTED_ID_JS = """
(ms) => Promise.race([window.__chorusTicks.submitted, new Promise((resolve) => setTimeout(() => resolve(''), ms))])
"""
# Before typing: is the compose box focused, and is it empty?
COMPOSE_STATE_JS = """
(sel) => {
  const box = document.querySelector(sel);
  if (!box) return {focused: false, empty: true};
  const active = document.activeElement;
  return {focused: !!active && (active === box || box.contains(active)), empty: !box.innerText.trim()};
}
"""


class Sending(TickWaiting):
    """Typing a text into a chat and pressing Enter."""

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
            wa_id = await page.evaluate(SUBMITTED_ID_JS, self.sent_tick_timeout_ms)
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
        state = await page.evaluate(COMPOSE_STATE_JS, S.COMPOSE_BOX)
        if typing_delay_ms or not state["focused"] or not state["empty"]:
            await page.locator(S.COMPOSE_BOX).click()
        if not state["empty"]:
            # A draft left by an attempt that never got to Enter: it is not part of this message.
            await page.keyboard.press("ControlOrMeta+A")
            await page.keyboard.press("Backspace")
        await self._type_lines(text, typing_delay_ms)

    async def _type_lines(self, text: str, typing_delay_ms: int) -> None:
        """Type `text` where the focus is (a compose or caption box)."""
        page = self._page()
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if line and typing_delay_ms:
                await page.keyboard.type(line, delay=typing_delay_ms)
            elif line:
                await page.keyboard.insert_text(line)
            if index < len(lines) - 1:
                await page.keyboard.press("Shift+Enter")
