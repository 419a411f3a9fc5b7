"""Reads of billing data (public schema): a tenant's local day, its message usage, and the
usage columns the admin and its dashboard put next to many tenants at once.

"Today" is always the tenant's own calendar day: a tenant in Asia/Kolkata starts a new daily
allowance at its midnight, not at UTC midnight. The monthly window is the tenant's calendar
month (the first of the month up to today, both in its time zone).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import (
    DateField,
    DateTimeField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Now, TruncMonth
from django.utils import timezone

from apps.billing.models import Plan, Subscription, UsageRecord
from apps.tenants.models import Tenant


def tenant_local_today(tenant: Tenant, *, now: datetime.datetime | None = None) -> datetime.date:
    """The tenant's calendar day right now (or at `now`)."""
    return timezone.localtime(now or timezone.now(), tenant.zone).date()


@dataclass(frozen=True)
class MessageUsage:
    day: datetime.date
    today: int
    month: int


def usage_messages(*, tenant: Tenant, day: datetime.date | None = None) -> MessageUsage:
    """Messages sent on the tenant's day and in its calendar month up to that day (one query)."""
    day = day or tenant_local_today(tenant)
    totals = UsageRecord.objects.filter(tenant=tenant, day__gte=day.replace(day=1), day__lte=day).aggregate(
        month=Coalesce(Sum("messages_sent"), 0),
        today=Coalesce(Sum("messages_sent", filter=Q(day=day)), 0),
    )
    return MessageUsage(day=day, today=totals["today"], month=totals["month"])


@dataclass(frozen=True)
class UsageSnapshot:
    numbers: int
    contacts: int


def usage_latest_snapshot(*, tenant: Tenant) -> UsageSnapshot:
    """The last counts of WhatsApp numbers and contacts the tenant's side reported
    (`services.usage_snapshot_set`). Every new day's row carries the previous counts forward,
    so the newest row is always the current snapshot."""
    row = UsageRecord.objects.filter(tenant=tenant).order_by("-day").values("numbers", "contacts").first()
    if row is None:
        return UsageSnapshot(numbers=0, contacts=0)
    return UsageSnapshot(numbers=row["numbers"], contacts=row["contacts"])


def subscription_for(*, tenant: Tenant) -> Subscription | None:
    return Subscription.objects.select_related("plan").filter(tenant=tenant).first()


def plans_offered() -> QuerySet[Plan]:
    return Plan.objects.filter(is_public=True)


# --- many tenants at once (admin changelist, dashboard) ---------------------------------------


def _local_today_of(timezone_ref: F | OuterRef) -> Cast:
    """SQL for "the calendar day now in this row's tenant time zone":
    `timezone(tenant.timezone, now())::date`."""
    return Cast(Func(timezone_ref, Now(), function="timezone", output_field=DateTimeField()), DateField())


def _month_start(day_expr) -> Cast:
    return Cast(TruncMonth(day_expr, output_field=DateField()), DateField())


def tenants_with_usage(queryset: QuerySet[Tenant]) -> QuerySet[Tenant]:
    """Annotate `messages_today` and `messages_month` from UsageRecord with correlated
    subqueries: a constant number of queries however many tenants are listed, and no tenant
    schema is read."""
    local_today = _local_today_of(OuterRef("timezone"))
    today = UsageRecord.objects.filter(tenant=OuterRef("pk"), day=local_today).values("messages_sent")[:1]
    month = (
        UsageRecord.objects.filter(
            tenant=OuterRef("pk"),
            day__gte=_month_start(local_today),
            day__lte=local_today,
        )
        .order_by()
        .values("tenant")
        .annotate(total=Sum("messages_sent"))
        .values("total")
    )
    return queryset.annotate(
        messages_today=Coalesce(Subquery(today, output_field=IntegerField()), Value(0)),
        messages_month=Coalesce(Subquery(month, output_field=IntegerField()), Value(0)),
    )


def usage_totals(tenants: QuerySet[Tenant]) -> MessageUsage:
    """Messages sent today and this month summed over `tenants`, each tenant's day in its own
    time zone (one query)."""
    local_today = _local_today_of(F("tenant__timezone"))
    rows = UsageRecord.objects.filter(tenant__in=tenants.values("pk"))
    totals = rows.aggregate(
        today=Coalesce(Sum("messages_sent", filter=Q(day=local_today)), 0),
        month=Coalesce(Sum("messages_sent", filter=Q(day__lte=local_today, day__gte=_month_start(local_today))), 0),
    )
    return MessageUsage(day=timezone.localdate(), today=totals["today"], month=totals["month"])
