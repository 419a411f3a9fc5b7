"""`make bench-senders` (see apps/senders/bench.py for what each figure means)."""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.core.bench import goals_met as bench_goals_met
from apps.senders import bench
from config.celery import app

# Goals from the sending-engine issue.
GOALS = {
    "ledger_msgs_per_s": 1000,
    "ledger_vs_naive": 5.0,
    "web_msgs_per_s_per_profile": 4.0,
    "pss_mb_per_active_profile": 400,
}


# Goals that are ceilings rather than floors.
CEILINGS = {"pss_mb_per_active_profile"}


def goals_met(result: dict) -> dict[str, bool | None]:
    """Each goal: met, missed, or None when its figure was not measured in this file."""
    met = bench_goals_met(result, GOALS, CEILINGS)
    if "parked_browsers" in result:
        met["parked_browsers"] = result["parked_browsers"] == 0
    return met


class Command(BaseCommand):
    help = "Benchmark the sending engine and save var/bench/senders.json."

    def add_arguments(self, parser):
        parser.add_argument("--ledger-messages", type=int, default=20000)
        parser.add_argument("--naive-messages", type=int, default=3000)
        parser.add_argument("--web-messages", type=int, default=60, help="messages for the one-profile figure")
        parser.add_argument("--web-profiles", type=int, default=5, help="profiles sending at once (memory figure)")
        parser.add_argument("--web-per-profile", type=int, default=30, help="messages per profile when all send")
        parser.add_argument("--skip-web", action="store_true", help="only the ledger figures")

    def handle(self, *args, **opts):
        out = Path(settings.VAR_DIR) / "bench" / "senders.json"
        result: dict = json.loads(out.read_text()) if out.exists() else {}
        tenant = bench.bench_tenant()
        bench.cleanup(tenant)
        try:
            ledger = bench.ledger_throughput(tenant, opts["ledger_messages"])
            self.stdout.write(f"ledger: {ledger.messages} messages in {ledger.seconds:.2f} s")
            naive = self.naive(tenant, opts["naive_messages"])
            self.stdout.write(f"naive: {naive.messages} messages in {naive.seconds:.2f} s")
            result.update(
                {
                    "ledger_msgs_per_s": round(ledger.per_s, 1),
                    "ledger_messages": ledger.messages,
                    "naive_task_per_message_msgs_per_s": round(naive.per_s, 1),
                    "naive_messages": naive.messages,
                    "ledger_vs_naive": round(ledger.per_s / naive.per_s, 1) if naive.per_s else None,
                }
            )
            if not opts["skip_web"]:
                from apps.senders import bench_web

                result.update(
                    bench_web.run(
                        tenant,
                        web_messages=opts["web_messages"],
                        stdout=self.stdout,
                        profiles=opts["web_profiles"],
                        per_profile=opts["web_per_profile"],
                    )
                )
        finally:
            bench.cleanup(tenant)
        result["goals"] = GOALS
        result["goals_met"] = goals_met(result)
        result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        for key, value in result.items():
            self.stdout.write(f"{key:>36}: {value}")
        self.stdout.write(f"saved {out}")

    def naive(self, tenant, count):
        """Start a worker on its own queue for the naive design, measure, stop it."""
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.dev")}
        log = open(Path(settings.VAR_DIR) / "bench" / "naive-worker.log", "w")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(  # noqa: S603 - fixed arguments
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "bench",
                "-c",
                "2",
                "--include",
                "apps.senders.bench",
                "-n",
                f"bench-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "warning",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[f"bench-{os.getpid()}@{os.uname().nodename}"], timeout=0.5):
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError("the benchmark worker did not start; see var/bench/naive-worker.log")
            return bench.naive_throughput(tenant, count)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            log.close()
