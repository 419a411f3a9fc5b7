"""Actions on many contacts at once (the portal's selected rows): tag into a group, take out of a
group, opt out or back in, delete.

Each action is one set-based statement over the given ids (no per-contact saves), so selecting
a whole page costs the same as selecting one row. Ids that are not contacts of this tenant are
simply not matched: every statement runs in the tenant's schema. The returned count is the
number of contacts the action actually changed (already in the group, already opted out etc.
do not count).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models.functions import Now

from apps.contacts.models import Contact, Group, GroupMembership
from apps.core.exceptions import ValidationFailed

logger = logging.getLogger(__name__)

# A page of the portal's list holds 50 rows; the cap keeps one request to one bounded statement.
BULK_ACTION_MAX_CONTACTS = 1000

_GROUP_ADD_SQL = (
    "INSERT INTO contacts_groupmembership (group_id, contact_id, added_at) "
    "SELECT %s, c.id, now() FROM contacts_contact c WHERE c.id = ANY(%s) "
    "ON CONFLICT (group_id, contact_id) DO NOTHING"
)


def _clean_ids(contact_ids: Iterable[int]) -> list[int]:
    ids = sorted({int(contact_id) for contact_id in contact_ids})
    if not ids:
        raise ValidationFailed("Select at least one contact.", code="no_contacts_selected")
    if len(ids) > BULK_ACTION_MAX_CONTACTS:
        raise ValidationFailed(
            f"Select at most {BULK_ACTION_MAX_CONTACTS} contacts at a time.",
            code="too_many_contacts",
            details={"max": BULK_ACTION_MAX_CONTACTS},
        )
    return ids


def contacts_group_add(*, contact_ids: Iterable[int], group: Group) -> int:
    """Adds the contacts to `group` (a tag); members already in it stay as they were."""
    ids = _clean_ids(contact_ids)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_GROUP_ADD_SQL, [group.id, ids])
        added = cursor.rowcount
    logger.info("contacts.group_added", extra={"group_id": group.id, "selected": len(ids), "changed": added})
    return added


def contacts_group_remove(*, contact_ids: Iterable[int], group: Group) -> int:
    """Takes the contacts out of `group`; the contacts themselves stay."""
    ids = _clean_ids(contact_ids)
    with transaction.atomic():
        removed, _ = GroupMembership.objects.filter(group=group, contact_id__in=ids).delete()
    logger.info("contacts.group_removed", extra={"group_id": group.id, "selected": len(ids), "changed": removed})
    return removed


def contacts_delete(*, contact_ids: Iterable[int]) -> int:
    """Deletes the contacts and their group memberships. Messages already sent stay in the
    ledger (it keeps numbers, not contact rows)."""
    ids = _clean_ids(contact_ids)
    with transaction.atomic():
        _, per_model = Contact.objects.filter(id__in=ids).delete()
    deleted = per_model.get(Contact._meta.label, 0)
    logger.info("contacts.deleted", extra={"selected": len(ids), "changed": deleted})
    return deleted


def contacts_opt_out(*, contact_ids: Iterable[int], reason: str = "", via: str = Contact.OptOutVia.MANUAL) -> int:
    """Opts the contacts out of every campaign from now on. A contact that is already opted out
    keeps its original when, why and how."""
    ids = _clean_ids(contact_ids)
    with transaction.atomic():
        changed = Contact.objects.filter(id__in=ids, opted_out_at__isnull=True).update(
            opted_out_at=Now(), opted_out_reason=reason[:200], opted_out_via=via, updated_at=Now()
        )
    logger.info("contacts.opted_out", extra={"selected": len(ids), "changed": changed, "via": via})
    return changed


def contacts_opt_in(*, contact_ids: Iterable[int]) -> int:
    """Clears the opt-out of the contacts (they asked to hear from the business again). A number
    on the suppression list stays suppressed: that list is managed on its own."""
    ids = _clean_ids(contact_ids)
    with transaction.atomic():
        changed = Contact.objects.filter(id__in=ids, opted_out_at__isnull=False).update(
            opted_out_at=None, opted_out_reason="", opted_out_via="", updated_at=Now()
        )
    logger.info("contacts.opted_in", extra={"selected": len(ids), "changed": changed})
    return changed
