"""Tenants (one PostgreSQL schema each), their host names, and the resellers who sell them."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

slug_validator = RegexValidator(
    r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$",
    _("3–40 characters: lowercase letters, digits and hyphens, starting with a letter."),
)

# Sub-domains a tenant can never take: they mean something on the bare domain.
RESERVED_SLUGS = frozenset({"www", "admin", "api", "static", "media", "public", "app", "mail", "tenant-template"})


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Reseller(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)
    contact_name = models.CharField(_("contact name"), max_length=120, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=32, blank=True)
    commission_percent = models.DecimalField(
        _("commission %"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    credit_balance = models.DecimalField(_("credit balance"), max_digits=12, decimal_places=2, default=Decimal("0"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Tenant(TenantMixin):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=120)
    slug = models.CharField(_("slug"), max_length=40, unique=True, validators=[slug_validator])
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_timezone])
    default_region = models.CharField(
        _("default phone region"),
        max_length=2,
        default="IN",
        help_text=_("ISO country code used to read phone numbers written without +country."),
    )
    reseller = models.ForeignKey(
        Reseller, null=True, blank=True, on_delete=models.SET_NULL, related_name="tenants", verbose_name=_("reseller")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    # Schemas are made by services.tenant_create (clone of the template), never on save().
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_public(self) -> bool:
        from django_tenants.utils import get_public_schema_name

        return self.schema_name == get_public_schema_name()

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The tenant's time zone (schedules, quiet hours, "today" for usage, dates in filters)."""
        try:
            return zoneinfo.ZoneInfo(self.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            # The field is validated; a row written around validation still gets a zone.
            return zoneinfo.ZoneInfo("UTC")


class Domain(DomainMixin):
    def __str__(self) -> str:
        return self.domain


class TenantProvisioning(models.Model):
    """A tenant being created in the background (portal sign-up); the page follows its state."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for a worker")
        RUNNING = "running", _("Creating your workspace")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    name = models.CharField(max_length=120)
    slug = models.CharField(max_length=40)
    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="provisionings")
    plan_slug = models.CharField(max_length=50, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.slug} ({self.state})"
