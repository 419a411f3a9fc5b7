"""One WhatsApp Web session in its own Chromium (Playwright, async).

The driver knows the page only through `selectors`. It reports what happened in the product's
terms — sent with an id, invalid number, logged out, banned, rate limited — and splits failures
into those that happened before the message was handed to WhatsApp (safe to retry) and after
(`SendOutcomeUnknown`: the caller reconciles against the chat instead of resending).

`WhatsAppSession` is built in layers, one module per topic, each using the ones below it:
- `page`: the browser, its context and page (launch, close, stored state) and the screen shown;
- `linking`: the pairing QR code and the linked account's own number;
- `inbound`: incoming messages, from chats with an unread badge and from the open chat;
- `chats`: opening a chat (in place, or by the /send URL) and reading its outgoing bubbles;
- `ticks`: the tick tracker in the page and waiting for the sent ticks of submitted messages;
- `sending`: typing a text and pressing Enter (`submit_text`, `send_text`);
- `attachments`: a stored file sent with a caption through the attach flow (`send_media`).
`errors` holds the exception family and the screens, `bubbles` the records read off bubbles.
Everything callers use is importable from this package.
"""

from __future__ import annotations

from apps.senders.driver.session.attachments import Attachments, MediaFile, stored_media
from apps.senders.driver.session.bubbles import (
    BubbleStatus,
    IncomingMessage,
    latest_plausible,
    normalize_text,
    parse_pre_plain,
)
from apps.senders.driver.session.chats import CHAT_EMPTY_SETTLE_S, CHAT_SETTLE_S, IN_PAGE_OPEN_TIMEOUT_S
from apps.senders.driver.session.errors import (
    Banned,
    BrowserCrashed,
    DriverError,
    InvalidNumber,
    LoggedOut,
    MediaMissing,
    RateLimited,
    Screen,
    SendOutcomeUnknown,
    StepTimeout,
)
from apps.senders.driver.session.inbound import SEEN_INCOMING_MAX
from apps.senders.driver.session.linking import Linking
from apps.senders.driver.session.page import PAGE_CONFIG, PAGE_TIMEZONE
from apps.senders.driver.session.sending import WATCH_SUBMIT_JS, SubmitNote
from apps.senders.driver.session.ticks import (
    TICK_LIST_GRACE_S,
    TRACKER_CONFIG,
    TRACKER_JS,
    SendReceipt,
    Submission,
)


class WhatsAppSession(Attachments, Linking):
    """A browser, a context and one page on WhatsApp Web for one profile."""


__all__ = [
    "CHAT_EMPTY_SETTLE_S",
    "CHAT_SETTLE_S",
    "IN_PAGE_OPEN_TIMEOUT_S",
    "PAGE_CONFIG",
    "PAGE_TIMEZONE",
    "SEEN_INCOMING_MAX",
    "TICK_LIST_GRACE_S",
    "TRACKER_CONFIG",
    "TRACKER_JS",
    "WATCH_SUBMIT_JS",
    "Banned",
    "BrowserCrashed",
    "BubbleStatus",
    "DriverError",
    "IncomingMessage",
    "InvalidNumber",
    "LoggedOut",
    "MediaFile",
    "MediaMissing",
    "RateLimited",
    "Screen",
    "SendOutcomeUnknown",
    "SendReceipt",
    "StepTimeout",
    "Submission",
    "SubmitNote",
    "WhatsAppSession",
    "latest_plausible",
    "normalize_text",
    "parse_pre_plain",
    "stored_media",
]
