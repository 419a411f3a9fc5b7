import datetime
import threading

import pytest
from django.db import connection

from apps.billing.models import Plan, UsageRecord
from apps.billing.services import subscription_change_plan, usage_record_add, usage_snapshot_set, usage_summary
from apps.core.exceptions import ValidationFailed
from apps.tenants.models import Tenant

DAY = datetime.date(2026, 3, 14)


def test_usage_record_add_increments_the_days_row(alpha):
    usage_record_add(tenant=alpha.tenant, day=DAY, messages_sent=3, api_requests=1)
    record = usage_record_add(tenant=alpha.tenant, day=DAY, messages_sent=4, messages_failed=2)

    assert (record.messages_sent, record.messages_failed, record.api_requests) == (7, 2, 1)
    assert UsageRecord.objects.filter(tenant=alpha.tenant).count() == 1
    stored = UsageRecord.objects.get(tenant=alpha.tenant, day=DAY)
    assert (stored.messages_sent, stored.messages_failed, stored.api_requests) == (7, 2, 1)


def test_usage_counters_never_go_down(alpha):
    with pytest.raises(ValidationFailed):
        usage_record_add(tenant=alpha.tenant, day=DAY, messages_sent=-1)
    assert not UsageRecord.objects.filter(tenant=alpha.tenant).exists()


def test_concurrent_increments_add_up_exactly(commit_db):
    """Two threads, two connections, racing to create and bump the same day's row (committed
    for real, so each connection sees the other's writes; removed at the end)."""
    tenant = Tenant.objects.get(slug="alpha")
    rounds = 25
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def bump(amount: int) -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(rounds):
                usage_record_add(tenant=tenant, day=DAY, messages_sent=amount, api_requests=1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=bump, args=(amount,)) for amount in (2, 3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        record = UsageRecord.objects.get(tenant=tenant, day=DAY)
        assert record.messages_sent == rounds * 2 + rounds * 3
        assert record.api_requests == rounds * 2
    finally:
        UsageRecord.objects.filter(tenant=tenant, day=DAY).delete()


def test_snapshot_sets_counts_and_new_days_carry_them_forward(alpha):
    usage_snapshot_set(tenant=alpha.tenant, day=DAY, numbers=2, contacts=340)
    usage_snapshot_set(tenant=alpha.tenant, day=DAY, contacts=350)

    next_day = usage_record_add(tenant=alpha.tenant, day=DAY + datetime.timedelta(days=1), messages_sent=1)

    same_day = UsageRecord.objects.get(tenant=alpha.tenant, day=DAY)
    assert (same_day.numbers, same_day.contacts) == (2, 350)
    assert (next_day.numbers, next_day.contacts, next_day.messages_sent) == (2, 350, 1)


def test_snapshot_needs_a_count(alpha):
    with pytest.raises(ValidationFailed):
        usage_snapshot_set(tenant=alpha.tenant)


def test_usage_summary_reports_each_limit_with_a_percentage(alpha):
    subscription_change_plan(tenant=alpha.tenant, plan=Plan.objects.get(slug="pro"))
    usage_record_add(tenant=alpha.tenant, messages_sent=50)
    usage_snapshot_set(tenant=alpha.tenant, numbers=3, contacts=2500)

    summary = usage_summary(tenant=alpha.tenant)

    assert summary.plan.slug == "pro"
    assert summary.subscription_status == "active"
    assert (summary.messages_today.used, summary.messages_today.limit, summary.messages_today.percent) == (50, 250, 20)
    assert (summary.messages_month.used, summary.messages_month.limit, summary.messages_month.percent) == (50, 7500, 1)
    assert (summary.numbers.used, summary.numbers.limit, summary.numbers.percent, summary.numbers.over) == (
        3,
        3,
        100,
        True,
    )
    assert (summary.contacts.used, summary.contacts.limit, summary.contacts.percent) == (2500, 25000, 10)
    assert (summary.chatbots, summary.api) == (True, False)


def test_usage_summary_takes_counts_from_the_caller(alpha):
    usage_snapshot_set(tenant=alpha.tenant, numbers=9, contacts=9)

    summary = usage_summary(tenant=alpha.tenant, numbers=1, contacts=25000)

    assert (summary.numbers.used, summary.numbers.limit, summary.numbers.percent) == (1, 10, 10)
    assert (summary.contacts.used, summary.contacts.percent) == (25000, 10)
    assert summary.messages_today.used == 0
