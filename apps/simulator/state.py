"""The simulator's world: pairing QR codes, accounts, linked sessions, chats and messages.

Everything lives in memory and runs on one asyncio loop, so no locks are needed. Tick changes
(clock -> sent -> delivered -> read) are scheduled when a message is created and read off the
clock afterwards, which keeps thousands of messages cheap: nothing runs per message in the
background. Pages long-poll; `Account.notify()` wakes them when something they show changed.

Linked accounts, sessions and messages can be written to a JSON snapshot so a restart keeps
them; pending QR codes are deliberately not saved (a restarted WhatsApp would show a new QR).
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import secrets
from pathlib import Path
from typing import Any

from apps.simulator.config import SimulatorConfig
from apps.simulator.records import (
    MAX_PENDING_UPLOADS,
    MAX_PHONE_DIGITS,
    MAX_UPLOAD_BYTES,
    MIN_PHONE_DIGITS,
    Account,
    Attachment,
    Chat,
    Message,
    Pairing,
    Session,
    SimulatorError,
    b64,
    phone_digits,
)

MESSAGE_ID_RE = re.compile(r"^[0-9A-F]{8,40}$")
# A pairing the page stopped polling for this long is gone (tab closed, navigated away).
PAIRING_ABANDONED_S = 15.0
# Only the tail of a chat is searched for changes and sent to a page, like the real app's lazy
# history; the inspection API always has every message.
CHAT_WINDOW = 300
CHAT_LIST_LIMIT = 100
SNAPSHOT_VERSION = 1


class SimulatorState:
    def __init__(self, config: SimulatorConfig) -> None:
        self.initial_config = config.copy()
        self.config = config
        self.rng = random.Random(config.seed)
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, str] = {}  # token -> account phone
        self.pairings: dict[str, Pairing] = {}
        self.crash_next_loads = 0
        self.crash_load_mode = "blank"
        self.dirty = False

    # --- QR pairing -------------------------------------------------------------------------

    def pairing_start(self, now: float) -> Pairing:
        self._forget_abandoned(now)
        keys = ",".join(b64(32) for _ in range(3))
        pairing = Pairing(id=secrets.token_hex(8), keys=keys, ref="", created_at=now, last_refresh=now, last_poll=now)
        pairing.rotate(now)
        pairing.previous_ref = None
        self.pairings[pairing.id] = pairing
        return pairing

    def pairing_poll(self, pairing_id: str, now: float) -> Pairing:
        pairing = self.pairings.get(pairing_id)
        if pairing is None:
            raise SimulatorError("pairing_gone", "no such QR code; start again", status=404)
        pairing.last_poll = now
        pairing.advance(now, self.config)
        return pairing

    def pairing_reload(self, pairing_id: str, now: float) -> Pairing:
        pairing = self.pairing_poll(pairing_id, now)
        if pairing.stalled:
            pairing.stalled = False
            pairing.refreshes = 0
            pairing.rotate(now)
            pairing.previous_ref = None
        return pairing

    def pairing_finish(self, pairing_id: str) -> None:
        self.pairings.pop(pairing_id, None)

    def pairings_pending(self, now: float) -> list[Pairing]:
        self._forget_abandoned(now)
        pending = []
        for pairing in self.pairings.values():
            pairing.advance(now, self.config)
            if not pairing.linked_token:
                pending.append(pairing)
        return pending

    def _forget_abandoned(self, now: float) -> None:
        for pairing_id in [p.id for p in self.pairings.values() if now - p.last_poll > PAIRING_ABANDONED_S]:
            del self.pairings[pairing_id]

    def link(self, *, payload: str, phone: str, name: str | None, now: float) -> tuple[Account, str]:
        """Scan a QR: bind the tab showing `payload` to the account `phone` (created if new)."""
        phone = phone_digits(phone)
        if not MIN_PHONE_DIGITS <= len(phone) <= MAX_PHONE_DIGITS:
            raise SimulatorError("bad_phone", "phone must have 7 to 15 digits")
        for pairing in self.pairings.values():
            pairing.advance(now, self.config)
            if pairing.matches(payload, now):
                break
        else:
            raise SimulatorError("qr_not_found", "no QR code on screen has that payload (expired?)", status=404)
        account = self.accounts.get(phone)
        if account is None:
            account = self.accounts[phone] = Account(phone, name or "+" + phone, now)
        elif name:
            account.name = name
        token = secrets.token_urlsafe(32)
        account.sessions[token] = Session(token=token, created_at=now)
        self.sessions[token] = phone
        pairing.linked_token, pairing.linked_phone = token, phone
        account.notify()
        self.dirty = True
        return account, token

    # --- sessions and accounts --------------------------------------------------------------

    def account_for(self, token: str | None) -> Account | None:
        phone = self.sessions.get(token or "")
        return self.accounts.get(phone) if phone else None

    def account(self, phone: str) -> Account:
        account = self.accounts.get(phone_digits(phone))
        if account is None:
            raise SimulatorError("account_not_found", "no account with that phone", status=404)
        return account

    def unlink(self, *, phone: str, token: str | None = None) -> int:
        """Log linked devices out: every session of the account, or just `token`'s."""
        account = self.account(phone)
        tokens = [token] if token else list(account.sessions)
        removed = 0
        for item in tokens:
            if account.sessions.pop(item, None) is not None:
                self.sessions.pop(item, None)
                removed += 1
        account.notify()
        self.dirty = True
        return removed

    def flags_set(self, *, phone: str, banned: bool | None, rate_limited: bool | None) -> Account:
        account = self.account(phone)
        if banned is not None:
            account.banned = bool(banned)
        if rate_limited is not None:
            account.rate_limited = bool(rate_limited)
        account.notify()
        self.dirty = True
        return account

    def crash(self, *, mode: str, target: str, phone: str | None, count: int) -> int:
        """Break pages: the next `count` page loads, or the open pages (of one account)."""
        if mode not in {"blank", "hang"} or target not in {"open", "next_load"}:
            raise SimulatorError("bad_crash", "mode is blank|hang, target is open|next_load")
        if target == "next_load":
            self.crash_next_loads, self.crash_load_mode = max(count, 1), mode
            return self.crash_next_loads
        accounts = [self.account(phone)] if phone else list(self.accounts.values())
        hit = 0
        for account in accounts:
            for session in account.sessions.values():
                session.crash_mode = mode
                hit += 1
            account.notify()
        return hit

    def crash_page_load(self) -> str | None:
        if self.crash_next_loads <= 0:
            return None
        self.crash_next_loads -= 1
        return self.crash_load_mode

    # --- contacts and messages --------------------------------------------------------------

    def on_whatsapp(self, phone: str) -> bool:
        raw = str(phone).strip().lstrip("+").replace(" ", "").replace("-", "")
        digits = phone_digits(raw)
        if digits != raw or not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
            return False
        suffix = self.config.invalid_suffix
        return not (suffix and digits.endswith(suffix)) and digits not in self.config.invalid_numbers

    def upload(self, *, account: Account, name: str, mime: str, data: bytes) -> tuple[str, Attachment]:
        """A page uploaded a file for the message it is about to send (WhatsApp uploads media
        before the message that refers to it). Returns the upload's id and the file."""
        name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not name:
            raise SimulatorError("bad_name", "the file needs a name")
        if not data:
            raise SimulatorError("empty", "the file is empty")
        if len(data) > MAX_UPLOAD_BYTES:
            raise SimulatorError("too_large", "the file is too large", status=413)
        upload_id = secrets.token_hex(8)
        attachment = Attachment.of(name=name, mime=mime or "application/octet-stream", data=data)
        account.uploads[upload_id] = attachment
        while len(account.uploads) > MAX_PENDING_UPLOADS:
            account.uploads.pop(next(iter(account.uploads)))
        return upload_id, attachment

    def send(
        self, *, account: Account, message_id: str, chat: str, text: str, now: float, media_id: str = ""
    ) -> Message:
        """A page pressed Send: a text, or an uploaded file (`media_id`) with `text` as its
        caption. Idempotent per message id, like the real client-made keys."""
        if not MESSAGE_ID_RE.match(message_id):
            raise SimulatorError("bad_id", "message id must be upper-case hex")
        existing = account.by_id.get(message_id)
        if existing is not None:
            return existing
        if not text.strip() and not media_id:
            raise SimulatorError("empty", "nothing to send")
        if not self.on_whatsapp(chat):
            raise SimulatorError("not_on_whatsapp", "that number is not on WhatsApp", status=404)
        media = None
        if media_id:
            media = account.uploads.pop(media_id, None)
            if media is None:
                raise SimulatorError("upload_not_found", "no uploaded file with that id", status=404)
        message = Message(
            id=message_id,
            account=account.phone,
            chat=chat,
            direction="out",
            text=text,
            author="Me",
            created_at=now,
            media=media,
        )
        if account.banned or account.rate_limited:
            message.failed_at = now
            message.error = "banned" if account.banned else "rate_limited"
        else:
            cfg = self.config
            message.sent_at = now + cfg.ack_delay_ms / 1000
            if self.rng.random() < cfg.deliver_probability:
                message.delivered_at = message.sent_at + cfg.deliver_delay_ms / 1000
                if self.rng.random() < cfg.read_probability:
                    message.read_at = message.delivered_at + cfg.read_delay_ms / 1000
        account.add(message)
        account.notify()
        self.dirty = True
        return message

    def incoming(self, *, phone: str, sender: str, text: str, name: str | None, now: float) -> Message:
        account = self.account(phone)
        sender = phone_digits(sender)
        if not MIN_PHONE_DIGITS <= len(sender) <= MAX_PHONE_DIGITS:
            raise SimulatorError("bad_phone", "from must have 7 to 15 digits")
        if not text:
            raise SimulatorError("empty", "text is required")
        chat = account.chat(sender)
        if name and not chat.name:
            chat.name = name
        message = Message(
            id="3A" + secrets.token_hex(9).upper(),
            account=account.phone,
            chat=sender,
            direction="in",
            text=text,
            author=chat.title,
            created_at=now,
        )
        account.add(message)
        chat.unread += 1
        account.notify()
        self.dirty = True
        return message

    def chat_seen(self, *, account: Account, chat: str, now: float) -> None:
        """A page has the chat open: its unread incoming messages become read."""
        current = account.chats.get(chat)
        if current is None or current.unread == 0:
            return
        current.unread = 0
        for message in current.messages[-CHAT_WINDOW:]:
            if message.direction == "in" and message.read_at is None:
                message.read_at = now
        account.notify()
        self.dirty = True

    def chat_changes(self, *, account: Account, chat: str, since: float, now: float) -> list[Message]:
        current = account.chats.get(chat)
        if current is None:
            return []
        return [m for m in current.messages[-CHAT_WINDOW:] if m.changed_at(now) > since]

    def chat_next_change(self, *, account: Account, chat: str, now: float) -> float | None:
        current = account.chats.get(chat)
        if current is None:
            return None
        upcoming = [t for m in current.messages[-CHAT_WINDOW:] if (t := m.next_change(now)) is not None]
        return min(upcoming) if upcoming else None

    def chat_list(self, *, account: Account, now: float, query: str = "") -> list[dict[str, Any]]:
        """The chat list a page shows, most recent first. Like the real app, a chat whose last
        message is outgoing shows that message's ticks in its row."""
        rows = []
        for chat in self._listed(account, query):
            last = chat.messages[-1]
            out = last.direction == "out"
            rows.append(
                {
                    "phone": chat.phone,
                    "title": chat.title,
                    "unread": chat.unread,
                    "last_text": last.list_text,
                    "last_media": last.media.kind if last.media else None,
                    "last_out": out,
                    "last_status": last.status(now) if out else None,
                    "last_ts": int(last.created_at * 1000),
                }
            )
        return rows

    def chat_list_changed(self, *, account: Account, since: float, now: float) -> bool:
        """Whether a listed chat's last message changed (a new tick) after `since`."""
        return any(chat.messages[-1].changed_at(now) > since for chat in self._listed(account))

    def chat_list_next_change(self, *, account: Account, now: float) -> float | None:
        """When the next tick shown in the chat list is due (None: none is)."""
        upcoming = [t for chat in self._listed(account) if (t := chat.messages[-1].next_change(now)) is not None]
        return min(upcoming) if upcoming else None

    @staticmethod
    def _listed(account: Account, query: str = "") -> list[Chat]:
        chats = [c for c in account.chats.values() if c.messages]
        if query:
            needle = query.lower()
            chats = [c for c in chats if needle in c.title.lower() or needle in c.phone]
        chats.sort(key=lambda c: c.last_at, reverse=True)
        return chats[:CHAT_LIST_LIMIT]

    # --- reset and snapshot -----------------------------------------------------------------

    def reset(self) -> None:
        self.config.update({k: v for k, v in self.initial_config.as_dict().items() if k not in SimulatorConfig.FIXED})
        self.rng = random.Random(self.config.seed)
        for account in self.accounts.values():
            account.sessions.clear()
            account.notify()  # open pages learn they are logged out
        self.accounts.clear()
        self.sessions.clear()
        self.pairings.clear()
        self.crash_next_loads = 0
        self.dirty = True

    def snapshot(self) -> dict[str, Any]:
        accounts = []
        for account in self.accounts.values():
            accounts.append(
                {
                    "phone": account.phone,
                    "name": account.name,
                    "created_at": account.created_at,
                    "banned": account.banned,
                    "rate_limited": account.rate_limited,
                    "sessions": [dataclasses.asdict(s) | {"crash_mode": None} for s in account.sessions.values()],
                    "chats": [{"phone": c.phone, "name": c.name, "unread": c.unread} for c in account.chats.values()],
                    "messages": [m.snapshot() for m in account.messages],
                }
            )
        return {"version": SNAPSHOT_VERSION, "accounts": accounts}

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("version") != SNAPSHOT_VERSION:
            return
        for item in data.get("accounts", []):
            account = Account(item["phone"], item["name"], item["created_at"])
            account.banned, account.rate_limited = item["banned"], item["rate_limited"]
            for chat in item["chats"]:
                account.chats[chat["phone"]] = Chat(phone=chat["phone"], name=chat["name"], unread=chat["unread"])
            for message in item["messages"]:
                account.add(Message.restore(message))
            for session in item["sessions"]:
                account.sessions[session["token"]] = Session(**session)
                self.sessions[session["token"]] = account.phone
            self.accounts[account.phone] = account

    def save(self) -> None:
        """Write the snapshot when a state file is configured."""
        self.dirty = False
        if self.config.state_file:
            snapshot_write(self.config.state_file, self.snapshot())

    def load(self) -> None:
        path = self.config.state_file
        if path and Path(path).exists():
            self.restore(json.loads(Path(path).read_text()))


def snapshot_write(path: str, data: dict[str, Any]) -> None:
    """Atomic write (temp file + rename): a crash while saving never leaves half a snapshot."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(target.suffix + ".tmp")
    temp.write_text(json.dumps(data))
    os.replace(temp, target)
