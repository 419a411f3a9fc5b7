"""The Celery app. Tasks carry their tenant schema in the `_schema_name` header
(tenant-schemas-celery) and run inside it; beat reads per-tenant schedules."""

from __future__ import annotations

import os

from kombu import Queue
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = CeleryApp("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in ("default", "imports", "webhooks", "senders")]
app.autodiscover_tasks()
