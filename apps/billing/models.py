"""Plans, subscriptions and daily usage (public schema)."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _


class Plan(models.Model):
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=60)
    price = models.DecimalField(_("price per month"), max_digits=10, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="USD")
    max_numbers = models.PositiveIntegerField(_("max WhatsApp numbers"), default=1)
    messages_per_day = models.PositiveIntegerField(_("messages per day"), default=50)
    messages_per_month = models.PositiveIntegerField(_("messages per month"), default=1500)
    max_contacts = models.PositiveIntegerField(_("max contacts"), default=1000)
    feature_chatbots = models.BooleanField(_("chatbots"), default=False)
    feature_api = models.BooleanField(_("API access"), default=False)
    is_public = models.BooleanField(_("offered at sign-up"), default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "price"]

    def __str__(self) -> str:
        return self.name


class Subscription(models.Model):
    class Status(models.TextChoices):
        TRIALING = "trialing", _("Trialing")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        CANCELED = "canceled", _("Canceled")

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="subscription")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    current_period_end = models.DateTimeField(_("current period ends"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant} on {self.plan}"

    @property
    def is_usable(self) -> bool:
        return self.status in (self.Status.TRIALING, self.Status.ACTIVE)


class UsageRecord(models.Model):
    """One row per tenant per day, rolled up from tenant activity for quotas, admin and billing."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="usage_records")
    day = models.DateField(_("day"))
    messages_sent = models.PositiveIntegerField(_("messages sent"), default=0)
    messages_failed = models.PositiveIntegerField(_("messages failed"), default=0)
    contacts = models.PositiveIntegerField(_("contacts"), default=0)
    numbers = models.PositiveIntegerField(_("WhatsApp numbers"), default=0)
    api_requests = models.PositiveIntegerField(_("API requests"), default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "day"], name="usage_unique_tenant_day")]
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.tenant} {self.day}"
