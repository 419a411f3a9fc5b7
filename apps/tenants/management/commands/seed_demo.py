"""Idempotent demo data for `make run`: a platform superuser, a reseller with a staff user, and
the demo tenant with its owner. Passwords are generated and printed once, when first created."""

import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.accounts.models import User
from apps.tenants import services
from apps.tenants.models import Reseller, Tenant

DEMO_SLUG = "demo"


def url(host: str, path: str = "/") -> str:
    return f"{settings.PUBLIC_SCHEME}://{host}{settings.PUBLIC_PORT}{path}"


class Command(BaseCommand):
    help = "Create the demo users, reseller and tenant if they do not exist yet."

    def ensure_user(self, email: str, created: list[tuple[str, str]], **extra) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_user(email, password, **extra)
            created.append((email, password))
        return user

    @transaction.atomic
    def handle(self, *args, **options):
        created: list[tuple[str, str]] = []
        self.ensure_user("admin@chorus.local", created, is_staff=True, is_superuser=True, full_name="Platform Admin")
        reseller, _ = Reseller.objects.get_or_create(
            name="Acme Reseller", defaults={"contact_email": "partners@acme.local", "commission_percent": 20}
        )
        self.ensure_user(
            "reseller@acme.local", created, is_staff=True, reseller=reseller, full_name="Acme Reseller Staff"
        )
        owner = self.ensure_user("owner@demo.local", created, full_name="Demo Owner")
        if not Tenant.objects.filter(slug=DEMO_SLUG).exists():
            services.tenant_create(
                name="Demo Company",
                slug=DEMO_SLUG,
                owner=owner,
                plan_slug="business",
                reseller=reseller,
                timezone="Asia/Kolkata",
            )
        base = settings.BASE_DOMAIN
        demo = services.tenant_domain_for(DEMO_SLUG)
        lines = [
            "",
            "Chorus is ready.",
            f"  Platform admin : {url(base, '/admin/')}",
            f"  Demo portal    : {url(demo)}",
            f"  Demo admin     : {url(demo, '/admin/')} (contacts import/export; platform or reseller staff)",
            f"  API docs       : {url(demo, '/api/docs/')}",
        ]
        if created:
            lines.append("  New accounts (passwords are shown only this once):")
            lines += [f"    {email:<24} {password}" for email, password in created]
        else:
            lines.append(
                "  Accounts: admin@chorus.local (platform), reseller@acme.local (reseller staff), "
                "owner@demo.local (demo owner); passwords were printed when they were created — "
                "reset one with `.venv/bin/python manage.py changepassword EMAIL`."
            )
        self.stdout.write("\n".join(lines) + "\n")
