"""What the driver reads off message bubbles: their records, their text as compared with the
ledger, and their times (`data-pre-plain-text`, written in the browser's locale)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


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


def normalize_text(text: str) -> str:
    """Bubble text as compared with a ledger body: whitespace differences do not count."""
    return " ".join((text or "").split())


_PRE_PLAIN = re.compile(r"^\[(?P<time>[^,\]]+),\s*(?P<date>[^\]]+)\]\s*(?P<name>.*?):\s*$")
_CLOCK = re.compile(r"^(?P<h>\d{1,2})[:.](?P<m>\d{2})(?:\s*(?P<ampm>[AaPp])\.?\s*[Mm]\.?)?$")
_DATE = re.compile(r"^(?P<a>\d{1,4})[/.\-](?P<b>\d{1,2})[/.\-](?P<c>\d{1,4})\.?$")


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
READ_BUBBLES_JS = """
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
