from __future__ import annotations

from apps.tenants import services
from config.celery import app


@app.task(name="tenants.provision")
def tenant_provision(provisioning_id: int) -> None:
    services.provisioning_run(provisioning_id=provisioning_id)
