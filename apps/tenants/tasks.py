"""Celery front doors of the tenants app."""

from __future__ import annotations

from apps.tenants import services
from config.celery import app


# Queue: `default`, by name in CELERY_TASK_ROUTES (config/settings/base.py).
@app.task(name="tenants.provision")
def tenant_provision(provisioning_id: int) -> None:
    """Build the tenant a sign-up asked for. Logs and returns when the request is gone; every
    failure ends with the request marked failed (services.provisioning_run)."""
    services.provisioning_run(provisioning_id=provisioning_id)
