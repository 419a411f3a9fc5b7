"""The sender host: runs inside a sender worker process and drives WhatsApp profiles.

A Celery task (`senders.drive_profile`) hands a profile to the host; the host takes the
profile's cluster-wide lease (invariant 3) and runs a `ProfileRunner` on its asyncio loop (one
background thread per process). A runner keeps its browser warm while the profile has work and
parks it — state saved encrypted to the database, browser closed — after an idle timeout
(invariant 4), so memory follows active profiles. At most SENDER_MAX_ACTIVE_PROFILES browsers
are open per host; further kicks are declined and the dispatcher offers them again later.

Crash safety: a runner that takes a lease first reconciles the profile's `sending` rows
against the chat (invariant 2). Just before Enter it notes in Redis what the chat showed, so
the reconciler knows exactly which bubbles came after. A runner that loses its lease stops
before the next step.

Pacing off, a runner types the next message while earlier ones wait for their sent ticks (at
most `transport.tick_window` of them, never two for one chat). Each stays `sending`, with its
note, until its tick is seen; only then is it recorded as sent, so a crash leaves it exactly as
reconcilable as a message whose tick the runner was still waiting for in its chat.

While open, a runner watches the page: an unlinked device (QR screen), a ban or a rate-limit
notice changes the profile's status and stops its sending; incoming messages are captured from
unread chats and from every chat the runner has open (the page marks those read at once).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import redis
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Max
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.campaigns.dispatch import campaign_pacing_for_batch
from apps.core.realtime.publish import publish
from apps.senders import coordination
from apps.senders.coordination import Reservation
from apps.senders.driver import session as drv
from apps.senders.driver.browser import parse_proxy
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import inbound, ledger, pacing, profiles
from apps.senders.transport import NullTransport, SubmitHook, Transport

logger = logging.getLogger(__name__)
T = TypeVar("T")

# How often an idle runner looks at the page (unlinked? banned?), for incoming messages and
# new ticks.
IDLE_POLL_S = 2.0
# Acks are refreshed for messages sent within this window.
ACK_WINDOW = timedelta(hours=24)
# Chats revisited for ticks per idle pass (bounded: each is a page navigation).
ACK_CHATS_PER_PASS = 5
# A busy runner re-reads its profile (status, settings) at least this often.
PROFILE_RELOAD_S = 2.0
# While busy, incoming messages are looked for after this many sends or this long, whichever
# comes first (opening chats with unread badges costs navigations).
INBOUND_CHECK_EVERY_SENDS = 10
# Within a batch, whether a campaign still runs is asked again at least this often (and after
# every pacing wait), so pausing it stops the batch before its next message.
CAMPAIGN_GATE_RECHECK_S = 0.25
INBOUND_CHECK_EVERY_S = 15.0

# WhatsApp Web shows bubble times to the minute, and the clocks of this host, the database and
# WhatsApp may differ a little. A bubble counts as sent after a claim only when its minute
# starts later than the claim plus this margin, and before it only when its minute ends before
# the claim minus the margin; in between, time alone cannot decide.
CLOCK_MARGIN = timedelta(seconds=10)
MINUTE = timedelta(minutes=1)
TICKED = {"sent", MessageState.DELIVERED, MessageState.READ}


class LeaseLost(Exception):
    pass


@dataclass
class BatchOutcome:
    """What happened to each claimed message of a batch, recorded in one database call."""

    sent: list[tuple[int, uuid.UUID, str]] = field(default_factory=list)
    acks: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[int, uuid.UUID]] = field(default_factory=list)
    failed: list[tuple[ledger.ClaimedMessage, str, str, bool]] = field(default_factory=list)
    released: list[ledger.ClaimedMessage] = field(default_factory=list)
    # Submitted but unconfirmed, with the bubble id the page showed for it ("" if none).
    unknown: list[tuple[ledger.ClaimedMessage, str]] = field(default_factory=list)
    # Messages whose submit note was written to Redis (cleared once their outcome is recorded).
    noted: list[int] = field(default_factory=list)
    stop: bool = False
    after: Callable[[], Awaitable[None]] | None = None


@dataclass(frozen=True)
class InFlight:
    """A message submitted to WhatsApp whose sent tick is still awaited (its row is `sending`)."""

    claim: ledger.ClaimedMessage
    reservation: Reservation
    submission: drv.Submission


def host_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def reconcile_decision(
    *,
    bubbles: list[drv.BubbleStatus],
    body: str,
    claimed_at: datetime | None,
    known_ids: set[str],
    note_anchor: str | None,
) -> tuple[str, str, str]:
    """Was this message (claimed at `claimed_at`) sent, judging by the chat's outgoing bubbles
    (oldest first)? Returns (ReconcileOutcome, WhatsApp id when found, why when undecidable).

    With the submit note (`note_anchor`: the last outgoing bubble before Enter, "" for none) the
    bubbles after the anchor are exactly those sent since: ours if the text matches. Without it
    (the driver died before writing it, or its anchor is no longer on screen) only bubbles with
    the same text after the claim time count; WhatsApp Web shows minutes only, so one from
    around the claim's minute is undecidable rather than guessed. `known_ids` are bubbles other
    ledger rows already own. Found requires a tick: a bubble still on its clock may never go."""
    target = drv.normalize_text(body)

    def before_claim(bubble: drv.BubbleStatus) -> bool:
        return bool(claimed_at and bubble.at and all(t + MINUTE < claimed_at - CLOCK_MARGIN for t in bubble.at))

    def after_claim(bubble: drv.BubbleStatus) -> bool:
        return bool(claimed_at and bubble.at and all(t > claimed_at + CLOCK_MARGIN for t in bubble.at))

    def found(bubble: drv.BubbleStatus) -> tuple[str, str, str]:
        if not bubble.wa_message_id:
            return ledger.ReconcileOutcome.UNDECIDABLE, "", "a matching message without an id is in the chat"
        if bubble.status not in TICKED:
            return ledger.ReconcileOutcome.UNDECIDABLE, "", "the message is in the chat without a sent tick"
        return ledger.ReconcileOutcome.FOUND, bubble.wa_message_id, ""

    ids = [b.wa_message_id for b in bubbles]
    if note_anchor is not None and (note_anchor == "" or note_anchor in ids):
        start = ids.index(note_anchor) + 1 if note_anchor else 0
        fresh = [b for b in bubbles[start:] if b.wa_message_id not in known_ids and not before_claim(b)]
        mine = [b for b in fresh if drv.normalize_text(b.text) == target]
        if mine:
            return found(mine[0])
        if fresh:
            return ledger.ReconcileOutcome.UNDECIDABLE, "", "another message was sent in this chat after it was typed"
        return ledger.ReconcileOutcome.NOT_FOUND, "", ""
    candidates = [b for b in bubbles if drv.normalize_text(b.text) == target and b.wa_message_id not in known_ids]
    after = [b for b in candidates if after_claim(b)]
    if after:
        return found(after[0])
    if any(not before_claim(b) for b in candidates):
        return (
            ledger.ReconcileOutcome.UNDECIDABLE,
            "",
            "a message with this text from around the claim time is in the chat (WhatsApp Web shows minutes only)",
        )
    return ledger.ReconcileOutcome.NOT_FOUND, "", ""


def received_at(candidates: tuple[datetime, ...], now: datetime) -> datetime:
    """When an incoming message arrived: its bubble's minute, or `now` when that is the current
    minute (more precise) or unreadable."""
    moment = drv.latest_plausible(candidates, now)
    if moment is None or now - moment < MINUTE:
        return now
    return moment


class SenderHost:
    def __init__(self, *, max_active: int | None = None, transport_factory: Callable[[], Transport] | None = None):
        self.identity = host_identity()
        self.max_active = max_active or settings.SENDER_MAX_ACTIVE_PROFILES
        self.transport_factory = transport_factory
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runners: dict[tuple[str, int], ProfileRunner] = {}
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._playwright = None
        self._playwright_cm = None
        self._closing = False

    # --- thread / loop -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run_loop, name="sender-host", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)

    def _run_loop(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self._ready.set()
        self.loop.run_forever()

    def kick(self, schema: str, profile_id: int) -> bool:
        """Thread-safe: ask the host to drive a profile. Returns whether it is (now) driven here."""
        self.start()
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(self._kick(schema, profile_id), self.loop)
        return future.result(timeout=30)

    def shutdown(self, timeout: float = 60) -> None:
        """Park every profile (state saved, browsers closed, leases released)."""
        if self.loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
        try:
            future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            logger.warning("sender_host.shutdown_timeout", extra={"host": self.identity})

    def active_profiles(self) -> list[tuple[str, int]]:
        return list(self.runners)

    # --- inside the loop ---------------------------------------------------------------------

    async def playwright(self):
        if self._playwright is None:
            from playwright.async_api import async_playwright

            self._playwright_cm = async_playwright()
            self._playwright = await self._playwright_cm.start()
        return self._playwright

    async def _kick(self, schema: str, profile_id: int) -> bool:
        if self._closing:
            return False
        key = (schema, profile_id)
        runner = self.runners.get(key)
        if runner is not None:
            if runner.finishing:
                # It is on its way out and would not see this kick (a relink right after a
                # logout, new work right after it decided to park): start again once it is out.
                runner.kick_again = True
            else:
                runner.wake()
            return True
        if len(self.runners) >= self.max_active:
            logger.info("sender_host.full", extra={"host": self.identity, "profile_id": profile_id})
            return False
        ttl = settings.SENDER_LEASE_TTL_S
        if not await asyncio.to_thread(coordination.lease_acquire, schema, profile_id, self.identity, ttl):
            return False
        runner = ProfileRunner(self, schema, profile_id)
        self.runners[key] = runner
        task = asyncio.get_running_loop().create_task(runner.run())
        task.add_done_callback(lambda _t: self._runner_done(key, runner))
        runner.task = task
        return True

    def _runner_done(self, key: tuple[str, int], runner: ProfileRunner) -> None:
        if self.runners.get(key) is runner:
            del self.runners[key]
        if runner.kick_again and not self._closing:
            asyncio.get_running_loop().create_task(self._kick(*key))

    async def _shutdown(self) -> None:
        self._closing = True
        runners = list(self.runners.values())
        for runner in runners:
            runner.stop()
        await asyncio.gather(*(r.task for r in runners if r.task), return_exceptions=True)
        if self._playwright_cm is not None:
            await self._playwright_cm.__aexit__(None, None, None)
            self._playwright = self._playwright_cm = None
        self._closing = False


class ProfileRunner:
    """Drives one profile while this host holds its lease."""

    def __init__(self, host: SenderHost, schema: str, profile_id: int):
        self.host = host
        self.schema = schema
        self.profile_id = profile_id
        self.task: asyncio.Task | None = None
        self.transport: Transport | None = None
        self.finishing = False
        self.kick_again = False
        self._db = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"db-{profile_id}")
        self._wake = asyncio.Event()
        self._stopping = False
        self._lease_lost = False
        self._dirty = False
        self._seeds = pacing.UsageSeeds()
        self.tenant = None

    def wake(self) -> None:
        self._dirty = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # --- database, in the tenant's schema, on this runner's own thread ------------------------

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def call() -> T:
            close_old_connections()
            with schema_context(self.schema):
                return fn(*args, **kwargs)

        return await asyncio.get_running_loop().run_in_executor(self._db, call)

    # --- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        logger.info("profile.driving", extra={"profile_id": self.profile_id, "host": self.host.identity})
        try:
            await self._drive()
        except LeaseLost:
            logger.warning("profile.lease_lost", extra={"profile_id": self.profile_id})
        except drv.DriverError as exc:
            logger.warning("profile.driver_failed", extra={"profile_id": self.profile_id, "error": exc.code})
        except Exception:
            # A runner must never take the host down; the profile is retried by the dispatcher.
            logger.exception("profile.runner_crashed", extra={"profile_id": self.profile_id})
        finally:
            self.finishing = True
            # A kick that came after the profile was last read was not looked at: run again.
            self.kick_again = self.kick_again or (self._dirty and not self._stopping)
            heartbeat.cancel()
            await self._park()
            await self.db(profiles.profile_connecting_abandoned, profile_id=self.profile_id)
            await asyncio.to_thread(coordination.lease_release, self.schema, self.profile_id, self.host.identity)
            await self.db(profiles.profile_lease_note, profile_id=self.profile_id, host="", expires_at=None)
            # The database thread's connection must not outlive the runner.
            await asyncio.get_running_loop().run_in_executor(self._db, connections.close_all)
            self._db.shutdown(wait=False)
            logger.info("profile.parked", extra={"profile_id": self.profile_id})

    async def _heartbeat(self) -> None:
        ttl = settings.SENDER_LEASE_TTL_S
        while True:
            await asyncio.sleep(ttl / 3)
            held = await asyncio.to_thread(
                coordination.lease_extend, self.schema, self.profile_id, self.host.identity, ttl
            )
            if not held:
                self._lease_lost = True
                self.stop()
                return

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake early for new work (kick) or a stop."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))

    def _check_lease(self) -> None:
        if self._lease_lost:
            raise LeaseLost()

    async def _park(self) -> None:
        """Save the session (unless the profile no longer has one: logged out, unlinked) and close
        the browser."""
        transport, self.transport = self.transport, None
        if transport is None:
            return
        try:
            if transport.is_open and transport.logged_in:
                state = await transport.storage_state()
                saved = await self.db(
                    profiles.profile_session_save, profile_id=self.profile_id, state=state, lease_host=""
                )
                if not saved:
                    logger.info("profile.park_state_discarded", extra={"profile_id": self.profile_id})
        except drv.DriverError as exc:
            logger.warning("profile.park_state_not_saved", extra={"profile_id": self.profile_id, "error": exc.code})
        finally:
            try:
                await transport.close()
            except drv.DriverError as exc:
                logger.warning("profile.browser_close_failed", extra={"profile_id": self.profile_id, "error": exc.code})

    def _load(self) -> tuple[SenderProfile, Any]:
        from apps.tenants.models import Tenant

        profile = SenderProfile.objects.get(id=self.profile_id)
        tenant = Tenant.objects.select_related("subscription__plan").get(schema_name=self.schema)
        return profile, tenant

    async def _drive(self) -> None:
        profile, self.tenant = await self.db(self._load)
        if not self.tenant.is_active or profile.status in (SenderProfile.Status.BANNED, SenderProfile.Status.FAILED):
            return
        wants_link = profile.status in (SenderProfile.Status.NEW, SenderProfile.Status.WAITING_FOR_QR)
        if profile.status == SenderProfile.Status.LOGGED_OUT or (not wants_link and not profile.session_state):
            return
        await self.db(
            profiles.profile_lease_note,
            profile_id=self.profile_id,
            host=self.host.identity,
            expires_at=timezone.now() + timedelta(seconds=settings.SENDER_LEASE_TTL_S),
        )
        if not wants_link and profile.status != SenderProfile.Status.RATE_LIMITED:
            await self.db(profiles.profile_connecting, profile_id=self.profile_id)
        self.transport = await self._open_transport(profile)
        screen = self.transport.screen
        if screen == drv.Screen.QR:
            if not wants_link:
                await self._logged_out("WhatsApp Web asked for a new QR scan: the device was unlinked")
                return
            if not await self._link():
                return
        elif screen in (drv.Screen.BANNED, drv.Screen.RATE_LIMITED):
            await self._account_problem(screen, "shown when WhatsApp Web opened")
            return
        elif profile.status != SenderProfile.Status.RATE_LIMITED:
            phone = await self.transport.own_number()
            state = await self.transport.storage_state()
            await self.db(profiles.profile_connected, profile_id=self.profile_id, phone=phone, state=state)
        await self._reconcile_orphans()
        if not await self._capture_incoming():
            return
        await self._send_loop()

    async def _open_transport(self, profile: SenderProfile) -> Transport:
        if self.host.transport_factory is not None:
            transport = self.host.transport_factory()
        else:
            from apps.senders.transport import BrowserTransport

            state = json.loads(profile.session_state) if profile.session_state else None
            transport = BrowserTransport(
                await self.host.playwright(), storage_state=state, proxy=parse_proxy(profile.proxy_url)
            )
        try:
            await transport.open()
        except drv.DriverError:
            await transport.close()
            raise
        return transport

    # --- linking -----------------------------------------------------------------------------

    async def _link(self) -> bool:
        """Show QR codes live until the phone scans one (or time runs out)."""
        assert self.transport is not None
        await self.db(self._set_status, SenderProfile.Status.WAITING_FOR_QR, "")
        deadline = time.monotonic() + settings.SENDER_QR_TIMEOUT_S
        shown = None
        while time.monotonic() < deadline and not self._stopping:
            self._check_lease()
            screen = await self.transport.current_screen()
            if screen == drv.Screen.READY:
                phone = await self.transport.own_number()
                state = await self.transport.storage_state()
                await self.db(profiles.profile_connected, profile_id=self.profile_id, phone=phone, state=state)
                return True
            payload = await self.transport.qr_payload()
            if payload and payload != shown:
                shown = payload
                await self.db(profiles.profile_qr_update, profile_id=self.profile_id, payload=payload)
            await asyncio.sleep(0.5)
        if not self._stopping:
            await self.db(self._set_status, SenderProfile.Status.NEW, "The QR code was not scanned in time.")
        return False

    def _set_status(self, status: str, detail: str) -> None:
        profile = SenderProfile.objects.get(id=self.profile_id)
        profiles.profile_set_status(profile=profile, status=status, detail=detail)

    async def _logged_out(self, detail: str) -> None:
        """The device was unlinked: forget the session (never saved again) and tell the tenant."""
        if self.transport is not None:
            self.transport.logged_in = False
        await self.db(profiles.profile_unlinked, profile_id=self.profile_id, detail=detail)

    async def _account_problem(self, screen: str, detail: str) -> None:
        if screen == drv.Screen.BANNED:
            await self.db(self._set_status, SenderProfile.Status.BANNED, f"WhatsApp banned this number ({detail})")
        else:
            await self.db(
                profiles.profile_rate_limited, profile_id=self.profile_id, detail=f"WhatsApp rate limit ({detail})"
            )

    async def _screen_problem(self, screen: str) -> None:
        if screen == drv.Screen.QR:
            await self._logged_out("WhatsApp Web shows the QR code: the device was unlinked")
        else:
            await self._account_problem(screen, "seen on WhatsApp Web")

    async def _driver_trouble(self, exc: drv.DriverError) -> bool:
        """React to what a browser step ran into; returns whether the runner may go on."""
        if isinstance(exc, drv.LoggedOut):
            await self._logged_out(str(exc))
            return False
        if isinstance(exc, drv.Banned):
            await self._account_problem(drv.Screen.BANNED, "seen on WhatsApp Web")
            return False
        if isinstance(exc, drv.RateLimited):
            await self._account_problem(drv.Screen.RATE_LIMITED, "seen on WhatsApp Web")
            return False
        logger.warning("profile.browser_step_failed", extra={"profile_id": self.profile_id, "error": exc.code})
        return not isinstance(exc, drv.BrowserCrashed)

    # --- crash recovery ----------------------------------------------------------------------

    async def _reconcile_orphans(self) -> None:
        """Settle rows a dead driver left in `sending` by looking at the chat (invariant 2)."""
        orphans = await self.db(ledger.messages_orphaned, profile_id=self.profile_id)
        for message in orphans:
            self._check_lease()
            outcome, wa_id, detail = await self._find_in_chat(message)
            await self.db(
                ledger.message_reconcile, message_id=message.id, outcome=outcome, wa_message_id=wa_id, detail=detail
            )
            await asyncio.to_thread(coordination.submit_notes_clear, self.schema, [message.id])

    async def _find_in_chat(self, message: OutboundMessage) -> tuple[str, str, str]:
        """Reconcile one message against its chat. A crashed browser can judge nothing:
        BrowserCrashed propagates and the row stays `sending` for the next driver."""
        assert self.transport is not None
        try:
            bubbles = await self.transport.chat_statuses(message.to_number.lstrip("+"))
        except drv.InvalidNumber:
            return ledger.ReconcileOutcome.NOT_FOUND, "", ""
        except drv.BrowserCrashed:
            raise
        except drv.DriverError as exc:
            return ledger.ReconcileOutcome.UNDECIDABLE, "", f"could not open the chat: {exc.code}"
        known = await self.db(self._known_ids, message.to_number, message.id)
        note = await asyncio.to_thread(coordination.submit_note_get, self.schema, message.id)
        return reconcile_decision(
            bubbles=bubbles, body=message.body, claimed_at=message.claimed_at, known_ids=known, note_anchor=note
        )

    def _known_ids(self, to_number: str, exclude_id: int) -> set[str]:
        """WhatsApp ids of this chat's bubbles that other ledger rows already own."""
        return set(
            OutboundMessage.objects.filter(profile_id=self.profile_id, to_number=to_number)
            .exclude(id=exclude_id)
            .exclude(wa_message_id="")
            .values_list("wa_message_id", flat=True)
        )

    # --- the send loop -----------------------------------------------------------------------

    async def _send_loop(self) -> None:
        assert self.transport is not None
        idle_since = time.monotonic()
        last_idle_poll = 0.0
        since_inbound_check, inbound_checked_at = 0, time.monotonic()
        profile: SenderProfile | None = None
        loaded_at = 0.0
        while not self._stopping:
            self._check_lease()
            if profile is None or self._dirty or time.monotonic() - loaded_at > PROFILE_RELOAD_S:
                self._dirty = False
                profile, loaded_at = await self.db(SenderProfile.objects.get, id=self.profile_id), time.monotonic()
                if profile.status == SenderProfile.Status.RATE_LIMITED and (
                    profile.paused_until is None or profile.paused_until <= timezone.now()
                ):
                    profile = await self.db(profiles.profile_resume_after_pause, profile=profile)
                if profile.status != SenderProfile.Status.CONNECTED:
                    if profile.status == SenderProfile.Status.LOGGED_OUT:
                        # Logged out by a user: the session must not be saved back on park.
                        # (The simulator's page has no log-out menu; the session is discarded.)
                        self.transport.logged_in = False
                    elif profile.status in (SenderProfile.Status.NEW, SenderProfile.Status.WAITING_FOR_QR):
                        # A link was asked for while this runner sent: start over for it.
                        self.kick_again = True
                    return
            window = pacing.profile_window(profile, self.tenant)
            if not window.open:
                await self._wait_until(window.until)
                profile = None
                continue
            batch = self.transport.max_batch if profile.pacing_gap_s[1] == 0 else 1
            messages = await self.db(ledger.next_due_messages, profile_id=self.profile_id, limit=batch)
            if not messages:
                if time.monotonic() - idle_since > settings.SENDER_IDLE_PARK_S:
                    return
                if time.monotonic() - last_idle_poll > IDLE_POLL_S:
                    if not await self._idle_chores():
                        return
                    last_idle_poll = time.monotonic()
                await self._sleep(min(1.0, IDLE_POLL_S))
                continue
            idle_since = time.monotonic()
            # A campaign may impose its own pacing on its rows (apps.campaigns.dispatch): the
            # batch is cut where that changes, and paced with it.
            paced = profile
            if any(m.campaign_id is not None for m in messages):
                paced, messages = await self.db(campaign_pacing_for_batch, profile, messages)
            sent, keep_going = await self._send_batch(paced, messages)
            if not keep_going:
                return
            if sent and profile.rate_limit_strikes:
                await self.db(profiles.profile_strikes_forgive, profile_id=self.profile_id)
            since_inbound_check += sent
            if (
                since_inbound_check >= INBOUND_CHECK_EVERY_SENDS
                or time.monotonic() - inbound_checked_at > INBOUND_CHECK_EVERY_S
            ):
                since_inbound_check, inbound_checked_at = 0, time.monotonic()
                if not await self._capture_incoming():
                    return

    async def _wait_until(self, until) -> None:
        if until is None:
            return
        delay = (until - timezone.now()).total_seconds()
        if delay > settings.SENDER_IDLE_PARK_S:
            # Long wait (quiet hours, daily cap): park and come back then.
            from apps.senders import tasks

            tasks.profile_kick_at(self.profile_id, schema=self.schema, eta=until)
            self.stop()
            return
        await self._sleep(delay)

    async def _send_batch(self, profile: SenderProfile, messages: list[OutboundMessage]) -> tuple[int, bool]:
        """Reserve pacing for each message, claim them, send them in order at their slots and
        record the outcomes. Returns (messages sent, whether the runner may go on)."""
        reservations = await self.db(
            pacing.pacing_reserve_for,
            profile=profile,
            tenant=self.tenant,
            contacts=[m.to_number for m in messages],
            seeds=self._seeds,
        )
        planned: list[tuple[OutboundMessage, Reservation]] = []
        deferred: list[int] = []
        refusal = ""
        for message, reservation in zip(messages, reservations, strict=True):
            if reservation.ok and not refusal:
                planned.append((message, reservation))
            elif reservation.ok:
                coordination.pacing_release(reservation)
            elif reservation.refusal == coordination.PacingRefusal.CONTACT_DAILY_CAP:
                deferred.append(message.id)
            else:
                refusal = refusal or reservation.refusal
        if deferred:
            until = pacing.next_local_midnight(self.tenant)
            await self.db(ledger.messages_defer, message_ids=deferred, until=until, reason="contact_daily_cap")
        self._check_lease()
        claims = {}
        if planned:
            claimed = await self.db(
                ledger.messages_claim,
                profile_id=self.profile_id,
                holder=self.host.identity,
                message_ids=[m.id for m, _ in planned],
            )
            claims = {c.id: c for c in claimed}
        started = time.monotonic()
        outcome = BatchOutcome()
        # Campaign id -> (may send, when last asked); the claim itself was a check at `started`.
        gate: dict[int, tuple[bool, float]] = {}
        # Pacing off: the next message is typed while earlier ones wait for their sent ticks.
        window = self.transport.tick_window if self.transport is not None and profile.pacing_gap_s[1] == 0 else 1
        in_flight: list[InFlight] = []
        for message, reservation in planned:
            claim = claims.get(message.id)
            if claim is None or outcome.stop or claim.opted_out:
                coordination.pacing_release(reservation)
                if claim is not None and claim.opted_out:
                    outcome.skipped.append((claim.id, claim.claim_token))
                elif claim is not None:
                    outcome.released.append(claim)
                continue
            delay = reservation.wait_s - (time.monotonic() - started)
            if delay > 0:
                await self._sleep(delay)
            if claim.campaign_id is not None and not await self._campaign_allows(
                claim.campaign_id, gate, waited=delay > 0, claimed_at=started
            ):
                # Its campaign was paused or cancelled after the claim: not sent, back to the ledger.
                coordination.pacing_release(reservation)
                outcome.released.append(claim)
                continue
            if self._stopping:
                coordination.pacing_release(reservation)
                outcome.released.append(claim)
                outcome.stop = True
                continue
            if claim.media and in_flight:
                # A message with an attachment goes on its own: those in flight are confirmed first.
                await self._confirm_sent(in_flight, outcome)
                if outcome.stop:
                    coordination.pacing_release(reservation)
                    outcome.released.append(claim)
                    continue
            if window > 1 and not claim.media:
                await self._submit_claim(profile, claim, reservation, outcome, in_flight, window)
            else:
                await self._send_claim(profile, claim, reservation, outcome)
        await self._confirm_sent(in_flight, outcome)
        await self.db(self._record_batch, outcome)
        settled = {claim.id for claim, _ in outcome.unknown}
        done = [mid for mid in outcome.noted if mid not in settled]
        if done:
            await asyncio.to_thread(coordination.submit_notes_clear, self.schema, done)
        for claim, wa_id in outcome.unknown:
            if not await self._settle_unknown(claim, wa_id, "no sent tick"):
                # Left in `sending` with its note: the next driver reconciles it.
                outcome.stop = True
                break
        if refusal:
            await self._refused(profile, refusal)
            outcome.stop = True
        if outcome.after is not None:
            await outcome.after()
        return len(outcome.sent), not outcome.stop

    async def _campaign_allows(
        self, campaign_id: int, gate: dict[int, tuple[bool, float]], *, waited: bool, claimed_at: float
    ) -> bool:
        """Whether a claimed row of this campaign may still go: asked again after a pacing wait
        and at least every CAMPAIGN_GATE_RECHECK_S within a batch, so a pause or cancel lands
        before the next message (apps.campaigns)."""
        allowed, asked_at = gate.get(campaign_id, (True, claimed_at))
        if waited or time.monotonic() - asked_at > CAMPAIGN_GATE_RECHECK_S:
            allowed = await self.db(ledger.campaign_sending_allowed, campaign_id=campaign_id)
            gate[campaign_id] = (allowed, time.monotonic())
        return allowed

    def _typing_ms(self, profile: SenderProfile) -> int:
        return 0 if profile.pacing_gap_s[1] == 0 else int(settings.SENDER_TYPING_DELAY_MS * coordination.time_scale())

    def _note_hook(self, claim: ledger.ClaimedMessage, outcome: BatchOutcome) -> SubmitHook:
        async def note_before_submit(note: drv.SubmitNote) -> None:
            try:
                await asyncio.to_thread(coordination.submit_note_set, self.schema, claim.id, note.anchor)
            except redis.RedisError as exc:
                # Without the note a crash could not be reconciled exactly: do not press Enter.
                raise drv.DriverError(f"could not record the submit note: {exc}") from exc
            outcome.noted.append(claim.id)

        return note_before_submit

    async def _send_claim(
        self, profile: SenderProfile, claim: ledger.ClaimedMessage, reservation: Reservation, outcome: BatchOutcome
    ) -> None:
        """Send one claimed message, wait for its sent tick and file its outcome (recorded by
        `_record_batch`)."""
        assert self.transport is not None
        digits, typing_ms, hook = claim.to_number.lstrip("+"), self._typing_ms(profile), self._note_hook(claim, outcome)
        try:
            if claim.media:
                # An attachment, with the text as its caption.
                receipt = await self.transport.send_media(
                    digits, claim.body, claim.media, typing_delay_ms=typing_ms, before_submit=hook
                )
            else:
                receipt = await self.transport.send_text(
                    digits, claim.body, typing_delay_ms=typing_ms, before_submit=hook
                )
        except drv.DriverError as exc:
            self._file_outcome(claim, reservation, exc, outcome)
        else:
            self._file_outcome(claim, reservation, receipt, outcome)

    async def _submit_claim(
        self,
        profile: SenderProfile,
        claim: ledger.ClaimedMessage,
        reservation: Reservation,
        outcome: BatchOutcome,
        in_flight: list[InFlight],
        window: int,
    ) -> None:
        """Send one claimed message without waiting for its tick: it joins `in_flight` (its row
        stays `sending`, its submit note stays in Redis) until `_confirm_sent` sees the tick.
        At most `window` messages are in flight, and never two to one chat (a chat-list row
        shows only a chat's last message)."""
        assert self.transport is not None
        same_chat = [entry for entry in in_flight if entry.claim.to_number == claim.to_number]
        if same_chat:
            await self._confirm_sent(in_flight, outcome, upto=in_flight.index(same_chat[-1]) + 1)
        if len(in_flight) >= window:
            await self._confirm_sent(in_flight, outcome, upto=len(in_flight) - window + 1)
        if outcome.stop:
            coordination.pacing_release(reservation)
            outcome.released.append(claim)
            return
        try:
            submission = await self.transport.submit_text(
                claim.to_number.lstrip("+"),
                claim.body,
                typing_delay_ms=self._typing_ms(profile),
                before_submit=self._note_hook(claim, outcome),
            )
        except drv.DriverError as exc:
            self._file_outcome(claim, reservation, exc, outcome)
        else:
            in_flight.append(InFlight(claim, reservation, submission))

    async def _confirm_sent(self, in_flight: list[InFlight], outcome: BatchOutcome, upto: int | None = None) -> None:
        """Wait for the sent ticks of the oldest `upto` (default: all) in-flight messages and file
        their outcomes; they leave `in_flight`."""
        assert self.transport is not None
        waiting = in_flight[:upto]
        if not waiting:
            return
        del in_flight[: len(waiting)]
        results = await self.transport.wait_sent([entry.submission for entry in waiting])
        for entry, result in zip(waiting, results, strict=True):
            self._file_outcome(entry.claim, entry.reservation, result, outcome, entry.submission.wa_message_id)

    def _file_outcome(
        self,
        claim: ledger.ClaimedMessage,
        reservation: Reservation,
        result: drv.SendReceipt | drv.DriverError,
        outcome: BatchOutcome,
        wa_id: str = "",
    ) -> None:
        """File what sending `claim` came to (`wa_id`: its bubble, when the page showed one)."""
        if isinstance(result, drv.SendReceipt):
            outcome.sent.append((claim.id, claim.claim_token, result.wa_message_id))
            if result.status in (MessageState.DELIVERED, MessageState.READ):
                outcome.acks.append((result.wa_message_id, result.status))
        elif isinstance(result, drv.InvalidNumber):
            coordination.pacing_release(reservation)
            outcome.failed.append((claim, "invalid_number", str(result), False))
        elif isinstance(result, drv.LoggedOut):
            coordination.pacing_release(reservation)
            outcome.released.append(claim)
            outcome.stop = True
            detail = str(result)
            outcome.after = lambda: self._logged_out(detail)
        elif isinstance(result, drv.Banned | drv.RateLimited):
            coordination.pacing_release(reservation)
            if result.after_submit:
                outcome.unknown.append((claim, wa_id))
            else:
                # Nothing was typed into WhatsApp: the message waits, the attempt does not count.
                outcome.released.append(claim)
            outcome.stop = True
            screen = drv.Screen.BANNED if isinstance(result, drv.Banned) else drv.Screen.RATE_LIMITED
            outcome.after = lambda: self._account_problem(screen, "while sending")
        elif isinstance(result, drv.SendOutcomeUnknown):
            outcome.unknown.append((claim, result.wa_message_id or wa_id))
        else:
            # Failed before the message was handed over: a timeout or crash is safe to retry; a
            # final failure (its attachment is gone) is recorded as it is.
            coordination.pacing_release(reservation)
            outcome.failed.append((claim, result.code, str(result), result.retryable))
            outcome.stop = outcome.stop or isinstance(result, drv.BrowserCrashed)

    def _record_batch(self, outcome: BatchOutcome) -> None:
        from apps.billing.services import usage_record_add

        sent = ledger.messages_mark_sent(claims=outcome.sent)
        if sent:
            usage_record_add(tenant=self.tenant, messages_sent=sent)
        for wa_id, state in outcome.acks:
            ledger.message_mark_ack(profile_id=self.profile_id, wa_message_id=wa_id, state=state)
        ledger.messages_mark_skipped_opted_out(claims=outcome.skipped)
        failed_final = 0
        for claim, code, detail, retryable in outcome.failed:
            state = ledger.message_mark_failed(
                message_id=claim.id, claim_token=claim.claim_token, code=code, detail=detail[:500], retryable=retryable
            )
            failed_final += state not in (None, MessageState.QUEUED)
        if failed_final:
            usage_record_add(tenant=self.tenant, messages_failed=failed_final)
        for claim in outcome.released:
            ledger.message_release(
                message_id=claim.id, claim_token=claim.claim_token, reason="not sent: runner stopping"
            )

    async def _settle_unknown(self, claim: ledger.ClaimedMessage, wa_id: str, detail: str) -> bool:
        """Submitted but unconfirmed: look at the chat now; never resend blindly. Returns False
        when the browser is gone: the row then stays `sending` for the next driver to reconcile
        (with a working page) and this runner stops."""
        assert self.transport is not None
        message = await self.db(OutboundMessage.objects.get, id=claim.id)
        try:
            if wa_id:
                # The page showed this message's own bubble: it went out iff that bubble has a tick.
                try:
                    bubbles = await self.transport.chat_statuses(message.to_number.lstrip("+"))
                except drv.BrowserCrashed:
                    raise
                except drv.DriverError as exc:
                    bubbles, detail = [], f"{detail}; could not open the chat: {exc.code}"
                mine = next((b for b in bubbles if b.wa_message_id == wa_id), None)
                if mine is not None and mine.status in TICKED:
                    outcome, why = ledger.ReconcileOutcome.FOUND, ""
                else:
                    outcome, why = ledger.ReconcileOutcome.UNDECIDABLE, detail
            else:
                outcome, wa_id, why = await self._find_in_chat(message)
                if outcome == ledger.ReconcileOutcome.NOT_FOUND:
                    # It may still arrive: only a found message is settled as sent, nothing is resent.
                    outcome, why = ledger.ReconcileOutcome.UNDECIDABLE, detail
        except drv.BrowserCrashed as exc:
            logger.warning("message.settle_deferred", extra={"message_id": claim.id, "error": exc.code})
            return False
        await self.db(ledger.message_reconcile, message_id=claim.id, outcome=outcome, wa_message_id=wa_id, detail=why)
        await asyncio.to_thread(coordination.submit_notes_clear, self.schema, [claim.id])
        return True

    async def _refused(self, profile: SenderProfile, refusal: str) -> None:
        """A cap or plan limit is reached: pause the profile until it resets and say so."""
        until = pacing.next_local_midnight(self.tenant)
        if refusal == coordination.PacingRefusal.TENANT_MONTHLY_LIMIT:
            local = pacing.local_now(self.tenant)
            until = (local.replace(day=28) + timedelta(days=4)).replace(
                day=1, hour=0, minute=0, second=0, microsecond=0
            )
        detail = {
            coordination.PacingRefusal.PROFILE_DAILY_CAP: "Daily cap reached for this number; sending resumes tomorrow.",
            coordination.PacingRefusal.TENANT_DAILY_LIMIT: "Your plan's daily message limit is reached; sending resumes tomorrow.",
            coordination.PacingRefusal.TENANT_MONTHLY_LIMIT: "Your plan's monthly message limit is reached.",
        }[refusal]

        def pause() -> None:
            SenderProfile.objects.filter(id=self.profile_id).update(paused_until=until)
            publish(
                "notifications", {"kind": "notification", "level": "warning", "message": f"{profile.label}: {detail}"}
            )

        await self.db(pause)

    # --- while idle --------------------------------------------------------------------------

    async def _idle_chores(self) -> bool:
        """Check the page is still logged in and usable, then refresh ticks and catch incoming
        messages. Returns whether the runner may go on."""
        assert self.transport is not None
        try:
            screen = await self.transport.current_screen()
        except drv.DriverError as exc:
            return await self._driver_trouble(exc)
        if screen != drv.Screen.READY:
            await self._screen_problem(screen)
            return False
        return await self._refresh_acks() and await self._capture_incoming()

    async def _capture_incoming(self) -> bool:
        """Store incoming messages: from chats with an unread badge and from every chat the
        driver had open since the last call (de-duplicated by WhatsApp id)."""
        assert self.transport is not None
        try:
            received = await self.transport.incoming()
        except drv.DriverError as exc:
            return await self._driver_trouble(exc)
        if received:
            now = timezone.now()
            await self.db(
                inbound.inbound_capture,
                profile_id=self.profile_id,
                messages=[
                    inbound.Received(m.wa_message_id, m.from_number, m.sender_name, m.text, received_at(m.at, now))
                    for m in received
                ],
            )
        return True

    async def _refresh_acks(self) -> bool:
        assert self.transport is not None
        numbers = await self.db(self._numbers_awaiting_ticks)
        for number in numbers:
            try:
                bubbles = await self.transport.chat_statuses(number.lstrip("+"))
            except drv.InvalidNumber:
                continue
            except drv.DriverError as exc:
                if not await self._driver_trouble(exc):
                    return False
                continue
            await self.db(self._apply_ticks, bubbles)
        return True

    def _numbers_awaiting_ticks(self) -> list[str]:
        since = timezone.now() - ACK_WINDOW
        return list(
            OutboundMessage.objects.filter(
                profile_id=self.profile_id, state__in=[MessageState.SENT, MessageState.DELIVERED], sent_at__gte=since
            )
            .values("to_number")
            .annotate(last_sent=Max("sent_at"))
            .order_by("-last_sent")
            .values_list("to_number", flat=True)[:ACK_CHATS_PER_PASS]
        )

    def _apply_ticks(self, bubbles: list[drv.BubbleStatus]) -> None:
        for bubble in bubbles:
            if bubble.wa_message_id and bubble.status in (MessageState.DELIVERED, MessageState.READ):
                ledger.message_mark_ack(
                    profile_id=self.profile_id, wa_message_id=bubble.wa_message_id, state=bubble.status
                )


_host: SenderHost | None = None
_host_lock = threading.Lock()


def get_host() -> SenderHost:
    """The process's sender host (created on first use)."""
    global _host
    with _host_lock:
        if _host is None:
            factory = NullTransport if settings.SENDER_TRANSPORT == "null" else None
            _host = SenderHost(transport_factory=factory)
        return _host
