"""The sender host: runs inside a sender worker process and drives WhatsApp profiles.

A Celery task (`senders.profile_kick`) hands a profile to the host; the host takes the
profile's cluster-wide lease (invariant 3) and runs a `ProfileRunner` on its asyncio loop (one
background thread per process). A runner keeps its browser warm while the profile has work and
parks it — state saved encrypted to the database, browser closed — after an idle timeout
(invariant 4), so memory follows active profiles. At most SENDER_MAX_ACTIVE_PROFILES browsers
are open per host; further kicks are declined and the dispatcher offers them again later.

Crash safety: a runner that takes a lease first reconciles the profile's `sending` rows
against the chat (invariant 2). A runner that loses its lease stops before the next step.
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
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import close_old_connections, connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context

from apps.core.realtime.publish import publish
from apps.senders import coordination
from apps.senders.coordination import Reservation
from apps.senders.driver import session as drv
from apps.senders.driver.browser import parse_proxy
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import inbound, ledger, pacing, profiles
from apps.senders.transport import NullTransport, Transport

logger = logging.getLogger(__name__)
T = TypeVar("T")

# How often an idle runner looks for incoming messages and new ticks.
IDLE_POLL_S = 2.0
# Acks are refreshed for messages sent within this window.
ACK_WINDOW = timedelta(hours=24)
# Chats revisited for ticks per idle pass (bounded: each is a page navigation).
ACK_CHATS_PER_PASS = 5
# A busy runner re-reads its profile (status, settings) at least this often.
PROFILE_RELOAD_S = 2.0
# Sends between two looks at the chat list for incoming messages while busy.
INBOUND_CHECK_EVERY_SENDS = 10


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
    unknown: list[ledger.ClaimedMessage] = field(default_factory=list)
    stop: bool = False
    after: Callable[[], Awaitable[None]] | None = None


def host_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


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
        key = (schema, profile_id)
        runner = self.runners.get(key)
        if runner is not None:
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
        task.add_done_callback(lambda _t: self.runners.pop(key, None))
        runner.task = task
        return True

    async def _shutdown(self) -> None:
        runners = list(self.runners.values())
        for runner in runners:
            runner.stop()
        await asyncio.gather(*(r.task for r in runners if r.task), return_exceptions=True)
        if self._playwright_cm is not None:
            await self._playwright_cm.__aexit__(None, None, None)
            self._playwright = self._playwright_cm = None


class ProfileRunner:
    """Drives one profile while this host holds its lease."""

    def __init__(self, host: SenderHost, schema: str, profile_id: int):
        self.host = host
        self.schema = schema
        self.profile_id = profile_id
        self.task: asyncio.Task | None = None
        self.transport: Transport | None = None
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
        except Exception:
            # A runner must never take the host down; the profile is retried by the dispatcher.
            logger.exception("profile.runner_crashed", extra={"profile_id": self.profile_id})
        finally:
            heartbeat.cancel()
            await self._park()
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
        transport, self.transport = self.transport, None
        if transport is None:
            return
        try:
            if transport.is_open and transport.logged_in:
                state = await transport.storage_state()
                await self.db(profiles.profile_session_save, profile_id=self.profile_id, state=state, lease_host="")
        except drv.DriverError as exc:
            logger.warning("profile.park_state_not_saved", extra={"profile_id": self.profile_id, "error": exc.code})
        finally:
            await transport.close()

    def _load(self) -> tuple[SenderProfile, Any]:
        profile = SenderProfile.objects.get(id=self.profile_id)
        tenant = connection.tenant
        from apps.tenants.models import Tenant

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
        elif profile.status != SenderProfile.Status.CONNECTED:
            state = await self.transport.storage_state()
            await self.db(profiles.profile_connected, profile_id=self.profile_id, phone="", state=state)
        await self._reconcile_orphans()
        await self._capture_incoming()
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
        await transport.open()
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
        def clear() -> None:
            profile = SenderProfile.objects.get(id=self.profile_id)
            profile.session_state = None
            profile.save(update_fields=["session_state_encrypted"])
            profiles.profile_set_status(profile=profile, status=SenderProfile.Status.LOGGED_OUT, detail=detail)

        await self.db(clear)
        if self.transport is not None:
            self.transport.logged_in = False

    async def _account_problem(self, screen: str, detail: str) -> None:
        if screen == drv.Screen.BANNED:
            await self.db(self._set_status, SenderProfile.Status.BANNED, f"WhatsApp banned this number ({detail})")
        else:
            await self.db(
                profiles.profile_rate_limited, profile_id=self.profile_id, detail=f"WhatsApp rate limit ({detail})"
            )

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

    async def _find_in_chat(self, message: OutboundMessage) -> tuple[str, str, str]:
        assert self.transport is not None
        try:
            bubbles = await self.transport.chat_statuses(message.to_number.lstrip("+"))
        except drv.InvalidNumber:
            return ledger.ReconcileOutcome.NOT_FOUND, "", ""
        except drv.DriverError as exc:
            return ledger.ReconcileOutcome.UNDECIDABLE, "", f"could not open the chat: {exc.code}"
        known = await self.db(self._known_ids, message.to_number, message.body, message.id)
        for bubble in bubbles:
            if bubble.text == message.body and bubble.wa_message_id and bubble.wa_message_id not in known:
                return ledger.ReconcileOutcome.FOUND, bubble.wa_message_id, ""
        if any(b.text == message.body and not b.wa_message_id for b in bubbles):
            return ledger.ReconcileOutcome.UNDECIDABLE, "", "a matching message without an id is in the chat"
        return ledger.ReconcileOutcome.NOT_FOUND, "", ""

    @staticmethod
    def _known_ids(to_number: str, body: str, exclude_id: int) -> set[str]:
        """WhatsApp ids already matched to other ledger rows with the same recipient and text."""
        return set(
            OutboundMessage.objects.filter(to_number=to_number, body=body)
            .exclude(id=exclude_id)
            .exclude(wa_message_id="")
            .values_list("wa_message_id", flat=True)
        )

    # --- the send loop -----------------------------------------------------------------------

    async def _send_loop(self) -> None:
        assert self.transport is not None
        idle_since = time.monotonic()
        last_idle_poll = 0.0
        since_inbound_check = 0
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
                    last_idle_poll = time.monotonic()
                    if not await self._idle_chores():
                        return
                await self._sleep(1.0)
                continue
            idle_since = time.monotonic()
            sent, keep_going = await self._send_batch(profile, messages)
            if not keep_going:
                return
            since_inbound_check += sent
            if since_inbound_check >= INBOUND_CHECK_EVERY_SENDS:
                since_inbound_check = 0
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
            if self._stopping:
                coordination.pacing_release(reservation)
                outcome.released.append(claim)
                outcome.stop = True
                continue
            await self._send_claim(profile, claim, reservation, outcome)
        await self.db(self._record_batch, outcome)
        for claim in outcome.unknown:
            await self._settle_unknown(claim, "no sent tick")
        if refusal:
            await self._refused(profile, refusal)
            outcome.stop = True
        if outcome.after is not None:
            await outcome.after()
        return len(outcome.sent), not outcome.stop

    async def _send_claim(
        self, profile: SenderProfile, claim: ledger.ClaimedMessage, reservation: Reservation, outcome: BatchOutcome
    ) -> None:
        """Send one claimed message and file its outcome (recorded by `_record_batch`)."""
        assert self.transport is not None
        typing_ms = (
            0 if profile.pacing_gap_s[1] == 0 else int(settings.SENDER_TYPING_DELAY_MS * coordination.time_scale())
        )
        try:
            receipt = await self.transport.send_text(claim.to_number.lstrip("+"), claim.body, typing_delay_ms=typing_ms)
        except drv.InvalidNumber as exc:
            coordination.pacing_release(reservation)
            outcome.failed.append((claim, "invalid_number", str(exc), False))
        except drv.LoggedOut as exc:
            coordination.pacing_release(reservation)
            outcome.released.append(claim)
            outcome.stop = True
            detail = str(exc)
            outcome.after = lambda: self._logged_out(detail)
        except drv.Banned as exc:
            coordination.pacing_release(reservation)
            outcome.failed.append((claim, "banned", str(exc), False))
            outcome.stop = True
            outcome.after = lambda: self._account_problem(drv.Screen.BANNED, "while sending")
        except drv.RateLimited as exc:
            coordination.pacing_release(reservation)
            (outcome.unknown if exc.after_submit else outcome.released).append(claim)
            outcome.stop = True
            outcome.after = lambda: self._account_problem(drv.Screen.RATE_LIMITED, "while sending")
        except drv.SendOutcomeUnknown:
            outcome.unknown.append(claim)
        except drv.DriverError as exc:
            # Failed before the message was handed over (timeout, crash): safe to retry.
            coordination.pacing_release(reservation)
            outcome.failed.append((claim, exc.code, str(exc), True))
            outcome.stop = outcome.stop or isinstance(exc, drv.BrowserCrashed)
        else:
            outcome.sent.append((claim.id, claim.claim_token, receipt.wa_message_id))
            if receipt.status in (MessageState.DELIVERED, MessageState.READ):
                outcome.acks.append((receipt.wa_message_id, receipt.status))

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

    async def _settle_unknown(self, claim: ledger.ClaimedMessage, detail: str) -> None:
        """Submitted but unconfirmed: look at the chat now; never resend blindly."""
        message = await self.db(OutboundMessage.objects.get, id=claim.id)
        outcome, wa_id, why = await self._find_in_chat(message)
        if outcome == ledger.ReconcileOutcome.NOT_FOUND:
            outcome, why = ledger.ReconcileOutcome.UNDECIDABLE, detail
        await self.db(ledger.message_reconcile, message_id=claim.id, outcome=outcome, wa_message_id=wa_id, detail=why)

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

    async def _idle_chores(self) -> bool:
        """Catch incoming messages and new ticks while there is nothing to send."""
        return await self._capture_incoming() and await self._refresh_acks()

    async def _capture_incoming(self) -> bool:
        assert self.transport is not None
        try:
            if not await self.transport.unread_chats():
                return True
            received = await self.transport.read_unread_chats()
        except drv.LoggedOut as exc:
            await self._logged_out(str(exc))
            return False
        except drv.DriverError as exc:
            logger.warning("profile.inbound_read_failed", extra={"profile_id": self.profile_id, "error": exc.code})
            return not isinstance(exc, drv.BrowserCrashed)
        await self.db(
            inbound.inbound_capture,
            profile_id=self.profile_id,
            messages=[inbound.Received(m.wa_message_id, m.from_number, m.sender_name, m.text) for m in received],
        )
        return True

    async def _refresh_acks(self) -> bool:
        assert self.transport is not None
        numbers = await self.db(self._numbers_awaiting_ticks)
        for number in numbers:
            try:
                bubbles = await self.transport.chat_statuses(number.lstrip("+"))
            except drv.DriverError as exc:
                return not isinstance(exc, drv.BrowserCrashed | drv.LoggedOut)
            await self.db(self._apply_ticks, bubbles)
        return True

    def _numbers_awaiting_ticks(self) -> list[str]:
        since = timezone.now() - ACK_WINDOW
        return list(
            OutboundMessage.objects.filter(
                profile_id=self.profile_id, state__in=[MessageState.SENT, MessageState.DELIVERED], sent_at__gte=since
            )
            .order_by("-sent_at")
            .values_list("to_number", flat=True)
            .distinct()[:ACK_CHATS_PER_PASS]
        )

    def _apply_ticks(self, bubbles: list) -> None:
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
            factory = NullTransport if getattr(settings, "SENDER_TRANSPORT", "browser") == "null" else None
            _host = SenderHost(transport_factory=factory)
        return _host
