"""Groups (tags) of contacts."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from apps.contacts.models import GROUP_NAME_MAX_LENGTH, Group
from apps.core.exceptions import ValidationFailed

logger = logging.getLogger(__name__)


def group_name_clean(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationFailed("A group needs a name.", code="invalid_group", details={"name": ["Required."]})
    if len(name) > GROUP_NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"Group names are at most {GROUP_NAME_MAX_LENGTH} characters.",
            code="invalid_group",
            details={"name": ["Too long."]},
        )
    return name


def group_get_or_create(*, name: str) -> tuple[Group, bool]:
    """The group called `name` (any case), created when missing. Safe against a concurrent
    create: the case-insensitive unique index decides."""
    name = group_name_clean(name)
    existing = Group.objects.filter(name__iexact=name).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name)
    except IntegrityError:
        return Group.objects.get(name__iexact=name), False
    logger.info("contact_group.created", extra={"group_id": group.id})
    return group, True
