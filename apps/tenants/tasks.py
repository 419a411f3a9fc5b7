from __future__ import annotations

from config.celery import app
from apps.tenants import services


@app.task(name="tenants.provision", queue="default")
def tenant_provision(provisioning_id: int) -> None:
    services.provisioning_run(provisioning_id=provisioning_id)
