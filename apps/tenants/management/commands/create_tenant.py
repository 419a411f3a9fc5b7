"""Create a tenant by cloning the template schema."""

from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import User
from apps.core.exceptions import ChorusError
from apps.tenants import services
from apps.tenants.models import Reseller


class Command(BaseCommand):
    help = "Create a tenant (schema cloned from the template), its domain and owner membership."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--owner", help="e-mail of an existing user who becomes the owner")
        parser.add_argument("--plan", default=None, help="plan slug (default: the free plan)")
        parser.add_argument("--timezone", default="UTC")
        parser.add_argument("--region", default="IN")
        parser.add_argument("--reseller", help="reseller name")

    def handle(self, *args, **opts):
        owner = None
        if opts["owner"]:
            owner = User.objects.filter(email=opts["owner"].lower()).first()
            if owner is None:
                raise CommandError(f"No user with e-mail {opts['owner']}")
        reseller = None
        if opts["reseller"]:
            reseller = Reseller.objects.filter(name=opts["reseller"]).first()
            if reseller is None:
                raise CommandError(f"No reseller named {opts['reseller']}")
        try:
            created = services.tenant_create(
                name=opts["name"],
                slug=opts["slug"],
                owner=owner,
                plan_slug=opts["plan"],
                timezone=opts["timezone"],
                default_region=opts["region"],
                reseller=reseller,
            )
        except ChorusError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(self.style.SUCCESS(f"Created {created.tenant.slug} at {created.domain.domain}"))
