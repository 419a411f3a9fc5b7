"""Celery front doors of contacts (queue `imports`, routed by the `imports.` name prefix)."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError

from apps.contacts.services import importing
from config.celery import app

logger = logging.getLogger(__name__)

# A lost database connection is worth another try: the run is idempotent (its data lands in
# one transaction) and starts over.
IMPORT_MAX_RETRIES = 3


@app.task(
    name="imports.contacts_import",
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    max_retries=IMPORT_MAX_RETRIES,
)
def contacts_import(job_id: int) -> None:
    """Run one contact import in the schema it was sent from."""
    importing.import_job_run(job_id=job_id)
