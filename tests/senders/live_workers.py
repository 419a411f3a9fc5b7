"""Real sender workers for multi-process tests: Celery workers on the `senders` queue (plus a
queue of their own, so a test can kick one worker in particular), driving real Chromium
against the test simulator.

Each worker runs in its own process group, so `kill9()` takes down the whole worker — the
Celery parent, its pool child (where the sender host and Playwright live) and the browsers —
the way a crashed host goes down.

The pacing probe (`probe=True`) records, inside the worker, every slot the Redis pacing bucket
hands out: the reserving process's clock (`now_ms`, read through the probe so it is the value
the reservation used) plus the returned wait. It records what the real code did and changes
nothing about it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
PACING_PROBE_KEY = "test:pacing-probe"
WORKER_START_TIMEOUT_S = 60
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def linked_session_state(base_url: str, phone: str) -> bytes:
    """Link a fresh browser to `phone` in the simulator (scan its QR through the control API)
    and return its Playwright storage state (cookies + IndexedDB), as a profile stores it."""
    from playwright.sync_api import sync_playwright

    from tests.simulator.conftest import Simulator, page_link

    sim = Simulator(base_url=base_url, process=None)  # type: ignore[arg-type]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context()
            page = context.new_page()
            page_link(sim, page, phone)
            state = context.storage_state(indexed_db=True)
            context.close()
        finally:
            browser.close()
    return json.dumps(state).encode()


# --- processes ----------------------------------------------------------------------------------


def linked_profile_create(*, state: bytes, phone: str, label: str, **settings: Any):
    """A connected profile holding a stored session (no QR), in the current tenant schema;
    `settings` are its pacing fields. Daily cap and warm-up are out of the way."""
    from apps.senders.models import SenderProfile

    profile = SenderProfile(
        label=label,
        phone=f"+{phone}",
        status=SenderProfile.Status.CONNECTED,
        daily_cap=1000,
        warmup_enabled=False,
        **settings,
    )
    profile.session_state = state
    profile.save()
    return profile


def wait_for_lease_release(schema: str, profile_id: int) -> None:
    """Until the (dead) driver's lease on the profile has expired, so another worker may take it."""
    from apps.senders import coordination

    wait_for(lambda: coordination.lease_holder(schema, profile_id) is None, timeout=15, what="the lease to expire")


def take_over_and_drain(worker: SenderWorker, *, tenant, profile, timeout: float) -> None:
    """Once the dead driver's lease has expired, hand the profile to `worker` and wait until none
    of its ledger rows is queued or sending any more."""
    from django_tenants.utils import tenant_context

    from apps.senders.models import MessageState, OutboundMessage

    wait_for_lease_release(tenant.schema_name, profile.id)
    worker.kick(profile.id, schema=tenant.schema_name)
    unfinished = [MessageState.QUEUED, MessageState.SENDING]
    with tenant_context(tenant):
        wait_for(
            lambda: not OutboundMessage.objects.filter(profile=profile, state__in=unfinished).exists(),
            timeout=timeout,
            what="every ledger row to be final",
            interval=0.2,
        )


def children(pid: int) -> list[int]:
    """Every live descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: split after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == current]
        found += kids
        frontier += kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


@dataclass
class SenderWorker:
    name: str
    queue: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def node(self) -> str:
        return f"{self.name}@{socket.gethostname()}"

    def kick(self, profile_id: int, *, schema: str) -> None:
        """Send `senders.drive_profile` to this worker only (its own queue)."""
        from apps.senders.tasks import drive_profile

        drive_profile.apply_async(args=[profile_id], headers={"_schema_name": schema}, queue=self.queue)

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def browser_pids(self) -> list[int]:
        return [pid for pid in children(self.proc.pid) if "chrom" in command_name(pid)]

    def kill9(self) -> list[int]:
        """SIGKILL the whole worker at once: no parking, no lease release, no bookkeeping.
        Returns the pids that were killed."""
        victims = self.pids()
        os.killpg(self.proc.pid, signal.SIGKILL)
        # Chromium may have put itself in a process group of its own.
        for pid in victims:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        return victims

    def stop(self) -> None:
        """Warm shutdown, then make sure nothing of the worker is left."""
        victims = self.pids()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
        for pid in victims:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(timeout=10)


_WORKER_MAIN = """
import sys
from tests.senders.live_workers import worker_main
worker_main(sys.argv[1:])
"""


def start_sender_worker(name: str, env: dict[str, str], *, probe: bool = False) -> SenderWorker:
    """A real `celery -A config worker -Q senders,<own queue> --concurrency 1`, waited for until
    it answers a ping. `env` is the complete environment (tests.conftest.process_env() + test
    settings)."""
    from config.celery import app

    queue = f"sender-{name}"
    log_path = ROOT / "var" / f"test-sender-{name}.log"
    argv = [
        "-A",
        "config",
        "worker",
        "-Q",
        f"senders,{queue}",
        "-n",
        f"{name}@%h",
        "--concurrency",
        "1",
        "-l",
        "info",
        "--without-gossip",
        "--without-mingle",
    ]
    command = [sys.executable, "-c", _WORKER_MAIN, *(["--pacing-probe"] if probe else []), *argv]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    worker = SenderWorker(name=name, queue=queue, proc=proc, log_path=log_path)
    deadline = time.monotonic() + WORKER_START_TIMEOUT_S
    while not app.control.ping(destination=[worker.node], timeout=0.5):
        if proc.poll() is not None or time.monotonic() > deadline:
            worker.stop()
            raise RuntimeError(f"sender worker {name} did not start; see {log_path}")
    return worker


def worker_main(argv: list[str]) -> None:
    """Entry point of a worker process (see start_sender_worker)."""
    if argv and argv[0] == "--pacing-probe":
        argv = argv[1:]
        install_pacing_probe()
    from celery.bin.celery import main

    sys.argv = ["celery", *argv]
    main()


# --- pacing probe ------------------------------------------------------------------------------


def install_pacing_probe() -> None:
    """Record every slot handed out by coordination.pacing_reserve_many in this process (and
    its forked pool children) to the Redis list PACING_PROBE_KEY."""
    import threading
    import types

    from apps.senders import coordination

    clock = threading.local()

    def now() -> float:
        clock.value = time.time()
        return clock.value

    # pacing_reserve_many reads the time once (`time.time()`); the probe reads that same value.
    coordination.time = types.SimpleNamespace(time=now)  # type: ignore[attr-defined]
    reserve_many = coordination.pacing_reserve_many

    def recording(**kwargs: Any) -> list[coordination.Reservation]:
        results = reserve_many(**kwargs)
        now_ms = int(clock.value * 1000)
        pipe = coordination.client().pipeline(transaction=False)
        for contact, reservation in zip(kwargs["contacts"], results, strict=True):
            if reservation.ok:
                record = {
                    "pid": os.getpid(),
                    "profile_id": kwargs["profile_id"],
                    "contact": contact,
                    "now_ms": now_ms,
                    "slot_ms": now_ms + round(reservation.wait_s * 1000),
                }
                pipe.rpush(PACING_PROBE_KEY, json.dumps(record))
        pipe.execute()
        return results

    coordination.pacing_reserve_many = recording  # type: ignore[assignment]


def pacing_probe_records() -> list[dict[str, Any]]:
    from apps.senders.coordination import client

    return [json.loads(raw) for raw in client().lrange(PACING_PROBE_KEY, 0, -1)]
