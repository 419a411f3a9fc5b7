import datetime
import zoneinfo
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.billing import selectors
from apps.billing.models import Plan, Subscription, UsageRecord
from apps.billing.services import (
    QuotaAction,
    QuotaCode,
    quota_check,
    quota_require,
    subscription_change_plan,
    subscription_set_status,
    usage_record_add,
    usage_snapshot_set,
)
from apps.core.exceptions import QuotaExceeded
from apps.tenants.services import tenant_set_status
from tests.billing.factories import PlanFactory


@pytest.fixture
def free_alpha(alpha):
    """alpha moved to the Free plan (1 number, 50/day, 1500/month, 1000 contacts, no features)."""
    subscription_change_plan(tenant=alpha.tenant, plan=Plan.objects.get(slug="free"))
    return alpha.tenant


def test_free_plan_allows_the_fiftieth_message_of_the_day(free_alpha):
    usage_record_add(tenant=free_alpha, messages_sent=49)

    decision = quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES, amount=1)

    assert decision.allowed is True
    assert (decision.limit, decision.used, decision.remaining) == (50, 49, 1)
    assert decision.code == QuotaCode.OK


def test_free_plan_refuses_the_fifty_first_message_of_the_day(free_alpha):
    usage_record_add(tenant=free_alpha, messages_sent=50)

    decision = quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES, amount=1)

    assert decision.allowed is False
    assert decision.code == "daily_message_limit"
    assert (decision.limit, decision.used, decision.remaining) == (50, 50, 0)


def test_a_batch_that_would_cross_the_daily_limit_is_refused_whole(free_alpha):
    usage_record_add(tenant=free_alpha, messages_sent=45)

    assert quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES, amount=5).allowed is True
    assert quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES, amount=6).code == "daily_message_limit"


def test_quota_require_raises_402_with_the_refusal_code(free_alpha):
    usage_record_add(tenant=free_alpha, messages_sent=50)

    with pytest.raises(QuotaExceeded) as excinfo:
        quota_require(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES)

    assert excinfo.value.status == 402
    assert excinfo.value.code == "daily_message_limit"
    assert excinfo.value.details == {"action": "send_messages", "limit": 50, "used": 50, "remaining": 0}


def test_monthly_limit_counts_this_month_only(alpha):
    plan = PlanFactory(messages_per_day=1000, messages_per_month=100)
    subscription_change_plan(tenant=alpha.tenant, plan=plan)
    today = selectors.tenant_local_today(alpha.tenant)
    usage_record_add(tenant=alpha.tenant, day=today.replace(day=1) - datetime.timedelta(days=1), messages_sent=500)
    usage_record_add(tenant=alpha.tenant, day=today, messages_sent=99)

    allowed = quota_check(tenant=alpha.tenant, action=QuotaAction.SEND_MESSAGES, amount=1)
    refused = quota_check(tenant=alpha.tenant, action=QuotaAction.SEND_MESSAGES, amount=2)

    assert (allowed.allowed, allowed.limit, allowed.used, allowed.remaining) == (True, 100, 99, 1)
    assert (refused.allowed, refused.code, refused.used) == (False, "monthly_message_limit", 99)


def test_today_is_the_tenants_own_calendar_day(free_alpha):
    free_alpha.timezone = "Pacific/Kiritimati"  # UTC+14: usually a day ahead of UTC
    free_alpha.save(update_fields=["timezone"])
    local_today = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo("Pacific/Kiritimati")).date()

    record = usage_record_add(tenant=free_alpha, messages_sent=3)
    usage_record_add(tenant=free_alpha, day=local_today - datetime.timedelta(days=1), messages_sent=50)

    assert record.day == local_today
    decision = quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES)
    assert (decision.allowed, decision.used) == (True, 3)


def test_number_limit_uses_the_snapshot_or_the_callers_count(free_alpha):
    assert quota_check(tenant=free_alpha, action=QuotaAction.ADD_NUMBER).allowed is True

    usage_snapshot_set(tenant=free_alpha, numbers=1)
    refused = quota_check(tenant=free_alpha, action=QuotaAction.ADD_NUMBER)
    with_current = quota_check(tenant=free_alpha, action=QuotaAction.ADD_NUMBER, current=0)

    assert (refused.allowed, refused.code, refused.limit, refused.used) == (False, "number_limit", 1, 1)
    assert (with_current.allowed, with_current.used, with_current.remaining) == (True, 0, 1)


def test_contact_limit_counts_the_whole_import(free_alpha):
    allowed = quota_check(tenant=free_alpha, action=QuotaAction.ADD_CONTACTS, amount=1, current=999)
    refused = quota_check(tenant=free_alpha, action=QuotaAction.ADD_CONTACTS, amount=2, current=999)

    assert (allowed.allowed, allowed.remaining) == (True, 1)
    assert (refused.allowed, refused.code, refused.limit) == (False, "contact_limit", 1000)


@pytest.mark.parametrize(
    ("plan_slug", "chatbots", "api"),
    [("free", False, False), ("pro", True, False), ("business", True, True)],
)
def test_feature_flags_follow_the_plan(alpha, plan_slug, chatbots, api):
    subscription_change_plan(tenant=alpha.tenant, plan=Plan.objects.get(slug=plan_slug))

    chatbot = quota_check(tenant=alpha.tenant, action=QuotaAction.USE_CHATBOTS)
    api_use = quota_check(tenant=alpha.tenant, action=QuotaAction.USE_API)

    assert chatbot.allowed is chatbots
    assert api_use.allowed is api
    assert chatbot.code == ("ok" if chatbots else "plan_feature_missing")
    assert api_use.code == ("ok" if api else "plan_feature_missing")


def test_suspended_tenant_is_refused_everything(alpha):
    tenant_set_status(tenant=alpha.tenant, status="suspended")

    for action in QuotaAction:
        decision = quota_check(tenant=alpha.tenant, action=action)
        assert (decision.allowed, decision.code) == (False, "tenant_suspended")


@pytest.mark.parametrize("status", [Subscription.Status.CANCELED, Subscription.Status.PAST_DUE])
def test_inactive_subscription_is_refused(alpha, status):
    subscription_set_status(tenant=alpha.tenant, status=status)

    decision = quota_check(tenant=alpha.tenant, action=QuotaAction.SEND_MESSAGES)

    assert (decision.allowed, decision.code) == (False, "subscription_inactive")
    with pytest.raises(QuotaExceeded) as excinfo:
        quota_require(tenant=alpha.tenant, action=QuotaAction.USE_API)
    assert excinfo.value.code == "subscription_inactive"


def test_trialing_subscription_may_send(alpha):
    subscription_set_status(tenant=alpha.tenant, status=Subscription.Status.TRIALING)

    assert quota_check(tenant=alpha.tenant, action=QuotaAction.SEND_MESSAGES).allowed is True


def test_plan_change_applies_to_the_next_check(free_alpha):
    usage_record_add(tenant=free_alpha, messages_sent=50)
    assert quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES).allowed is False

    subscription = subscription_change_plan(tenant=free_alpha, plan=Plan.objects.get(slug="pro"))

    assert subscription.plan.slug == "pro"
    assert Subscription.objects.get(tenant=free_alpha).plan.slug == "pro"
    decision = quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES)
    assert (decision.allowed, decision.limit, decision.remaining) == (True, 250, 200)


def test_plan_limits_edited_in_admin_apply_at_once(free_alpha):
    Plan.objects.filter(slug="free").update(messages_per_day=60, price=Decimal("0"))
    usage_record_add(tenant=free_alpha, messages_sent=55)

    assert quota_check(tenant=free_alpha, action=QuotaAction.SEND_MESSAGES).remaining == 5
    assert UsageRecord.objects.get(tenant=free_alpha).messages_sent == 55
