"""Saved filters: named specs over contact fields (apps.contacts.filters) for the contacts list
and campaign audiences."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from apps.contacts.filters import filter_rules
from apps.contacts.models import GROUP_NAME_MAX_LENGTH, SavedFilter
from apps.contacts.services.groups import campaigns_still_reading
from apps.core.exceptions import Conflict, ValidationFailed

logger = logging.getLogger(__name__)


def _clean(name: str, spec: Any) -> tuple[str, dict[str, Any]]:
    name = " ".join((name or "").split())
    if not name or len(name) > GROUP_NAME_MAX_LENGTH:
        raise ValidationFailed(
            f"Name the filter (1–{GROUP_NAME_MAX_LENGTH} characters).",
            code="invalid_saved_filter",
            details={"name": ["Required, at most 100 characters."]},
        )
    match, rules = filter_rules(spec, field="spec")
    if not rules:
        raise ValidationFailed(
            "A saved filter needs at least one rule.", code="invalid_filter", details={"spec": ["Add a rule."]}
        )
    # Stored as given after validation, in a canonical shape (match first, rules in order).
    return name, {"match": match, "rules": [{"field": r.field, "op": r.op, "value": r.value} for r in rules]}


def _save(saved: SavedFilter) -> SavedFilter:
    try:
        with transaction.atomic():
            saved.save()
    except IntegrityError:
        raise Conflict(
            "A saved filter with this name exists.", code="saved_filter_exists", details={"name": [saved.name]}
        ) from None
    return saved


def saved_filter_create(*, name: str, spec: Any, created_by_id: int | None = None) -> SavedFilter:
    name, spec = _clean(name, spec)
    saved = _save(SavedFilter(name=name, spec=spec, created_by_id=created_by_id))
    logger.info("saved_filter.created", extra={"saved_filter_id": saved.id})
    return saved


def saved_filter_update(*, saved_filter: SavedFilter, name: str | None = None, spec: Any = None) -> SavedFilter:
    """Rename or change the rules; campaigns using the filter read the new rules at their next
    start or run (a running run keeps the rows it already wrote)."""
    name, spec = _clean(saved_filter.name if name is None else name, saved_filter.spec if spec is None else spec)
    saved_filter.name, saved_filter.spec = name, spec
    _save(saved_filter)
    logger.info("saved_filter.updated", extra={"saved_filter_id": saved_filter.id})
    return saved_filter


def saved_filter_delete(*, saved_filter: SavedFilter) -> None:
    """Delete, unless a campaign that has not finished uses it (it would lose its audience);
    finished campaigns keep their figures and forget the filter."""
    with transaction.atomic():
        locked = SavedFilter.objects.select_for_update().get(pk=saved_filter.pk)
        users = campaigns_still_reading(locked.campaigns)
        if users:
            raise Conflict(
                "Campaigns that have not finished use this filter: " + ", ".join(name for _, name in users) + ".",
                code="saved_filter_in_use",
                details={"campaigns": [campaign_id for campaign_id, _ in users]},
            )
        locked.delete()
    logger.info("saved_filter.deleted", extra={"saved_filter_id": saved_filter.pk})
