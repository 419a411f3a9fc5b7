"""Celery with real worker and beat processes: tasks and schedules run in their tenant's schema."""

from __future__ import annotations

import pytest
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_tenants.utils import schema_context, tenant_context

from apps.core.scheduling import periodic_task_remove, periodic_task_schedule
from apps.core.tasks import worker_probe
from tests.core.conftest import probe_key, probe_runs, wait_for_probe


@pytest.mark.live
def test_task_sent_in_a_tenant_runs_in_that_tenants_schema(celery_worker_process, live_world, coordination_redis):
    alpha, beta = live_world("alpha"), live_world("beta")
    from_alpha, from_beta, from_public = probe_key(), probe_key(), probe_key()

    with tenant_context(alpha.tenant):
        worker_probe.delay(from_alpha)
    with tenant_context(beta.tenant):
        worker_probe.delay(from_beta)
    assert connection.schema_name == "public"
    worker_probe.delay(from_public)

    assert [run["schema_name"] for run in wait_for_probe(coordination_redis, from_alpha)] == ["t_alpha"]
    assert [run["schema_name"] for run in wait_for_probe(coordination_redis, from_beta)] == ["t_beta"]
    assert [run["schema_name"] for run in wait_for_probe(coordination_redis, from_public)] == ["public"]


@pytest.mark.live
def test_task_goes_to_the_queue_it_names(celery_worker_process, live_world, coordination_redis):
    alpha = live_world("alpha")
    on_default, on_imports = probe_key(), probe_key()

    with tenant_context(alpha.tenant):
        worker_probe.delay(on_default)
        worker_probe.apply_async(args=[on_imports], queue="imports")

    assert [(r["queue"], r["schema_name"]) for r in wait_for_probe(coordination_redis, on_default)] == [
        ("default", "t_alpha")
    ]
    assert [(r["queue"], r["schema_name"]) for r in wait_for_probe(coordination_redis, on_imports)] == [
        ("imports", "t_alpha")
    ]


@pytest.mark.live
def test_per_tenant_beat_schedule_fires_in_its_own_schema(beat_process, live_world, coordination_redis):
    alpha, beta = live_world("alpha"), live_world("beta")
    alpha_key, beta_key = probe_key(), probe_key()
    periodic_task_schedule(
        tenant=alpha.tenant, name="probe", task="core.worker_probe", every_seconds=1, kwargs={"probe_key": alpha_key}
    )
    periodic_task_schedule(
        tenant=beta.tenant, name="beta-only", task="core.worker_probe", every_seconds=1, kwargs={"probe_key": beta_key}
    )
    try:
        beat_process()

        alpha_runs = wait_for_probe(coordination_redis, alpha_key, count=2, timeout=15)
        beta_runs = wait_for_probe(coordination_redis, beta_key, count=1, timeout=15)
    finally:
        periodic_task_remove(tenant=alpha.tenant, name="probe")
        periodic_task_remove(tenant=beta.tenant, name="beta-only")
        for schema in ("t_alpha", "t_beta"):
            with schema_context(schema):
                IntervalSchedule.objects.filter(every=1, period=IntervalSchedule.SECONDS, periodictask=None).delete()

    assert {run["schema_name"] for run in alpha_runs} == {"t_alpha"}
    assert {run["schema_name"] for run in beta_runs} == {"t_beta"}
    for schema in ("public", "t_alpha", "t_beta"):
        with schema_context(schema):
            assert not PeriodicTask.objects.filter(task="core.worker_probe").exists()
    assert probe_runs(coordination_redis, "never-scheduled") == []


def test_celery_defaults_acknowledge_late_and_know_every_queue():
    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_default_queue == "default"
    assert [queue.name for queue in app.conf.task_queues] == ["default", "imports", "webhooks", "senders"]
    assert app.conf.beat_scheduler == "tenant_schemas_celery.db_scheduler:TenantAwareDatabaseScheduler"
