"""Reads of contacts, groups and imports, shaped to stay fast at a million contacts.

Search picks the index that fits what was typed: a number (digits, "+", spaces, dashes) is
matched by E.164 prefix on the phone's pattern index; an e-mail address by equality on the
lower(email) index; anything else by substring on the trigram index over UPPER(name).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower

from apps.contacts import filters
from apps.contacts.models import Contact, Group, ImportJob, SavedFilter, SuppressedNumber
from apps.contacts.resources import tenant_region
from apps.contacts.services.phones import normalise_phone
from apps.contacts.services.suppression import SuppressionError
from apps.core.exceptions import NotFound

_LOOKS_LIKE_NUMBER = re.compile(r"\+?[\d\s\-().]{3,}")


def _search(queryset: QuerySet[Contact], term: str) -> QuerySet[Contact]:
    term = term.strip()
    if not term:
        return queryset
    if _LOOKS_LIKE_NUMBER.fullmatch(term):
        digits = re.sub(r"\D", "", term)
        e164, _ = normalise_phone(term, tenant_region())
        if e164 is not None:
            return queryset.filter(phone=e164)
        prefix = "+" + digits if term.startswith("+") else None
        if prefix:
            return queryset.filter(phone__startswith=prefix)
        return queryset.filter(phone__contains=digits)
    if "@" in term:
        return queryset.alias(email_lower=Lower("email")).filter(~Q(email=""), email_lower=term.lower())
    return queryset.filter(name__icontains=term)


def contacts_list(
    *,
    search: str = "",
    group_id: int | None = None,
    opted_out: bool | None = None,
    saved_filter_id: int | None = None,
) -> QuerySet[Contact]:
    """Contacts matching the list's filters (ids, not objects, so exports can store them)."""
    queryset = Contact.objects.all()
    queryset = _search(queryset, search)
    if group_id is not None:
        queryset = queryset.filter(memberships__group_id=group_id)
    if opted_out is not None:
        queryset = queryset.filter(opted_out_at__isnull=not opted_out)
    if saved_filter_id is not None:
        saved_filter = SavedFilter.objects.filter(pk=saved_filter_id).first()
        # A filter deleted since the link was made matches nobody rather than everybody.
        queryset = queryset.filter(id__in=_spec_ids(saved_filter.spec)) if saved_filter else queryset.none()
    return queryset


def _spec_ids(spec: dict) -> RawSQL:
    # A semi-join the planner combines with the other conditions and the keyset order.
    where, params = filters.spec_where(spec, zone=filters.tenant_zone())
    sql = f"SELECT c.id FROM contacts_contact c WHERE {where}"  # noqa: S608 - fixed SQL, values are params
    return RawSQL(sql, params)  # noqa: S611


def saved_filters_list() -> QuerySet[SavedFilter]:
    return SavedFilter.objects.order_by("name")


def saved_filter_matches(spec: dict, *, limit: int) -> tuple[int, bool]:
    """How many contacts a spec matches, counted up to `limit` (count, exact)."""
    where, params = filters.spec_where(spec, zone=filters.tenant_zone())
    sql = f"SELECT count(*) FROM (SELECT 1 FROM contacts_contact c WHERE {where} LIMIT %s) AS m"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, limit + 1])
        count = int(cursor.fetchone()[0])
    return min(count, limit), count <= limit


def contact_group_ids(contact: Contact) -> list[int]:
    return list(contact.memberships.order_by("group_id").values_list("group_id", flat=True))


def groups_list() -> QuerySet[Group]:
    return Group.objects.annotate(contact_count=Count("memberships")).order_by("-id")


def import_jobs_list() -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("group")


def imports_unfinished_into(group_ids: list[int]) -> QuerySet[ImportJob]:
    """Imports still loading contacts into any of these groups, oldest first."""
    return ImportJob.objects.filter(
        group_id__in=group_ids, state__in=(ImportJob.State.QUEUED, ImportJob.State.RUNNING)
    ).order_by("id")


# --- the portal's list: keyset pages and a total that never counts a million rows ---------------

CONTACTS_PAGE_SIZE = 50
# Up to this many matches are counted exactly (a bounded scan); past it the page shows the
# planner's estimate for the whole table, or "more than" for a filtered view.
CONTACTS_EXACT_COUNT_CAP = 10_000
# How many messages each way a contact's page shows.
CONTACT_HISTORY_LIMIT = 50


@dataclass(frozen=True)
class ContactPage:
    """One page of contacts, newest first. `newer_than`/`older_than` are the cursors of the
    neighbouring pages (None at either end): ids, so paging costs the same on page 1 and on page
    20,000 (no OFFSET)."""

    contacts: list[Contact]
    newer_than: int | None
    older_than: int | None


@dataclass(frozen=True)
class ContactTotal:
    count: int
    exact: bool


def contacts_page(
    queryset: QuerySet[Contact], *, after: int | None = None, before: int | None = None, size: int = CONTACTS_PAGE_SIZE
) -> ContactPage:
    """The page of `queryset` right after contact id `after` (older contacts), or right before
    `before` (newer ones), or the newest page. A "previous" page that would come out short
    because it reached the top is the first page instead, so every page but the last holds
    `size` rows."""
    if before is not None:
        newer = list(queryset.filter(id__gt=before).order_by("id")[: size + 1])
        if len(newer) > size:
            rows = newer[:size][::-1]
            has_older = queryset.filter(id__lt=rows[-1].id).exists()
            return ContactPage(contacts=rows, newer_than=rows[0].id, older_than=rows[-1].id if has_older else None)
        after = None
    window = queryset.filter(id__lt=after) if after is not None else queryset
    rows = list(window.order_by("-id")[: size + 1])
    older_than = rows[size - 1].id if len(rows) > size else None
    rows = rows[:size]
    newer_than = None
    if after is not None:
        # An empty page past the end still links back to whatever comes before it.
        boundary = rows[0].id if rows else after - 1
        if queryset.filter(id__gt=boundary).exists():
            newer_than = boundary
    return ContactPage(contacts=rows, newer_than=newer_than, older_than=older_than)


def contacts_estimated_rows() -> int:
    """The planner's row estimate for this tenant's contacts table (kept by ANALYSE/autovacuum);
    0 when the table was never analysed."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)", [Contact._meta.db_table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row and row[0] is not None else 0


def contacts_total(queryset: QuerySet[Contact], *, filtered: bool) -> ContactTotal:
    """How many contacts `queryset` has: exact up to CONTACTS_EXACT_COUNT_CAP (a count of at most
    that many index entries), else the table estimate (unfiltered) or the cap (filtered)."""
    bounded = queryset.order_by()[: CONTACTS_EXACT_COUNT_CAP + 1].count()
    if bounded <= CONTACTS_EXACT_COUNT_CAP:
        return ContactTotal(count=bounded, exact=True)
    if filtered:
        return ContactTotal(count=CONTACTS_EXACT_COUNT_CAP, exact=False)
    return ContactTotal(count=max(contacts_estimated_rows(), bounded), exact=False)


# --- one contact --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryItem:
    """One message to or from a contact's number, for its page."""

    direction: str  # "out" or "in"
    at: datetime.datetime
    body: str
    number_label: str  # which of the tenant's WhatsApp numbers
    state: str = ""
    state_label: str = ""
    campaign_id: int | None = None


def contact_messages(*, phone: str, limit: int = CONTACT_HISTORY_LIMIT) -> list[HistoryItem]:
    """The newest `limit` messages sent to and received from `phone`, newest first."""
    from apps.senders.models import InboundMessage, OutboundMessage, SenderProfile

    items: list[HistoryItem] = []
    # Naming every profile (a handful per workspace) lets PostgreSQL use the ledger's
    # (profile, to_number, sent_at) index; the ledger has no index on to_number alone because
    # campaign materialization writes millions of rows and every index slows that down.
    profile_ids = list(SenderProfile.objects.values_list("id", flat=True))
    outbound = (
        OutboundMessage.objects.filter(Q(profile_id__in=profile_ids) | Q(profile__isnull=True), to_number=phone)
        .select_related("profile")
        .order_by("-created_at", "-id")
    )
    for message in outbound[:limit]:
        items.append(
            HistoryItem(
                direction="out",
                at=message.sent_at or message.created_at,
                body=message.body,
                number_label=message.profile.label if message.profile else "",
                state=message.state,
                state_label=str(message.get_state_display()),
                campaign_id=message.campaign_id,
            )
        )
    inbound = InboundMessage.objects.filter(from_number=phone).select_related("profile").order_by("-received_at", "-id")
    for message in inbound[:limit]:
        items.append(
            HistoryItem(direction="in", at=message.received_at, body=message.body, number_label=message.profile.label)
        )
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def contact_is_suppressed(*, phone: str) -> bool:
    return SuppressedNumber.objects.filter(phone=phone).exists()


def groups_for_choices() -> QuerySet[Group]:
    return Group.objects.order_by(Lower("name"))


# --- the suppression list ---------------------------------------------------------------------


def suppression_get(*, suppression_id: int) -> SuppressedNumber:
    suppressed = SuppressedNumber.objects.filter(pk=suppression_id).first()
    if suppressed is None:
        raise NotFound("No such suppressed number.", code=SuppressionError.NOT_FOUND)
    return suppressed


_NOT_DIGITS = re.compile(r"\D")


def suppressions_list(*, search: str = "") -> QuerySet[SuppressedNumber]:
    """The list, newest first; `search` matches the reason (any case) or, by its digits, the
    number ("98765 43210" finds +919876543210)."""
    queryset = SuppressedNumber.objects.order_by("-id")
    search = (search or "").strip()
    if search:
        condition = Q(reason__icontains=search)
        digits = _NOT_DIGITS.sub("", search)
        if digits:
            condition |= Q(phone__contains=digits)
        queryset = queryset.filter(condition)
    return queryset
