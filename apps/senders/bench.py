"""`make bench-senders`: figures for the sending engine, written to var/bench/senders.json.

- ledger_msgs_per_s: the real sender loop (claims, pacing reservations, bookkeeping, usage
  rollup) with the null transport, one profile, pacing off.
- naive_task_per_message_msgs_per_s: the design we did not build — one Celery task per message
  (load, claim, send, record) — on a real Celery worker with the same concurrency as a sender.
- web_msgs_per_s_per_profile: one profile sending through Chromium to the simulator, pacing off.
- profiles_active / pss_mb_per_active_profile: five profiles sending at once; proportional
  memory of each browser's process tree, and zero browsers once they are parked.
The browser figures live in apps/senders/bench_web.py.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from apps.billing.models import UsageRecord
from apps.senders import coordination
from apps.senders.models import MessageState, OutboundMessage, SenderProfile
from apps.senders.services import ledger
from apps.senders.transport import NullTransport
from apps.tenants import bench as tenant_bench
from apps.tenants.bench import UNLIMITED
from apps.tenants.models import Tenant
from config.celery import app

logger = logging.getLogger(__name__)

BENCH_TENANT_SLUG = "bench-senders"


def bench_tenant() -> Tenant:
    return tenant_bench.bench_tenant(slug=BENCH_TENANT_SLUG, name="Benchmark")


# What a connected profile needs to be driven at all: a stored session (empty for the null
# transport, which has no browser to restore).
EMPTY_SESSION_STATE = b'{"cookies": [], "origins": []}'


def bench_profile(label: str, **overrides) -> SenderProfile:
    """A profile with pacing, caps and warm-up out of the way. Connected (with an empty stored
    session) unless `status` says otherwise."""
    fields = {
        "label": label,
        "status": SenderProfile.Status.CONNECTED,
        "pacing_preset": "off",
        "batch_size": 0,
        "daily_cap": UNLIMITED,
        "warmup_enabled": False,
        "per_contact_daily_cap": 100,
        **overrides,
    }
    profile = SenderProfile(**fields)
    if profile.status == SenderProfile.Status.CONNECTED:
        profile.session_state = EMPTY_SESSION_STATE
    profile.save()
    return profile


def bench_number(i: int) -> str:
    """The i-th recipient: a valid Indian mobile number that never ends in 0000 (the simulator's
    "not on WhatsApp" suffix)."""
    return f"+9197{i % 10_000_000:07d}1"


def queue_messages(profile: SenderProfile, count: int, prefix: str, *, first_number: int = 0) -> list[int]:
    """Insert `count` queued messages to distinct numbers (not part of any timing)."""
    now = timezone.now()
    rows = [
        OutboundMessage(
            profile=profile,
            to_number=bench_number(first_number + i),
            body=f"{prefix} message {i}",
            queued_at=now,
        )
        for i in range(count)
    ]
    return [m.id for m in OutboundMessage.objects.bulk_create(rows, batch_size=5000)]


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, *, still_possible: Callable[[], bool] | None = None
) -> None:
    """Poll until `predicate()`; give up after `timeout_s`, or at once when `still_possible()`
    says it can no longer happen (e.g. the host stopped driving the profile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        if still_possible is not None and not still_possible() and not predicate():
            raise RuntimeError(f"benchmark stopped: {what} can no longer happen")
        time.sleep(0.05)
    raise TimeoutError(f"benchmark timed out waiting for {what}")


@dataclass(frozen=True)
class Throughput:
    messages: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


def ledger_throughput(tenant: Tenant, count: int) -> Throughput:
    """Drain `count` messages through a SenderHost with the null transport."""
    from apps.senders.host import SenderHost

    with tenant_context(tenant):
        profile = bench_profile(f"ledger-{uuid.uuid4().hex[:6]}")
        queue_messages(profile, count, "ledger")
    host = SenderHost(transport_factory=NullTransport)
    try:
        started = time.perf_counter()
        host.kick(tenant.schema_name, profile.id)
        with tenant_context(tenant):
            wait_until(
                lambda: not OutboundMessage.objects.filter(profile=profile, state__in=["queued", "sending"]).exists(),
                timeout_s=600,
                what="the ledger run",
                still_possible=lambda: bool(host.active_profiles()),
            )
        elapsed = time.perf_counter() - started
    finally:
        host.shutdown()
    with tenant_context(tenant):
        sent = OutboundMessage.objects.filter(profile=profile, state=MessageState.SENT).count()
    return Throughput(messages=sent, seconds=elapsed)


@app.task(name="bench.naive_send_one", ignore_result=True)
def naive_send_one(message_id: int) -> None:
    """The naive design: a task per message that claims, 'sends' and records it."""
    message = OutboundMessage.objects.filter(id=message_id, state=MessageState.QUEUED).first()
    if message is None:
        return
    claims = ledger.messages_claim(profile_id=message.profile_id, holder="naive", message_ids=[message_id])
    for claim in claims:
        ledger.message_mark_sent(message_id=claim.id, claim_token=claim.claim_token, wa_message_id=f"naive_{claim.id}")


def naive_throughput(tenant: Tenant, count: int) -> Throughput:
    """One Celery task per message through the real broker and a real worker (started by the
    caller with `-Q bench`)."""
    with tenant_context(tenant):
        profile = bench_profile(f"naive-{uuid.uuid4().hex[:6]}")
        ids = queue_messages(profile, count, "naive")
    started = time.perf_counter()
    with schema_context(tenant.schema_name):
        for message_id in ids:
            naive_send_one.apply_async(args=[message_id], queue="bench")
    with tenant_context(tenant):
        wait_until(
            lambda: not OutboundMessage.objects.filter(profile=profile, state__in=["queued", "sending"]).exists(),
            timeout_s=600,
            what="the naive run",
        )
    elapsed = time.perf_counter() - started
    connection.set_schema_to_public()
    return Throughput(messages=count, seconds=elapsed)


def cleanup(tenant: Tenant) -> None:
    """Remove everything a run leaves: ledger rows, profiles, the tenant's usage rollup and its
    pacing counters and leases in Redis (so per-contact caps do not build up across runs)."""
    with tenant_context(tenant):
        OutboundMessage.objects.all().delete()
        SenderProfile.objects.all().delete()
    UsageRecord.objects.filter(tenant=tenant).delete()
    redis = coordination.client()
    for pattern in (f"{prefix}:{tenant.schema_name}:*" for prefix in ("pace", "lease", "submit")):
        keys = list(redis.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])
