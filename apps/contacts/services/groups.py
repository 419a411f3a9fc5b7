"""Groups (tags) of contacts."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from apps.contacts.models import GROUP_NAME_MAX_LENGTH, Group
from apps.core.exceptions import Conflict, ValidationFailed

logger = logging.getLogger(__name__)

# Campaign states in which a campaign still reads its audience (a later run, or a start).
CAMPAIGN_STATES_READING = ("draft", "scheduled", "running", "paused")


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


def _name_taken(*, name: str, group_id: int | None = None) -> Conflict:
    existing = Group.objects.filter(name__iexact=name).exclude(pk=group_id).values_list("pk", flat=True).first()
    return Conflict("A group with this name exists.", code="group_exists", details={"id": existing})


def group_create(*, name: str, description: str = "") -> Group:
    """A new group; a name already used by another group (any case) is a Conflict and nothing
    is created. The case-insensitive unique index settles a concurrent create."""
    name = group_name_clean(name)
    if Group.objects.filter(name__iexact=name).exists():
        raise _name_taken(name=name)
    try:
        with transaction.atomic():
            group = Group.objects.create(name=name, description=description)
    except IntegrityError as exc:
        raise _name_taken(name=name) from exc
    logger.info("contact_group.created", extra={"group_id": group.id})
    return group


def group_update(*, group: Group, name: str | None = None, description: str | None = None) -> Group:
    """Renames the group and/or changes its description. Names stay unique regardless of case
    (renaming a group to another spelling of its own name is allowed); a taken name is a
    Conflict and nothing is saved. Members are untouched."""
    fields: dict[str, str] = {}
    if name is not None:
        name = group_name_clean(name)
        if Group.objects.filter(name__iexact=name).exclude(pk=group.pk).exists():
            raise _name_taken(name=name, group_id=group.pk)
        if name != group.name:
            fields["name"] = name
    if description is not None and description != group.description:
        fields["description"] = description
    if not fields:
        return group
    try:
        with transaction.atomic():
            Group.objects.filter(pk=group.pk).update(**fields)
    except IntegrityError as exc:
        raise _name_taken(name=fields.get("name", group.name), group_id=group.pk) from exc
    for field, value in fields.items():
        setattr(group, field, value)
    logger.info("contact_group.updated", extra={"group_id": group.id, "fields": sorted(fields)})
    return group


def campaigns_still_reading(related) -> list[tuple[int, str]]:
    """(id, name) of up to 10 campaigns in `related` (a group's or saved filter's `campaigns`)
    that will still read their audience: not finished yet."""
    return list(related.filter(state__in=CAMPAIGN_STATES_READING).order_by("id").values_list("id", "name")[:10])


def group_delete(*, group: Group) -> None:
    """Deletes the group and its memberships; the contacts themselves stay. Refused while a
    campaign that has not finished uses it: without the group its audience would silently be
    its filter over every contact (or nobody)."""
    group_id = group.id
    with transaction.atomic():
        locked = Group.objects.select_for_update().get(pk=group_id)
        users = campaigns_still_reading(locked.campaigns)
        if users:
            raise Conflict(
                "Campaigns that have not finished use this group: " + ", ".join(name for _, name in users) + ".",
                code="group_in_use",
                details={"campaigns": [campaign_id for campaign_id, _ in users]},
            )
        locked.delete()
    logger.info("contact_group.deleted", extra={"group_id": group_id})
