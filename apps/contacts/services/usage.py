"""The workspace's current counts (contacts, WhatsApp numbers) for the public usage roll-up.

Imports and campaign starts record these as they happen; this is the daily (hourly) pass that
keeps every workspace's row for the day present and its counts current when nothing else
happened (contacts added through the API, numbers removed, contacts deleted), so the admin's
usage pages and billing never read a stale day. Runs in the tenant's schema; the public side
only ever reads the rolled-up row."""

from __future__ import annotations

import logging

from django.db import connection

from apps.billing import services as billing
from apps.billing.models import UsageRecord
from apps.contacts.models import Contact
from apps.senders.models import SenderProfile
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)


def usage_snapshot_record() -> UsageRecord:
    """Count this schema's contacts and numbers and record them on the tenant's row for today."""
    tenant = Tenant.objects.get(schema_name=connection.schema_name)
    record = billing.usage_snapshot_set(
        tenant=tenant, contacts=Contact.objects.count(), numbers=SenderProfile.objects.count()
    )
    logger.info(
        "usage.snapshot_recorded",
        extra={"tenant_id": tenant.id, "contacts": record.contacts, "numbers": record.numbers},
    )
    return record
