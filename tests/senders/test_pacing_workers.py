"""Pacing across processes: two workers on one profile never beat the profile's bucket.

1. The pacing layer itself: two processes race `coordination.pacing_reserve` for one profile.
   Every slot the bucket hands out is at least the gap after the previous one (gap + batch
   pause after every batch), and the daily cap holds for both together.
2. Two real sender workers (Celery, Chromium, the simulator) on one profile: only the lease
   holder drives; when it is killed mid-pause the other takes over and still waits out the
   shared bucket.

Time is scaled down with PACING_TIME_SCALE. The assertions are on the slots the Redis bucket
handed out, recorded exactly inside the workers by the pacing probe (tests/senders/
live_workers.py), and on the simulator's own record, in which every message was sent no earlier
than its slot. Raw gaps between the simulator's timestamps are not compared with the pacing gap:
each also holds that message's page load and typing time, which differs from one message to
the next.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime

import pytest
from django_tenants.utils import tenant_context

from apps.billing.models import UsageRecord
from apps.senders import coordination
from apps.senders.models import MessageState, OutboundMessage
from apps.senders.services import ledger
from tests.conftest import ROOT, process_env
from tests.senders.live_workers import (
    PACING_PROBE_KEY,
    SenderWorker,
    alive,
    linked_profile_create,
    linked_session_state,
    pacing_probe_records,
    start_sender_worker,
    take_over_and_drain,
    wait_for,
)
from tests.simulator.conftest import LINKED_PHONE, simulator, simulator_process  # noqa: F401 - fixtures

pytestmark = pytest.mark.live

SENT_STATES = {MessageState.SENT, MessageState.DELIVERED, MessageState.READ}

# --- 1. the pacing layer, raced from two processes -----------------------------------------------

RACE_SCALE = 0.01
RACE_GAP_S = 2.0  # -> 20 ms between slots
RACE_BATCH = 7
RACE_BATCH_PAUSE_S = 10  # -> 100 ms extra after every 7th slot
RACE_DAILY_CAP = 50
RACE_PER_PROCESS = 40

_RACER = """
import json, sys, time
from tests.senders.live_workers import install_pacing_probe
install_pacing_probe()
from apps.senders import coordination

args = json.loads(sys.argv[1])
limits = coordination.PacingLimits(**args["limits"])
client = coordination.client()
while not client.exists(args["go_key"]):
    time.sleep(0.001)
outcomes = []
for i in range(args["count"]):
    reservation = coordination.pacing_reserve(
        schema=args["schema"], profile_id=args["profile_id"], contact=f"+9190{args['racer']}{i:07d}",
        day=args["day"], month=args["month"], limits=limits,
    )
    outcomes.append(reservation.refusal or "ok")
print(json.dumps(outcomes))
"""


def test_two_processes_racing_for_pacing_slots_never_beat_the_gap_or_the_daily_cap():
    profile_id = 424242
    gap_ms = int(RACE_GAP_S * 1000 * RACE_SCALE)
    pause_ms = int(RACE_BATCH_PAUSE_S * 1000 * RACE_SCALE)
    go_key = f"test:race-go:{uuid.uuid4().hex}"
    args = {
        "schema": "race",
        "profile_id": profile_id,
        "day": "2026-01-01",
        "month": "2026-01",
        "go_key": go_key,
        "count": RACE_PER_PROCESS,
        "limits": {
            "gap_s": [RACE_GAP_S, RACE_GAP_S],
            "batch_size": RACE_BATCH,
            "batch_pause_s": RACE_BATCH_PAUSE_S,
            "profile_daily_cap": RACE_DAILY_CAP,
            "contact_daily_cap": 100,
            "tenant_daily_limit": 10**6,
            "tenant_monthly_limit": 10**6,
        },
    }
    env = {**process_env(), "PACING_TIME_SCALE": str(RACE_SCALE)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, json.dumps({**args, "racer": racer})],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for racer in (1, 2)
    ]
    # Both processes are imported and spinning on the start key before it is set.
    time.sleep(2.0)
    coordination.client().set(go_key, 1, ex=60)
    outputs = [proc.communicate(timeout=60) for proc in racers]
    for proc, (_out, err) in zip(racers, outputs, strict=True):
        assert proc.returncode == 0, err

    outcomes = [Counter(json.loads(out)) for out, _err in outputs]
    records = sorted(pacing_probe_records(), key=lambda r: r["slot_ms"])
    pids = {proc.pid for proc in racers}

    # The daily cap holds for both processes together: exactly 50 slots, 30 refusals.
    assert outcomes[0] + outcomes[1] == Counter(
        {"ok": RACE_DAILY_CAP, coordination.PacingRefusal.PROFILE_DAILY_CAP: 2 * RACE_PER_PROCESS - RACE_DAILY_CAP}
    )
    assert len(records) == RACE_DAILY_CAP
    # Both processes really took part (each got at least 50 - 40 slots).
    assert {r["pid"] for r in records} == pids
    assert all(c["ok"] >= RACE_DAILY_CAP - RACE_PER_PROCESS for c in outcomes)
    # Slots are strictly ordered and at least one gap apart; after every 7th, gap + pause.
    assert len({r["slot_ms"] for r in records}) == len(records)
    for index, (earlier, later) in enumerate(itertools.pairwise(records), start=1):
        minimum = gap_ms + (pause_ms if index % RACE_BATCH == 0 else 0)
        assert later["slot_ms"] - earlier["slot_ms"] >= minimum, (index, earlier, later)
    # Hence in any window of W ms there are at most W // gap + 1 slots.
    slots = [r["slot_ms"] for r in records]
    for window in (gap_ms, 5 * gap_ms, 20 * gap_ms):
        busiest = max(sum(1 for s in slots if start <= s < start + window) for start in slots)
        assert busiest <= window // gap_ms + 1
    coordination.client().delete(go_key, PACING_PROBE_KEY)


# --- 2. two real sender workers on one profile -------------------------------------------------

WORKERS_SCALE = "0.05"
WORKERS_GAP_S = 10.0  # -> 500 ms
WORKERS_BATCH = 4
WORKERS_BATCH_PAUSE_S = 100  # -> 5 s after every 4th message
WORKERS_MESSAGES = 10
WORKERS_LEASE_TTL_S = "2"
DONE_TIMEOUT_S = 120


def recipient(i: int) -> str:
    return f"+919877{60000 + i:05d}1"


def iso_ms(value: str) -> int:
    return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture
def paced_profile(alpha_live, simulator):  # noqa: F811 - fixture
    state = linked_session_state(simulator.base_url, LINKED_PHONE)
    run = uuid.uuid4().hex[:8]
    with tenant_context(alpha_live.tenant):
        profile = linked_profile_create(
            state=state,
            phone=LINKED_PHONE,
            label=f"paced-{run}",
            pacing_preset="custom",
            pacing_min_s=WORKERS_GAP_S,
            pacing_max_s=WORKERS_GAP_S,
            batch_size=WORKERS_BATCH,
            batch_pause_s=WORKERS_BATCH_PAUSE_S,
        )
        for i in range(WORKERS_MESSAGES):
            ledger.message_enqueue(to=recipient(i), text=f"paced {run} #{i}", region="IN", profile=profile, kick=False)
    yield alpha_live, profile
    with tenant_context(alpha_live.tenant):
        OutboundMessage.objects.filter(profile=profile).delete()
        profile.delete()
    UsageRecord.objects.filter(tenant=alpha_live.tenant).delete()


def test_two_sender_workers_on_one_profile_share_one_pacing_bucket(paced_profile, simulator):  # noqa: F811
    world, profile = paced_profile
    schema = world.tenant.schema_name
    gap_ms = int(WORKERS_GAP_S * 1000 * float(WORKERS_SCALE))
    pause_ms = int(WORKERS_BATCH_PAUSE_S * 1000 * float(WORKERS_SCALE))
    env = {
        **process_env(),
        "WHATSAPP_WEB_URL": simulator.base_url,
        "PACING_TIME_SCALE": WORKERS_SCALE,
        "SENDER_LEASE_TTL_S": WORKERS_LEASE_TTL_S,
        "SENDER_IDLE_PARK_S": "3",
    }
    run = uuid.uuid4().hex[:6]
    workers: list[SenderWorker] = []
    try:
        workers = [start_sender_worker(f"pace-{name}-{run}", env, probe=True) for name in ("a", "b")]
        # Both workers are asked to drive the profile at once; the lease lets exactly one.
        for worker in workers:
            worker.kick(profile.id, schema=schema)
        holder = wait_for(lambda: coordination.lease_holder(schema, profile.id), timeout=30, what="a lease holder")
        holder_pid = int(holder.split(":")[1])
        driver, other = workers if holder_pid in workers[0].pids() else workers[::-1]
        assert holder_pid in driver.pids()

        # The driver sends the first batch of 4, reserves and claims the 5th and waits out the
        # batch pause. Kill it there.
        def in_batch_pause() -> bool:
            with tenant_context(world.tenant):
                states = Counter(OutboundMessage.objects.filter(profile=profile).values_list("state", flat=True))
            sent = sum(states[s] for s in SENT_STATES)
            return sent == WORKERS_BATCH and states[MessageState.SENDING] == 1

        wait_for(in_batch_pause, timeout=60, what="the first batch to be sent", interval=0.1)
        # Only the lease holder ever opened a browser.
        assert driver.browser_pids()
        assert other.browser_pids() == []
        assert len([m for m in simulator.messages(LINKED_PHONE) if m["direction"] == "out"]) == WORKERS_BATCH
        dead = driver.kill9()
        wait_for(lambda: not [pid for pid in dead if alive(pid)], timeout=10, what="the killed worker to vanish")

        take_over_and_drain(other, tenant=world.tenant, profile=profile, timeout=DONE_TIMEOUT_S)
        with tenant_context(world.tenant):
            rows = list(OutboundMessage.objects.filter(profile=profile))
    finally:
        for worker in workers:
            worker.stop()

    records = sorted((r for r in pacing_probe_records() if r["profile_id"] == profile.id), key=lambda r: r["slot_ms"])
    out = [m for m in simulator.messages(LINKED_PHONE) if m["direction"] == "out"]

    # Every message went out once; the one the killed worker had claimed was re-queued (not in
    # the chat) and sent by the other worker.
    assert Counter(r.state in SENT_STATES for r in rows) == Counter({True: WORKERS_MESSAGES})
    assert Counter(m["text"] for m in out) == Counter({r.body for r in rows})
    # Reservations: 5 by the first driver (4 sent + the claimed 5th), then 6 by the second.
    by_pid = Counter(r["pid"] for r in records)
    assert sorted(by_pid.values()) == [WORKERS_BATCH + 1, WORKERS_MESSAGES - WORKERS_BATCH]
    first_pid = records[0]["pid"]
    assert [r["pid"] == first_pid for r in records] == [True] * (WORKERS_BATCH + 1) + [False] * (
        WORKERS_MESSAGES - WORKERS_BATCH
    )
    assert records[WORKERS_BATCH]["contact"] == records[WORKERS_BATCH + 1]["contact"]
    # The shared bucket: slots a gap apart, gap + pause after every 4th — across the handoff too.
    for index, (earlier, later) in enumerate(itertools.pairwise(records), start=1):
        minimum = gap_ms + (pause_ms if index % WORKERS_BATCH == 0 else 0)
        assert later["slot_ms"] - earlier["slot_ms"] >= minimum, (index, earlier, later)
    # The second worker's first send waited for the bucket: at least gap + pause + gap after the
    # first worker's last sent slot.
    assert records[WORKERS_BATCH + 1]["slot_ms"] - records[WORKERS_BATCH - 1]["slot_ms"] >= 2 * gap_ms + pause_ms
    # Every send in the simulator's record happened at or after its slot.
    last_slot = {r["contact"]: r["slot_ms"] for r in records}
    for message in out:
        assert iso_ms(message["created_at"]) >= last_slot["+" + message["chat"]], message
