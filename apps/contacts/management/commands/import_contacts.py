"""`manage.py import_contacts --tenant <slug> FILE`: the import service, from a terminal."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.contacts.models import ImportJob
from apps.contacts.services import importing
from apps.contacts.services.groups import group_get_or_create
from apps.contacts.services.import_mapping import mapping_parse
from apps.core.exceptions import ChorusError
from apps.tenants.models import Tenant

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Import contacts from a CSV, TSV or XLSX file into a tenant (same rules as the portal's import)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV, TSV or XLSX file")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--mapping", help="field=Column pairs, e.g. phone=Mobile,name=Name,custom.city=City")
        parser.add_argument("--mode", choices=ImportJob.Mode.values, default=ImportJob.Mode.UPDATE)
        parser.add_argument("--group", help="add every imported contact to this group (created if missing)")
        parser.add_argument("--delimiter", help="override delimiter detection (, ; | or 'tab')")
        parser.add_argument(
            "--progress",
            action="store_true",
            help="draw the progress bar even when the output is not a terminal (it moves once per COPY chunk)",
        )

    def handle(self, *args, **opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No tenant with slug {opts['tenant']!r}.")
        delimiter = "\t" if opts["delimiter"] == "tab" else opts["delimiter"]
        # The bar is redrawn in place, so it is drawn only on a terminal unless asked for; the
        # command's own stream decides (call_command may hand it any file).
        self.live_bar = opts["progress"] or self.stdout.isatty()
        try:
            mapping = mapping_parse(opts["mapping"]) if opts["mapping"] else None
            with tenant_context(tenant), path.open("rb") as stream:
                group = group_get_or_create(name=opts["group"])[0] if opts["group"] else None
                job = importing.import_job_create(
                    stream=stream,
                    name=path.name,
                    mapping=mapping,
                    mode=opts["mode"],
                    group=group,
                    delimiter=delimiter,
                    start=False,
                )
                self.stdout.write(
                    f"Import {job.id}: {job.format}, encoding {job.encoding or '-'}, "
                    f"delimiter {job.delimiter!r}, mapping {job.mapping}"
                )
                job = importing.import_job_run(job_id=job.id, on_progress=self._bar)
        except ChorusError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from exc
        self.stdout.write("")
        if job is None:
            raise CommandError("This import is already running elsewhere.")
        if job.state == ImportJob.State.FAILED:
            raise CommandError(f"Import failed: {job.failure}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{job.total_rows} rows in {(job.finished_at - job.started_at).total_seconds():.1f} s "
                f"({job.rows_per_s:,.0f} rows/s): {job.created_count} created, {job.updated_count} updated, "
                f"{job.unchanged_count} unchanged, {job.skipped_count} skipped, "
                f"{job.duplicate_count} duplicates, {job.error_count} errors"
            )
        )
        if job.error_file:
            try:
                where = job.error_file.path
            except NotImplementedError:  # storage without local paths
                where = job.error_file.name
            self.stdout.write(f"Rows with errors: {where}")

    def _bar(self, event: dict) -> None:
        if not self.live_bar and event["state"] == ImportJob.State.RUNNING:
            return
        done = int(event["progress"] / 100 * BAR_WIDTH)
        rate = event.get("rows_per_s") or 0
        self.stdout.write(
            f"\r[{'#' * done}{'.' * (BAR_WIDTH - done)}] {event['progress']:3d}%  "
            f"{event['processed_rows']:,} rows  {rate:,.0f} rows/s  {event['error_count']:,} errors",
            ending="",
        )
        self.stdout.flush()
