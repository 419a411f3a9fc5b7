"""Reads for the portal pages. Everything here filters by the tenant it is given; usage and
plan figures come from the billing app (apps.billing.services.usage_summary)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from apps.accounts.models import ApiKey, Invitation, Membership
from apps.billing import selectors as billing_selectors
from apps.billing.models import Subscription, UsageRecord
from apps.billing.services import UsageSummary, usage_summary
from apps.tenants.models import Tenant


@dataclass(frozen=True)
class Dashboard:
    usage: UsageSummary
    subscription: Subscription | None
    steps: dict[str, bool]


def dashboard_usage(*, tenant: Tenant) -> UsageSummary:
    return usage_summary(tenant=tenant)


def dashboard(*, tenant: Tenant) -> Dashboard:
    usage = usage_summary(tenant=tenant)
    return Dashboard(
        usage=usage,
        subscription=billing_selectors.subscription_for(tenant=tenant),
        steps=getting_started(tenant=tenant, usage=usage),
    )


def getting_started(*, tenant: Tenant, usage: UsageSummary) -> dict[str, bool]:
    """Which onboarding steps the tenant has already done, from data the public schema holds."""
    return {
        "team": Membership.objects.filter(tenant=tenant).count() > 1 or pending_invitations(tenant=tenant).exists(),
        "numbers": usage.numbers.used > 0,
        "contacts": usage.contacts.used > 0,
        "campaign": UsageRecord.objects.filter(tenant=tenant, messages_sent__gt=0).exists(),
    }


def team_members(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def pending_invitations(*, tenant: Tenant) -> QuerySet[Invitation]:
    return (
        Invitation.objects.filter(tenant=tenant, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at")
    )


def api_keys(*, tenant: Tenant) -> QuerySet[ApiKey]:
    """Active keys first (revoked_at NULL sorts first ascending in PostgreSQL), newest first."""
    return ApiKey.objects.filter(tenant=tenant).select_related("created_by").order_by("revoked_at", "-created_at")


def plan_has_api(*, tenant: Tenant) -> bool:
    subscription = billing_selectors.subscription_for(tenant=tenant)
    return bool(subscription and subscription.plan.feature_api)
