"""Contacts one at a time (forms, API) and in batches of up to 1,000 (API bulk upsert).

The bulk upsert runs the import's own pipeline (import_staging) on the submitted objects, so a
contact sent through the API is checked, normalised and merged exactly like a row of a file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.billing import services as billing
from apps.contacts.models import Contact, Group, GroupMembership
from apps.contacts.resources import tenant_region
from apps.contacts.services import import_staging
from apps.contacts.services.phones import normalise_phone, normaliser_for
from apps.core.exceptions import Conflict, NotFound, ValidationFailed
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

BULK_MAX_CONTACTS = 1000
# Fields a bulk item may carry (custom fields go under "custom_fields").
BULK_FIELDS = ("phone", "name", "email", "language", "consent", "opted_out", "tags")
# What a contact sent with "opted_out": true records as its opt-out reason (via "api").
BULK_OPTED_OUT_REASON = "Sent as opted out through the API"


@dataclass(frozen=True)
class BulkResult:
    created: int
    updated: int
    unchanged: int
    skipped: int
    duplicates: int
    errors: list[dict[str, Any]]


def contact_get(*, contact_id: int) -> Contact:
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("No such contact.", code="contact_not_found")
    return contact


def _phone(raw: str) -> str:
    e164, reason = normalise_phone(raw, tenant_region())
    if e164 is None:
        raise ValidationFailed(f"Invalid phone number: {reason}.", code="invalid_phone", details={"phone": [reason]})
    return e164


def _tenant() -> Tenant:
    return Tenant.objects.get(schema_name=connection.schema_name)


def contact_create(*, phone: str, **fields: Any) -> Contact:
    """One contact; the number is normalised with the tenant's region and must be new."""
    e164 = _phone(phone)
    billing.quota_require(tenant=_tenant(), action=billing.QuotaAction.ADD_CONTACTS, current=Contact.objects.count())
    contact = Contact(phone=e164, **fields)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError as exc:
        raise Conflict("A contact with this number exists.", code="contact_exists", details={"phone": e164}) from exc
    logger.info("contact.created", extra={"contact_id": contact.id})
    return contact


def contact_update(*, contact: Contact, **fields: Any) -> Contact:
    """Changes the given fields. The number itself and opt-out state are not edited here."""
    for name, value in fields.items():
        setattr(contact, name, value)
    if fields:
        with transaction.atomic():
            contact.save(update_fields=[*fields, "updated_at"])
    return contact


def contact_delete(*, contact: Contact) -> None:
    contact_id = contact.id
    contact.delete()
    logger.info("contact.deleted", extra={"contact_id": contact_id})


def contact_groups_set(*, contact: Contact, groups: list[Group]) -> None:
    with transaction.atomic():
        GroupMembership.objects.filter(contact=contact).exclude(group__in=groups).delete()
        GroupMembership.objects.bulk_create(
            [GroupMembership(contact=contact, group=group) for group in groups], ignore_conflicts=True
        )


def contact_edit(*, contact: Contact, groups: list[Group] | None = None, **fields: Any) -> Contact:
    """The portal's edit form: saves the fields that changed, timestamps consent when its status
    changes (cleared back to "unknown" it has no time), and replaces the groups when given."""
    changed = {name: value for name, value in fields.items() if getattr(contact, name) != value}
    if "consent_status" in changed:
        unknown = changed["consent_status"] == Contact.Consent.UNKNOWN
        changed["consented_at"] = None if unknown else timezone.now()
    with transaction.atomic():
        contact_update(contact=contact, **changed)
        if groups is not None:
            contact_groups_set(contact=contact, groups=groups)
    logger.info("contact.edited", extra={"contact_id": contact.id, "fields": sorted(changed)})
    return contact


def _item_cells(item: dict[str, Any], custom_keys: list[str]) -> list[str]:
    cells = []
    for field in BULK_FIELDS:
        value = item.get(field)
        if field == "tags" and isinstance(value, list):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        cells.append("" if value is None else str(value))
    custom = item.get("custom_fields") or {}
    cells.extend("" if custom.get(key) is None else str(custom[key]) for key in custom_keys)
    return cells


def contacts_bulk_upsert(
    *, items: list[dict[str, Any]], update_existing: bool = True, group: Group | None = None
) -> BulkResult:
    """Creates or updates up to BULK_MAX_CONTACTS contacts in one transaction, by phone. Items
    that cannot be stored are reported by index with the reason and the rest go in; the first
    item of a number wins. Fields absent from an item never blank stored values."""
    if not items:
        raise ValidationFailed("Send at least one contact.", code="empty_batch")
    if len(items) > BULK_MAX_CONTACTS:
        raise ValidationFailed(
            f"At most {BULK_MAX_CONTACTS} contacts per request.",
            code="batch_too_large",
            details={"max": BULK_MAX_CONTACTS},
        )
    custom_keys = sorted({key for item in items for key in (item.get("custom_fields") or {})})
    headers = [*BULK_FIELDS, *(f"custom.{key}" for key in custom_keys)]
    present = {field for item in items for field, value in item.items() if value is not None}
    mapping = {field: field for field in BULK_FIELDS if field in present or field == "phone"}
    mapping.update({f"custom.{key}": f"custom.{key}" for key in custom_keys})
    plan = import_staging.ColumnPlan.build(headers, mapping)
    errors: list[dict[str, Any]] = []
    rows = ((index, _item_cells(item, custom_keys)) for index, item in enumerate(items))
    tenant = _tenant()
    # The staging tables are created inside the transaction: a rollback removes them too.
    with transaction.atomic():
        import_staging.stage_create(plan)
        counts = import_staging.stage_rows(
            rows,
            plan=plan,
            normalise=normaliser_for(tenant.default_region),
            strict_width=True,
            on_error=lambda index, reason, cells: errors.append({"index": index, "error": reason}),
            on_chunk=lambda counts: None,
        )
        applied = import_staging.stage_apply(
            plan=plan,
            staged=counts.staged,
            update_existing=update_existing,
            group_id=group.id if group else None,
            source="api",
            opt_out_via=Contact.OptOutVia.API,
            opt_out_reason=BULK_OPTED_OUT_REASON,
        )
        if applied.created:
            billing.quota_require(
                tenant=tenant,
                action=billing.QuotaAction.ADD_CONTACTS,
                amount=applied.created,
                current=applied.existing_before,
            )
        import_staging.stage_drop()
    logger.info("contacts.bulk_upserted", extra={"created_count": applied.created, "updated_count": applied.updated})
    return BulkResult(
        created=applied.created,
        updated=applied.updated,
        unchanged=applied.unchanged,
        skipped=applied.skipped,
        duplicates=counts.duplicates,
        errors=errors,
    )
