"""A campaign's schedule in django-celery-beat (tenant-aware beat, apps.core.scheduling).

- AT: a one-off PeriodicTask on a ClockedSchedule at `scheduled_at`.
- DAILY / WEEKLY / MONTHLY: a PeriodicTask on a CrontabSchedule in the tenant's time zone.
Both send `campaigns.fire(campaign_id=…)` on the `default` queue with the tenant's schema in the
headers; the task is named `<schema>:campaign-<id>` like every per-tenant schedule.
"""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django_celery_beat.models import ClockedSchedule, PeriodicTask
from django_tenants.utils import tenant_context

from apps.campaigns.models import Campaign
from apps.core.scheduling import periodic_task_full_name, periodic_task_remove, periodic_task_schedule
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

FIRE_TASK = "campaigns.fire"
QUEUE = "default"


def schedule_task_name(campaign: Campaign) -> str:
    return f"campaign-{campaign.id}"


def crontab_for(campaign: Campaign) -> dict[str, str]:
    """The crontab fields of a recurring campaign (tenant-local time)."""
    assert campaign.send_time is not None
    fields = {"minute": str(campaign.send_time.minute), "hour": str(campaign.send_time.hour)}
    if campaign.schedule == Campaign.Schedule.WEEKLY:
        fields["day_of_week"] = ",".join(str(day) for day in sorted(campaign.weekdays))
    elif campaign.schedule == Campaign.Schedule.MONTHLY:
        fields["day_of_month"] = str(campaign.day_of_month)
    return fields


def schedule_apply(*, campaign: Campaign, tenant: Tenant) -> PeriodicTask:
    """Create or replace the beat entry that fires this campaign."""
    name = schedule_task_name(campaign)
    kwargs = {"campaign_id": campaign.id}
    if campaign.schedule != Campaign.Schedule.AT:
        return periodic_task_schedule(
            tenant=tenant, name=name, task=FIRE_TASK, crontab=crontab_for(campaign), kwargs=kwargs, queue=QUEUE
        )
    full_name = periodic_task_full_name(tenant=tenant, name=name)
    with tenant_context(tenant), transaction.atomic():
        clocked = ClockedSchedule.objects.create(clocked_time=campaign.scheduled_at)
        previous = PeriodicTask.objects.filter(name=full_name).values_list("clocked_id", flat=True).first()
        task, _ = PeriodicTask.objects.update_or_create(
            name=full_name,
            defaults={
                "task": FIRE_TASK,
                "clocked": clocked,
                "interval": None,
                "crontab": None,
                "one_off": True,
                "enabled": True,
                "total_run_count": 0,
                "last_run_at": None,
                "kwargs": json.dumps(kwargs),
                "queue": QUEUE,
                "headers": json.dumps({"_schema_name": tenant.schema_name}),
            },
        )
        if previous:
            ClockedSchedule.objects.filter(id=previous, periodictask=None).delete()
    logger.info("campaign.scheduled_once", extra={"campaign_id": campaign.id, "periodic_task": full_name})
    return task


def schedule_remove(*, campaign: Campaign, tenant: Tenant) -> bool:
    """Remove the campaign's beat entry (and a one-off's clocked time); returns whether it existed."""
    full_name = periodic_task_full_name(tenant=tenant, name=schedule_task_name(campaign))
    with tenant_context(tenant):
        clocked_id = PeriodicTask.objects.filter(name=full_name).values_list("clocked_id", flat=True).first()
    existed = periodic_task_remove(tenant=tenant, name=schedule_task_name(campaign))
    if clocked_id:
        with tenant_context(tenant):
            ClockedSchedule.objects.filter(id=clocked_id, periodictask=None).delete()
    return existed


def schedule_exists(*, campaign: Campaign, tenant: Tenant) -> bool:
    full_name = periodic_task_full_name(tenant=tenant, name=schedule_task_name(campaign))
    with tenant_context(tenant):
        return PeriodicTask.objects.filter(name=full_name, enabled=True).exists()
