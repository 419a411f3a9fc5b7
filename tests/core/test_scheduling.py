"""Per-tenant periodic tasks are stored in the tenant's own schema under a schema-prefixed name."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context

from apps.core.exceptions import ValidationFailed
from apps.core.scheduling import periodic_task_remove, periodic_task_schedule
from apps.tenants.models import Tenant


def task_names(schema: str) -> list[str]:
    with schema_context(schema):
        return list(PeriodicTask.objects.order_by("name").values_list("name", flat=True))


def test_schedule_is_stored_in_the_tenants_schema_with_a_schema_prefixed_name(alpha, beta):
    task = periodic_task_schedule(
        tenant=alpha.tenant, name="digest", task="core.notify_tenant", every_seconds=30, kwargs={"message": "hi"}
    )

    assert task.name == "t_alpha:digest"
    assert task_names("t_alpha") == ["t_alpha:digest"]
    assert task_names("t_beta") == []
    assert task_names("public") == []
    assert connection.schema_name == "public"
    with schema_context("t_alpha"):
        stored = PeriodicTask.objects.select_related("interval").get(name="t_alpha:digest")
    assert (stored.interval.every, stored.interval.period) == (30, IntervalSchedule.SECONDS)
    assert json.loads(stored.kwargs) == {"message": "hi"}
    assert json.loads(stored.headers) == {"_schema_name": "t_alpha"}
    assert stored.enabled is True


def test_the_same_name_in_two_tenants_makes_two_distinct_tasks(alpha, beta):
    periodic_task_schedule(tenant=alpha.tenant, name="digest", task="core.notify_tenant", every_seconds=60)
    periodic_task_schedule(tenant=beta.tenant, name="digest", task="core.notify_tenant", every_seconds=60)

    assert task_names("t_alpha") == ["t_alpha:digest"]
    assert task_names("t_beta") == ["t_beta:digest"]


def test_scheduling_again_updates_the_task_in_place(alpha):
    first = periodic_task_schedule(tenant=alpha.tenant, name="digest", task="core.notify_tenant", every_seconds=60)

    second = periodic_task_schedule(
        tenant=alpha.tenant, name="digest", task="core.notify_tenant", crontab="0 9 * * 1-5", enabled=False
    )

    assert second.pk == first.pk
    with schema_context("t_alpha"):
        stored = PeriodicTask.objects.select_related("crontab").get(pk=first.pk)
        assert PeriodicTask.objects.count() == 1
    assert stored.interval_id is None
    assert stored.enabled is False
    assert (stored.crontab.minute, stored.crontab.hour, stored.crontab.day_of_week) == ("0", "9", "1-5")
    assert str(stored.crontab.timezone) == alpha.tenant.timezone


def test_crontab_runs_in_the_tenants_time_zone(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(timezone="Asia/Kolkata")
    alpha.tenant.refresh_from_db()

    task = periodic_task_schedule(
        tenant=alpha.tenant, name="morning", task="core.notify_tenant", crontab={"minute": "30", "hour": "8"}
    )

    with schema_context("t_alpha"):
        crontab = PeriodicTask.objects.select_related("crontab").get(pk=task.pk).crontab
    assert (crontab.minute, crontab.hour, crontab.day_of_month, str(crontab.timezone)) == (
        "30",
        "8",
        "*",
        "Asia/Kolkata",
    )


@pytest.mark.parametrize(
    "schedule",
    [
        {},
        {"every_seconds": 10, "crontab": "* * * * *"},
        {"every_seconds": 0},
        {"crontab": "* * *"},
        {"crontab": {"second": "1"}},
    ],
)
def test_bad_schedules_are_refused_and_nothing_is_stored(alpha, schedule):
    with pytest.raises(ValidationFailed):
        periodic_task_schedule(tenant=alpha.tenant, name="bad", task="core.notify_tenant", **schedule)

    assert task_names("t_alpha") == []


def test_remove_deletes_only_that_tenants_task(alpha, beta):
    periodic_task_schedule(tenant=alpha.tenant, name="digest", task="core.notify_tenant", every_seconds=60)
    periodic_task_schedule(tenant=beta.tenant, name="digest", task="core.notify_tenant", every_seconds=60)

    assert periodic_task_remove(tenant=alpha.tenant, name="digest") is True
    assert periodic_task_remove(tenant=alpha.tenant, name="digest") is False

    assert task_names("t_alpha") == []
    assert task_names("t_beta") == ["t_beta:digest"]
