"""What can go wrong in a session, in the product's terms: the screens WhatsApp Web shows
(`Screen`) and one exception family for every failed step.

Each error says whether a plain retry may succeed (`retryable`). Account problems (logged out,
banned, rate limited) carry `after_submit` where Enter may already have been pressed: such a
message may be out and is reconciled against the chat, never resent."""

from __future__ import annotations


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


class MediaMissing(DriverError):
    """The message's attachment cannot be read from storage (deleted, unreadable, empty): final,
    nothing was typed. Retrying would meet the same missing file."""

    code = "media_missing"
    retryable = False


class LoggedOut(DriverError):
    code = "logged_out"


class Banned(DriverError):
    code = "banned"
    retryable = False

    def __init__(self, message: str = "", *, after_submit: bool = False):
        super().__init__(message)
        # True when Enter was already pressed: the message may be out (never resend it).
        self.after_submit = after_submit


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

    def __init__(self, message: str = "", *, wa_message_id: str = ""):
        super().__init__(message)
        # The id of the bubble the page made for it, when it showed one.
        self.wa_message_id = wa_message_id
