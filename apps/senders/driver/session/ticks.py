"""Sent ticks of submitted messages.

A tracker installed in the page (`TRACKER_JS`) watches every submitted message: its bubble
while its chat is open (exact, by the bubble's id), and its chat-list row once the driver has
moved on — the row counts only when it showed this message on its clock after Enter and then
with a tick, and only while no later message went to that chat. A message the page cannot
vouch for that way is looked up in its own chat. Whatever happens after Enter, a message
without a tick is never a plain retryable failure: it may be out."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from playwright.async_api import Error as PlaywrightError

from apps.senders.driver import selectors as S
from apps.senders.driver.session.chats import Chats
from apps.senders.driver.session.errors import Banned, DriverError, RateLimited, Screen, SendOutcomeUnknown

logger = logging.getLogger(__name__)

# A submitted message whose tick the page has not vouched for this long after Enter (its chat
# row shows something else, or the page was reloaded) is looked up in its own chat.
TICK_LIST_GRACE_S = 2.0


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


# The tracker's report on `ids` once all have a tick or `ms` ran out (installed first if the page
# was reloaded: ids it does not know come back `lost`).
TICKS_WAIT_JS = "([ids, ms, cfg]) => { (" + TRACKER_JS.strip() + ")(cfg); return window.__chorusTicks.wait(ids, ms); }"
TICKS_ADD_JS = "(ids) => { for (const id of ids) window.__chorusTicks.add(id, '', ''); }"
TICKS_FORGET_JS = "(ids) => window.__chorusTicks && window.__chorusTicks.forget(ids)"


class TickWaiting(Chats):
    """Waiting for the sent ticks of submitted messages."""

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
            reports = await page.evaluate(TICKS_WAIT_JS, [ids, int(budget * 1000), TRACKER_CONFIG])
            for submission, report in zip(submissions, reports, strict=True):
                if report["status"]:
                    logger.debug("driver.sent_tick_seen", extra={"via": report["via"]})
                    results[submission.wa_message_id] = SendReceipt(submission.wa_message_id, report["status"])
            lost = [r["id"] for r in reports if r["lost"]]
            if lost:
                # The page was reloaded since: only the bubbles themselves can tell now.
                await page.evaluate(TICKS_ADD_JS, lost)
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
            await self._page().evaluate(TICKS_FORGET_JS, ids)
        return [results[s.wa_message_id] for s in submissions]

    async def _wait_sent_in_chat(self, submission: Submission) -> SendReceipt | DriverError:
        """Open the message's chat and wait for its bubble's tick until its deadline."""
        loop = asyncio.get_running_loop()
        page = self._page()
        wa_id = submission.wa_message_id
        (report,) = await page.evaluate(TICKS_WAIT_JS, [[wa_id], 0, TRACKER_CONFIG])
        if not report["status"] and loop.time() < submission.deadline:
            await self.open_chat(submission.digits)
            remaining = max(0.0, submission.deadline - loop.time())
            (report,) = await page.evaluate(TICKS_WAIT_JS, [[wa_id], int(remaining * 1000), TRACKER_CONFIG])
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
