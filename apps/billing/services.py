"""Quotas, usage roll-ups and subscription changes (public schema).

Every feature that spends something a plan limits asks here first: `quota_check` answers
"may this tenant do X now" with the numbers behind the answer, `quota_require` raises
`QuotaExceeded` (HTTP 402) instead. Usage arrives through `usage_record_add` (counters, from
senders and the API) and `usage_snapshot_set` (current counts of numbers and contacts, from
the tenant's side), both into UsageRecord: one public row per tenant per day. Public code never
loops over tenant schemas to count things; callers that already know a current count (the
tenant's own code, in its schema) pass it as `current=` and the snapshot is not consulted.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass
from enum import StrEnum

from django.db import connection, transaction

from apps.billing import selectors
from apps.billing.models import Plan, Subscription, UsageRecord
from apps.core.exceptions import QuotaExceeded, ValidationFailed
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)


class QuotaAction(StrEnum):
    ADD_NUMBER = "add_number"
    SEND_MESSAGES = "send_messages"
    ADD_CONTACTS = "add_contacts"
    USE_CHATBOTS = "use_chatbots"
    USE_API = "use_api"


class QuotaCode(StrEnum):
    OK = "ok"
    TENANT_SUSPENDED = "tenant_suspended"
    SUBSCRIPTION_INACTIVE = "subscription_inactive"
    DAILY_MESSAGE_LIMIT = "daily_message_limit"
    MONTHLY_MESSAGE_LIMIT = "monthly_message_limit"
    NUMBER_LIMIT = "number_limit"
    CONTACT_LIMIT = "contact_limit"
    PLAN_FEATURE_MISSING = "plan_feature_missing"


@dataclass(frozen=True)
class QuotaDecision:
    """The answer and the numbers behind it. `limit`/`used`/`remaining` describe the limit that
    decided (the tighter one when several apply); they are None for on/off features and for
    refusals that are not about a count (suspended tenant, inactive subscription)."""

    allowed: bool
    action: QuotaAction
    limit: int | None
    used: int | None
    remaining: int | None
    code: QuotaCode
    message: str

    def as_details(self) -> dict[str, object]:
        return {
            "action": str(self.action),
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
        }


def _refused(action: QuotaAction, code: QuotaCode, message: str, *, limit=None, used=None) -> QuotaDecision:
    remaining = None if limit is None else max(limit - used, 0)
    return QuotaDecision(False, action, limit, used, remaining, code, message)


def _counted(*, action: QuotaAction, limit: int, used: int, amount: int, code: QuotaCode, what: str) -> QuotaDecision:
    if used + amount > limit:
        return _refused(
            action,
            code,
            f"Your plan allows {limit} {what}; {used} used, {amount} more requested.",
            limit=limit,
            used=used,
        )
    return QuotaDecision(True, action, limit, used, limit - used, QuotaCode.OK, "Allowed.")


def quota_check(
    *,
    tenant: Tenant,
    action: QuotaAction,
    amount: int = 1,
    current: int | None = None,
    subscription: Subscription | None = None,
) -> QuotaDecision:
    """May `tenant` do `action` for `amount` more units now?

    - A suspended tenant, a missing subscription or one that is past due or canceled is
      refused everything.
    - SEND_MESSAGES: messages already sent today (the tenant's local day) and this calendar
      month from UsageRecord, plus `amount`, must fit both the daily and the monthly limit.
    - ADD_NUMBER / ADD_CONTACTS: `current` (the count the caller has, e.g. counted in the
      tenant's schema) or else the latest usage snapshot, plus `amount`, must fit the plan.
    - USE_CHATBOTS / USE_API: the plan's feature flag.
    Pass `subscription` (with its plan loaded) to save a query when the caller has it.
    Reads only; a check followed by the action can overrun by the concurrent amount, which the
    daily roll-up tolerates (the sending engine re-checks per batch).
    """
    action = QuotaAction(action)
    if amount < 0:
        raise ValidationFailed("A quota amount cannot be negative.", code="invalid_amount")
    if tenant.status != Tenant.Status.ACTIVE:
        return _refused(action, QuotaCode.TENANT_SUSPENDED, "This workspace is suspended.")
    subscription = subscription or selectors.subscription_for(tenant=tenant)
    if subscription is None or not subscription.is_usable:
        status = subscription.get_status_display() if subscription else "missing"
        return _refused(action, QuotaCode.SUBSCRIPTION_INACTIVE, f"The subscription is not active ({status}).")
    plan = subscription.plan

    if action is QuotaAction.SEND_MESSAGES:
        usage = selectors.usage_messages(tenant=tenant)
        daily = _counted(
            action=action,
            limit=plan.messages_per_day,
            used=usage.today,
            amount=amount,
            code=QuotaCode.DAILY_MESSAGE_LIMIT,
            what="messages per day",
        )
        monthly = _counted(
            action=action,
            limit=plan.messages_per_month,
            used=usage.month,
            amount=amount,
            code=QuotaCode.MONTHLY_MESSAGE_LIMIT,
            what="messages per month",
        )
        if not daily.allowed:
            return daily
        if not monthly.allowed:
            return monthly
        return daily if daily.remaining <= monthly.remaining else monthly

    if action in (QuotaAction.ADD_NUMBER, QuotaAction.ADD_CONTACTS):
        if current is None:
            snapshot = selectors.usage_latest_snapshot(tenant=tenant)
            current = snapshot.numbers if action is QuotaAction.ADD_NUMBER else snapshot.contacts
        if action is QuotaAction.ADD_NUMBER:
            return _counted(
                action=action,
                limit=plan.max_numbers,
                used=current,
                amount=amount,
                code=QuotaCode.NUMBER_LIMIT,
                what="WhatsApp numbers",
            )
        return _counted(
            action=action,
            limit=plan.max_contacts,
            used=current,
            amount=amount,
            code=QuotaCode.CONTACT_LIMIT,
            what="contacts",
        )

    enabled = plan.feature_chatbots if action is QuotaAction.USE_CHATBOTS else plan.feature_api
    if not enabled:
        feature = "Chatbots" if action is QuotaAction.USE_CHATBOTS else "API access"
        return _refused(action, QuotaCode.PLAN_FEATURE_MISSING, f"{feature} is not part of the {plan.name} plan.")
    return QuotaDecision(True, action, None, None, None, QuotaCode.OK, "Allowed.")


def quota_require(
    *,
    tenant: Tenant,
    action: QuotaAction,
    amount: int = 1,
    current: int | None = None,
    subscription: Subscription | None = None,
) -> QuotaDecision:
    """`quota_check`, raising QuotaExceeded (402, code = the refusal's code) when refused."""
    decision = quota_check(tenant=tenant, action=action, amount=amount, current=current, subscription=subscription)
    if not decision.allowed:
        logger.info(
            "quota.refused",
            extra={"tenant_id": tenant.pk, "action": str(decision.action), "code": str(decision.code)},
        )
        raise QuotaExceeded(decision.message, code=decision.code, details=decision.as_details())
    return decision


# --- usage roll-up ----------------------------------------------------------------------------

_USAGE_TABLE = UsageRecord._meta.db_table
_USAGE_COLUMNS = "id, tenant_id, day, messages_sent, messages_failed, contacts, numbers, api_requests"
# A new day's row starts with the previous day's snapshot of numbers and contacts, so "the
# newest row" is always the current snapshot (selectors.usage_latest_snapshot).
_CARRIED = "COALESCE((SELECT {col} FROM {table} WHERE tenant_id = %s AND day < %s ORDER BY day DESC LIMIT 1), 0)"


def _usage_row(row: tuple) -> UsageRecord:
    names = [name.strip() for name in _USAGE_COLUMNS.split(",")]
    record = UsageRecord(**dict(zip(names, row, strict=True)))
    record._state.adding = False
    return record


def usage_record_add(
    *,
    tenant: Tenant,
    day: datetime.date | None = None,
    messages_sent: int = 0,
    messages_failed: int = 0,
    api_requests: int = 0,
) -> UsageRecord:
    """Add to the tenant's counters for `day` (default: the tenant's today). One
    `INSERT … ON CONFLICT DO UPDATE` with increments, so concurrent senders never lose a count
    and the first writer of a day cannot race another into a duplicate row."""
    if min(messages_sent, messages_failed, api_requests) < 0:
        raise ValidationFailed("Usage counters only grow.", code="invalid_amount")
    day = day or selectors.tenant_local_today(tenant)
    carried = [_CARRIED.format(col=col, table=_USAGE_TABLE) for col in ("contacts", "numbers")]
    sql = (
        f"INSERT INTO {_USAGE_TABLE} (tenant_id, day, messages_sent, messages_failed, api_requests, contacts, numbers) "  # noqa: S608 - fixed names
        f"VALUES (%s, %s, %s, %s, %s, {carried[0]}, {carried[1]}) "
        f"ON CONFLICT (tenant_id, day) DO UPDATE SET "
        f"messages_sent = {_USAGE_TABLE}.messages_sent + EXCLUDED.messages_sent, "
        f"messages_failed = {_USAGE_TABLE}.messages_failed + EXCLUDED.messages_failed, "
        f"api_requests = {_USAGE_TABLE}.api_requests + EXCLUDED.api_requests "
        f"RETURNING {_USAGE_COLUMNS}"
    )
    params = [tenant.pk, day, messages_sent, messages_failed, api_requests, tenant.pk, day, tenant.pk, day]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _usage_row(cursor.fetchone())


def usage_snapshot_set(
    *,
    tenant: Tenant,
    contacts: int | None = None,
    numbers: int | None = None,
    day: datetime.date | None = None,
) -> UsageRecord:
    """Record the tenant's current number of contacts and/or WhatsApp numbers (counted by the
    tenant's own code in its schema) on today's row. A count left as None keeps its last value."""
    if (contacts is not None and contacts < 0) or (numbers is not None and numbers < 0):
        raise ValidationFailed("Counts cannot be negative.", code="invalid_amount")
    day = day or selectors.tenant_local_today(tenant)
    values, params, updates = [], [], []
    for col, value in (("contacts", contacts), ("numbers", numbers)):
        if value is None:
            values.append(_CARRIED.format(col=col, table=_USAGE_TABLE))
            params += [tenant.pk, day]
        else:
            values.append("%s")
            params.append(value)
            updates.append(f"{col} = EXCLUDED.{col}")
    if not updates:
        raise ValidationFailed("Nothing to record: give contacts, numbers or both.", code="invalid_snapshot")
    sql = (
        f"INSERT INTO {_USAGE_TABLE} (tenant_id, day, messages_sent, messages_failed, api_requests, contacts, numbers) "  # noqa: S608 - fixed names
        f"VALUES (%s, %s, 0, 0, 0, {values[0]}, {values[1]}) "
        f"ON CONFLICT (tenant_id, day) DO UPDATE SET {', '.join(updates)} "
        f"RETURNING {_USAGE_COLUMNS}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [tenant.pk, day, *params])
        return _usage_row(cursor.fetchone())


# --- the dashboard's view of usage ------------------------------------------------------------


@dataclass(frozen=True)
class UsageMeter:
    """One limited quantity: `percent` is used/limit as a whole number capped at 100 (for a
    progress bar); `over` says the limit is reached."""

    used: int
    limit: int

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    @property
    def percent(self) -> int:
        if self.limit <= 0:
            return 100 if self.used > 0 else 0
        return min(100, round(self.used * 100 / self.limit))

    @property
    def over(self) -> bool:
        return self.used >= self.limit


@dataclass(frozen=True)
class UsageSummary:
    plan: Plan | None
    subscription_status: str | None
    day: datetime.date
    messages_today: UsageMeter
    messages_month: UsageMeter
    numbers: UsageMeter
    contacts: UsageMeter
    chatbots: bool
    api: bool


def usage_summary(*, tenant: Tenant, numbers: int | None = None, contacts: int | None = None) -> UsageSummary:
    """The tenant's plan and how much of each limit it has used, for the portal dashboard.
    `numbers`/`contacts` override the snapshot when the caller counted them itself."""
    subscription = selectors.subscription_for(tenant=tenant)
    plan = subscription.plan if subscription else None
    usage = selectors.usage_messages(tenant=tenant)
    snapshot = selectors.usage_latest_snapshot(tenant=tenant)
    return UsageSummary(
        plan=plan,
        subscription_status=subscription.status if subscription else None,
        day=usage.day,
        messages_today=UsageMeter(used=usage.today, limit=plan.messages_per_day if plan else 0),
        messages_month=UsageMeter(used=usage.month, limit=plan.messages_per_month if plan else 0),
        numbers=UsageMeter(
            used=snapshot.numbers if numbers is None else numbers, limit=plan.max_numbers if plan else 0
        ),
        contacts=UsageMeter(
            used=snapshot.contacts if contacts is None else contacts, limit=plan.max_contacts if plan else 0
        ),
        chatbots=bool(plan and plan.feature_chatbots),
        api=bool(plan and plan.feature_api),
    )


# --- subscriptions ----------------------------------------------------------------------------


def subscription_change_plan(*, tenant: Tenant, plan: Plan) -> Subscription:
    """Move the tenant to `plan` (creating an active subscription if it has none). Limits apply
    from the next quota check; usage already counted is kept."""
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().filter(tenant=tenant).first()
        if subscription is None:
            subscription = Subscription.objects.create(tenant=tenant, plan=plan, status=Subscription.Status.ACTIVE)
            previous = None
        else:
            previous = subscription.plan_id
            subscription.plan = plan
            subscription.save(update_fields=["plan", "updated_at"])
    logger.info(
        "subscription.plan_changed",
        extra={"tenant_id": tenant.pk, "plan_id": plan.pk, "previous_plan_id": previous},
    )
    return subscription


_UNSET = object()


def subscription_set_status(
    *, tenant: Tenant, status: str, current_period_end: datetime.datetime | object | None = _UNSET
) -> Subscription:
    """Set the subscription's status (and optionally its period end). Past due and canceled
    subscriptions are refused every quota until they are active or trialing again."""
    if status not in Subscription.Status.values:
        raise ValidationFailed(f"Unknown subscription status {status!r}.", code="invalid_status")
    with transaction.atomic():
        subscription = Subscription.objects.select_for_update().get(tenant=tenant)
        subscription.status = status
        fields = ["status", "updated_at"]
        if current_period_end is not _UNSET:
            subscription.current_period_end = current_period_end
            fields.append("current_period_end")
        subscription.save(update_fields=fields)
    logger.info("subscription.status_changed", extra={"tenant_id": tenant.pk, "status": status})
    return subscription
