"""Campaign start and dispatch figures (see apps/campaigns/bench.py), merged into
var/bench/campaigns.json next to the import figures (`make bench-campaigns` runs both)."""

import json
import os
import platform
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from apps.campaigns import bench
from apps.core.bench import goals_met

# Goals from the contacts/campaigns issue.
GOALS = {"materialize_recipients_s": 15.0, "dispatch_msgs_per_s": 1000}
CEILINGS = {"materialize_recipients_s"}


class Command(BaseCommand):
    help = "Benchmark starting and sending campaigns; merge the figures into var/bench/campaigns.json."

    def add_arguments(self, parser):
        parser.add_argument("--contacts", type=int, default=1_000_000, help="audience of the start benchmark")
        parser.add_argument("--dispatch", type=int, default=100_000, help="recipients of the dispatch benchmark")
        parser.add_argument("--profiles", type=int, default=3, help="numbers of the start benchmark's campaign")
        parser.add_argument("--dispatch-profiles", type=int, default=1, help="numbers draining the dispatch run")
        parser.add_argument("--skip-dispatch", action="store_true")
        parser.add_argument(
            "--keep-tenant", action="store_true", help="keep the bench tenant and its contacts for the next run"
        )

    def handle(self, *args, **opts):
        out = Path(settings.VAR_DIR) / "bench" / "campaigns.json"
        tenant = bench.bench_tenant()
        loaded = bench.contacts_ensure(tenant, opts["contacts"], opts["dispatch"])
        if loaded:
            self.stdout.write(f"loaded {opts['contacts']:,} contacts with COPY in {loaded:.1f} s (not timed)")
        bench.ledger_clear(tenant)
        try:
            start = bench.materialize_run(tenant, profiles=opts["profiles"])
            self.stdout.write(
                f"materialize: {start.recipients:,} recipients ({start.queued:,} queued) in {start.seconds:.2f} s "
                f"{start.phases}"
            )
            bench.ledger_clear(tenant)
            dispatch = None
            if not opts["skip_dispatch"]:
                dispatch = bench.dispatch_run(tenant, profiles=opts["dispatch_profiles"])
                self.stdout.write(
                    f"dispatch: {dispatch.sent:,} sent in {dispatch.seconds:.2f} s "
                    f"({dispatch.ticks} ticks, campaign {dispatch.campaign_state})"
                )
                bench.ledger_clear(tenant)
        finally:
            if not opts["keep_tenant"]:
                bench.tenant_remove(tenant)

        result: dict = json.loads(out.read_text()) if out.exists() else {}
        result.update(
            {
                "materialize_recipients_s": round(start.seconds, 2),
                "materialize_recipients": start.recipients,
                "materialize_queued": start.queued,
                "materialize_skipped": start.skipped,
                "materialize_recipients_per_s": round(start.recipients / start.seconds) if start.seconds else None,
                "materialize_phases_s": start.phases,
            }
        )
        if dispatch is not None:
            result.update(
                {
                    "dispatch_msgs_per_s": round(dispatch.sent / dispatch.seconds, 1) if dispatch.seconds else None,
                    "dispatch_messages": dispatch.sent,
                    "dispatch_seconds": round(dispatch.seconds, 2),
                    "dispatch_profiles": opts["dispatch_profiles"],
                    "dispatch_campaign_state": dispatch.campaign_state,
                }
            )
        result["goals"] = {**result.get("goals", {}), **GOALS}
        result["goals_met"] = {**result.get("goals_met", {}), **goals_met(result, GOALS, CEILINGS)}
        result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        for key in (*GOALS, "materialize_phases_s", "dispatch_seconds"):
            self.stdout.write(f"{key:>32}: {result.get(key)}")
        self.stdout.write(f"saved {out}")
