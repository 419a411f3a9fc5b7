"""`make bench-campaigns`: contact import figures (see apps/contacts/bench.py), merged into
var/bench/campaigns.json so figures other parts of the campaigns work add are kept."""

import json
import os
import platform
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.contacts import bench
from apps.core.bench import goals_met

# Goals from the contacts/campaigns issue.
GOALS = {"import_rows_per_s": 30000, "import_vs_import_export": 10.0}


class Command(BaseCommand):
    help = "Benchmark contact imports and save the figures in var/bench/campaigns.json."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the generated CSV")
        parser.add_argument("--slice", type=int, default=20_000, help="rows given to django-import-export")
        parser.add_argument("--keep-tenant", action="store_true", help="leave the bench tenant and its contacts")
        parser.add_argument(
            "--skip-send", action="store_true", help="only the import figures (not bench_campaigns_send's)"
        )

    def handle(self, *args, **opts):
        bench_dir = Path(settings.VAR_DIR) / "bench"
        out = bench_dir / "campaigns.json"
        source = bench_dir / f"contacts-{opts['rows']}.csv"
        sliced = bench_dir / f"contacts-{opts['rows']}-first-{opts['slice']}.csv"
        if not source.exists():
            self.stdout.write(f"generating {source} ...")
            bench.generate_csv(source, opts["rows"])
        bench.slice_csv(source, sliced, opts["slice"])

        tenant = bench.bench_tenant()
        bench.contacts_clear(tenant)
        try:
            ours = bench.import_ours(tenant, source)
            self.stdout.write(f"ours: {ours.rows:,} rows in {ours.seconds:.2f} s {ours.extra}")
            bench.contacts_clear(tenant)
            grouped = bench.import_ours(tenant, source, group_name="Bench")
            self.stdout.write(f"ours, into a group: {grouped.rows:,} rows in {grouped.seconds:.2f} s {grouped.extra}")
            listing = bench.list_timings(tenant)
            self.stdout.write(f"contacts list on {grouped.extra['contacts_stored']:,} contacts (ms): {listing}")
            bench.contacts_clear(tenant)
            ours_slice = bench.import_ours(tenant, sliced)
            self.stdout.write(f"ours, slice: {ours_slice.rows:,} rows in {ours_slice.seconds:.2f} s")
            bench.contacts_clear(tenant)
            theirs = bench.import_with_import_export(tenant, sliced)
            self.stdout.write(f"import-export: {theirs.rows:,} rows in {theirs.seconds:.2f} s {theirs.extra}")
        finally:
            if not opts["keep_tenant"]:
                bench.tenant_remove(tenant)

        result: dict = json.loads(out.read_text()) if out.exists() else {}
        result.update(
            {
                "import_rows_per_s": round(ours.per_s),
                "import_rows": ours.rows,
                "import_seconds": round(ours.seconds, 2),
                "import_created": ours.created,
                "import_duplicates": ours.duplicates,
                "import_errors": ours.errors,
                "import_phases_s": ours.extra,
                "import_with_group_rows_per_s": round(grouped.per_s),
                "import_with_group_phases_s": grouped.extra,
                "contacts_list_ms": listing,
                "import_rows_per_s_on_slice": round(ours_slice.per_s),
                "import_export_rows_per_s": round(theirs.per_s),
                "import_export_rows": theirs.rows,
                "import_export_seconds": round(theirs.seconds, 2),
                "import_export_created": theirs.created,
                "import_vs_import_export": round(ours.per_s / theirs.per_s, 1) if theirs.per_s else None,
            }
        )
        result["goals"] = {**result.get("goals", {}), **GOALS}
        result["goals_met"] = {**result.get("goals_met", {}), **goals_met(result, GOALS)}
        result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        for key, value in result.items():
            self.stdout.write(f"{key:>32}: {value}")
        self.stdout.write(f"saved {out}")
        if not opts["skip_send"]:
            # Starting and sending campaigns (apps/campaigns/bench.py): merges its keys into the file.
            call_command("bench_campaigns_send", stdout=self.stdout)
