"""Pacing policy: what a profile may send now, in the tenant's time zone (invariant 7).

The numbers come from the profile (gap preset, batch pause, daily cap, warm-up ramp, quiet
hours, per-contact cap) and the tenant's plan (daily and monthly messages); the atomic
reservation that enforces them across workers is apps.senders.coordination.pacing_reserve.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Sum
from django.utils import timezone

from apps.billing.models import UsageRecord
from apps.senders import coordination
from apps.senders.coordination import PacingLimits, Reservation
from apps.senders.models import SenderProfile
from apps.tenants.models import Tenant

# Plan limits when a tenant has no subscription row (should not happen; be conservative).
FALLBACK_DAILY_LIMIT = 0
FALLBACK_MONTHLY_LIMIT = 0


@dataclass(frozen=True)
class SendWindow:
    """Whether the profile may send now; when not, until when it must wait and why."""

    open: bool
    until: datetime | None = None
    reason: str = ""


def local_now(tenant: Tenant, now: datetime | None = None) -> datetime:
    return (now or timezone.now()).astimezone(tenant.zone)


def next_local_midnight(tenant: Tenant, now: datetime | None = None) -> datetime:
    local = local_now(tenant, now)
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=local.tzinfo)


def warmup_cap(profile: SenderProfile, today: date) -> int | None:
    """The warm-up ramp's cap for today, or None once warm-up is over or off."""
    if not profile.warmup_enabled or not profile.warmup_started_on or not profile.warmup_ramp:
        return None
    day_index = (today - profile.warmup_started_on).days
    if day_index < 0:
        return int(profile.warmup_ramp[0])
    if day_index >= len(profile.warmup_ramp):
        return None
    return int(profile.warmup_ramp[day_index])


def profile_daily_cap(profile: SenderProfile, today: date) -> int:
    ramp = warmup_cap(profile, today)
    return min(profile.daily_cap, ramp) if ramp is not None else profile.daily_cap


def quiet_hours_window(profile: SenderProfile, tenant: Tenant, now: datetime | None = None) -> SendWindow:
    """Closed during quiet hours (tenant-local; a range may cross midnight, e.g. 21:00–09:00)."""
    start, end = profile.quiet_hours_start, profile.quiet_hours_end
    if start is None or end is None or start == end:
        return SendWindow(open=True)
    local = local_now(tenant, now)
    t = local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return SendWindow(open=True)
    end_day = local.date() if t < end else local.date() + timedelta(days=1)
    until = datetime.combine(end_day, end, tzinfo=local.tzinfo)
    return SendWindow(open=False, until=until, reason="quiet_hours")


def profile_window(profile: SenderProfile, tenant: Tenant, now: datetime | None = None) -> SendWindow:
    """Profile-wide reasons not to send now: paused (rate limit backoff) or quiet hours."""
    now = now or timezone.now()
    if profile.paused_until and profile.paused_until > now:
        return SendWindow(open=False, until=profile.paused_until, reason="paused")
    return quiet_hours_window(profile, tenant, now)


def plan_limits(tenant: Tenant) -> tuple[int, int]:
    subscription = getattr(tenant, "subscription", None)
    if subscription is None or not subscription.is_usable:
        return FALLBACK_DAILY_LIMIT, FALLBACK_MONTHLY_LIMIT
    return subscription.plan.messages_per_day, subscription.plan.messages_per_month


def usage_seeds(tenant: Tenant, today: date) -> tuple[int, int]:
    """Messages already sent today / this month per the public rollup (seeds Redis counters)."""
    month_start = today.replace(day=1)
    rows = UsageRecord.objects.filter(tenant=tenant, day__gte=month_start, day__lte=today)
    month = rows.aggregate(total=Sum("messages_sent"))["total"] or 0
    day = rows.filter(day=today).aggregate(total=Sum("messages_sent"))["total"] or 0
    return int(day), int(month)


def limits_for(profile: SenderProfile, tenant: Tenant, today: date) -> PacingLimits:
    daily, monthly = plan_limits(tenant)
    return PacingLimits(
        gap_s=profile.pacing_gap_s,
        batch_size=profile.batch_size,
        batch_pause_s=float(profile.batch_pause_s),
        profile_daily_cap=profile_daily_cap(profile, today),
        contact_daily_cap=profile.per_contact_daily_cap,
        tenant_daily_limit=daily,
        tenant_monthly_limit=monthly,
    )


@dataclass
class UsageSeeds:
    """Messages already sent today / this month, read from the database at most once a minute
    (they only matter when Redis lost its counters)."""

    day: date | None = None
    values: tuple[int, int] = (0, 0)
    read_at: float = 0.0

    def get(self, tenant: Tenant, today: date) -> tuple[int, int]:
        if self.day != today or _monotonic() - self.read_at > SEEDS_REFRESH_S:
            self.day, self.values, self.read_at = today, usage_seeds(tenant, today), _monotonic()
        return self.values


SEEDS_REFRESH_S = 60.0


def _monotonic() -> float:
    import time as _time

    return _time.monotonic()


def pacing_reserve_for(
    *,
    profile: SenderProfile,
    tenant: Tenant,
    contacts: list[str],
    seeds: UsageSeeds | None = None,
    now: datetime | None = None,
) -> list[Reservation]:
    """Reserve send slots for `contacts` (in order) on `profile` (see
    coordination.pacing_reserve_many)."""
    today = local_now(tenant, now).date()
    day_seed, month_seed = (seeds or UsageSeeds()).get(tenant, today)
    return coordination.pacing_reserve_many(
        schema=tenant.schema_name,
        profile_id=profile.id,
        contacts=contacts,
        day=today.isoformat(),
        month=today.strftime("%Y-%m"),
        limits=limits_for(profile, tenant, today),
        tenant_day_seed=day_seed,
        tenant_month_seed=month_seed,
    )
