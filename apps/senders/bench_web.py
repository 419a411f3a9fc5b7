"""The browser half of `make bench-senders`: the real sender host driving real Chromium against
a simulator process that the benchmark starts (and stops) itself.

- web_msgs_per_s_per_profile: one linked profile, pacing off, a warm browser: messages per
  second from the kick until every message is final (sent tick seen and recorded).
- profiles_active / pss_mb_per_active_profile: five profiles sending at once; the proportional
  set size (PSS, from /proc/<pid>/smaps_rollup) of each browser's whole process tree, summed and
  divided by the number of active profiles, at the busiest sample.
- parked_browsers: browser processes left once every profile has parked (should be 0).

Profiles are linked the way a user links them: the host opens WhatsApp Web on the QR screen and
the benchmark "scans" each QR code through the simulator's control API. The simulator keeps its
default tick timing (server ack 250 ms after Send): every message is recorded as sent only once
its tick was seen; with pacing off the next message is typed meanwhile (up to
`web_tick_window` messages await their ticks at once, `web_pacing_off_batch` are claimed and
recorded together).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min
from django.test.utils import override_settings
from django_tenants.utils import tenant_context

from apps.senders.bench import Throughput, bench_profile, queue_messages, wait_until
from apps.senders.host import SenderHost
from apps.senders.models import FINAL_STATES, MessageState, OutboundMessage, SenderProfile
from apps.senders.transport import BROWSER_PACING_OFF_BATCH, BROWSER_TICK_WINDOW
from apps.tenants.models import Tenant

# Five profiles at once: the figure, and the host's default browser cap.
ACTIVE_PROFILES = 5
PER_PROFILE_MESSAGES = 30
# Fixed seed for the simulator's tick probabilities, so runs can be compared.
SIM_SEED = "20261130"
SIM_START_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 10
# Stay warm while the benchmark sets up the next step; park quickly when told to.
WARM_PARK_S = 600.0
QUICK_PARK_S = 0.5
LINK_TIMEOUT_S = 120
SEND_TIMEOUT_S = 600
PARK_TIMEOUT_S = 60
PSS_SAMPLE_EVERY_S = 0.5
# The linked accounts' own numbers in the simulator.
LINKED_PHONE_BASE = 919800000100
BROWSER_COMMANDS = ("chromium", "chrome", "headless_shell")
MB = 1024 * 1024


# --- the simulator process ---------------------------------------------------------------------


@dataclass
class SimulatorProcess:
    base_url: str
    process: subprocess.Popen

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - our own local simulator
            self.base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            raw = response.read()
        return json.loads(raw) if raw else None

    def pending_qr_refs(self) -> list[str]:
        return [p["ref"] for p in self.call("GET", "/_sim/pairings")["pairings"] if not p["stalled"]]

    def link(self, ref: str, phone: str) -> None:
        self.call("POST", "/_sim/link", {"ref": ref, "phone": phone})

    def outgoing(self, phone: str) -> list[dict[str, Any]]:
        messages = self.call("GET", f"/_sim/accounts/{phone}/messages")["messages"]
        return [m for m in messages if m["direction"] == "out"]

    def config(self) -> dict[str, Any]:
        return self.call("GET", "/_sim/config")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def simulator_running(log_path: Path) -> Iterator[SimulatorProcess]:
    """`python -m apps.simulator` on a free port, for the duration of the block."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SIM_SEED": SIM_SEED}
    with open(log_path, "w") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [sys.executable, "-m", "apps.simulator", "--host", "127.0.0.1", "--port", str(port)],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    sim = SimulatorProcess(base_url=f"http://127.0.0.1:{port}", process=process)
    try:
        deadline = time.monotonic() + SIM_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the simulator exited early; see {log_path}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the simulator did not start; see {log_path}")
            time.sleep(0.1)
        yield sim
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- browser processes and their memory ------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command name) for every process."""
    table: dict[int, tuple[int, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] == "Z":
            continue
        table[int(entry)] = (int(fields[1]), name)
    return table


def _descendants(pid: int, table: dict[int, tuple[int, str]]) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        kids = [p for p, (parent, _name) in table.items() if parent == current]
        found += kids
        frontier += kids
    return found


def _is_browser(name: str) -> bool:
    return any(part in name.lower() for part in BROWSER_COMMANDS)


def browser_trees(root_pid: int | None = None) -> dict[int, list[int]]:
    """Each Chromium started under this process (by the Playwright driver): its browser process
    -> every process of its tree (zygotes, renderers, GPU and utility processes)."""
    table = _process_table()
    mine = _descendants(root_pid or os.getpid(), table)
    roots = [p for p in mine if _is_browser(table[p][1]) and not _is_browser(table.get(table[p][0], (0, ""))[1])]
    return {root: [root, *_descendants(root, table)] for root in roots}


def pss_bytes(pid: int) -> int:
    """Proportional set size of one process (shared pages split between their users)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:  # the process just ended
        return 0
    return 0


@dataclass
class MemorySamples:
    """PSS of the browser trees, sampled while the profiles send."""

    totals: list[int] = field(default_factory=list)
    browsers: list[int] = field(default_factory=list)

    def take(self) -> None:
        trees = browser_trees()
        self.browsers.append(len(trees))
        self.totals.append(sum(pss_bytes(pid) for tree in trees.values() for pid in tree))

    @property
    def peak(self) -> int:
        return max(self.totals, default=0)

    @property
    def mean(self) -> float:
        return sum(self.totals) / len(self.totals) if self.totals else 0.0


def playwright_driver_pss_bytes() -> int:
    """The Playwright driver (node) the host shares between all its browsers."""
    table = _process_table()
    # Node renames its main thread, and with it the process: "node-MainThread".
    return sum(pss_bytes(p) for p in _descendants(os.getpid(), table) if table[p][1].startswith("node"))


# --- steps -------------------------------------------------------------------------------------


def _final_count(profile_ids: list[int]) -> int:
    return OutboundMessage.objects.filter(profile_id__in=profile_ids, state__in=FINAL_STATES).count()


def link_profiles(host: SenderHost, tenant: Tenant, sim: SimulatorProcess, profiles: list[SenderProfile]) -> None:
    """Kick new profiles: each runner opens WhatsApp Web on its QR screen; "scan" every QR code
    shown with the next linked phone until every profile is connected."""
    for profile in profiles:
        if not host.kick(tenant.schema_name, profile.id):
            raise RuntimeError(f"the host refused profile {profile.id}")
    phones = iter(str(LINKED_PHONE_BASE + i) for i in range(10_000))
    linked: set[str] = set()
    ids = [p.id for p in profiles]

    def all_connected() -> bool:
        for ref in sim.pending_qr_refs():
            if ref not in linked:
                linked.add(ref)
                sim.link(ref, next(phones))
        with tenant_context(tenant):
            return SenderProfile.objects.filter(id__in=ids, status=SenderProfile.Status.CONNECTED).count() == len(ids)

    wait_until(all_connected, timeout_s=LINK_TIMEOUT_S, what="every profile to be linked")


def send_batch(
    host: SenderHost, tenant: Tenant, profiles: list[SenderProfile], per_profile: int, during: Callable[[], None]
) -> tuple[Throughput, float]:
    """Queue `per_profile` messages for each (warm) profile, kick them and time until every
    message is final. `during` runs between polls (memory samples). Returns the throughput of
    all profiles together, and the steady-state rate (first to last sent tick per profile,
    averaged) per profile."""
    ids = [p.id for p in profiles]
    with tenant_context(tenant):
        for index, profile in enumerate(profiles):
            queue_messages(profile, per_profile, f"web-{profile.id}", first_number=index * per_profile)
    started = time.perf_counter()
    for profile in profiles:
        host.kick(tenant.schema_name, profile.id)
    total = per_profile * len(profiles)
    last_sample = 0.0

    def done() -> bool:
        nonlocal last_sample
        if time.monotonic() - last_sample >= PSS_SAMPLE_EVERY_S:
            last_sample = time.monotonic()
            during()
        with tenant_context(tenant):
            return _final_count(ids) == total

    wait_until(done, timeout_s=SEND_TIMEOUT_S, what="the browsers to send every message")
    elapsed = time.perf_counter() - started
    with tenant_context(tenant):
        sent = OutboundMessage.objects.filter(
            profile_id__in=ids, state__in=[MessageState.SENT, MessageState.DELIVERED, MessageState.READ]
        )
        rates = []
        for row in sent.values("profile_id").annotate(first=Min("sent_at"), last=Max("sent_at"), n=Count("id")):
            span = (row["last"] - row["first"]).total_seconds()
            if row["n"] > 1 and span > 0:
                rates.append((row["n"] - 1) / span)
        sent_count = sent.count()
    steady = sum(rates) / len(rates) if rates else 0.0
    return Throughput(messages=sent_count, seconds=elapsed), steady


def park_all(host: SenderHost) -> None:
    """Let every runner park now (idle timeout shortened) and wait until none is left."""
    settings.SENDER_IDLE_PARK_S = QUICK_PARK_S
    wait_until(lambda: not host.active_profiles(), timeout_s=PARK_TIMEOUT_S, what="the profiles to park")
    settings.SENDER_IDLE_PARK_S = WARM_PARK_S


def new_profiles(tenant: Tenant, count: int, prefix: str) -> list[SenderProfile]:
    with tenant_context(tenant):
        return [
            bench_profile(f"{prefix}-{uuid.uuid4().hex[:6]}", status=SenderProfile.Status.NEW) for _ in range(count)
        ]


def run(
    tenant: Tenant,
    *,
    web_messages: int,
    stdout: Any,
    profiles: int = ACTIVE_PROFILES,
    per_profile: int = PER_PROFILE_MESSAGES,
) -> dict[str, Any]:
    """Both browser figures, with a simulator and a sender host of their own."""
    log_dir = Path(settings.VAR_DIR) / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    with (
        simulator_running(log_dir / "simulator.log") as sim,
        override_settings(WHATSAPP_WEB_URL=sim.base_url, SENDER_IDLE_PARK_S=WARM_PARK_S),
    ):
        host = SenderHost(max_active=max(profiles, 1))
        try:
            # One profile, pacing off.
            (single,) = new_profiles(tenant, 1, "web")
            link_profiles(host, tenant, sim, [single])
            throughput, steady = send_batch(host, tenant, [single], web_messages, lambda: None)
            stdout.write(f"web: {throughput.messages} messages in {throughput.seconds:.2f} s (one profile)")
            park_all(host)

            # Several profiles sending at once: memory per active browser.
            group = new_profiles(tenant, profiles, "web-many")
            link_profiles(host, tenant, sim, group)
            samples = MemorySamples()
            many, _many_steady = send_batch(host, tenant, group, per_profile, samples.take)
            driver_pss = playwright_driver_pss_bytes()
            stdout.write(f"web: {many.messages} messages in {many.seconds:.2f} s ({profiles} profiles)")
            park_all(host)
            parked_browsers = sum(len(tree) for tree in browser_trees().values())
            sim_config = sim.config()
        finally:
            host.shutdown()
    result.update(
        {
            "web_msgs_per_s_per_profile": round(throughput.per_s, 2),
            "web_messages": throughput.messages,
            "web_steady_msgs_per_s_per_profile": round(steady, 2),
            "profiles_active": profiles,
            "web_messages_all_profiles": many.messages,
            "web_msgs_per_s_all_profiles": round(many.per_s, 2),
            "web_msgs_per_s_per_profile_when_all_active": round(many.per_s / profiles, 2),
            "browsers_while_active": max(samples.browsers, default=0),
            "pss_mb_per_active_profile": round(samples.peak / profiles / MB, 1),
            "pss_mb_per_active_profile_mean": round(samples.mean / profiles / MB, 1),
            "pss_samples": len(samples.totals),
            # The one Playwright driver (node) the host shares between its browsers, and the
            # figure per profile with its share included.
            "playwright_driver_pss_mb": round(driver_pss / MB, 1),
            "pss_mb_per_active_profile_with_driver_share": round((samples.peak + driver_pss) / profiles / MB, 1),
            "parked_browsers": parked_browsers,
            "web_simulator_ack_delay_ms": sim_config["ack_delay_ms"],
            "web_tick_window": BROWSER_TICK_WINDOW,
            "web_pacing_off_batch": BROWSER_PACING_OFF_BATCH,
        }
    )
    return result
