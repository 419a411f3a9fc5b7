"""`make bench-tenants`: seconds per tenant created by cloning the template vs by migrating.

Creates CLONES tenants through the production path (tenant_create) and MIGRATED tenants by
running every migration, prints the figures, writes var/bench/tenants.json, then removes the
benchmark tenants and their schemas."""

import json
import platform
import statistics
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from apps.tenants import services
from apps.tenants.models import Tenant

# The goal: cloning must stay at or under one second per tenant on a 2-core machine.
CLONE_GOAL_S = 1.0


class Command(BaseCommand):
    help = "Benchmark tenant creation (clone vs migrate) and save var/bench/tenants.json."

    def add_arguments(self, parser):
        parser.add_argument("--clones", type=int, default=50)
        parser.add_argument("--migrated", type=int, default=10)
        parser.add_argument("--keep", action="store_true", help="keep the benchmark tenants")

    def handle(self, *args, clones: int, migrated: int, keep: bool, **options):
        run = uuid.uuid4().hex[:6]
        services.template_ensure_current()
        created: list[str] = []
        try:
            clone_times = []
            for i in range(clones):
                slug = f"bench-{run}-c{i}"
                started = time.perf_counter()
                services.tenant_create(name=f"Bench clone {i}", slug=slug)
                clone_times.append(time.perf_counter() - started)
                created.append(slug)
            migrate_times = []
            for i in range(migrated):
                slug = f"bench-{run}-m{i}"
                started = time.perf_counter()
                services.tenant_create_by_migrating(name=f"Bench migrated {i}", slug=slug)
                migrate_times.append(time.perf_counter() - started)
                created.append(slug)
        finally:
            if not keep:
                for tenant in Tenant.objects.filter(slug__in=created):
                    tenant.delete(force_drop=True)
                connection.set_schema_to_public()

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                [services.template_schema_name()],
            )
            tables = cursor.fetchone()[0]
        result = {
            "clone_s_per_tenant": round(statistics.mean(clone_times), 4) if clone_times else None,
            "clone_s_p95": round(sorted(clone_times)[int(0.95 * (len(clone_times) - 1))], 4) if clone_times else None,
            "migrate_s_per_tenant": round(statistics.mean(migrate_times), 4) if migrate_times else None,
            "clones": clones,
            "migrated": migrated,
            "tenant_tables": tables,
            "goal_clone_s_per_tenant": CLONE_GOAL_S,
            "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        }
        if result["clone_s_per_tenant"] is not None and result["migrate_s_per_tenant"]:
            result["speedup"] = round(result["migrate_s_per_tenant"] / result["clone_s_per_tenant"], 1)
        out = Path(settings.VAR_DIR) / "bench" / "tenants.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        for key, value in result.items():
            self.stdout.write(f"{key:>24}: {value}")
        verdict = "meets" if (result["clone_s_per_tenant"] or 0) <= CLONE_GOAL_S else "MISSES"
        self.stdout.write(f"clone {verdict} the goal of <= {CLONE_GOAL_S} s per tenant; saved {out}")
