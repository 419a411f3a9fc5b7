"""What the simulator's world is made of: pairing QR codes, accounts, sessions, chats, messages.

Plain data with the rules that belong to one record (a QR's rotation, a message's tick timeline);
`apps.simulator.state` holds them together and changes them.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import secrets
import time
from typing import Any

import segno

from apps.simulator.config import SimulatorConfig

MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15  # E.164 maximum
# Scanning the QR that was replaced a moment ago still works, as a phone camera is not instant.
PREVIOUS_REF_GRACE_S = 2.0
# WhatsApp takes documents up to 2 GB; the simulator keeps files in memory, so it stops earlier.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
# Files a page uploaded but did not send yet, per account (the oldest are forgotten).
MAX_PENDING_UPLOADS = 20
# The chat list's text for a message whose attachment has no caption, by kind.
MEDIA_LIST_TEXT = {"image": "Photo", "video": "Video"}


class SimulatorError(Exception):
    """A request the simulator refuses; `status` is the HTTP status the API answers with."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def phone_digits(value: Any) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def b64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


@dataclasses.dataclass
class Pairing:
    """One browser tab showing the QR screen. The keys stay, the ref part rotates."""

    id: str
    keys: str
    ref: str
    created_at: float
    last_refresh: float
    last_poll: float
    refreshes: int = 0
    stalled: bool = False
    previous_ref: str | None = None
    previous_until: float = 0.0
    linked_token: str | None = None
    linked_phone: str | None = None

    @property
    def payload(self) -> str:
        return f"{self.ref},{self.keys}"

    def advance(self, now: float, config: SimulatorConfig) -> None:
        """Rotate the ref when its time is up; stop with a reload button after too many."""
        if self.stalled or self.linked_token or now < self.last_refresh + config.qr_refresh_s:
            return
        if self.refreshes >= config.qr_max_refreshes:
            self.stalled = True
            return
        self.rotate(now)
        self.refreshes += 1

    def rotate(self, now: float) -> None:
        self.previous_ref, self.previous_until = self.payload, now + PREVIOUS_REF_GRACE_S
        self.ref = "2@" + b64(48)
        self.last_refresh = now

    def matches(self, payload: str, now: float) -> bool:
        if self.stalled or self.linked_token:
            return False
        return payload == self.payload or (payload == self.previous_ref and now <= self.previous_until)


@dataclasses.dataclass
class Attachment:
    """A file sent with a message. `data` (the bytes) lives in memory only: snapshots keep the
    rest, so after a restart the record is there but the file cannot be downloaded."""

    name: str
    mime: str
    size: int
    sha256: str
    data: bytes | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def of(cls, *, name: str, mime: str, data: bytes) -> Attachment:
        return cls(name=name, mime=mime, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data)

    @property
    def kind(self) -> str:
        """How WhatsApp shows it: an image or a video with a thumbnail, anything else as a document."""
        major = self.mime.split("/", 1)[0]
        return major if major in ("image", "video") else "document"

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "mime": self.mime, "size": self.size, "sha256": self.sha256, "kind": self.kind}


@dataclasses.dataclass
class Message:
    id: str
    account: str
    chat: str
    direction: str  # "out" | "in"
    text: str
    author: str
    created_at: float
    sent_at: float | None = None
    delivered_at: float | None = None
    read_at: float | None = None
    failed_at: float | None = None
    error: str | None = None
    media: Attachment | None = None

    @property
    def data_id(self) -> str:
        return f"{'true' if self.direction == 'out' else 'false'}_{self.chat}@c.us_{self.id}"

    def status(self, now: float) -> str:
        if self.failed_at is not None:
            return "failed"
        if self.direction == "in":
            return "read" if self.read_at is not None and self.read_at <= now else "received"
        for name, at in (("read", self.read_at), ("delivered", self.delivered_at), ("sent", self.sent_at)):
            if at is not None and at <= now:
                return name
        return "pending"

    def changed_at(self, now: float) -> float:
        moments = [self.created_at, self.sent_at, self.delivered_at, self.read_at, self.failed_at]
        return max(at for at in moments if at is not None and at <= now)

    def next_change(self, now: float) -> float | None:
        upcoming = [at for at in (self.sent_at, self.delivered_at, self.read_at) if at is not None and at > now]
        return min(upcoming) if upcoming else None

    def record(self, now: float) -> dict[str, Any]:
        """The inspection API's view: everything, with reached timestamps only."""
        reached = {k: (at if at is not None and at <= now else None) for k, at in self._moments().items()}
        return {
            "id": self.id,
            "data_id": self.data_id,
            "chat": self.chat,
            "direction": self.direction,
            "text": self.text,
            "author": self.author,
            "status": self.status(now),
            "error": self.error,
            "media": self.media.record() if self.media else None,
            "created_at": _iso(self.created_at),
            **{f"{k}_at": _iso(at) for k, at in reached.items()},
        }

    def bubble(self, now: float) -> dict[str, Any]:
        """What a page needs to draw the bubble."""
        return {
            "id": self.id,
            "data_id": self.data_id,
            "out": self.direction == "out",
            "text": self.text,
            "author": self.author,
            "ts": int(self.created_at * 1000),
            "status": self.status(now),
            "media": self._media_view(),
        }

    @property
    def list_text(self) -> str:
        """What a chat-list row shows for this message: its text, or for an attachment without a
        caption what kind of file it is (a document by its name)."""
        if self.text or self.media is None:
            return self.text
        return MEDIA_LIST_TEXT.get(self.media.kind, self.media.name)

    def snapshot(self) -> dict[str, Any]:
        """The message for a JSON snapshot (an attachment without its bytes)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "media"}
        return {**data, "media": self.media.record() if self.media else None}

    @classmethod
    def restore(cls, data: dict[str, Any]) -> Message:
        media = data.get("media")
        attachment = None
        if media:
            attachment = Attachment(name=media["name"], mime=media["mime"], size=media["size"], sha256=media["sha256"])
        return cls(**{**data, "media": attachment})

    def _media_view(self) -> dict[str, Any] | None:
        if self.media is None:
            return None
        return {
            "name": self.media.name,
            "mime": self.media.mime,
            "size": self.media.size,
            "kind": self.media.kind,
            "url": f"/_sim/api/media/{self.id}" if self.media.data is not None else None,
        }

    def _moments(self) -> dict[str, float | None]:
        return {"sent": self.sent_at, "delivered": self.delivered_at, "read": self.read_at, "failed": self.failed_at}


@dataclasses.dataclass
class Chat:
    phone: str
    name: str | None = None
    unread: int = 0
    last_at: float = 0.0
    messages: list[Message] = dataclasses.field(default_factory=list)

    @property
    def title(self) -> str:
        return self.name or "+" + self.phone


@dataclasses.dataclass
class Session:
    token: str
    created_at: float
    crash_mode: str | None = None


class Account:
    def __init__(self, phone: str, name: str, created_at: float) -> None:
        self.phone = phone
        self.name = name
        self.created_at = created_at
        self.banned = False
        self.rate_limited = False
        self.sessions: dict[str, Session] = {}
        self.chats: dict[str, Chat] = {}
        self.messages: list[Message] = []
        self.by_id: dict[str, Message] = {}
        # Files uploaded by a page for a message it is about to send (upload id -> file).
        self.uploads: dict[str, Attachment] = {}
        self.version = 1
        self._changed = asyncio.Event()

    def notify(self) -> None:
        """Something pages show changed: bump the version and wake every long-poll."""
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    @property
    def changed(self) -> asyncio.Event:
        return self._changed

    def chat(self, phone: str) -> Chat:
        if phone not in self.chats:
            self.chats[phone] = Chat(phone=phone)
        return self.chats[phone]

    def add(self, message: Message) -> None:
        chat = self.chat(message.chat)
        chat.messages.append(message)
        chat.last_at = message.created_at
        self.messages.append(message)
        self.by_id[message.id] = message

    def summary(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "name": self.name,
            "banned": self.banned,
            "rate_limited": self.rate_limited,
            "sessions": [{"token": s.token, "created_at": _iso(s.created_at)} for s in self.sessions.values()],
            "linked": bool(self.sessions),
            "chats": len(self.chats),
            "messages": len(self.messages),
        }


def qr_matrix(payload: str) -> list[str]:
    """The QR modules of `payload` as rows of '0'/'1', for the page to draw on its canvas."""
    code = segno.make_qr(payload, error="l")
    return ["".join("1" if module else "0" for module in row) for row in code.matrix]
