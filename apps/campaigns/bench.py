"""Campaign figures for `make bench-campaigns` (merged into var/bench/campaigns.json).

- materialize_recipients_s: start a campaign over 1,000,000 contacts (a group of them, ~1 %
  opted out and ~0.5 % suppressed), a template with spintax, a fallback and a custom field, three
  numbers in round robin: `campaign_start` plus the materialization, timed together, on the
  real ledger with all its indexes. The contacts are bulk-loaded with COPY into a dedicated
  tenant first (not timed) and kept between runs unless asked otherwise.
- dispatch_msgs_per_s: a 100,000-recipient campaign drained through the real SenderHost with
  the null transport, pacing off, its run ticked once a second like a worker would (counters,
  progress, completion): recipients / seconds from the first kick to the run completed.
- pause_s / resume_s: pausing and resuming the 1,000,000-row run as the API does it (the state
  changes; the senders stop or start at once), hold_rows_s / release_rows_s: the worker's part,
  its rows held and re-queued window by window; rollup_s: one roll-up of its counters.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import schema_context, tenant_context

from apps.billing.models import UsageRecord
from apps.campaigns import tasks
from apps.campaigns.models import Campaign, CampaignRun
from apps.campaigns.services import campaigns as campaign_services
from apps.campaigns.services import lifecycle, materialize, progress, rows, ticks
from apps.contacts.models import Contact, Group
from apps.senders import coordination
from apps.senders.models import OutboundMessage, SenderProfile
from apps.senders.transport import NullTransport
from apps.tenants import bench as tenant_bench
from apps.tenants.bench import UNLIMITED
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

BENCH_TENANT_SLUG = "bench-campaigns-send"
BENCH_GROUP = "Bench audience"
DISPATCH_GROUP = "Bench dispatch"
TEMPLATE = "{Hi|Hello|Hey} {{first_name|there}}, your order from {{custom.city|our store}} is ready for pickup."
OPTED_OUT_SHARE = 0.01
SUPPRESSED_SHARE = 0.005
_FIRST = ["Asha", "Ravi", "Priya", "Arjun", "Meera", "Vikram", "Fatima", "Rahul", "Zoë", "José", "Ananya", "Kabir"]
_LAST = ["Patel", "Sharma", "Iyer", "Khan", "Singh", "Rao", "Müller", "García", "Das", "Reddy", "Nair", "Gupta"]
_CITIES = ["Pune", "Mumbai", "Delhi", "Bengaluru", "Chennai", "Kolkata", "Jaipur", "Kochi", ""]
EMPTY_SESSION_STATE = b'{"cookies": [], "origins": []}'


def bench_tenant() -> Tenant:
    return tenant_bench.bench_tenant(slug=BENCH_TENANT_SLUG, name="Benchmark (campaigns)")


def bench_number(i: int) -> str:
    """The i-th contact's number: distinct valid Indian mobiles (never ending in 0000)."""
    return f"+919{i:08d}1"


def contacts_ensure(tenant: Tenant, count: int, dispatch_count: int) -> float:
    """`count` contacts in group BENCH_GROUP (the first `dispatch_count` also in DISPATCH_GROUP),
    bulk-loaded with COPY; reused when already there. Returns the seconds spent loading."""
    with tenant_context(tenant):
        group = Group.objects.filter(name=BENCH_GROUP).first()
        if group is not None and group.memberships.count() == count and Contact.objects.count() == count:
            return 0.0
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE contacts_groupmembership, contacts_contact, contacts_group, contacts_suppressednumber "
                "RESTART IDENTITY CASCADE"
            )
        rng = random.Random(20261130)
        now = timezone.now()
        raw = connection.connection
        with raw.cursor() as cursor:
            with cursor.copy(
                "COPY contacts_contact (phone, name, email, language, custom_fields, consent_status, consent_source, "
                "opted_out_at, opted_out_reason, opted_out_via, created_at, updated_at) FROM STDIN"
            ) as copy:
                for i in range(count):
                    city = rng.choice(_CITIES)
                    custom = f'{{"city": "{city}"}}' if city else "{}"
                    opted = rng.random() < OPTED_OUT_SHARE
                    copy.write_row(
                        (
                            bench_number(i),
                            f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                            "",
                            "en",
                            custom,
                            "unknown",
                            "",
                            now if opted else None,
                            "bench" if opted else "",
                            "manual" if opted else "",
                            now,
                            now,
                        )
                    )
            group = Group.objects.create(name=BENCH_GROUP)
            dispatch = Group.objects.create(name=DISPATCH_GROUP)
            cursor.execute(
                "INSERT INTO contacts_groupmembership (group_id, contact_id, added_at) "
                "SELECT %s, id, now() FROM contacts_contact",
                [group.id],
            )
            cursor.execute(
                "INSERT INTO contacts_suppressednumber (phone, reason, created_at) "
                "SELECT phone, 'bench', now() FROM contacts_contact WHERE id %% %s = 0",
                [round(1 / SUPPRESSED_SHARE)],
            )
            # The dispatch audience: contacts that all get a message.
            cursor.execute(
                "INSERT INTO contacts_groupmembership (group_id, contact_id, added_at) "
                "SELECT %s, c.id, now() FROM contacts_contact c WHERE c.opted_out_at IS NULL "
                "AND NOT EXISTS (SELECT 1 FROM contacts_suppressednumber s WHERE s.phone = c.phone) "
                "ORDER BY c.id LIMIT %s",
                [dispatch.id, dispatch_count],
            )
        # As if imported a while ago: autovacuum has been by (hint bits set, statistics known),
        # so the timed start does not pay for the load's first read.
        with connection.cursor() as cursor:
            for table in ("contacts_contact", "contacts_groupmembership", "contacts_suppressednumber"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        return time.perf_counter() - started


def ledger_clear(tenant: Tenant) -> None:
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE senders_messageevent, senders_outboundmessage, campaigns_campaignrun, "
            "campaigns_campaignsender, campaigns_campaign_groups, campaigns_campaign RESTART IDENTITY CASCADE"
        )
        SenderProfile.objects.all().delete()
    UsageRecord.objects.filter(tenant=tenant).delete()
    redis = coordination.client()
    for pattern in (f"{prefix}:{tenant.schema_name}:*" for prefix in ("pace", "lease", "submit", "campaigns:tick")):
        keys = list(redis.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 1000):
            redis.delete(*keys[start : start + 1000])


def tenant_remove(tenant: Tenant) -> None:
    ledger_clear(tenant)
    connection.set_schema_to_public()
    tenant.delete(force_drop=True)


def _profiles(count: int) -> list[SenderProfile]:
    made = []
    for i in range(count):
        profile = SenderProfile(
            label=f"bench-{i}",
            status=SenderProfile.Status.CONNECTED,
            pacing_preset="off",
            batch_size=0,
            daily_cap=UNLIMITED,
            warmup_enabled=False,
            per_contact_daily_cap=100,
        )
        profile.session_state = EMPTY_SESSION_STATE
        profile.save()
        made.append(profile)
    return made


def _campaign(group_name: str, profiles: list[SenderProfile], name: str) -> Campaign:
    return campaign_services.campaign_create(
        name=name,
        body=TEMPLATE,
        groups=[Group.objects.get(name=group_name)],
        senders=[campaign_services.SenderChoice(profile=p) for p in profiles],
        rotation=Campaign.Rotation.ROUND_ROBIN,
    )


@dataclass
class MaterializeFigures:
    seconds: float
    recipients: int
    queued: int
    skipped: int
    phases: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def no_handoffs() -> Iterator[None]:
    """The benchmark runs materialization, moves and ticks itself and drives its own host: the
    Celery hand-offs the services make after commit are left out."""
    with contextlib.ExitStack() as stack:
        for name in ("materialize_enqueue", "run_started", "run_kick", "rows_move_enqueue", "tick_soon"):
            stack.enter_context(mock.patch.object(tasks, name, return_value=True))
        yield


def materialize_run(tenant: Tenant, *, profiles: int = 3) -> MaterializeFigures:
    """Start a campaign over the whole bench group; time the start and its materialization."""
    with tenant_context(tenant), no_handoffs():
        campaign = _campaign(BENCH_GROUP, _profiles(profiles), "Bench materialize")
        started = time.perf_counter()
        run = lifecycle.campaign_start(campaign=campaign)
        checked = time.perf_counter()
        run = materialize.run_materialize(run_id=run.id)
        seconds = time.perf_counter() - started
        # Pause and resume as a user sees them (the state change; a run this large has its rows
        # moved by a worker), then that worker's part, run here and timed on its own.
        pause_started = time.perf_counter()
        lifecycle.campaign_pause(campaign=campaign)
        pause_s = time.perf_counter() - pause_started
        hold_started = time.perf_counter()
        rows.rows_move(run=run, move=rows.HOLD)
        hold_s = time.perf_counter() - hold_started
        campaign.refresh_from_db()
        resume_started = time.perf_counter()
        lifecycle.campaign_resume(campaign=campaign)
        resume_s = time.perf_counter() - resume_started
        release_started = time.perf_counter()
        rows.rows_move(run=run, move=rows.RELEASE)
        release_s = time.perf_counter() - release_started
        rollup_started = time.perf_counter()
        run = progress.run_rollup(run=run)
        rollup_s = time.perf_counter() - rollup_started
        lifecycle.campaign_cancel(campaign=campaign)
    return MaterializeFigures(
        seconds=seconds,
        recipients=run.recipients,
        queued=run.queued_initially,
        skipped=run.skipped_opted_out + run.skipped_suppressed,
        phases={
            "start_checks_s": round(checked - started, 3),
            "materialize_s": round(run.materialize_s or 0.0, 3),
            "pause_s": round(pause_s, 3),
            "hold_rows_s": round(hold_s, 3),
            "resume_s": round(resume_s, 3),
            "release_rows_s": round(release_s, 3),
            "rollup_s": round(rollup_s, 3),
        },
    )


@dataclass
class DispatchFigures:
    seconds: float
    sent: int
    ticks: int
    campaign_state: str


def dispatch_run(tenant: Tenant, *, profiles: int = 1, timeout_s: float = 900) -> DispatchFigures:
    """Drain the dispatch group's campaign through a SenderHost (null transport, pacing off),
    ticking the run every second on another thread as the worker would."""
    from apps.senders.host import SenderHost

    with tenant_context(tenant), no_handoffs():
        made = _profiles(profiles)
        campaign = _campaign(DISPATCH_GROUP, made, "Bench dispatch")
        run = lifecycle.campaign_start(campaign=campaign)
        run = materialize.run_materialize(run_id=run.id)
    done = threading.Event()
    tick_count = [0]

    def tick_loop() -> None:
        try:
            with schema_context(tenant.schema_name):
                while not done.is_set():
                    tick_count[0] += 1
                    if not ticks.run_tick(run_id=run.id):
                        done.set()
                        return
                    done.wait(ticks.TICK_INTERVAL_S)
        finally:
            connections.close_all()

    host = SenderHost(transport_factory=NullTransport)
    ticker = threading.Thread(target=tick_loop, name="bench-ticks", daemon=True)
    try:
        started = time.perf_counter()
        for profile in made:
            host.kick(tenant.schema_name, profile.id)
        ticker.start()
        if not done.wait(timeout_s):
            raise TimeoutError("the dispatch benchmark did not finish")
        seconds = time.perf_counter() - started
    finally:
        done.set()
        host.shutdown()
        ticker.join(timeout=10)
    with tenant_context(tenant):
        campaign.refresh_from_db()
        run = CampaignRun.objects.get(id=run.id)
        sent = OutboundMessage.objects.filter(campaign_id=campaign.id, state="sent").count()
    return DispatchFigures(seconds=seconds, sent=sent, ticks=tick_count[0], campaign_state=campaign.state)
