"""`make migrate`: the public schema, then the tenant template, then every tenant."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.tenants import services


class Command(BaseCommand):
    help = "Migrate public, the tenant template schema and all tenant schemas."

    def handle(self, *args, **options):
        verbosity = options["verbosity"]
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        services.public_tenant_ensure()
        services.tenant_constraint_names_repair()
        services.template_migrate(verbosity=verbosity)
        call_command("migrate_schemas", tenant=True, interactive=False, verbosity=verbosity)
        self.stdout.write(self.style.SUCCESS("public, template and tenant schemas are up to date"))
