"""An uploaded list as a campaign's audience: the file goes through the contacts import (the
same parsing, normalisation, de-duplication and per-row error report) into a new group of its
own, and the campaign's audience is that group. Starting waits for the import to finish
(audience.audience_imports_check)."""

from __future__ import annotations

import logging
from typing import IO

from django.db import transaction
from django.utils import timezone

from apps.contacts.models import GROUP_NAME_MAX_LENGTH, Group, ImportJob
from apps.contacts.services import importing
from apps.contacts.services.groups import group_get_or_create

logger = logging.getLogger(__name__)

# Leaves room for " (12)" when the same name comes twice in one minute.
_LIST_NAME_STEM = GROUP_NAME_MAX_LENGTH - 6


def _new_group(campaign_name: str) -> Group:
    stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    stem = f"{' '.join(campaign_name.split())[:60]} · list {stamp}"[:_LIST_NAME_STEM]
    for attempt in range(1, 100):
        group, created = group_get_or_create(name=stem if attempt == 1 else f"{stem} ({attempt})")
        if created:
            return group
    raise RuntimeError("no free list name")  # 99 lists of one campaign in one minute


def audience_list_upload(
    *, campaign_name: str, stream: IO[bytes], name: str, created_by_id: int | None = None
) -> ImportJob:
    """Import an uploaded list into a new group named after the campaign; returns the import
    (its `group` is the audience). Existing contacts are joined to the group but not changed
    (mode skip: a campaign list does not rewrite the address book). Refuses, creating nothing,
    a file the import cannot read (ImportFileError / ValidationFailed with the reason)."""
    with transaction.atomic():
        group = _new_group(campaign_name)
        job = importing.import_job_create(
            stream=stream, name=name, mode=ImportJob.Mode.SKIP, group=group, created_by_id=created_by_id
        )
    logger.info("campaign.list_uploaded", extra={"job_id": job.id, "group_id": group.id})
    return job
