"""Send a live notification to a tenant's connected users (demo of the realtime path)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from apps.core.exceptions import ChorusError
from apps.core.realtime.notifications import LEVELS, notification_send
from apps.tenants.models import Tenant


class Command(BaseCommand):
    help = "Show a notification to everyone connected to a tenant's portal."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="tenant slug, e.g. demo")
        parser.add_argument("message")
        parser.add_argument("--level", default="info", choices=LEVELS)
        parser.add_argument(
            "--via-worker", action="store_true", help="send through the core.notify_tenant Celery task instead"
        )

    def handle(self, *args, slug: str, message: str, level: str, via_worker: bool, **options):
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None or tenant.is_public:
            raise CommandError(f"No tenant with slug {slug!r}.")
        if via_worker:
            from apps.core.tasks import notify_tenant

            with tenant_context(tenant):
                notify_tenant.delay(message, level)
            self.stdout.write(f"queued for {tenant.schema_name}")
            return
        try:
            notification_send(tenant=tenant, message=message, level=level)
        except ChorusError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"sent to {tenant.schema_name}")
