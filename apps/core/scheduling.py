"""Per-tenant periodic tasks (django-celery-beat tables exist in every tenant schema).

Beat runs TenantAwareDatabaseScheduler (CELERY_BEAT_SCHEDULER), which reads the schedule of
the public schema and of every tenant and sends each task with that schema in its headers, so the
task runs in the tenant it was scheduled for. The scheduler refuses duplicate task names across
schemas, so names are stored as `<schema>:<name>`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_tenants.utils import tenant_context

from apps.core.exceptions import ValidationFailed
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

CRONTAB_FIELDS = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


def periodic_task_full_name(*, tenant: Tenant, name: str) -> str:
    return f"{tenant.schema_name}:{name}"


def _crontab_fields(crontab: str | dict[str, str]) -> dict[str, str]:
    if isinstance(crontab, str):
        parts = crontab.split()
        if len(parts) != len(CRONTAB_FIELDS):
            raise ValidationFailed(
                "A crontab has five fields: minute hour day-of-month month day-of-week.",
                details={"field": "crontab"},
            )
        return dict(zip(CRONTAB_FIELDS, parts, strict=True))
    unknown = set(crontab) - set(CRONTAB_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown crontab fields: {sorted(unknown)}.", details={"field": "crontab"})
    return {field: str(crontab.get(field, "*")) for field in CRONTAB_FIELDS}


def periodic_task_schedule(
    *,
    tenant: Tenant,
    name: str,
    task: str,
    every_seconds: int | None = None,
    crontab: str | dict[str, str] | None = None,
    kwargs: dict[str, Any] | None = None,
    enabled: bool = True,
    queue: str | None = None,
) -> PeriodicTask:
    """Create or update `tenant`'s periodic task `name` (idempotent on the name): run `task` every
    `every_seconds`, or on `crontab` ("0 9 * * 1-5" or a dict of fields) in the tenant's time
    zone. Exactly one of the two. `queue` overrides the task's own queue. Beat notices the change
    on its next tick."""
    if (every_seconds is None) == (crontab is None):
        raise ValidationFailed("Give exactly one of every_seconds and crontab.")
    if every_seconds is not None and every_seconds < 1:
        raise ValidationFailed("every_seconds must be at least 1.", details={"field": "every_seconds"})
    if tenant.is_public:
        raise ValidationFailed("Tenant schedules belong to a tenant, not the public schema.")
    full_name = periodic_task_full_name(tenant=tenant, name=name)
    with tenant_context(tenant), transaction.atomic():
        interval = schedule = None
        if every_seconds is not None:
            interval, _ = IntervalSchedule.objects.get_or_create(every=every_seconds, period=IntervalSchedule.SECONDS)
        else:
            assert crontab is not None
            schedule, _ = CrontabSchedule.objects.get_or_create(**_crontab_fields(crontab), timezone=tenant.timezone)
        periodic_task, created = PeriodicTask.objects.update_or_create(
            name=full_name,
            defaults={
                "task": task,
                "interval": interval,
                "crontab": schedule,
                "kwargs": json.dumps(kwargs or {}),
                "enabled": enabled,
                "queue": queue,
                # The scheduler adds this too; stating it keeps the row self-explanatory.
                "headers": json.dumps({"_schema_name": tenant.schema_name}),
            },
        )
    logger.info(
        "periodic_task.scheduled",
        extra={"tenant_id": tenant.id, "periodic_task": full_name, "task": task, "is_new": created},
    )
    return periodic_task


def periodic_task_remove(*, tenant: Tenant, name: str) -> bool:
    """Delete `tenant`'s periodic task `name`; returns whether it existed."""
    full_name = periodic_task_full_name(tenant=tenant, name=name)
    with tenant_context(tenant):
        deleted, _ = PeriodicTask.objects.filter(name=full_name).delete()
    logger.info(
        "periodic_task.removed", extra={"tenant_id": tenant.id, "periodic_task": full_name, "existed": bool(deleted)}
    )
    return bool(deleted)
